"""``oihwatch serve``: Datasette over a snapshot, on a free loopback port, answering and refusing over HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

pytest.importorskip("datasette")

from markupsafe import escape  # noqa: E402 (comes with Datasette)

from corpus.errors import InputError, StorageError  # noqa: E402
from corpus.search import Filters, search  # noqa: E402
from corpus.store import Store  # noqa: E402
from oihwatch.cli import cli  # noqa: E402
from oihwatch.web.metadata import saved_queries  # noqa: E402
from oihwatch.web.server import listen, make_datasette, open_to_others, remove_stale_snapshots, served_at, snapshot_path  # noqa: E402
from oihwatch.web.snapshot import SCHEMA, build_snapshot  # noqa: E402
from conftest import DATASETTE_UNCLOSED, REPO  # noqa: E402
from research_corpus import RETRACTED_PMID  # noqa: E402

pytestmark = [DATASETTE_UNCLOSED, pytest.mark.usefixtures("datasette_garbage")]  # Datasette's own connections: see conftest

VIEW = "corpus-web"  # the view's name for corpus.db in URLs, whichever process serves it
# The configured topics of the module's server, labels by name (the research corpus's genetics and non_opioid are not)
TOPICS = {"tapering": "Tapering and discontinuation", "ketamine": "Ketamine and NMDA antagonists", "hypnosis": "Hypnosis"}
KETAMINE = TOPICS["ketamine"]


@pytest.fixture(scope="module")
def snapshot(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = snapshot_path(tmp_path_factory.mktemp("web") / "corpus.db")
    with Store(research_store_path) as store:
        assert build_snapshot(store, target, 0.5, TOPICS) == store.count_articles()
    return target


@contextlib.contextmanager
def served(datasette) -> Iterator[str]:
    """``datasette`` on a socket bound before it starts, in a thread: requests wait in the backlog, no sleeping."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(datasette.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def view_client(snapshot: Path) -> Iterator[httpx.Client]:
    """An HTTP client of the web view of ``snapshot``, served on loopback."""
    with served(make_datasette(snapshot, TOPICS)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def one_value(database: Path, sql: str):
    """What ``sql`` reads from ``database`` (its first column of its first row), on a connection closed at once."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def base_url(snapshot: Path) -> Iterator[str]:
    with served(make_datasette(snapshot, TOPICS)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


def test_snapshot_holds_only_what_researchers_see(snapshot: Path) -> None:
    with contextlib.closing(sqlite3.connect(snapshot)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'articles_fts%'")}
        assert tables == {"articles"}
        row = db.execute("SELECT pubmed, retracted, topics FROM articles WHERE pmid = ?", (RETRACTED_PMID,)).fetchone()
        assert row == (f"https://pubmed.ncbi.nlm.nih.gov/{RETRACTED_PMID}/", 1, f'["{KETAMINE}"]')
        assert db.execute("SELECT COUNT(*) FROM articles WHERE relevant != (relevance >= 0.5)").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM articles WHERE relevant = 1").fetchone()[0] > 0


def test_full_text_search(client: httpx.Client, snapshot: Path) -> None:
    response = client.get(f"/{VIEW}/articles.json", params={"_search": "ketamin*", "_shape": "objects"})
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert rows and all("ketamin" in (r["title"] + r["abstract"] + r["mesh"] + r["keywords"]).lower() for r in rows)
    assert all(r["pubmed"].startswith("https://pubmed.ncbi.nlm.nih.gov/") for r in rows)


@pytest.mark.parametrize("query", ["opioid-induced", "5-HT3", 'title:"opioid-induced hyperalgesia"', "title:(ketamine OR magnesium)",
                                   "morphine 2:1", "^ketamine", "ketamine (morphine OR pain)",
                                   '"opioid-induced hyperalgesia"[tiab]', "Hyperalgesia[MeSH]"])
def test_search_accepts_what_the_cli_accepts(client: httpx.Client, snapshot: Path, research_store: Store, query: str) -> None:
    response = client.get(f"/{VIEW}/articles.json", params={"_search": query, "_shape": "objects", "_size": "max"})
    assert response.status_code == 200, response.text[:300]
    found = {str(r["pmid"]) for r in response.json()["rows"]}
    assert found == {h.pmid for h in search(research_store, query)}  # retracted articles left out, as by the CLI
    if query != "5-HT3":  # (no 5-HT3 record in the shared data)
        assert found


def test_table_is_newest_first(client: httpx.Client, snapshot: Path) -> None:
    newest = one_value(snapshot, "SELECT MAX(year) FROM articles")
    for params in ({}, {"_search": "morphine"}):
        rows = client.get(f"/{VIEW}/articles.json", params={**params, "_shape": "objects"}).json()["rows"]
        years = [r["year"] for r in rows]
        assert len(years) == 50 and years == sorted(years, reverse=True)
    assert years[0] < newest == client.get(f"/{VIEW}/articles.json", params={"_shape": "objects"}).json()["rows"][0]["year"]


@pytest.mark.parametrize("params", [{}, {"topics__arraycontains": KETAMINE}, {"_search": "morphine"}])
def test_every_page_of_the_table_holds_each_article_once(client: httpx.Client, params: dict) -> None:
    """What a download of every page (the 'stream all rows' CSV) is made of: no row lost or repeated."""
    page = client.get(f"/{VIEW}/articles.json", params={**params, "_size": 37, "_shape": "objects"}).json()
    rows, total = page["rows"], page["filtered_table_rows_count"]
    while page["next_url"]:
        page = client.get(page["next_url"]).json()
        rows += page["rows"]
    pmids, years = [r["pmid"] for r in rows], [r["year"] or 0 for r in rows]
    assert len(pmids) == len(set(pmids)) == total > 37
    assert years == sorted(years, reverse=True)


def test_saved_search_is_ranked_as_the_cli_ranks(client: httpx.Client, snapshot: Path, research_store: Store) -> None:
    params = {"q": "opioid-induced", "topic": "", "_shape": "objects"}
    rows = client.get(f"/{VIEW}/search_topic.json", params=params).json()["rows"]
    ranked = [h.pmid for h in search(research_store, "opioid-induced")]
    assert rows and [r["pubmed"].rstrip("/").rsplit("/", 1)[1] for r in rows] == ranked
    within = client.get(f"/{VIEW}/search_topic.json", params={**params, "topic": "ketamine"}).json()["rows"]
    assert within and all(KETAMINE in r["tags"] for r in within)
    assert len(within) == len(search(research_store, "opioid-induced", Filters(topics=("ketamine",))))
    assert client.get(f"/{VIEW}/search_topic.json", params={**params, "topic": " Ketamine"}).json()["rows"] == within
    assert client.get(f"/{VIEW}/search_topic.json", params={**params, "topic": KETAMINE.upper()}).json()["rows"] == within  # as the facet names it


def insert_article(db: sqlite3.Connection, **values) -> None:
    """A row of the snapshot's articles: ``values``, and an empty text or 0 in every other column that needs one."""
    empty = {name: "" if kind == "TEXT" else 0 for name, kind, notnull in db.execute(
        "SELECT name, type, \"notnull\" FROM pragma_table_info('articles')") if notnull}
    row = {**empty, **values}
    db.execute(f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def test_saved_queries_about_oih_list_only_articles_about_oih(tmp_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "corpus-web.db")) as db:
        db.executescript(SCHEMA)
        for pmid, study_type, rank, relevant in [("1", "Randomised controlled trial", 2, 1), ("2", "Randomised controlled trial", 2, 0),
                                                 ("3", "Meta-analysis", 0, 1), ("4", "Meta-analysis", 0, 0)]:
            insert_article(db, pmid=pmid, year=2020, study_type=study_type, evidence_rank=rank, topics=f'["{KETAMINE}"]',
                           relevance=0.9 if relevant else 0.1, relevant=relevant, pubmed=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/")
        queries = saved_queries(TOPICS)
        for name, pmid in [("ketamine_rcts_since_2015", "1"), ("strongest_evidence", "3")]:
            assert "OIH" in queries[name]["title"]
            assert [row[0] for row in db.execute(queries[name]["sql"])] == [f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"], name


def test_facets_topic_study_type_year_journal(client: httpx.Client, snapshot: Path) -> None:
    response = client.get(f"/{VIEW}/articles.json", params={"_search": "morphine", "_size": "0"})
    assert response.status_code == 200
    facets = response.json()["facet_results"]
    facets = facets.get("results", facets)  # the shape changed across Datasette releases
    assert {"topics", "study_type", "year", "journal", "relevant"} <= set(facets)
    topics = {item["value"] for item in facets["topics"]["results"]}
    assert {TOPICS["tapering"], "non_opioid"} <= topics  # a topic no longer configured keeps its name
    narrowed = client.get(f"/{VIEW}/articles.json", params={"topics__arraycontains": KETAMINE, "_shape": "objects"})
    assert narrowed.json()["rows"] and all(KETAMINE in r["topics"] for r in narrowed.json()["rows"])
    # The topics facet copies every row (460 ms at 100,000 records): it gets the time any query gets, not
    # Datasette's 200 ms, past which every articles page lost it from about 45,000 records.
    settings = client.get("/-/settings.json").json()
    assert settings["facet_time_limit_ms"] == settings["sql_time_limit_ms"] == 2000


def test_saved_queries_run(client: httpx.Client, snapshot: Path) -> None:
    for name in saved_queries(TOPICS):
        params = {"q": "hyperalges*", "topic": "ketamine"} if name == "search_topic" else {}
        response = client.get(f"/{VIEW}/{name}.json", params=params)
        assert response.status_code == 200, (name, response.text[:300])
    retracted = client.get(f"/{VIEW}/retracted.json", params={"_shape": "objects"}).json()["rows"]
    assert [r["pubmed"] for r in retracted] == [f"https://pubmed.ncbi.nlm.nih.gov/{RETRACTED_PMID}/"]


def test_the_saved_search_names_the_configured_topics_and_opens_empty(client: httpx.Client, snapshot: Path) -> None:
    page = client.get(f"/{VIEW}/search_topic")
    assert page.status_code == 200 and "topic: tapering, ketamine, hypnosis, or empty" in page.text
    assert client.get(f"/{VIEW}/search_topic.json", params={"q": "", "topic": ""}).json()["rows"] == []


def test_the_saved_search_names_an_unknown_topic_and_the_known_ones(client: httpx.Client, snapshot: Path) -> None:
    """Not an empty result, which reads as 'no papers on that'."""
    said = "unknown topic 'Ketamin'; valid topics: tapering, ketamine, hypnosis, or empty for every topic"
    response = client.get(f"/{VIEW}/search_topic.json", params={"q": "opioid", "topic": " Ketamin "})
    assert (response.status_code, response.json()["ok"], response.json()["error"]) == (400, False, said)
    page = client.get(f"/{VIEW}/search_topic", params={"q": "opioid", "topic": "Ketamin"})
    assert page.status_code == 400 and said.replace("'", "&#39;") in page.text and 'name="topic"' in page.text  # the form, to correct it
    assert client.get(f"/{VIEW}/search_topic.json", params={"q": "opioid", "topic": "hypnosis"}).json()["rows"] == []  # known, no papers


@pytest.mark.parametrize("query", ["smith[au]", "titel:opioid", '"Hyperalgesia/chemically induced"[mh]', "ketamine AND", "(ketamine", "title:AND"])
def test_a_query_the_cli_refuses_is_its_one_line_error_in_the_web_view(client: httpx.Client, research_cli, query: str) -> None:
    """The CLI's message, saying what to use; not FTS5's syntax error or "no such column"."""
    cli = research_cli("search", query)
    assert cli.exit_code == 1 and cli.stderr.startswith("Error: ") and cli.stderr.count("\n") == 1
    said = cli.stderr.removeprefix("Error: ").rstrip("\n")
    on_page = str(escape(said))
    for path, params in [(f"/{VIEW}/articles", {"_search": query}), (f"/{VIEW}/articles", {"_search_title": query}),
                         (f"/{VIEW}/search_topic", {"q": query, "topic": ""}), (f"/{VIEW}/search_topic", {"q": query, "topic": "ketamine"})]:
        response = client.get(f"{path}.json", params=params)
        assert (response.status_code, response.json()["ok"], response.json()["error"]) == (400, False, said), params
        page = client.get(path, params=params)
        assert page.status_code == 400 and on_page in page.text and "fts5" not in page.text, params
    form = client.get(f"/{VIEW}/search_topic", params={"q": query, "topic": ""})
    assert 'name="q"' in form.text  # the saved search shows its form, to correct the query


def test_a_table_search_that_cannot_be_read_offers_the_search_to_correct_and_the_way_back(client: httpx.Client) -> None:
    """Not a bare error page: the saved search shows its form above its error, and so does the table's search."""
    page = client.get(f"/{VIEW}/articles", params={"_search": 'ketamine "AND', "topics__arraycontains": KETAMINE, "_next": "50,123"})
    assert page.status_code == 400 and "This search cannot be read" in page.text
    form = re.search(rf'<form [^>]*action="/{VIEW}/articles" method="get">(.*?)</form>', page.text, re.S)[1]
    assert '<input type="search" name="_search" value="ketamine &#34;AND"' in form
    assert f'<input type="hidden" name="topics__arraycontains" value="{KETAMINE}">' in form and "_next" not in form
    assert f'<a href="/{VIEW}/articles">' in page.text
    column = client.get(f"/{VIEW}/articles", params={"_search_title": "(ketamine"}).text
    assert '<input type="search" name="_search_title" value="(ketamine"' in column


def test_a_snapshot_that_cannot_be_written_is_one_line(research_store: Store, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(StorageError, match=r"^cannot write the web view's snapshot .*; serve writes it beside the database"):
        build_snapshot(research_store, tmp_path / "not-a-folder" / "corpus-web.db", 0.5, TOPICS)
    with pytest.raises(StorageError, match=r"^cannot lock the web view's snapshot in .*not-a-folder: .*; serve writes it beside the database"):
        snapshot_path(tmp_path / "not-a-folder" / "corpus.db")


def test_refuses_writes(client: httpx.Client, snapshot: Path) -> None:
    database = client.get("/-/databases.json").json()
    assert [d["is_mutable"] for d in database] == [False]
    before = one_value(snapshot, "SELECT COUNT(*) FROM articles")
    sql = client.get(f"/{VIEW}.json", params={"sql": "DELETE FROM articles"})
    assert sql.status_code in (400, 403)
    for path in (f"/{VIEW}/articles/-/insert", f"/{VIEW}/-/create", f"/{VIEW}/articles/1/-/delete"):
        response = client.post(path, json={"row": {"pmid": "1", "title": "x"}})
        assert response.status_code in (403, 404, 405), path
    assert one_value(snapshot, "SELECT COUNT(*) FROM articles") == before


def serve(database: Path, tmp_path: Path, *args: str, topics: str = "", before: str = "") -> subprocess.Popen:
    """``oihwatch serve`` as a real process, on ``database``, with the ``[topics.*]`` blocks of ``topics``,
    after the Python code ``before``."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[ncbi]\nemail = "t@example.org"\n{topics}', encoding="utf-8")
    command = [sys.executable, "-c", f"{before}\nfrom oihwatch.cli import main; main()", "-c", str(config), "serve", *args]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def serving(process: subprocess.Popen) -> tuple[Path, str]:
    """The snapshot and URL a serve names on stderr once it listens and the snapshot is written (requests wait)."""
    line = process.stderr.readline()
    found = re.search(r"\((.+)\) on (http://127\.0\.0\.1:(\d+)/)$", line.strip())
    assert found and found.group(3) != "0", line
    return Path(found.group(1)), found.group(2)


def answering(process: subprocess.Popen) -> str:
    """The URL of ``serving``, once the server has answered there: it has started, so it handles SIGTERM."""
    url = serving(process)[1]
    assert httpx.get(url + "-/versions.json", timeout=30).status_code == 200
    return url


def snapshots(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("corpus-web"))


@pytest.fixture
def small_corpus(research_store_path: Path, tmp_path: Path) -> Path:
    """A copy of the research corpus in a folder of its own, showing 20 articles: quick to snapshot."""
    path = tmp_path / "data" / "corpus.db"
    path.parent.mkdir()
    source, copy = sqlite3.connect(research_store_path), sqlite3.connect(path)
    source.backup(copy)
    with copy:
        copy.execute("UPDATE articles SET deleted = 1 WHERE pmid NOT IN (SELECT pmid FROM articles ORDER BY pmid LIMIT 20)")
    source.close()
    copy.close()
    return path


def test_serve_port_0_prints_the_port_it_listens_on(tmp_path: Path, small_corpus: Path) -> None:
    with serve(small_corpus, tmp_path, "--port", "0") as process:
        try:
            answering(process)
        finally:
            process.terminate()


@pytest.mark.parametrize("name", ["ketamine", "Ketamine", "nmda_antagonists"])
def test_the_ketamine_rcts_are_offered_only_with_a_topic_named_ketamine(tmp_path: Path, small_corpus: Path, name: str) -> None:
    """Renamed or removed, the topic has no tags under 'ketamine': the query would list nothing, and say nothing."""
    with serve(small_corpus, tmp_path, "--port", "0", topics=f'[topics.{name}]\nlabel = "NMDA antagonists"\nkeywords = ["ketamin"]\n') as process:
        try:
            url = answering(process)
            queries = [query["name"] for query in httpx.get(url + f"{VIEW}.json", timeout=30).json()["queries"]]
            rcts = httpx.get(url + f"{VIEW}/ketamine_rcts_since_2015.json", timeout=30)
        finally:
            process.terminate()
    if name.casefold() == "ketamine":
        assert queries[0] == "ketamine_rcts_since_2015" and rcts.status_code == 200
        assert "WHERE value = 'NMDA antagonists')" in rcts.json()["query"]["sql"]
    else:
        assert "ketamine_rcts_since_2015" not in queries and "search_topic" in queries
        assert rcts.status_code == 404


def test_a_serve_starting_leaves_what_another_serves_unchanged(tmp_path: Path, small_corpus: Path) -> None:
    with serve(small_corpus, tmp_path, "--port", "0") as first:
        try:
            first_snapshot, first_url = serving(first)
            with sqlite3.connect(small_corpus) as db:
                pmid = db.execute("SELECT MIN(pmid) FROM articles WHERE deleted = 0").fetchone()[0]
                db.execute("UPDATE articles SET deleted = 1 WHERE pmid = ?", (pmid,))
            db.close()
            with serve(small_corpus, tmp_path, "--port", "0") as second:
                try:
                    second_url = answering(second)
                    with sqlite3.connect(f"file:{first_snapshot}?mode=ro", uri=True) as served:
                        assert served.execute("SELECT COUNT(*) FROM articles WHERE pmid = ?", (pmid,)).fetchone() == (1,)
                    served.close()
                    assert httpx.get(f"{first_url}{VIEW}/articles/{pmid}.json", timeout=30).status_code == 200
                    assert httpx.get(f"{second_url}{VIEW}/articles/{pmid}.json", timeout=30).status_code == 404
                    assert len(snapshots(small_corpus.parent)) == 4  # two snapshots, and their locks
                finally:
                    second.terminate()
        finally:
            first.terminate()
    assert snapshots(small_corpus.parent) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_serve_deletes_its_snapshot_when_stopped(tmp_path: Path, small_corpus: Path, stop: signal.Signals) -> None:
    with serve(small_corpus, tmp_path, "--port", "0") as process:
        try:
            answering(process)
            assert snapshots(small_corpus.parent) == [f"corpus-web.{process.pid}.db", f"corpus-web.{process.pid}.lock"]
        finally:
            process.send_signal(stop)
            process.wait(timeout=30)
            said = process.stderr.read().strip()
    assert snapshots(small_corpus.parent) == []
    if stop == signal.SIGINT:  # Ctrl-C in a terminal: a normal stop, not an error
        assert process.returncode == 0 and said.splitlines()[-1] == "stopped" and "Traceback" not in said
    else:  # kill, systemctl stop; the terminal or SSH session closed
        assert process.returncode == -stop  # ended by the signal, as a service manager expects


def test_a_serve_stopped_while_it_writes_its_snapshot_deletes_what_it_wrote(tmp_path: Path, small_corpus: Path) -> None:
    """Ended by the signal all the same; only SIGKILL or a crash leaves files, for the next serve to delete."""
    hang_up_while_writing = (
        "import os, signal\n"
        "from oihwatch.web import snapshot\n"
        "def build_snapshot(store, target, *args):\n"
        "    target.with_name(target.name + '.part').write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "snapshot.build_snapshot = build_snapshot\n"
    )
    with serve(small_corpus, tmp_path, "--port", "0", before=hang_up_while_writing) as process:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGHUP
    assert snapshots(small_corpus.parent) == []


@pytest.mark.parametrize("database", ["missing", "not a database", "another program's"])
def test_a_serve_that_cannot_start_leaves_nothing_beside_the_database(tmp_path: Path, database: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "corpus.db"
    if database == "not a database":
        path.write_bytes(b"not a database\n" * 1000)
    elif database == "another program's":
        with contextlib.closing(sqlite3.connect(path)) as other:
            other.execute("CREATE TABLE notes (text TEXT)")
    before = sorted(p.name for p in folder.iterdir())
    with serve(path, tmp_path, "--port", "0") as process:
        said = process.stderr.read()
    assert process.returncode == 1 and said.startswith("Error: ") and said.count("\n") == 1, said
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_serve_that_fails_writing_its_snapshot_leaves_nothing_beside_the_database(
    small_corpus: Path, research_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk, say: its lock file went only when the server ran and stopped."""
    from oihwatch.web import snapshot

    def full(store, target: Path, *args) -> int:
        target.with_name(target.name + ".part").write_text("half")
        raise StorageError(f"cannot write the web view's snapshot {target}: No space left on device")

    monkeypatch.setattr(snapshot, "build_snapshot", full)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{small_corpus}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(config), "serve", "--port", "0"])
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert snapshots(small_corpus.parent) == []


def test_a_serve_deletes_the_snapshots_of_serves_killed_outright(tmp_path: Path, small_corpus: Path) -> None:
    folder = small_corpus.parent
    with serve(small_corpus, tmp_path, "--port", "0") as killed:
        serving(killed)
        killed.kill()
    half_written = f"corpus-web.{killed.pid}.db.part"
    (folder / half_written).write_text("")
    snapshot_path(small_corpus).write_text("")  # a live process's: this one holds its lock
    kept = [f"corpus-web.{os.getpid()}.db", f"corpus-web.{os.getpid()}.lock", "corpus-web.db", "corpus-web.notes.db"]
    for name in kept[2:]:  # not snapshots of a serve
        (folder / name).write_text("")
    assert snapshots(folder) == sorted([f"corpus-web.{killed.pid}.db", f"corpus-web.{killed.pid}.lock", half_written, *kept])
    with serve(small_corpus, tmp_path, "--port", "0") as process:
        try:
            answering(process)
            assert snapshots(folder) == sorted([f"corpus-web.{process.pid}.db", f"corpus-web.{process.pid}.lock", *kept])
        finally:
            process.terminate()


def test_a_snapshot_whose_pid_another_process_has_now_is_stale(tmp_path: Path) -> None:
    """Its lock tells: the PID of a serve killed outright is given to other processes in time."""
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as other:
        try:
            for left in (f"corpus-web.{other.pid}.db", f"corpus-web.{other.pid}.lock"):  # the killed serve's
                (tmp_path / left).write_text("")
            mine = snapshot_path(tmp_path / "corpus.db")
            mine.write_text("")
            remove_stale_snapshots(mine)
            assert other.poll() is None  # still running: its PID alone would have kept the snapshot
        finally:
            other.stdin.close()
    assert not (tmp_path / f"corpus-web.{other.pid}.db").exists()
    assert snapshots(tmp_path) == [mine.name, f"corpus-web.{os.getpid()}.lock"]


def test_serve_on_a_taken_port_is_one_line_error_before_any_work(research_store_path: Path, research_cli) -> None:
    before = snapshots(research_store_path.parent)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = research_cli("serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.stderr == f"Error: port {port} on 127.0.0.1 is in use; stop what uses it or choose another with --port\n"
    assert "serving" not in result.output
    assert snapshots(research_store_path.parent) == before  # no snapshot built for nothing


@pytest.mark.parametrize("missing", ["datasette", "uvicorn"])
def test_serve_without_the_web_extra_is_one_line_error_before_any_work(
    research_store_path: Path, research_cli, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    before = snapshots(research_store_path.parent)
    monkeypatch.setitem(sys.modules, missing, None)  # what find_spec and import see when it is not installed
    result = research_cli("serve", "--port", "0")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: serve needs the [web] extra ({missing} not installed): in oihwatch's venv, "
                             "pip install -e '.[web]' from its folder (docs/sharing.md)\n")
    assert snapshots(research_store_path.parent) == before


def test_a_port_that_cannot_be_had_is_said_in_the_systems_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not Python's "(while attempting to bind on address ('10.255.255.1', 8001))"."""
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))])
    with pytest.raises(InputError) as raised:
        listen("10.255.255.1", 0)  # an address of no machine here: nothing is sent
    assert str(raised.value) == ("cannot listen on port 0 of 10.255.255.1: Cannot assign requested address; "
                                 "choose another --host or --port")


@pytest.mark.parametrize("host, url, note", [
    ("127.0.0.1", "http://127.0.0.1:8001/", False),
    ("::1", "http://[::1]:8001/", False),
    ("0.0.0.0", "http://127.0.0.1:8001/ and port 8001 of every other address of this machine", True),
    ("::", "http://[::1]:8001/ and port 8001 of every other address of this machine", True),
    ("192.168.1.20", "http://192.168.1.20:8001/", True),
])
def test_serve_says_where_to_open_the_view_and_when_others_can_read_it(host: str, url: str, note: bool) -> None:
    """http://0.0.0.0:8001/ is no address a browser opens, and nothing said that the view has no login."""
    assert served_at(host, 8001) == url
    said = open_to_others(host, 8001)
    assert (said is not None) == note
    if note:
        assert said.startswith("note: the web view has no login and no TLS: whoever reaches port 8001 of this machine can read it")


# What nginx puts in place of the variables the documented block names, for a visitor of https://oih.example.org/.
NGINX_VARIABLES = {"$host": "oih.example.org", "$scheme": "https", "$remote_addr": "203.0.113.7",
                   "$proxy_add_x_forwarded_for": "203.0.113.7"}


def documented_proxy_headers() -> dict[str, str]:
    """The headers the nginx block of docs/sharing.md sets on the requests it passes on, as nginx sends them."""
    text = (REPO / "docs" / "sharing.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert "listen 443 ssl;" in block and "proxy_pass http://127.0.0.1:8001;" in block
    headers = dict(re.findall(r"^\s*proxy_set_header\s+(\S+)\s+(\S+);", block, re.M))
    return {name: NGINX_VARIABLES.get(value, value) for name, value in headers.items()}


def test_behind_the_documented_proxy_every_link_is_https_on_its_host(tmp_path: Path, small_corpus: Path) -> None:
    """Next page, each facet and the JSON next_url were http://: out of TLS, or to a port nothing listens on."""
    headers = documented_proxy_headers()
    with serve(small_corpus, tmp_path, "--port", "0") as process:
        try:
            url = answering(process)
            page = httpx.get(f"{url}{VIEW}/articles", params={"_size": 5}, headers=headers, timeout=30).text
            data = httpx.get(f"{url}{VIEW}/articles.json", params={"_size": 5}, headers=headers, timeout=30).json()
        finally:
            process.terminate()
    own = [link for link in re.findall(r'href="(https?://[^"]*)"', page) if "oih.example.org" in link]
    assert any("_next=" in link for link in own) and any("study_type=" in link for link in own)  # next page, a facet
    assert all(link.startswith("https://oih.example.org/") for link in own), own
    assert data["next_url"].startswith(f"https://oih.example.org/{VIEW}/articles.json?")
