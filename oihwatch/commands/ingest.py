"""``oihwatch ingest FILE...``: load PubMed XML, MEDLINE, RIS, CSV or JSON Lines files into the corpus."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from corpus.errors import InputError
from harvester.ingest import FileReport, IngestReport, ingest_files
from oihwatch.app import App

STDIN = "-"
STDIN_NAME = "stdin"  # how the lines and errors name it
COPY_BLOCK = 1 << 20


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1), help="records per transaction")
@click.pass_obj
def ingest(app: App, files: tuple[str, ...], batch_size: int) -> None:
    """Load records from PubMed XML (.xml, .xml.gz), MEDLINE (.nbib, .txt), RIS (.ris), CSV (.csv)
    or JSON Lines (.jsonl, as 'oihwatch export' writes it) files.

    Each batch of records is one transaction; a bad file is reported and the files
    after it are still read. Ingesting a file twice changes nothing.

    A FILE of - reads stdin, as 'oihwatch export -o -' writes stdout. Its format is
    told by its content (gzip too), which names every format but CSV: a CSV is known
    by its .csv name, so save it to a file first.

    \b
    Example:
        oihwatch ingest pubmed26n1335.xml.gz export.nbib cohen/Opiods.csv
        oihwatch -c other.toml export --topic ketamine | oihwatch ingest -
    """
    console = Console(stderr=True)
    with stdin_copied(files) as paths, app.writing("ingest") as store, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[read]:,} records"),
        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("", read=0)

        def progress(report: FileReport) -> None:
            bar.update(task, description=report.path, read=report.read)

        report = ingest_files(store, [path for path, _ in paths], batch_size=batch_size, progress=progress,
                              names=dict(paths))
    for line in file_lines(report):
        click.echo(line, err=True)  # one line each, however long: a log or grep reads them whole
    click.echo(summary_line(report))
    if not report.ok:
        failed = report.errors
        also = f" ({len(failed) - 1} more above)" if len(failed) > 1 else ""
        good = len(report.files) - len(failed)
        rest = f"; the other {good} file(s) were ingested" if good else ""
        raise InputError(f"{failed[0]}{also}{rest}")


@contextlib.contextmanager
def stdin_copied(files: tuple[str, ...]) -> Iterator[list[tuple[str, str]]]:
    """The files to read, each with its name for people: a - is a copy of stdin in the system temp
    folder, named 'stdin', removed after. The readers tell gzip by its first bytes and then open the file
    again, which a pipe cannot do; the copy goes in blocks, so memory stays bounded however much comes."""
    if STDIN not in files:
        yield [(path, path) for path in files]
        return
    stdin = sys.stdin.buffer
    if stdin.isatty():
        raise click.BadParameter("- reads stdin, a terminal here: pipe the records in, e.g. "
                                 "'oihwatch -c other.toml export | oihwatch ingest -'", param_hint="FILES")
    with tempfile.NamedTemporaryFile(prefix="oihwatch-stdin-") as copy:
        try:
            shutil.copyfileobj(stdin, copy, COPY_BLOCK)
            copy.flush()
        except OSError as exc:
            raise InputError(f"cannot copy stdin to {copy.name}: {exc.strerror}; save it to a file and ingest that") from None
        yield [(copy.name, STDIN_NAME) if path == STDIN else (path, path) for path in files]


def file_lines(report: IngestReport) -> list[str]:
    """One stderr line per file that failed or skipped records (only when several files were given)."""
    lines = []
    for file in report.files:
        if file.error and len(report.files) > 1:
            lines.append(f"failed: {file.error}")
        for skipped in file.skipped[:5]:
            lines.append(f"skipped: {skipped}")
        if len(file.skipped) > 5:
            lines.append(f"skipped: {file.path}: … and {len(file.skipped) - 5} more")
    return lines


def summary_line(report: IngestReport) -> str:
    total = report.totals
    reasons = Counter(s.reason for s in total.skipped)
    skipped = f"{len(total.skipped)} skipped" + (
        " (" + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common()) + ")" if reasons else ""
    )
    files = f"{len(report.files)} file(s)" + (f", {len(report.errors)} failed" if report.errors else "")
    deleted = f", {total.deleted} deleted" if total.deleted else ""
    return (
        f"{files}: {total.read} read, {total.new} new, {total.updated} updated, "
        f"{total.unchanged} unchanged{deleted}, {skipped}"
    )
