"""``oihwatch serve``: Datasette over a snapshot, on a free loopback port, answering and refusing over HTTP."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("datasette")

from corpus.store import Store  # noqa: E402
from oihwatch.web.server import QUERIES, make_datasette, snapshot_path  # noqa: E402
from oihwatch.web.snapshot import build_snapshot  # noqa: E402
from research_corpus import RETRACTED_PMID  # noqa: E402


@pytest.fixture(scope="module")
def snapshot(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = snapshot_path(tmp_path_factory.mktemp("web") / "corpus.db")
    with Store(research_store_path) as store:
        assert build_snapshot(store, target) == store.count_articles()
    return target


@pytest.fixture(scope="module")
def base_url(snapshot: Path) -> Iterator[str]:
    """The server on a socket bound before it starts: requests wait in the backlog, no sleeping."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(make_datasette(snapshot).app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


def test_snapshot_holds_only_what_researchers_see(snapshot: Path) -> None:
    db = sqlite3.connect(snapshot)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'articles_fts%'")}
    assert tables == {"articles"}
    row = db.execute("SELECT pubmed, retracted, topics FROM articles WHERE pmid = ?", (RETRACTED_PMID,)).fetchone()
    assert row == (f"https://pubmed.ncbi.nlm.nih.gov/{RETRACTED_PMID}/", 1, '["ketamine"]')


def test_full_text_search(client: httpx.Client, snapshot: Path) -> None:
    response = client.get(f"/{snapshot.stem}/articles.json", params={"_search": "ketamin*", "_shape": "objects"})
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert rows and all("ketamin" in (r["title"] + r["abstract"] + r["mesh"] + r["keywords"]).lower() for r in rows)
    assert all(r["pubmed"].startswith("https://pubmed.ncbi.nlm.nih.gov/") for r in rows)


def test_facets_topic_study_type_year_journal(client: httpx.Client, snapshot: Path) -> None:
    response = client.get(f"/{snapshot.stem}/articles.json", params={"_search": "morphine", "_size": "0"})
    assert response.status_code == 200
    facets = response.json()["facet_results"]
    facets = facets.get("results", facets)  # the shape changed across Datasette releases
    assert {"topics", "study_type", "year", "journal"} <= set(facets)
    topics = {item["value"] for item in facets["topics"]["results"]}
    assert {"tapering", "non_opioid"} <= topics
    narrowed = client.get(f"/{snapshot.stem}/articles.json", params={"topics__arraycontains": "ketamine", "_shape": "objects"})
    assert narrowed.json()["rows"] and all("ketamine" in r["topics"] for r in narrowed.json()["rows"])


def test_saved_queries_run(client: httpx.Client, snapshot: Path) -> None:
    for name in QUERIES:
        params = {"q": "hyperalges*", "topic": "ketamine"} if name == "search_topic" else {}
        response = client.get(f"/{snapshot.stem}/{name}.json", params=params)
        assert response.status_code == 200, (name, response.text[:300])
    retracted = client.get(f"/{snapshot.stem}/retracted.json", params={"_shape": "objects"}).json()["rows"]
    assert [r["pubmed"] for r in retracted] == [f"https://pubmed.ncbi.nlm.nih.gov/{RETRACTED_PMID}/"]


def test_refuses_writes(client: httpx.Client, snapshot: Path) -> None:
    database = client.get("/-/databases.json").json()
    assert [d["is_mutable"] for d in database] == [False]
    before = sqlite3.connect(snapshot).execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    sql = client.get(f"/{snapshot.stem}.json", params={"sql": "DELETE FROM articles"})
    assert sql.status_code in (400, 403)
    for path in (f"/{snapshot.stem}/articles/-/insert", f"/{snapshot.stem}/-/create", f"/{snapshot.stem}/articles/1/-/delete"):
        response = client.post(path, json={"row": {"pmid": "1", "title": "x"}})
        assert response.status_code in (403, 404, 405), path
    assert sqlite3.connect(snapshot).execute("SELECT COUNT(*) FROM articles").fetchone()[0] == before
