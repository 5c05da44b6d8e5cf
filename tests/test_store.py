"""The store: idempotent upserts, revisions, all-or-nothing batches, forward migrations."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sqlite3
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus import AbstractSection, Article, Link, MeshHeading, StorageError, Store
from corpus.schema import APPLICATION_ID, MIGRATIONS
from read_only import read_only
from size_limit import oihwatch_limited

DISK_FULL = "the disk is full; free space and run it again (everything committed so far is kept)"


def article(pmid: str = "100", **fields) -> Article:
    base = dict(
        title="Opioid-induced hyperalgesia after remifentanil",
        abstract_sections=[AbstractSection("Remifentanil increased pain.", "RESULTS", "RESULTS")],
        mesh=[MeshHeading("Hyperalgesia", "D006930", True)],
        revised="2024-01-02",
    )
    base.update(fields)
    return Article(pmid=pmid, **base)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def test_upsert_is_idempotent_and_keeps_first_seen():
    clock = Clock()
    with Store(clock=clock) as store:
        assert store.upsert_articles([article()]).new == 1
        clock.now = datetime(2026, 11, 9, tzinfo=timezone.utc)
        counts = store.upsert_articles([article()])
        assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
        row = store.db.execute("SELECT first_seen, last_updated FROM articles").fetchone()
        assert row["first_seen"] == row["last_updated"] == "2026-11-02T08:00:00+00:00"


def test_revised_record_replaces_and_is_marked_for_classification():
    clock = Clock()
    with Store(clock=clock) as store:
        store.upsert_articles([article()])
        store.db.execute("UPDATE articles SET needs_classification = 0")
        clock.now = datetime(2026, 11, 9, tzinfo=timezone.utc)
        revised = article(revised="2024-06-01", links=[Link("RetractionIn", "200")])
        assert store.upsert_articles([revised]).updated == 1
        row = store.db.execute("SELECT retracted, needs_classification, first_seen, last_updated FROM articles").fetchone()
        assert row["retracted"] == 1 and row["needs_classification"] == 1
        assert row["first_seen"] < row["last_updated"]
        assert store.get_article("100").retracted


def test_an_older_revision_never_rolls_a_record_back(store):
    store.upsert_articles([article(revised="2024-06-01", title="New title")])
    assert store.upsert_articles([article(revised="2023-01-01", title="Old title")]).unchanged == 1
    assert store.get_article("100").title == "New title"


def test_failed_batch_leaves_store_as_before(store):
    store.upsert_articles([article("1")])

    def batch():
        yield article("2")
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        store.upsert_articles(batch())
    assert [a.pmid for a in store.iter_articles()] == ["1"]


def test_full_text_index_follows_upserts_and_deletions(store):
    store.upsert_articles([article("1"), article("2", title="Ketamine infusion", mesh=[])])

    def hits(query):
        return store.db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", (query,)).fetchall()

    assert len(hits("title:remifentanil")) == 1
    assert len(hits("mesh:hyperalgesia")) == 1
    store.upsert_articles([article("1", title="Something else", revised="2025-01-01")])
    assert len(hits("title:remifentanil")) == 0
    assert store.mark_deleted(["2", "999"]) == 1
    assert len(hits("ketamine")) == 0
    assert store.count_articles() == 1 and store.count_articles(include_deleted=True) == 2
    assert store.upsert_articles([article("2", title="Ketamine infusion", mesh=[])]).unchanged == 1  # stays deleted
    assert len(hits("ketamine")) == 0
    revised = article("2", title="Ketamine infusion", mesh=[], revised="2025-01-01", raw_xml="<PubmedArticle/>")
    assert store.upsert_articles([revised]).updated == 1 and len(hits("ketamine")) == 1  # PubMed's later revision re-adds it


def test_round_trip_keeps_every_field(store):
    original = article(
        authors=[], keywords=["OIH"], publication_types=["Randomized Controlled Trial"], doi="10.1/x",
        links=[Link("ErratumIn", "5", "J 2024")], raw_xml="<PubmedArticle/>", languages=["eng"],
    )
    store.upsert_articles([original])
    assert store.get_article("100") == original


def test_articles_read_without_their_xml_keep_every_other_field_and_the_pmid_order(store):
    """What the classifier reads: its memory is then not that of every record's XML."""
    records = [article(pmid, raw_xml=f"<PubmedArticle>{pmid}</PubmedArticle>", source="eutils") for pmid in ("20", "3", "100")]
    store.upsert_articles(records)
    for pmids in (None, ["100", "3"]):
        whole = list(store.iter_articles(pmids))
        assert [a.pmid for a in whole] == (["3", "20", "100"] if pmids is None else pmids)
        assert all(a.raw_xml for a in whole)
        assert list(store.iter_articles(pmids, with_xml=False)) == [replace(a, raw_xml="") for a in whole]


def test_file_store_uses_wal_and_migrates_forward(tmp_path):
    path = tmp_path / "c.db"
    with contextlib.closing(sqlite3.connect(path)) as db:  # a database made by an older oihwatch with no tables yet
        db.execute("PRAGMA user_version = 0")
    store = Store(path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="newer than this oihwatch knows"):
        Store(path)


def test_a_file_that_is_not_a_database_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StorageError, match=r"not\.db is corrupt \(file is not a database\); restore it from a backup"):
        Store(path)


def foreign_database(path, shape: str) -> bytes:
    """Another program's SQLite file at ``path``, as ``shape`` says; returns its bytes."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        if shape == "other tables":
            db.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
        elif shape == "a table named like ours":
            db.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, body TEXT)")
        else:  # another application's id and schema version (GeoPackage's 'GPKG'), on oihwatch's tables
            db.executescript(MIGRATIONS[0])
            db.execute(f"PRAGMA application_id = {int.from_bytes(b'GPKG', 'big')}")
            db.execute("PRAGMA user_version = 1")
        db.commit()
    return path.read_bytes()


@pytest.mark.parametrize("shape", ["other tables", "a table named like ours", "another application id"])
@pytest.mark.parametrize("read_only_open", [False, True], ids=["writable", "read-only"])
def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path, shape, read_only_open):
    path = tmp_path / "app.db"
    before = foreign_database(path, shape)
    with pytest.raises(StorageError) as refused:
        Store(path, read_only=read_only_open)
    assert str(refused.value) == (f"{path} is an SQLite database but not an oihwatch corpus; check database.path "
                                  "(the file was left as it was)")
    assert path.read_bytes() == before  # no table added, not switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_a_new_corpus_is_marked_and_one_made_before_the_mark_still_opens(tmp_path):
    path = tmp_path / "c.db"
    with Store(path) as store:
        assert store.application_id == APPLICATION_ID
        store.upsert_articles([article("1")])
        store.db.execute("PRAGMA application_id = 0")  # as an older oihwatch made it
    with Store(path, read_only=True) as store:  # read, never marked
        assert [a.pmid for a in store.iter_articles()] == ["1"] and store.application_id == 0
    with Store(path) as store:  # marked by the first open that may write
        assert [a.pmid for a in store.iter_articles()] == ["1"] and store.application_id == APPLICATION_ID


def watch_next_connection(monkeypatch, on_statement) -> None:
    """Call ``on_statement(sql)`` as each top-level statement of the next connection opened starts, before
    it reads anything (SQLite marks nested statements with '-- '); connections opened later are not watched."""
    connect = sqlite3.connect

    def watched_connect(*args, **kwargs):
        monkeypatch.setattr(sqlite3, "connect", connect)
        db = connect(*args, **kwargs)
        db.set_trace_callback(lambda sql: sql.startswith("-- ") or on_statement(sql))
        return db

    monkeypatch.setattr(sqlite3, "connect", watched_connect)


@pytest.mark.parametrize("moment", range(1, 6))  # the statements of an open before its migration's transaction
def test_a_corpus_another_process_creates_while_this_one_opens_it_is_never_refused(tmp_path, monkeypatch, moment):
    """Another connection creates the corpus just before this open's ``moment``-th statement runs: whatever the
    open has read of the file by then (the corpus marks among it), the file opens as the corpus it is."""
    path = tmp_path / "c.db"
    statements = itertools.count(1)

    def create_at_moment(sql: str) -> None:
        if next(statements) == moment:
            Store(path).close()

    watch_next_connection(monkeypatch, create_at_moment)
    with Store(path) as store:
        assert next(statements) > moment  # the other connection did create it
        assert (store.application_id, store.schema_version) == (APPLICATION_ID, len(MIGRATIONS))


def test_a_new_file_another_process_is_switching_to_wal_opens_once_it_is_done(tmp_path, monkeypatch):
    """Another process holds the write lock of the new file as this open's switch to WAL starts, which SQLite
    then refuses at once ('database is locked'), not waiting: the open waits for the lock, finds the
    file switched and the corpus made by the other, and goes on."""
    path = tmp_path / "c.db"
    other = sqlite3.connect(path, isolation_level=None)
    seen = set()

    def other_process(sql: str) -> None:
        if sql in seen:
            return
        seen.add(sql)
        if sql == "PRAGMA journal_mode = WAL":
            other.execute("BEGIN IMMEDIATE")
        elif sql == "BEGIN IMMEDIATE":  # this open waits: the other finishes
            other.execute("ROLLBACK")
            Store(path).close()

    watch_next_connection(monkeypatch, other_process)
    with Store(path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (store.application_id, store.schema_version) == (APPLICATION_ID, len(MIGRATIONS))
    other.close()


def damaged_store(path, schema: int = len(MIGRATIONS)):
    """A corpus of 300 records at ``schema`` whose pages a third of the way in are overwritten."""
    store = Store(path)
    store.upsert_articles([article(str(n), abstract_sections=[AbstractSection("word " * 300)]) for n in range(1, 300)])
    if schema < len(MIGRATIONS):
        store.db.execute("DROP TABLE notices")
        store.db.execute(f"PRAGMA user_version = {schema}")
    store.close()
    data = bytearray(path.read_bytes())
    first = len(data) // 4096 // 3
    for page in range(first, first + 3):
        data[page * 4096 + 100 : page * 4096 + 4000] = b"\x07garbage" * 487
    path.write_bytes(bytes(data))


def test_damaged_pages_met_by_a_migration_are_corruption_not_a_write_failure(tmp_path):
    damaged_store(tmp_path / "c.db", schema=3)  # migration 4 reads every record
    with pytest.raises(StorageError, match=r"c\.db is corrupt \(.*\); restore it from a backup"):
        Store(tmp_path / "c.db")


def test_a_plain_sqlite_error_counts_as_corruption_only_in_a_damaged_file(tmp_path):
    damaged_store(tmp_path / "bad.db")

    def plain_error(store):  # the error a torn JSON record gives while a migration reads it
        with pytest.raises(sqlite3.OperationalError) as raised:
            store.db.execute("SELECT json('{\"title\": ')")
        return raised.value

    with Store(tmp_path / "good.db") as healthy, Store(tmp_path / "bad.db", read_only=True) as damaged:  # opening reads no damaged page
        assert str(damaged.error(plain_error(damaged), "read")).endswith("is corrupt (malformed JSON); restore it from a backup")
        assert str(healthy.error(plain_error(healthy), "read")) == f"cannot read {healthy.path}: malformed JSON"


def test_a_read_only_folder_is_read_without_writing_beside_the_file(tmp_path):
    folder = tmp_path / "corpus"
    with Store(folder / "c.db") as store:
        store.upsert_articles([article("1")])
    before = sorted(p.name for p in folder.iterdir())
    assert before == ["c.db"]  # closed cleanly: no -wal, so no writer can be at work in the folder
    with read_only(folder) as view:
        store = Store(view / "c.db", read_only=True)
        assert [a.pmid for a in store.iter_articles()] == ["1"]
        with pytest.raises(StorageError, match="cannot write to"):
            store.upsert_articles([article("2")])
        store.close()
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_read_only_folder_with_a_live_writer_shows_its_latest_commits(tmp_path):
    folder = tmp_path / "corpus"
    writer = Store(folder / "c.db")
    writer.upsert_articles([article("1")])
    with read_only(folder) as view:
        reader = Store(view / "c.db", read_only=True)
        writer.upsert_articles([article("2")])  # in the -wal file, not yet in the database file
        assert [a.pmid for a in reader.iter_articles()] == ["1", "2"]
        reader.close()
    writer.close()


def test_a_read_only_store_never_migrates(tmp_path):
    store = Store(tmp_path / "c.db")
    store.db.execute("PRAGMA user_version = 3")
    store.close()
    with pytest.raises(StorageError, match="older than this oihwatch's .* run a command that writes"):
        Store(tmp_path / "c.db", read_only=True)


texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), texts, texts), max_size=15))
def test_any_sequence_of_upserts_is_idempotent(records):
    with Store() as store:
        batch = [article(str(p), title=t, abstract_sections=[AbstractSection(a)]) for p, t, a in records]
        store.upsert_articles(batch)
        snapshot = store.db.execute("SELECT pmid, fingerprint, last_updated FROM articles ORDER BY pmid").fetchall()
        again = store.upsert_articles(batch)
        assert again.new == again.updated == 0
        assert store.db.execute("SELECT pmid, fingerprint, last_updated FROM articles ORDER BY pmid").fetchall() == snapshot


def test_a_copy_from_a_flat_file_never_replaces_the_pubmed_record(store):
    store.upsert_articles([article(raw_xml="<PubmedArticle>…</PubmedArticle>", title="From PubMed")])
    assert store.upsert_articles([article(revised="", title="From a CSV")]).unchanged == 1
    assert store.get_article("100").title == "From PubMed"
    assert store.upsert_articles([article(revised="2025-01-01", raw_xml="<PubmedArticle/>", title="Revised")]).updated == 1


def test_a_full_disk_is_a_storage_error_and_loses_nothing(tmp_path):
    with Store(tmp_path / "c.db") as store:
        store.upsert_articles([article("1")])
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up now
        big = [article(str(n), abstract_sections=[AbstractSection("x" * 5000)]) for n in range(2, 200)]
        with pytest.raises(StorageError) as failure:
            store.upsert_articles(big)
        assert str(failure.value) == f"cannot write to {store.path}: {DISK_FULL}"  # SQLite said only 'database or disk is full'
        assert [a.pmid for a in store.iter_articles()] == ["1"]


def test_a_disk_with_no_room_says_so_not_a_bare_disk_io_error(tmp_path, monkeypatch):
    """On a disk with no byte free even opening the corpus fails (its write-ahead log's index, the -shm file,
    cannot be made), and SQLite says only 'disk I/O error', as it would of failing hardware."""
    with Store(tmp_path / "c.db") as store:
        io_error = sqlite3.OperationalError("disk I/O error")
        io_error.sqlite_errorcode = 4874  # SQLITE_IOERR_SHMSIZE, as a full disk gives it
        free = {"blocks": 0}
        real_statvfs = os.statvfs

        def statvfs(path):
            disk = real_statvfs(path)
            return os.statvfs_result((disk.f_bsize, disk.f_frsize, disk.f_blocks, free["blocks"], free["blocks"], *disk[5:]))

        monkeypatch.setattr(os, "statvfs", statvfs)
        assert str(store.error(io_error, "open the corpus database")) == f"cannot open the corpus database {store.path}: {DISK_FULL}"
        free["blocks"] = 1_000_000
        assert str(store.error(io_error, "open the corpus database")).endswith(": disk I/O error")  # failing hardware, maybe


def test_a_file_size_limit_says_so_not_a_bare_disk_io_error(shared_data, tmp_path):
    """Under ``ulimit -f`` SQLite's write fails with EFBIG, which it reports as 'disk I/O error', as it
    would failing hardware; what is committed before is kept, and the file is sound."""
    config = tmp_path / "config.toml"
    config.write_text('[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    limit = 1_000_000
    result = oihwatch_limited(limit, "-c", str(config), "ingest", "--batch-size", "50", str(shared_data / "corpus.jsonl"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: cannot write to {tmp_path / 'oihwatch.db'}: oihwatch.db-wal reached this process's file-size limit "
        f"({limit:,} bytes: ulimit -f); raise it and run it again (everything committed so far is kept)")
    with Store(tmp_path / "oihwatch.db") as store:
        store.check_integrity()
        assert store.count_articles() > 0


def test_every_writer_reports_a_full_disk_as_a_storage_error(tmp_path):
    from corpus.runs import set_watermark

    with Store(tmp_path / "c.db") as store:
        store.upsert_articles([article("1")])
        store.db.execute(f"PRAGMA max_page_count = {store.db.execute('PRAGMA page_count').fetchone()[0]}")
        with pytest.raises(StorageError, match=rf"cannot write to .*c\.db: {re.escape(DISK_FULL)}"):
            with store.transaction():
                for n in range(500):
                    set_watermark(store, f"query-{n}", "x" * 2000)
        assert [a.pmid for a in store.iter_articles()] == ["1"]


def test_another_programs_write_transaction_says_what_holds_the_database_and_what_to_do(tmp_path):
    """An sqlite3 shell or a backup tool in a write transaction: SQLite's 'database is locked'
    said neither; no oihwatch is the cause, since its writers take turns under the write lock."""
    store = Store(tmp_path / "c.db")
    store.db.execute("PRAGMA busy_timeout = 0")  # the store waits 10 s for it to end
    other = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageError) as refused:
        store.upsert_articles([article("1")])
    assert str(refused.value) == (f"cannot write to {store.path}: another program (an sqlite3 shell, a backup tool...) "
                                  "has the database open for writing; close it and rerun")
    other.execute("ROLLBACK")
    other.close()
    assert store.upsert_articles([article("1")]).new == 1
    store.close()
