"""Datasette over the snapshot: settings that keep it read-only, facets, saved queries, and search.

The snapshot is opened as an *immutable* database, so no request can change it; the
settings below keep SQL time-limited and facets on the columns librarians slice by. Each
serve process has its own snapshot file, deleted when it stops, so a serve starting (after
a harvest, say) never changes what another one serves.
Searches in the page go through the CLI's own query translation (``search_plugin``), so a
query the CLI accepts ("opioid-induced", 5-HT3, title:"...") works in the browser too, and one it
refuses shows the CLI's message; the saved search's topic is checked against the configured ones
(``topic_plugin``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import ipaddress
import os
import re
import signal
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path

from corpus.errors import InputError, StorageError
from corpus.search import BM25_WEIGHTS

SETTINGS = {
    "sql_time_limit_ms": 2000,  # a runaway query from a visitor cannot hog the server
    # Datasette's topics (array) facet copies every row, abstracts included: 460 ms at 100,000 records,
    # over the default 200 ms from about 45,000, when every articles page said "These facets timed out".
    "facet_time_limit_ms": 2000,
    "default_page_size": 50,
    "suggest_facets": False,  # suggestions cost a query per column on every page
    "allow_download": True,  # the snapshot holds nothing private; researchers may take it
    # No limit on a CSV: every row of 100,000 records is about 190 MB (1.9 KB a row with its abstract), and
    # Datasette's default of 100 MB cut it from about 55,000, its last line a notice that read as a record.
    "max_csv_mb": 0,
}

# The saved search lists as many matches as a reader goes through; it says how many there are in all,
# lest they be taken for the whole result.
BEST = 200

# Saved queries: what a systematic reviewer asks first. Read-only SELECTs. ``saved_queries`` adds
# the one about a configured topic.
QUERIES = {
    "strongest_evidence": {
        "title": "Meta-analyses and systematic reviews about OIH, newest first",
        "sql": (
            "SELECT pubmed, title, study_type, journal, year, tags, key_finding FROM articles "
            "WHERE evidence_rank <= 1 AND relevant = 1 AND retracted = 0 ORDER BY year DESC"
        ),
    },
    "search_topic": {
        "title": f"Full-text search: the best {BEST} matches, best first (optionally within one topic)",
        "description": "q: words, \"phrases\", AND / OR / NOT, prefix*, title: abstract: mesh: keywords: fields, "
        "as for oihwatch search; topic: {topics}, or empty for every topic. "
        f"It lists the best {BEST}; matches says how many there are in all, and the search box of the articles "
        "table lists every one (newest first), with a CSV of them all",
        "sql": (
            f"WITH found AS (SELECT articles.rowid AS pmid, bm25(articles_fts, {', '.join(map(str, BM25_WEIGHTS))}) AS rank "
            "FROM articles_fts JOIN articles ON articles.rowid = articles_fts.rowid "
            "WHERE articles_fts MATCH :_fts_q AND articles.retracted = 0 "
            "AND (:_known_topic = '' OR EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = :_known_topic))) "
            "SELECT pubmed, title, journal, year, study_type, about_oih, tags, (SELECT COUNT(*) FROM found) AS matches "
            f"FROM found JOIN articles USING (pmid) ORDER BY found.rank LIMIT {BEST}"
        ),
        "params": ["q", "topic"],  # the form's fields; the SQL reads q translated and the topic checked (search_plugin.py, topic_plugin.py)
    },
    "topic_trend": {
        "title": "Articles per topic per year",
        "sql": (
            "SELECT topic.value AS topic, year, COUNT(*) AS articles FROM articles, json_each(articles.topics) AS topic "
            "WHERE retracted = 0 GROUP BY topic.value, year ORDER BY topic.value, year"
        ),
    },
    "retracted": {
        "title": "Retracted articles in the corpus",
        "sql": "SELECT pubmed, title, notices, journal, year, tags FROM articles WHERE retracted = 1 ORDER BY year DESC",
    },
}


# What the columns that need it mean, on the articles page.
COLUMNS = {
    "language": "the language of the paper (its title is then PubMed's English translation, in brackets)",
    "tags": "the clinical topics the paper informs, each with how sure the classifier is in a word: likely, possible "
    "(tags are set to miss little), or curated when a person checked it",
    "about_oih": "whether the paper is about OIH itself: likely or unlikely by the digest's threshold, "
    "or yes / no (curated) when a person checked it",
    "doi": "a link to the paper at doi.org",
    "notices": "what PubMed links to the paper since: an erratum, an expression of concern, a partial retraction, "
    "a corrected version, the retraction notice (as the CSV export and the digest say them)",
    "notice_kinds": "the kinds of those notices, for the facet",
    "topics": "the topics of tags, for the facet",
    "relevance": "the classifier's probability that the paper is about OIH (1 or 0 when curated)",
    "relevant": "1 when relevance reaches the digest's threshold",
}


# The snapshot locks this process holds: their descriptors stay open until it ends (a second lock
# of one would wait for the first).
_held: set[Path] = set()


def snapshot_path(database: Path) -> Path:
    """This process's snapshot of ``database``: beside it, ``NAME-web.PID.db``.

    Each serve writes and serves its own, so one starting never replaces what another serves.
    Its lock, ``NAME-web.PID.lock``, is taken here and held while this process runs (the system
    lets it go however the process ends): a snapshot whose lock can be taken is stale.
    """
    snapshot = database.with_name(f"{database.stem}-web.{os.getpid()}.db")
    lock = snapshot.with_suffix(".lock")
    try:
        while lock not in _held:  # None: a serve removing a stale lock of this PID deleted it meanwhile
            if _lock(lock, wait=True) is not None:
                _held.add(lock)
    except OSError as exc:
        raise StorageError(f"cannot lock the web view's snapshot in {lock.parent}: {exc.strerror}; serve writes it "
                           "beside the database, so that folder must be writable") from None
    return snapshot


def _lock(path: Path, wait: bool) -> int | None:
    """A descriptor of ``path`` (created if need be) holding its exclusive lock, or None: another
    holds it (unless ``wait``), or ``path`` was deleted before the lock was had, which then guards nothing."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _discard(snapshot: Path) -> None:
    """Delete this process's ``snapshot``, whole or half-written, then its lock file (the lock itself goes
    with the process)."""
    for written in (snapshot, snapshot.with_name(snapshot.name + ".part"), snapshot.with_name(snapshot.name + ".part-journal")):
        written.unlink(missing_ok=True)
    snapshot.with_suffix(".lock").unlink(missing_ok=True)


def view_name(snapshot: Path) -> str:
    """The snapshot's name in the view's URLs, ``NAME-web`` without the PID: links outlive a restart."""
    return re.sub(r"\.\d+$", "", snapshot.stem)


def remove_stale_snapshots(snapshot: Path) -> None:
    """Delete the snapshots beside ``snapshot``, whole or half-written, of serve processes that are gone.

    A serve deletes its own when it stops; one killed outright (SIGKILL, a crash) cannot. Its lock
    tells, not its PID: the system gives that to other processes in time.
    """
    name = view_name(snapshot)
    family = re.compile(re.escape(name) + r"\.(\d+)\.(db(\.part)?(-journal)?|lock)")
    files: dict[str, list[Path]] = {}
    for path in snapshot.parent.iterdir():
        if match := family.fullmatch(path.name):
            files.setdefault(match[1], []).append(path)
    for pid, paths in files.items():
        lock = snapshot.with_name(f"{name}.{pid}.lock")
        with contextlib.suppress(OSError):  # not ours to lock or delete (another user's)
            fd = _lock(lock, wait=False)
            if fd is None:  # its serve runs
                continue
            try:
                for path in paths:
                    if path != lock:
                        path.unlink(missing_ok=True)
                lock.unlink()  # the last: a serve that has this PID now cannot write before it is gone
            finally:
                os.close(fd)


# The signals that stop a serve besides Ctrl-C: kill and systemctl stop (SIGTERM), and the terminal or SSH
# session it runs in closing (SIGHUP).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """A stop signal, raised where serve is so that it unwinds and deletes its snapshot (``own_snapshot``);
    not an ``Exception``, which code on the way might catch."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def own_snapshot(database: Path) -> Iterator[Path]:
    """This process's snapshot of ``database`` (``snapshot_path``), those of serves gone deleted first.

    It and its lock file are deleted however serve ends: an error while it is written (a full disk),
    Ctrl-C, SIGTERM or SIGHUP, after which the process ends by that signal, as a service manager
    expects (systemd counts either as a clean stop). Only SIGKILL or a crash leaves them, for the next
    serve to delete.
    """
    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    stopped_by = None
    try:
        snapshot = snapshot_path(database)
        try:
            remove_stale_snapshots(snapshot)  # before the build: a disk that holds only one more needs their room
            yield snapshot
        finally:
            _discard(snapshot)
    except Stopped as stop:
        stopped_by = stop.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopped_by is not None:
        signal.raise_signal(stopped_by)


def saved_queries(topics: Mapping[str, str]) -> dict:
    """``QUERIES`` for the configured ``topics`` (labels by name): the saved search lists their names, and
    the RCTs on ketamine come first when a topic is named ketamine (in any letter case, as configured).
    Without one (renamed, removed) that query is left out, where it would return nothing and say nothing."""
    search_topic = QUERIES["search_topic"]
    queries = {**QUERIES, "search_topic": {**search_topic, "description": search_topic["description"].format(topics=", ".join(topics))}}
    ketamine = next((label for topic, label in topics.items() if topic.casefold() == "ketamine"), None)
    if ketamine is None:
        return queries
    rcts = {
        "title": "RCTs on ketamine for OIH since 2015",
        "sql": (
            "SELECT pubmed, title, authors, journal, year, about_oih, tags, key_finding FROM articles "
            "WHERE study_type = 'Randomised controlled trial' AND year >= 2015 AND relevant = 1 AND retracted = 0 "
            f"AND EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = {sql_text(ketamine)}) "
            "ORDER BY relevance DESC, year DESC"
        ),
    }
    return {"ketamine_rcts_since_2015": rcts, **queries}


def sql_text(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def snapshot_taken(snapshot: Path) -> str:
    """'a snapshot of 5,779 records taken 2026-11-30 09:00 UTC': how much the view holds, and how old it is,
    which its visitors cannot tell otherwise (it shows no record harvested, classified or retracted since)."""
    with contextlib.closing(sqlite3.connect(f"{snapshot.resolve().as_uri()}?immutable=1", uri=True)) as db:
        records = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    taken = datetime.fromtimestamp(snapshot.stat().st_mtime, timezone.utc)
    return f"a snapshot of {records:,} records taken {taken:%Y-%m-%d %H:%M} UTC"


def metadata(database_name: str, topics: Mapping[str, str], taken: str) -> dict:
    """Datasette's metadata; ``topics`` are the configured topics' labels by name, as the snapshot has them,
    ``taken`` what the view is a snapshot of (``snapshot_taken``)."""
    from datasette.utils import tilde_encode
    from markupsafe import escape

    from oihwatch.web import topic_plugin

    about = taken[0].upper() + taken[1:]  # in the footer of every page
    queries = {name: {**query, "about": about} for name, query in saved_queries(topics).items()}
    # From the root, as Datasette's own links: the table's description is on every record's page too,
    # where a relative link to search_topic read as the record of PMID 'search_topic'.
    database = escape(f"/{tilde_encode(database_name)}")
    table = f"{database}/articles"
    shows = f"This is {taken}: what was harvested, classified or retracted since appears when the view is restarted."
    return {
        "title": "oihwatch: research on opioid-induced hyperalgesia",
        "description": "A read-only, tagged bibliography of PubMed records about opioid-induced hyperalgesia. "
        "Topics and study types are assigned by oihwatch's classifier; check the abstract before you rely on a tag. " + shows,
        "source": "PubMed (NCBI, U.S. National Library of Medicine)",
        "source_url": "https://pubmed.ncbi.nlm.nih.gov/",
        "about": about,
        "plugins": {topic_plugin.NAME: {"topics": dict(topics)}},
        "databases": {
            database_name: {
                "tables": {
                    "articles": {
                        # Not retracted: the table leaves them out (retracted_plugin.py), so it would count 0 alone.
                        "facets": ["study_type", "year", "journal", {"array": "topics"}, "about_oih", "relevant", "language", "notice_kinds"],
                        "columns": COLUMNS,
                        "fts_table": "articles_fts",
                        "fts_pk": "rowid",
                        "searchmode": "escaped",  # escape_fts is our fts_query here (search_plugin.py)
                        "sort": "newest",  # year, then PMID, as one unique column (snapshot.py)
                        # Only columns without ties: Datasette orders a sort's first page by the column alone and
                        # the next ones by it and the PMID, so a sort by year or journal lost and repeated rows
                        # from page to page, in "Next page", next_url and the CSV of every row alike.
                        "sortable_columns": ["newest", "pmid"],
                        "label_column": "title",
                        "about": about,
                        "description_html": "One row per PubMed article, newest first (by year, then PMID: the column <em>newest</em>; click its heading "
                        "for oldest first, or sort by <em>pmid</em>: the other columns are for facets and filters). Search accepts words, "
                        "&quot;phrases&quot;, AND / OR / NOT, prefix* and title: abstract: mesh: keywords: fields, "
                        "as <code>oihwatch search</code> does; the box narrows this table (newest first, with facets), "
                        f'the saved query <a href="{database}/search_topic">search_topic</a> lists the best matches first. '
                        "<em>about_oih</em> says whether the article is about OIH itself (<em>relevant</em> = 1: "
                        "at the digest's threshold); its tags say which clinical question it informs. Each 'pubmed' link "
                        "opens the record on PubMed. "
                        "Retracted articles are left out, as <code>oihwatch search</code> leaves them out: "
                        f'<a href="{table}?retracted=1">list them</a> (each title marked RETRACTED), '
                        f'or <a href="{table}?retracted__in=0%2C1">every article</a>. '
                        "The CSV link gives every row of the view, its filters and search applied; the JSON a page "
                        "at a time (follow <code>next_url</code>). " + shows,
                    }
                },
                "queries": queries,
            }
        },
    }


def make_datasette(snapshot: Path, topics: Mapping[str, str]):
    """A Datasette serving ``snapshot`` immutable (no writes possible); ``topics``: the configured topics' labels by name."""
    from datasette.app import Datasette  # first: it registers the default plugins

    from datasette import handle_exception
    from datasette.plugins import pm

    from oihwatch.web import cells_plugin, downloads_plugin, retracted_plugin, search_plugin, sort_plugin, topic_plugin

    # Datasette 0.65 prints every error page's exception with rich, and rich >= 14 raises
    # when that happens outside an ``except`` block: each 404 or 400 then drops the
    # connection instead of answering. Errors still reach the page and the log without it.
    handle_exception.rich = None
    plugins = ((search_plugin, "oihwatch-search"), (topic_plugin, topic_plugin.NAME), (retracted_plugin, "oihwatch-retracted"),
               (cells_plugin, "oihwatch-cells"), (downloads_plugin, "oihwatch-downloads"), (sort_plugin, "oihwatch-sort"))
    for plugin, plugin_name in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin, name=plugin_name)
    name = view_name(snapshot)
    datasette = Datasette(immutables=[str(snapshot)], metadata=metadata(name, topics, snapshot_taken(snapshot)), settings=SETTINGS)
    # Datasette names a database after its file; the view's name leaves out the PID.
    database = datasette.databases[snapshot.stem]
    datasette.remove_database(snapshot.stem)
    datasette.add_database(database, name=name)
    return datasette


def require_web_extra() -> None:
    """Raise ``InputError`` when Datasette or uvicorn is missing, before a port or a snapshot is taken:
    they come with the optional [web] extra, and a bare ImportError would be a traceback."""
    missing = [name for name in ("datasette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"serve needs the [web] extra ({' and '.join(missing)} not installed): in oihwatch's venv, "
                         "pip install -e '.[web]' from its folder (docs/sharing.md)")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host``:``port`` (0: any free port), before anything else is done.

    Raises ``InputError`` when the port is taken or the address is not this machine's.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except socket.gaierror:
        raise InputError(f"cannot listen on {host!r}: no such host; use an address of this machine, e.g. 127.0.0.1") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use; stop what uses it or choose another with --port") from None
        # The system's words: create_server adds "(while attempting to bind on address ('10.0.0.9', 8001))" to strerror.
        reason = os.strerror(exc.errno) if exc.errno else exc.strerror
        raise InputError(f"cannot listen on port {port} of {host}: {reason}; choose another --host or --port") from None


# For these, every address of the machine: no address a browser can open; its own loopback one is.
EVERY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def served_at(host: str, port: int) -> str:
    """Where a server listening on ``host``:``port`` is opened, as a URL (for every address of the
    machine, the loopback one and the others' port)."""
    if host in EVERY_ADDRESS:
        return f"{_url(EVERY_ADDRESS[host], port)} and port {port} of every other address of this machine"
    return _url(host, port)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def open_to_others(host: str, port: int) -> str | None:
    """A note that other machines can read the view, when ``host`` is not a loopback address: Datasette has no
    login and no TLS (docs/sharing.md); None on loopback."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host.split("%")[0]).is_loopback:
            return None
    return (f"note: the web view has no login and no TLS: whoever reaches port {port} of this machine can read it; "
            "put a proxy with TLS (and a login if need be) in front, or serve on 127.0.0.1 (docs/sharing.md)")


def run_server(snapshot: Path, sock: socket.socket, topics: Mapping[str, str]) -> None:
    """Serve ``snapshot`` on the listening ``sock`` until stopped: Ctrl-C, SIGTERM or SIGHUP, each raised
    again once the server has stopped (``own_snapshot`` deletes the snapshot then)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(make_datasette(snapshot, topics).app(), log_level="warning"))
    hung_up = []

    def hang_up(signum: int, frame) -> None:
        # uvicorn stops gracefully on SIGINT and SIGTERM, then raises them again; a SIGHUP does the same here.
        hung_up.append(signum)
        server.should_exit = True

    previous = signal.signal(signal.SIGHUP, hang_up)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGHUP, previous)
    if hung_up:
        signal.raise_signal(signal.SIGHUP)
