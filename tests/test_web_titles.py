"""The web view's page titles, what a screen reader announces first and tabs, bookmarks and history show:
a saved query's name (not its SQL), and on a record's page the paper and its PMID."""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("datasette")

from conftest import DATASETTE_UNCLOSED  # noqa: E402
from corpus.store import Store  # noqa: E402
from oihwatch.web.metadata import saved_queries  # noqa: E402
from oihwatch.web.server import snapshot_path  # noqa: E402
from oihwatch.web.snapshot import build_snapshot  # noqa: E402
from research_corpus import RETRACTED_PMID  # noqa: E402
from test_serve import TOPICS, VIEW, view_client  # noqa: E402

pytestmark = [DATASETTE_UNCLOSED, pytest.mark.usefixtures("datasette_garbage")]  # Datasette's own connections: see conftest


@pytest.fixture(scope="module")
def snapshot(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = snapshot_path(tmp_path_factory.mktemp("titles") / "corpus.db")
    with Store(research_store_path) as store:
        build_snapshot(store, target, 0.5, TOPICS)
    return target


@pytest.fixture(scope="module")
def client(snapshot: Path) -> Iterator[httpx.Client]:
    with view_client(snapshot) as c:
        yield c


def page_title(client: httpx.Client, path: str) -> str:
    """The text of the ``<title>`` of the page at ``path``."""
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(re.search(r"<title>(.*?)</title>", response.text, re.S)[1])


def titles(snapshot: Path) -> dict[int, str]:
    """The papers' titles in the view, by PMID."""
    with contextlib.closing(sqlite3.connect(snapshot)) as db:
        return dict(db.execute("SELECT pmid, title FROM articles"))


@pytest.mark.parametrize("name", list(saved_queries(TOPICS)))
def test_a_saved_query_page_is_titled_by_its_name(client: httpx.Client, name: str) -> None:
    assert page_title(client, f"/{VIEW}/{name}") == f"{saved_queries(TOPICS)[name]['title']} – {VIEW}"


def test_an_ad_hoc_query_page_keeps_its_sql_as_title(client: httpx.Client) -> None:
    assert page_title(client, f"/{VIEW}?sql=select+1") == f"{VIEW}: select 1"


def test_a_record_page_is_titled_by_the_paper_and_its_pmid(client: httpx.Client, snapshot: Path) -> None:
    pmid, title = next((pmid, title) for pmid, title in titles(snapshot).items() if 40 < len(title) < 90)
    assert page_title(client, f"/{VIEW}/articles/{pmid}") == f"{title} (PMID {pmid}) – {VIEW}"
    assert page_title(client, f"/{VIEW}/articles/{RETRACTED_PMID}").startswith("RETRACTED: ")  # as the title column


def test_a_long_paper_title_is_cut_at_a_word(client: httpx.Client, snapshot: Path) -> None:
    pmid, title = max(titles(snapshot).items(), key=lambda item: len(item[1]))
    assert len(title) > 150
    shown, suffix = page_title(client, f"/{VIEW}/articles/{pmid}").rsplit(" (PMID ", 1)
    assert suffix == f"{pmid}) – {VIEW}"
    assert shown.endswith("…") and len(shown) <= 100
    assert title.startswith(shown[:-1]) and title[len(shown) - 1] == " "
