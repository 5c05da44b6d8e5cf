"""The store: one SQLite file (WAL mode) holding the corpus and its bookkeeping.

The store is an object passed in, never a global: tests hand in ``":memory:"``
and a fake clock. Each ``transaction()`` is all-or-nothing, so a failed ingest
batch or harvest window leaves the store exactly as it was.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from corpus.article import Article, Link, content_fingerprint, content_json
from corpus.errors import NotACorpus, StorageError, file_size_limit, no_room, unwritable
from corpus.schema import APPLICATION_ID, DERIVED_SCHEMA, FIRST_TABLES, MIGRATIONS, NOTICES_SCHEMA

Clock = Callable[[], datetime]

# SQLite's primary result codes (sqlite3.h): a generic error, another connection's write lock, a
# file it may not write, a failed read or write, a damaged file, a full disk, not a database at all.
SQLITE_ERROR, SQLITE_BUSY, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 1, 5, 8, 10, 11, 13, 26

# The most one write of SQLite adds to a file: its largest page and a WAL frame's header
# (sqlite.org/fileformat.html#the_write_ahead_log).
LARGEST_WRITE = 65536 + 24

# What a failed write leaves: each transaction is all-or-nothing.
KEPT = "everything committed so far is kept"


def iso_utc(moment: datetime) -> str:
    """``moment`` as the store writes times: ISO, UTC, whole seconds (they sort as text)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# PMIDs bound to one ``IN (...)`` at most: older SQLite builds allow 999 variables in a statement.
IN_CHUNK = 500


def in_chunks(values: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """``values`` in chunks for ``IN (...)``, each with its placeholders: ('?,?,?', [a, b, c])."""
    values = iter(values)
    while chunk := list(itertools.islice(values, IN_CHUNK)):
        yield ",".join("?" * len(chunk)), chunk


@dataclass
class UpsertCounts:
    """What one upsert did; added together over batches and files."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


class Store:
    """The corpus database. Open with a path (or ``":memory:"``); schema is migrated on open.

    ``read_only`` opens an existing file without writing anything, not even beside it: SQLite in
    WAL mode needs a ``-shm`` file, so in a folder it cannot write (no ``-wal`` there, hence no
    writer either) the file is opened as immutable.
    """

    def __init__(self, path: str | Path = ":memory:", clock: Clock = utc_now, read_only: bool = False):
        self.path = str(path)
        self.clock = clock
        self._depth = 0
        if self.path != ":memory:" and not read_only:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the folder of the corpus database {self.path}: {exc.strerror}") from None
        try:
            self.db = sqlite3.connect(_uri(Path(self.path)) if read_only else self.path,
                                      isolation_level=None, check_same_thread=False, uri=read_only)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open the corpus database {self.path}: {exc}") from exc
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA busy_timeout = 10000")
            self._check_corpus()
            if self.path != ":memory:" and not read_only:
                self._use_wal()
                # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits, and
                # since each watermark commits with its records, a lost commit is re-harvested, not a gap.
                self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate(read_only)
        except sqlite3.DatabaseError as exc:
            error = self.error(exc, "open the corpus database")
            self.db.close()
            raise error from exc
        except StorageError:
            self.db.close()
            raise

    # -- plumbing ---------------------------------------------------------------

    def _check_corpus(self) -> None:
        """Refuse another program's SQLite file before anything is written to it (oihwatch's tables, WAL
        mode): a typing error in database.path must not take it over. A corpus carries ``APPLICATION_ID``;
        one made before has a schema version and the tables of migration 1; an empty file becomes one.

        The three are read in one statement, hence from one snapshot: another process creating the corpus
        at this moment commits migration 1 and both marks at once, so the file is seen empty or whole. Read
        one by one, they could mix the two (no tables yet, then the new schema version) and refuse it."""
        application_id, version, names = self.db.execute(
            "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), "
            "(SELECT json_group_array(name) FROM sqlite_master)"
        ).fetchone()
        names = set(json.loads(names))
        if application_id == APPLICATION_ID:
            return
        if application_id == 0 and (version == 0 and not names or version > 0 and FIRST_TABLES <= names):
            return
        raise NotACorpus(f"{self.path} is an SQLite database but not an oihwatch corpus; check database.path "
                           "(the file was left as it was)")

    def _use_wal(self) -> None:
        """Switch the file to WAL mode. Processes opening a new file together switch it together, and
        SQLite fails all but one at once with 'database is locked', not waiting (each holds the read lock
        the other's write awaits); once that one is done, there is nothing left to switch. So a switch
        refused so waits for the writer to finish (``BEGIN IMMEDIATE``, under the busy timeout) and is
        tried again: once, and a few times only should yet other processes switch it meanwhile."""
        for attempt in range(1, 4):
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if _primary_code(exc) != SQLITE_BUSY or attempt == 3:
                    raise
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("ROLLBACK")

    def _migrate(self, read_only: bool) -> None:
        """Apply the missing migrations in one transaction, and mark the file as a corpus
        (``APPLICATION_ID``: one made before is marked by its first writable open). The version is read
        again under the write lock: another process opening the same old file may have upgraded it in
        the meantime."""
        if self._version() == len(MIGRATIONS) and (read_only or self.application_id == APPLICATION_ID):
            return
        if read_only:
            raise StorageError(
                f"{self.path} has schema version {self._version()}, older than this oihwatch's {len(MIGRATIONS)}, and is "
                "opened read-only; run a command that writes (e.g. 'oihwatch run') with write access to upgrade it"
            )
        with self.transaction() as db:
            current = self._version()
            for migration in MIGRATIONS[current:]:
                for statement in _statements(migration):
                    db.execute(statement)
            if current < NOTICES_SCHEMA:  # flag the papers of the notices migration 4 found stored
                self._relink([row[0] for row in db.execute("SELECT DISTINCT original FROM notices ORDER BY original")])
            if current < DERIVED_SCHEMA:  # the columns of records stored under older rules
                self._rederive()
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _version(self) -> int:
        """The schema version, if this oihwatch knows it."""
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise StorageError(
                f"{self.path} has schema version {current}, newer than this oihwatch knows "
                f"({len(MIGRATIONS)}); upgrade oihwatch"
            )
        return current

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    @property
    def application_id(self) -> int:
        return self.db.execute("PRAGMA application_id").fetchone()[0]

    def now(self) -> str:
        """The clock's time as an ISO timestamp (UTC, seconds)."""
        return iso_utc(self.clock())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self.error(exc, "write to") from exc
        self._depth = 1
        try:
            yield self.db
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:  # a full disk, a locked or corrupt file: one line for every writer
            self._rollback()
            raise self.error(exc, "write to") from exc
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth = 0

    def error(self, exc: sqlite3.DatabaseError, doing: str) -> StorageError:
        """One line for a failure of SQLite, telling a corrupt file (restore a backup) from a full
        disk, a file-size limit, a lock or a read-only file (fix that and rerun)."""
        return self.corrupt_error(exc) or StorageError(f"cannot {doing} {self.path}: {self._reason(exc)}")

    def _reason(self, exc: sqlite3.DatabaseError) -> str:
        """SQLite's words, and what to do where they leave it out. 'database is locked' after the
        busy timeout means a program beside oihwatch, whose own writers take turns under the write lock."""
        code = _primary_code(exc)
        if code == SQLITE_BUSY:
            return ("another program (an sqlite3 shell, a backup tool...) has the database open for writing; "
                    "close it and rerun")
        if code == SQLITE_FULL:
            return f"{no_room(errno.ENOSPC)} ({KEPT})"
        if code == SQLITE_IOERR and (grown := self._at_size_limit()):
            return f"{no_room(errno.EFBIG, grown)} ({KEPT})"
        if code == SQLITE_IOERR and self._disk_full():
            return f"{no_room(errno.ENOSPC)} ({KEPT})"
        fix = unwritable(Path(self.path)) if code == SQLITE_READONLY and self.path != ":memory:" else None
        return f"{exc}; {fix}" if fix else str(exc)

    def _at_size_limit(self) -> str | None:
        """The name of the corpus file (the database or its write-ahead log) that one more write may take
        past this process's file-size limit, if any. A write past it fails with EFBIG, which SQLite
        reports as a bare 'disk I/O error', as it would failing hardware."""
        limit = file_size_limit()
        if limit is None or self.path == ":memory:":
            return None
        for path in (Path(self.path), Path(self.path + "-wal")):
            with contextlib.suppress(OSError):
                if path.stat().st_size + LARGEST_WRITE > limit:
                    return path.name
        return None

    def _disk_full(self) -> bool:
        """Whether the corpus's disk has no room left for this user. Even opening the file needs some, for
        the index of its write-ahead log (``-shm``), and SQLite reports the failure as a bare 'disk I/O
        error', as it would failing hardware."""
        if self.path == ":memory:":
            return False
        try:
            disk = os.statvfs(Path(self.path).parent)
        except OSError:
            return False
        return disk.f_bavail * disk.f_frsize < LARGEST_WRITE

    def corrupt_error(self, exc: sqlite3.DatabaseError) -> StorageError | None:
        """The one line for ``exc`` if it comes from a damaged file, else None."""
        return self._corrupt(exc) if self.is_corrupt(exc) else None

    def _corrupt(self, detail: object) -> StorageError:
        return StorageError(f"the corpus database {self.path} is corrupt ({detail}); restore it from a backup")

    def check_integrity(self) -> None:
        """Raise if the file is damaged. An unattended pass mostly appends: it could run for weeks
        on damaged pages it never reads, reporting success, while every reader fails."""
        try:
            verdict = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self.error(exc, "check") from None
        if verdict != "ok":
            raise self._corrupt(verdict)

    def is_corrupt(self, exc: sqlite3.DatabaseError) -> bool:
        """Whether ``exc`` comes from a damaged file. SQLite says so itself when it notices, but a
        damaged page can also surface as a plain error (e.g. 'malformed JSON' from a torn record),
        so a plain error is checked against the file's structure."""
        code = _primary_code(exc)
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return True
        if code != SQLITE_ERROR:
            return False  # a full disk, a busy or read-only file, an I/O error: the file itself is fine
        try:
            return self.db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok"
        except sqlite3.DatabaseError:
            return True

    def _rollback(self) -> None:
        # SQLite has already rolled back by itself after some errors (a full disk, for one).
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- articles ---------------------------------------------------------------

    def upsert_articles(self, articles: Iterable[Article]) -> UpsertCounts:
        """Insert new records, replace revised ones, leave identical ones untouched.

        A record whose ``revised`` date is older than the stored one never replaces
        it (an old file ingested after a harvest must not roll a record back), nor does an earlier
        version of the PMID (``<PMID Version="2">``) replace a later one (``_rolls_back``). A record stored
        without a create date (from a CSV, RIS or JSONL file) is first seen when a copy with one
        comes: the digest takes records by first-seen and create date, and could not tell before.
        Nor does a copy from a CSV, RIS or JSONL file replace a record that came as
        PubMed XML. A record NLM deleted stays deleted (a copy of it counts as unchanged) until
        PubMed's XML of a later revision comes: neither an older file ingested again nor a CSV/RIS
        copy brings back what NLM withdrew. A replaced record is marked for re-classification. When a batch holds one
        PMID twice (daily update files do), the same rule picks the copy (``kept_copy``), so
        what is stored does not depend on how records are batched. A notice flags the paper it
        concerns, stored before or after it (``_note_notice``).
        """
        counts = UpsertCounts()
        latest: dict[str, Article] = {}
        for article in articles:
            held = latest.get(article.pmid)
            latest[article.pmid] = article if held is None else kept_copy(held, article)
        with self.transaction():
            for article in latest.values():
                self._upsert_one(article, counts)
        return counts

    def _upsert_one(self, article: Article, counts: UpsertCounts) -> None:
        article = self._with_notices(article)
        content = content_json(article.to_dict())
        fingerprint = content_fingerprint(content)
        row = self.db.execute(
            "SELECT rowid, fingerprint, revised, json_extract(data, '$.version') AS version, created, first_seen, deleted, "
            "raw_xml != '' AS from_pubmed FROM articles WHERE pmid = ?",
            (article.pmid,),
        ).fetchone()
        if row is not None and _keeps_row(row, article, fingerprint):
            counts.unchanged += 1
            return
        now = self.now()
        values = _article_row(article, content, fingerprint)
        values["first_seen"] = row["first_seen"] if row is not None and (row["created"] or not article.created) else now
        values["last_updated"] = now
        columns = ", ".join(values)
        placeholders = ", ".join(f":{c}" for c in values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values if c != "pmid")
        rowid = self.db.execute(
            f"INSERT INTO articles ({columns}, needs_classification, deleted) VALUES ({placeholders}, 1, 0) "
            f"ON CONFLICT(pmid) DO UPDATE SET {updates}, needs_classification = 1, deleted = 0 RETURNING rowid",
            values,
        ).fetchone()[0]
        self._index(rowid, article, replace=row is not None)
        if row is None:
            counts.new += 1
        else:
            counts.updated += 1
        concerned = article.concerned()
        if concerned:
            self._note_notice(article.pmid, concerned)

    def _index(self, rowid: int, article: Article, replace: bool) -> None:
        """Put ``article``'s words in the full-text index (in place of the row's old words if ``replace``)."""
        if replace:
            self.db.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
        self.db.execute(
            "INSERT INTO articles_fts (rowid, title, abstract, mesh, keywords) VALUES (?, ?, ?, ?, ?)",
            (rowid, article.title, article.abstract, " ; ".join(article.mesh_terms), " ; ".join(article.keywords)),
        )

    def _rederive(self) -> int:
        """Write again the columns each stored row derives from its record (``DERIVED_COLUMNS``), by today's
        rules, where they differ; return how many rows changed. A rule changed since a record was stored
        (a "retracted and replaced" link counting as a retraction) would otherwise never reach it: its
        content is the same, so storing it again keeps the row. Only rows that differ are written, and only
        they are indexed again (a deleted record stays out of the index)."""
        columns = ", ".join(DERIVED_COLUMNS)
        changed = []
        for row in self.db.execute(f"SELECT rowid, deleted, data, {columns} FROM articles"):
            article = Article.from_dict(json.loads(row["data"]))
            fresh = _article_row(article, "", "")
            if any(fresh[column] != row[column] for column in DERIVED_COLUMNS):
                changed.append((row["rowid"], row["deleted"], article, {column: fresh[column] for column in DERIVED_COLUMNS}))
        setting = ", ".join(f"{column} = :{column}" for column in DERIVED_COLUMNS)
        for rowid, deleted, article, values in changed:
            self.db.execute(f"UPDATE articles SET {setting} WHERE rowid = :rowid", {**values, "rowid": rowid})
            if not deleted:
                self._index(rowid, article, replace=True)
        return len(changed)

    def _note_notice(self, notice: str, concerned: list[tuple[str, Link]]) -> None:
        """Remember which papers a notice concerns, and flag those already stored.

        NLM links both ways, but the revised original may come weeks after the notice (the
        modification-date sweep), or never; an upsert adds the links back (``_with_notices``), so a
        stale copy of the original stored later cannot clear the flag.
        """
        with self.transaction():
            self.db.execute("DELETE FROM notices WHERE notice = ?", (notice,))
            self.db.executemany("INSERT OR IGNORE INTO notices (original, kind, notice) VALUES (?, ?, ?)",
                                [(pmid, link.kind, link.pmid) for pmid, link in concerned])
            self._relink(sorted({pmid for pmid, _ in concerned}))

    def _relink(self, pmids: list[str]) -> None:
        """Store the papers of ``pmids`` again: each gains the links back from the stored notices
        about it, or is left as it is."""
        for original in self.iter_articles(pmids):
            self._upsert_one(original, UpsertCounts())

    def _with_notices(self, article: Article) -> Article:
        """``article`` with the links back from the stored notices about it that it lacks."""
        have = {(link.kind, link.pmid) for link in article.links}
        rows = self.db.execute("SELECT kind, notice FROM notices WHERE original = ? ORDER BY kind, notice", (article.pmid,))
        missing = [Link(kind, notice) for kind, notice in rows if (kind, notice) not in have]
        return replace(article, links=[*article.links, *missing]) if missing else article

    def mark_deleted(self, pmids: Iterable[str]) -> int:
        """Mark records NLM deleted (``DeleteCitation``); they stay for the record but leave search."""
        marked = 0
        with self.transaction():
            for pmid in pmids:
                cursor = self.db.execute(
                    "UPDATE articles SET deleted = 1, last_updated = ? WHERE pmid = ? AND deleted = 0",
                    (self.now(), pmid),
                )
                if cursor.rowcount:
                    rowid = self.db.execute("SELECT rowid FROM articles WHERE pmid = ?", (pmid,)).fetchone()[0]
                    self.db.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
                    marked += 1
        return marked

    def get_article(self, pmid: str) -> Article | None:
        row = self.db.execute("SELECT data, raw_xml, source FROM articles WHERE pmid = ?", (pmid,)).fetchone()
        return _row_article(row) if row is not None else None

    def iter_articles(self, pmids: Iterable[str] | None = None, include_deleted: bool = False,
                      with_xml: bool = True) -> Iterator[Article]:
        """Every stored article (or those of ``pmids``), in PMID order.

        ``with_xml=False`` leaves out each record's raw XML (``raw_xml`` is ''), for readers that never
        look at it, such as the classifier: a harvested record's XML is about 15 KB, four times its
        fields, and training holds every record at once. Such an article is not to be stored again:
        without its XML it reads as a copy from a file, not PubMed's record."""
        deleted = "" if include_deleted else "AND deleted = 0"
        columns = "data, raw_xml, source" if with_xml else "data, '' AS raw_xml, source"
        if pmids is None:
            rows = self.db.execute(f"SELECT {columns} FROM articles WHERE 1 {deleted} ORDER BY CAST(pmid AS INTEGER)")
            yield from (_row_article(row) for row in rows)
            return
        for pmid in pmids:
            row = self.db.execute(f"SELECT {columns} FROM articles WHERE pmid = ? {deleted}", (pmid,)).fetchone()
            if row is not None:
                yield _row_article(row)

    def pubmed_pmids(self, pmids: Iterable[str]) -> set[str]:
        """Those of ``pmids`` stored as PubMed's own XML record. A copy from a MEDLINE, RIS, CSV or
        JSON Lines file is not: it lacks the raw XML and often the create date and MeSH, so a
        harvest that finds the PMID fetches PubMed's record to replace it."""
        return {r[0] for marks, chunk in in_chunks(pmids)
                for r in self.db.execute(f"SELECT pmid FROM articles WHERE pmid IN ({marks}) AND raw_xml != ''", chunk)}

    def count_articles(self, include_deleted: bool = False) -> int:
        where = "" if include_deleted else "WHERE deleted = 0"
        return self.db.execute(f"SELECT COUNT(*) FROM articles {where}").fetchone()[0]


def kept_copy(held: Article, later: Article) -> Article:
    """Of two copies of one record met in this order, the one the store keeps: ``later``, unless
    storing it over ``held`` would roll the record back."""
    return held if _rolls_back(later, held.version, held.revised, bool(held.raw_xml)) else later


def _keeps_row(row: sqlite3.Row, article: Article, fingerprint: str) -> bool:
    """Whether the stored ``row`` stays as it is when ``article`` comes: the same content, an
    older copy, or any copy of a deleted record but a later revision of PubMed's own."""
    if row["deleted"]:
        return not (article.raw_xml and article.revised > row["revised"])
    return row["fingerprint"] == fingerprint or _rolls_back(article, row["version"], row["revised"], row["from_pubmed"])


def _rolls_back(article: Article, version: int, revised: str, from_pubmed: bool) -> bool:
    """Whether ``article`` is older than a copy of the PMID's ``version`` revised on ``revised``
    (PubMed's XML when ``from_pubmed``): a CSV/RIS/JSONL copy of PubMed's record, an earlier
    version of the PMID, or an earlier revision of the same version.

    NLM versions a few records (``<PMID Version="2">``): each version is a citation of its own,
    with its own DateRevised, and PubMed shows the latest under the PMID. So the version is
    compared before the date: a later version replaces an earlier one, and an earlier one,
    revised on the same day or after, never replaces a later one. The version is kept in the
    stored ``data``; a copy that cannot say its version (CSV, RIS, MEDLINE) counts as version 1."""
    if from_pubmed and not article.raw_xml:
        return True
    if article.version != version:
        return article.version < version
    return bool(article.revised and article.revised < revised)


def _primary_code(exc: sqlite3.DatabaseError) -> int | None:
    """SQLite's primary result code of ``exc`` (its extended code's low byte), if it carries one."""
    return exc.sqlite_errorcode & 0xFF if getattr(exc, "sqlite_errorcode", None) is not None else None


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one at a time: ``executescript`` would commit the
    transaction a migration runs in."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


def _uri(path: Path) -> str:
    """A read-only SQLite URI for ``path``: immutable when nothing can write beside it (see ``Store``)."""
    folder_writable = os.access(path.parent, os.W_OK)
    wal = path.with_name(path.name + "-wal").exists()
    return path.absolute().as_uri() + ("?mode=ro" if folder_writable or wal else "?immutable=1")


def _article_row(article: Article, content: str, fingerprint: str) -> dict:
    return {
        "pmid": article.pmid,
        "title": article.title,
        "abstract": article.abstract,
        "authors": json.dumps([a.display for a in article.authors], ensure_ascii=False),
        "journal": article.journal,
        "journal_abbrev": article.journal_abbrev,
        "volume": article.volume,
        "issue": article.issue,
        "pages": article.pages,
        "pub_date": article.pub_date,
        "pub_date_sort": article.pub_date_sort,
        "year": article.year,
        "created": article.created,
        "entrez_date": article.entrez_date,
        "revised": article.revised,
        "doi": article.doi,
        "pmcid": article.pmcid,
        "language": ",".join(article.languages),
        "mesh": json.dumps(article.mesh_terms, ensure_ascii=False),
        "keywords": json.dumps(article.keywords, ensure_ascii=False),
        "publication_types": json.dumps(article.publication_types, ensure_ascii=False),
        "status": article.status,
        "retracted": int(article.retracted),
        "data": content,
        "raw_xml": article.raw_xml,
        "source": article.source,
        "fingerprint": fingerprint,
    }


# The columns of a row that today's code derives from its record (what ``_rederive`` writes again).
DERIVED_COLUMNS = tuple(c for c in _article_row(Article("0"), "", "") if c not in ("pmid", "data", "raw_xml", "source", "fingerprint"))


def _row_article(row: sqlite3.Row) -> Article:
    article = Article.from_dict(json.loads(row["data"]))
    article.raw_xml, article.source = row["raw_xml"], row["source"]
    return article
