"""``ingest_files``: read files of records into the store, in batches, and say what happened to each.

Transactions. Each batch (``batch_size`` records) is one ``store.upsert_articles`` call, which is
one all-or-nothing transaction; a ``<DeleteCitation>`` is applied in its own transaction after
the records before it. A batch is never half-written, and the write lock is held for one batch
at a time, not for a whole 30,000-record baseline file.

A file that breaks halfway (truncated XML, a cut gzip): every *complete* record read before the
break is stored, then the file is reported with its error. Those records are whole and valid
(the XML parser only yields a record after its closing tag), records stored earlier are never
rolled back or damaged, and the outcome does not depend on ``batch_size``. Ingesting the fixed
file again finds those records unchanged and adds the rest.

PubMed XML records replace the stored copy (the store keeps the newer revision); a record
from any other file is merged into it field by field first (``merge``), so a partial file
(a reference manager's RIS, a spreadsheet, an export of ours) never loses what is stored. A
record with nothing but a PMID is listed as skipped.

A bad file does not stop the files after it: its error is recorded in its ``FileReport`` and
the next file is read. A ``StorageError`` (disk full, database locked) is not about one file, so
it propagates and stops the call; the transaction of the failing batch is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corpus.article import Article
from corpus.errors import InputError
from corpus.store import Store, kept_copy
from harvester.files import read_records
from harvester.merge import is_bare, merge
from harvester.records import Deletion, Skipped

DEFAULT_BATCH_SIZE = 500


@dataclass
class FileReport:
    """What ingesting one file did; ``error`` is the one-line reason it stopped, '' if it did not."""

    path: str
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class IngestReport:
    """One ``FileReport`` per file given, in order, and their totals."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def errors(self) -> list[str]:
        return [f.error for f in self.files if f.error]

    @property
    def totals(self) -> FileReport:
        total = FileReport(path="total")
        for report in self.files:
            total.read += report.read
            total.new += report.new
            total.updated += report.updated
            total.unchanged += report.unchanged
            total.deleted += report.deleted
            total.skipped.extend(report.skipped)
        return total


Progress = Callable[[FileReport], None]


def ingest_files(
    store: Store,
    paths: Iterable[str | Path],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    names: Mapping[str, str] | None = None,
) -> IngestReport:
    """Ingest every file in order; bad files are reported, not fatal (see the module docstring).
    ``names`` maps a path to the name people gave it ('stdin' for its temp copy): reports, messages and
    the articles' ``source`` use that name."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    result = IngestReport()
    for path in paths:
        report = FileReport(path=(names or {}).get(str(path), str(path)))
        result.files.append(report)
        _ingest_file(store, Path(path), batch_size, report, progress)
    return result


def _ingest_file(store: Store, path: Path, batch_size: int, report: FileReport, progress: Progress | None) -> None:
    batch: dict[str, Article] = {}  # a PMID listed twice in one batch: the copy the store would keep

    def flush() -> None:
        if batch:
            counts = store.upsert_articles(batch.values())
            report.new += counts.new
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            batch.clear()
            if progress is not None:
                progress(report)

    try:
        for record in read_records(path, on_skip=report.skipped.append, name=report.path):
            if isinstance(record, Deletion):
                flush()  # records listed before a deletion are applied before it
                report.deleted += store.mark_deleted(record.pmids)
                continue
            if not record.raw_xml and is_bare(record):
                report.skipped.append(Skipped(report.path, f"PMID {record.pmid}", "nothing but the PMID"))
                continue
            report.read += 1
            batch[record.pmid] = _merged(store, batch, record)
            if len(batch) >= batch_size:
                flush()
    except InputError as exc:
        report.error = str(exc)
    flush()


def _merged(store: Store, batch: dict[str, Article], record: Article) -> Article:
    """A file record merged into the copy this batch or the store holds; of two PubMed XML copies
    in one batch, the one the store would keep had they come in two batches (the newer revision)."""
    held = batch.get(record.pmid)
    if record.raw_xml:
        return record if held is None else kept_copy(held, record)
    stored = held or next(store.iter_articles([record.pmid]), None)
    return merge(stored, record) if stored is not None else record
