"""``oihwatch search``, ``export``, ``stats`` and ``serve``: the corpus for researchers and librarians."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import IO, TextIO

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from corpus.errors import InputError, no_room
from corpus.evidence import STUDY_TYPES
from corpus.exports import WRITERS, iter_records
from corpus.search import Filters, count_matches, search, stored_topics
from corpus.stats import corpus_stats, plot_formats, plot_trends
from corpus.tags import count_to_classify
from oihwatch.app import App
from oihwatch.cli import console_for_people
from oihwatch.config import configured_topic, named_as
from oihwatch.lock import lock_path
from oihwatch.model_info import model_meta, relevance_threshold, trained_for_other_rules
from oihwatch.provenance import relevance_sources

# search lists the best matches for reading; export takes every match. (A number SQLite cannot hold
# was an OverflowError.)
MAX_LIMIT = 100_000


class Year(click.ParamType):
    """A publication year, as search and export filter by, where harvest and digest take a date of the
    same option name: '2015-01-01' is told so, not that it 'is not a valid integer range'."""

    name = "year"

    def convert(self, value, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        if re.fullmatch(r"\d{1,4}", str(value).strip(), re.ASCII):  # four digits at most: a bigger number cannot be bound either
            return int(value)
        option = param.opts[0] if param else "--since"
        command = ctx.command.name if ctx else "this command"
        self.fail(f"{value!r} is not a year; {command} filters by publication year: write e.g. {option} 2015", param, ctx)


YEAR = Year()

# Topics say which clinical question a paper informs; relevance says whether it is about OIH
# at all. The two are independent, so a topic filter alone lists many papers not about OIH.
RELEVANCE_OPTIONS = [
    click.option("--relevant", is_flag=True, help="only records about OIH: relevance at the digest's threshold or above"),
    click.option("--min-relevance", type=float, metavar="P", help="only records with OIH relevance of at least P (0-1)"),
]
FILTER_OPTIONS = [
    click.option("--topic", "topics", multiple=True, metavar="T", help="assigned topic T, by name or label, in any letter case (repeat for any of several)"),
    click.option("--min-score", type=float, metavar="X", help="topic score of at least X (0-1), assigned or not"),
    *RELEVANCE_OPTIONS,
    click.option("--study-type", metavar="S", help=f"one of (any letter case): {', '.join(STUDY_TYPES)}"),
    click.option("--since", type=YEAR, metavar="YEAR", help="published in YEAR or later"),
    click.option("--until", type=YEAR, metavar="YEAR", help="published in YEAR or earlier"),
    click.option("--journal", metavar="J", help="journal title or ISO abbreviation, case-insensitive; * is a wildcard"),
    click.option("--include-retracted", is_flag=True, help="keep retracted articles (left out by default)"),
]


def with_options(options):
    """A decorator adding ``options`` in the order listed."""

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


filter_options = with_options(FILTER_OPTIONS)  # what search and export share (read back with ``make_filters``)


def min_relevance_of(app: App, relevant: bool, min_relevance: float | None) -> float | None:
    """The relevance floor of ``--relevant`` (the digest's own threshold) or ``--min-relevance``."""
    if relevant and min_relevance is not None:
        raise click.UsageError("give --relevant or --min-relevance, not both")
    return relevance_threshold(app.settings) if relevant else min_relevance


def make_filters(
    app: App, topics, min_score, relevant, min_relevance, study_type, since, until, journal, include_retracted
) -> Filters:
    """The filter options as ``Filters``, checked against the topics of the config and of the stored tags."""
    known = [*(stored_topics(app.store) - set(app.settings.topics)), *app.settings.topics]  # the config's spelling wins
    filters = Filters(
        topics=tuple(configured_topic(topic, app.settings.topics) or named_as(topic, known) for topic in topics),
        min_score=min_score,
        min_relevance=min_relevance_of(app, relevant, min_relevance),
        study_type=None if study_type is None else named_as(study_type, STUDY_TYPES),
        since=since,
        until=until,
        journal=journal,
        include_retracted=include_retracted,
    )
    return checked(filters, known)


def checked(filters: Filters, known_topics: Collection[str]) -> Filters:
    """``filters``, when each can match something. One that cannot (an unknown topic or study type, a score
    outside 0-1, --since after --until) is a bad option value: a usage error, exit 2, as one click refuses is."""
    try:
        filters.check(known_topics)
    except InputError as exc:
        raise click.UsageError(str(exc)) from None
    return filters


class QueryCommand(click.Command):
    """search, whose query may start with '-' ('-ketamine'): click reads that as options ("No such option
    '-k'"), so its error says what such a query means and how to write it. Not '--' alone: a query that
    starts with a -word is refused anyway, as it leaves out of nothing (``corpus.search``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        typed = list(args)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            word = next((arg for arg in typed if arg.startswith(exc.option_name) and not arg.startswith("--")), None)
            if word is not None:
                exc.message += (f" A -word leaves a word out of what the words before it find: put them first, in "
                                f"quotes, e.g. oihwatch search 'hyperalgesia {word}'")
            raise


@click.command("search", cls=QueryCommand)
@click.argument("query")
@filter_options
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True, metavar="N",
              help="best N matches (at most 100,000; export takes them all)")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "ris", "bibtex"]), default="table", show_default=True
)
# stats, status, evaluate and config show take --json: here it is a name for --format json (the last given wins).
@click.option("--json", "fmt", flag_value="json", help="the same as --format json")
@click.pass_obj
def search_command(app: App, query: str, limit: int, fmt: str, **filter_args) -> None:
    """Full-text search of the corpus, best matches first (bm25 over title, abstract, MeSH, keywords).

    QUERY: words, "exact phrases", AND / OR / NOT (upper case), (parentheses),
    prefix* and title: abstract: mesh: keywords: fields, which apply to the word,
    "phrase" or (group) right after them: title:"opioid-induced hyperalgesia",
    title:(ketamine OR magnesium). Punctuation inside a word separates it like a
    space (5-HT3 finds "5 HT3", 10:1 finds "10 1"); other punctuation is ignored
    (C++ finds "c", ^ketamine finds "ketamine"). A - before a word, "phrase",
    field: or (group) leaves it out: hyperalgesia -ketamine is hyperalgesia NOT
    ketamine. NEAR(...), {col}: and a * that does not end a word are errors.

    PubMed's field tags after a word or "phrase" are read too, so a PubMed query
    pastes as it is: [tiab] (title or abstract), [ti], [ab], [mh] [mesh] [majr]
    (MeSH headings; [majr] takes any heading, and a heading does not take in the
    narrower ones as PubMed's does), [ot] (keywords), [tw] [all] (every field).
    As in PubMed, unquoted words before a tag are one phrase in that field:
    opioid induced hyperalgesia[tiab]. Other tags ([au], [dp], [pt]...), unknown
    ones ([tiabs]) and MeSH subheadings (Hyperalgesia/drug therapy[mh]) are an
    error that says what to use instead; a word's own brackets go in quotes: "Lp[a]".

    The "OIH" column is the relevance: how likely the record is about OIH itself.
    Topics are independent of it; --relevant keeps the records the digest would send.

    \b
    Example:
        oihwatch search '"opioid-induced hyperalgesia" AND ketamin*' --study-type rct --since 2015
        oihwatch search 'title:(ketamine OR magnesium)' --topic ketamine --relevant
    """
    filters = make_filters(app, **filter_args)
    hits = search(app.store, query, filters, limit)
    sources = relevance_sources(app.settings, app.store)
    records = iter_records(app.store, [h.pmid for h in hits], sources)  # streamed: a page may hold 100,000
    if fmt == "table":
        if hits:  # no empty frame: the count below says it
            _print_table(list(records))
    elif fmt == "json":
        scores = {h.pmid: round(h.score, 4) for h in hits}
        _write_json_array(({**r, "match_score": scores[r["pmid"]]} for r in records), sys.stdout)
    else:
        WRITERS[fmt](records, sys.stdout)
    total = count_matches(app.store, query, filters) if len(hits) == limit else len(hits)  # counted only when the page is full
    if total > len(hits):
        more = "export takes them all" if limit == MAX_LIMIT else "--limit N for more"
        click.echo(f"first {len(hits)} of {total} matches; {more}", err=True)
    else:
        click.echo(f"{total} match{'' if total == 1 else 'es'}", err=True)
    _note_outdated_tags(app)


def _write_json_array(items: Iterable[dict], out: TextIO) -> None:
    """What ``json.dumps(list(items), indent=2)`` prints, written one item at a time."""
    out.write("[")
    separator = "\n  "
    for item in items:
        out.write(separator + json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  "))
        separator = ",\n  "
    out.write("]\n" if separator == "\n  " else "\n]\n")


def _note_other_topics(app: App) -> bool:
    """Tags are what the last ``classify`` wrote: say so (and return True) when the model that made them
    was trained for other topics or topic rules than the config's, as after a topic was added, removed
    or its rules changed: a new topic has no tags, a changed one keeps the old rules' papers."""
    if not trained_for_other_rules(app.settings, model_meta(app.settings)):
        return False
    click.echo("note: the tags shown come from a model trained for other topics or topic rules than those in the "
               "config; run 'oihwatch train' and 'oihwatch classify' to bring them up to date", err=True)
    return True


def _note_outdated_tags(app: App) -> None:
    """Tags are what the last ``classify`` wrote: say so when records (new, revised, relabelled, or
    tagged by a model since replaced) wait for it, or when they were made for other topics; one note
    for both, since the train that the second needs has every record classified again."""
    if _note_other_topics(app):
        return
    waiting = count_to_classify(app.store)
    if waiting:
        records = "1 record is" if waiting == 1 else f"{waiting} records are"
        click.echo(f"note: {records} new, revised, newly labelled or tagged by an older model; "
                   "run 'oihwatch classify' to bring their tags up to date", err=True)


def _print_table(records: list[dict]) -> None:
    """The title gets the room left by the other columns, each as wide as its widest value (never cut).
    A terminal too narrow for them all loses the columns that matter least first, then has one block
    per record. Piped or redirected, every value is whole on one line and the table only as wide as
    they need."""
    console = console_for_people()
    rows = [_search_row(record) for record in records]
    shown = _columns_that_fit(rows, console.width)
    if shown is None:
        _print_blocks(records, console)
        return
    table = Table(expand=console.is_terminal)  # piped, expanding would pad each line to the console's 100,000 columns
    for name in shown:
        if name == "title":
            table.add_column(name, ratio=1, overflow="fold")  # the only column that wraps: it takes what is left
        else:
            table.add_column(name, no_wrap=True, justify="right" if name == "OIH" else "left")
    for row in rows:
        table.add_row(*(row[name] for name in shown))
    console.print(table)


# The fewest columns a title needs to read as words rather than letters: four or five words a line.
TITLE_ROOM = 24
# The columns a terminal too narrow for the whole table does without, the first to go first.
OPTIONAL_COLUMNS = ("journal", "study type", "OIH", "year")


def _search_row(record: dict) -> dict[str, Text]:
    """A record's cells in the search table, by column, in the order they are shown."""
    return {
        "PMID": Text(record["pmid"]),
        "year": Text(str(record["year"] or "")),
        "title": _title(record),
        "journal": Text(_journal(record)),
        "study type": Text(record["study_type"] or ""),
        "OIH": Text(_relevance(record)),
        "topics": Text("\n".join(record["topics"])),
    }


def _columns_that_fit(rows: list[dict[str, Text]], width: int) -> list[str] | None:
    """The columns of ``rows`` a table ``width`` wide shows, the title keeping ``TITLE_ROOM``: all, or
    without the optional ones it has no room for; None when even PMID, title and topics leave it less."""
    shown = list(rows[0])
    widths = {name: max(_widest_line(cell) for cell in [Text(name), *(row[name] for row in rows)]) for name in shown}
    for dropped in (None, *OPTIONAL_COLUMNS):
        if dropped is not None:
            shown.remove(dropped)
        # Each column takes its width, a space either side and a rule; the table one rule more.
        others = sum(widths[name] + 3 for name in shown if name != "title")
        if width - others - 3 - 1 >= TITLE_ROOM:
            return shown
    return None


def _widest_line(text: Text) -> int:
    return max(cell_len(line) for line in text.plain.split("\n"))


def _print_blocks(records: list[dict], console: Console) -> None:
    """Each record as a line of its PMID and details, its title and its topics, wrapped at words: for a
    terminal too narrow for a table whose title has room."""
    for n, record in enumerate(records):
        if n:
            console.print()
        relevance = _relevance(record)
        details = [str(record["year"] or ""), _journal(record), record["study_type"] or "", relevance and f"OIH {relevance}"]
        console.print(Text.assemble((record["pmid"], "bold"), *(f" · {item}" for item in details if item)))
        console.print(_title(record))
        if record["topics"]:
            console.print(Text(f"topics: {', '.join(record['topics'])}"))


def _title(record: dict) -> Text:
    return Text.assemble(("RETRACTED ", "bold red") if record["retracted"] else "", record["title"])


def _journal(record: dict) -> str:
    return record["journal_abbrev"] or record["journal"]


def _relevance(record: dict) -> str:
    return "" if record["relevance"] is None else f"{record['relevance']:.2f}"


@contextlib.contextmanager
def replacing(app: App, output: Path, mode: str, **open_args) -> Iterator[IO]:
    """A stream whose content replaces ``output`` once complete, so a failed write leaves no half file.

    A regular file (or a new one) is written beside the target under a unique name and renamed over
    it, keeping the permissions of the file it replaces (a new one gets those open() would give it); a
    symlink's target is replaced, the link stays. A device or a pipe (/dev/null, a FIFO) has nothing
    to replace and is written as it is, and so is an open descriptor (/dev/stdout, /dev/fd/N): what it
    names may be a file the shell opened to append to. A target that is one of oihwatch's own files is refused
    first (see ``check_output``).
    """
    check_output(app, output)
    with _write_errors(output):
        if (descriptor := _descriptor(output)) is not None:  # the file or pipe the shell opened, written where it is:
            with os.fdopen(os.dup(descriptor), mode, **open_args) as stream:  # '>> log' keeps its lines
                yield stream
            return
        try:
            existing = output.stat()  # through a link: /dev/stdout is one, to a terminal or a pipe
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            with open(output, mode, **open_args) as stream:
                yield stream
            return
        target = output.resolve() if output.is_symlink() else output
        # A name of its own, so a user's file that happens to be called 'FILE.part' is left alone.
        descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.", suffix=".part")
        partial = Path(name)
        try:
            with open(descriptor, mode, **open_args) as stream:
                yield stream
            # mkstemp's 0600 is not what the file replaced had, nor what a file created by open() gets
            partial.chmod(stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask())
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)


# The names Linux gives this process's open descriptors: /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N.
_DESCRIPTOR = re.compile(r"/dev/std(?P<std>out|err)|/dev/fd/(?P<fd>\d+)|/proc/self/fd/(?P<proc>\d+)")


def _descriptor(output: Path) -> int | None:
    """The open descriptor ``output`` names, if it names one."""
    named = _DESCRIPTOR.fullmatch(str(output))
    if named is None:
        return None
    return {"out": 1, "err": 2}[named["std"]] if named["std"] else int(named["fd"] or named["proc"])


@contextlib.contextmanager
def _write_errors(output: Path) -> Iterator[None]:
    """An ``OSError`` while writing ``output`` as one ``InputError`` line saying what to do."""
    try:
        yield
    except OSError as exc:
        why = no_room(exc.errno, output.name) or (
            f"{exc.strerror}: what reads it stopped reading" if exc.errno == errno.EPIPE
            else f"{exc.strerror}; check the folder exists and is writable")
        raise InputError(f"cannot write {output}: {why}") from None


def _umask() -> int:
    """The process's umask: reading it means setting it, so it is put back at once."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def check_output(app: App, output: Path) -> None:
    """Raise ``InputError`` when writing ``output`` would replace the corpus, a file SQLite or the lock
    keeps beside it, the config in use or a saved model: a typing slip must not destroy them.

    Paths are compared resolved (symlinks, relative paths) and, when both exist, as files (so a
    different letter case on a case-insensitive disk is the same file).
    """
    database = app.settings.database_path
    kept = {app.config_file: "the config file in use", lock_path(database): "the lock file of the corpus database"}
    for base in (database, database.resolve()):  # SQLite keeps its -wal and -shm beside the real file
        kept[base] = "the corpus database"
        for end in ("-wal", "-shm"):
            kept[base.with_name(base.name + end)] = "a file SQLite keeps beside the corpus database"
    for path, what in kept.items():
        if _same_file(output, path):
            raise InputError(f"will not write {output}: it is {what} ({path}); choose another file")
    models = app.settings.resolve(app.settings.classifier.model_dir).resolve()
    target = output.resolve()
    if target == models or models in target.parents:
        raise InputError(f"will not write {output}: it is in the model folder ({models}); choose another file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


class ExportFormat(click.Choice):
    """export's formats, where 'json' (search's JSON array, and the --json of other commands) is pointed to
    jsonl, the JSON that export writes, rather than only told it is not one of them."""

    def convert(self, value, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, str) and value.strip().casefold() == "json":
            choices = ", ".join(repr(choice) for choice in self.choices)
            self.fail(f"{value!r} is not one of {choices}; for JSON write --format jsonl (JSON Lines: one record a line)", param, ctx)
        return super().convert(value, param, ctx)


@click.command("export")
@click.option("--query", "-q", metavar="QUERY", help="full-text query as for search (default: every record)")
@filter_options
@click.option("--format", "fmt", type=ExportFormat(list(WRITERS)), default="jsonl", show_default=True)
@click.option("--json", "fmt", flag_value="jsonl", help="the same as --format jsonl, export's JSON (one record a line)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),  # a str: './-' is a file, '-' is not
              help="file to write (default, or -: stdout)")
@click.pass_obj
def export_command(app: App, query: str | None, fmt: str, output: str | None, **filter_args) -> None:
    """Export the corpus, or a filtered slice, for reference managers and spreadsheets.

    JSONL has one object per record (with topics, scores, relevance and who decided
    each: model, rule or curator; study type, retracted, key finding); CSV joins
    lists with '; ' and gives each tag's confidence in the digest's words (curated,
    likely, possible); it is UTF-8 without a byte-order mark: in Excel use Data >
    From Text/CSV rather than opening the file, or accents come out garbled; RIS and
    BibTeX carry authors, journal, volume, issue, pages, DOI, PMID, abstract, URL,
    and our tags as keywords.

    \b
    Example:
        oihwatch export --format ris --topic ketamine --relevant --since 2015 -o ketamine.ris
    """
    if output == "":
        raise click.BadParameter("needs a file name, or - for stdout", param_hint="'-o'")
    hits = search(app.store, query, make_filters(app, **filter_args))
    records = iter_records(app.store, [h.pmid for h in hits], relevance_sources(app.settings, app.store))
    if output in (None, "-"):  # '-' is the convention of click and most tools, not a file named '-'
        output = None
        count = WRITERS[fmt](records, sys.stdout)
    else:
        with replacing(app, Path(output), "w", encoding="utf-8", newline="") as stream:
            count = WRITERS[fmt](records, stream)
    click.echo(f"exported {count} records" + (f" to {output}" if output else ""), err=True)
    _note_outdated_tags(app)


def plot_format(plot: Path) -> str:
    """The format ``--plot FILE`` asks for by its extension, one matplotlib writes (a PNG named .pdf is no use)."""
    formats = plot_formats()
    extension = plot.suffix.lower().removeprefix(".")
    if extension not in formats:
        has = f"the extension .{extension}, not a format it can draw" if extension else "no extension to name a format"
        raise click.BadParameter(f"{plot} has {has}; end it in one of {', '.join('.' + f for f in formats)}", param_hint="'--plot'")
    return extension


@click.command("stats")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="also draw the trend per topic, in the format of FILE's extension: .png, .pdf, .svg, .eps...")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@click.option("--include-retracted", is_flag=True, help="count retracted articles too")
@with_options(RELEVANCE_OPTIONS)
@click.pass_obj
def stats_command(
    app: App, plot: Path | None, as_json: bool, include_retracted: bool, relevant: bool, min_relevance: float | None
) -> None:
    """Counts of articles per topic per year, and per study type.

    Records without a publication year are counted as "unknown year" ("unknown" in JSON).

    \b
    Example:
        oihwatch stats --relevant --plot trends.png
        oihwatch stats --plot figure2.pdf      # or .svg, for a manuscript
    """
    floor = min_relevance_of(app, relevant, min_relevance)
    checked(Filters(min_relevance=floor), ())
    if plot is not None:
        check_output(app, plot)  # one of our own files is refused whatever its extension
        fmt = plot_format(plot)
    stats = corpus_stats(app.store, include_retracted, floor, app.settings.topics)
    if plot is not None:  # first, so a file it cannot write is the only output
        labels = {name: topic.label for name, topic in app.settings.topics.items()}
        with replacing(app, plot, "wb") as image:
            plot_trends(stats, image, labels, fmt)
    if as_json:
        click.echo(json.dumps(stats.to_dict(), indent=2))
    else:
        console = console_for_people()
        years = Table("year", "all", *stats.topics, title="Articles per topic per year (assigned topics)")
        for year in stats.all_by_year:
            years.add_row(
                "unknown year" if year is None else str(year),
                str(stats.all_by_year[year]),
                *(str(stats.by_topic_year[t].get(year, 0)) for t in stats.topics),
            )
        years.add_row("total", str(stats.total), *(str(sum(stats.by_topic_year[t].values())) for t in stats.topics), style="bold")
        console.print(years)
        kinds = Table("study type", "articles", title="Articles per study type (strongest evidence first)")
        for name, count in stats.by_study_type.items():
            kinds.add_row(STUDY_TYPES.get(name, name), str(count))
        kinds.add_row("not classified yet", str(stats.unclassified))
        console.print(kinds)
    if plot is not None:
        click.echo(f"wrote {plot}", err=True)
    _note_other_topics(app)  # the rows per topic are the stored tags; those waiting for classify have a row


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True, help="TCP port (0 = any free port)")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0 for every interface)")
@click.pass_obj
def serve_command(app: App, port: int, host: str) -> None:
    """A read-only web view of the corpus (Datasette): full-text search, facets, saved queries.

    Serves a snapshot of the corpus taken at start: restart it after a harvest and
    after labels (oihwatch label) to show new records and tags, which search and
    export show at once. The port is taken first: one in use is an error before any
    work. With --port 0 the line on stderr names the port the system gave.

    Needs the [web] extra, installed into the venv oihwatch runs from: pip install
    -e '.[web]' in the oihwatch folder (from a wheel: pip install
    'oihwatch-VERSION-py3-none-any.whl[web]').

    \b
    Example:
        oihwatch serve --port 8001     # then open http://127.0.0.1:8001/
    """
    from oihwatch.web.server import listen, open_to_others, own_snapshot, require_web_extra, run_server, served_at
    from oihwatch.web.snapshot import build_snapshot

    require_web_extra()
    # The port first: a taken port is an error before the snapshot is rebuilt for nothing; then the
    # database, so that one missing or damaged is an error before anything is written beside it.
    with listen(host, port) as sock:
        store = app.store
        labels = {name: topic.label for name, topic in app.settings.topics.items()}
        try:
            with own_snapshot(app.settings.database_path) as target:
                count = build_snapshot(store, target, relevance_threshold(app.settings), labels)
                host, port = sock.getsockname()[:2]  # the port the system chose for --port 0
                click.echo(f"serving a snapshot of {count} records ({target}) on {served_at(host, port)}", err=True)
                if note := open_to_others(host, port):
                    click.echo(note, err=True)
                _note_outdated_tags(app)
                run_server(target, sock, labels)
        except KeyboardInterrupt:  # Ctrl-C is how a server in a terminal is stopped, not an error
            click.echo("stopped", err=True)
