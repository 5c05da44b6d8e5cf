"""``oihwatch search``, ``export``, ``stats`` and ``serve``: the corpus for researchers and librarians."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from corpus.errors import InputError
from corpus.evidence import STUDY_TYPES
from corpus.exports import WRITERS, iter_records
from corpus.search import Filters, search, stored_topics
from corpus.stats import corpus_stats, plot_trends
from oihwatch.app import App


FILTER_OPTIONS = [
    click.option("--topic", "topics", multiple=True, metavar="T", help="assigned topic T (repeat for any of several)"),
    click.option("--min-score", type=float, metavar="X", help="topic score of at least X (0-1), assigned or not"),
    click.option("--study-type", metavar="S", help=f"one of: {', '.join(STUDY_TYPES)}"),
    click.option("--since", type=int, metavar="YEAR", help="published in YEAR or later"),
    click.option("--until", type=int, metavar="YEAR", help="published in YEAR or earlier"),
    click.option("--journal", metavar="J", help="journal title or ISO abbreviation, case-insensitive; * is a wildcard"),
    click.option("--include-retracted", is_flag=True, help="keep retracted articles (left out by default)"),
]


def filter_options(command):
    """The filters search and export share (read back with ``make_filters``)."""
    for option in reversed(FILTER_OPTIONS):
        command = option(command)
    return command


def make_filters(app: App, topics, min_score, study_type, since, until, journal, include_retracted) -> Filters:
    """The filter options as ``Filters``, checked against the topics of the config and of the stored tags."""
    filters = Filters(tuple(topics), min_score, study_type, since, until, journal, include_retracted)
    filters.check(set(app.settings.topics) | stored_topics(app.store))
    return filters


@click.command("search")
@click.argument("query")
@filter_options
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="best N matches")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "ris", "bibtex"]), default="table", show_default=True
)
@click.pass_obj
def search_command(app: App, query: str, limit: int, fmt: str, **filter_args) -> None:
    """Full-text search of the corpus, best matches first (bm25 over title, abstract, MeSH, keywords).

    QUERY: words, "exact phrases", AND / OR / NOT (upper case), (parentheses),
    prefix* and title: abstract: mesh: keywords: fields.

    \b
    Example:
        oihwatch search '"opioid-induced hyperalgesia" AND ketamin*' --study-type rct --since 2015
    """
    hits = search(app.store, query, make_filters(app, **filter_args), limit)
    records = list(iter_records(app.store, [h.pmid for h in hits]))
    if fmt == "table":
        _print_table(records)
    elif fmt == "json":
        scores = {h.pmid: round(h.score, 4) for h in hits}
        click.echo(json.dumps([{**r, "match_score": scores[r["pmid"]]} for r in records], ensure_ascii=False, indent=2))
    else:
        WRITERS[fmt](records, sys.stdout)
    more = "; --limit for more" if len(hits) == limit else ""
    click.echo(f"{len(hits)} match{'' if len(hits) == 1 else 'es'}{more}", err=True)


def _print_table(records: list[dict]) -> None:
    """Titles get the room; the journal column goes when the terminal is too narrow for it."""
    console = Console()
    wide = console.width >= 110
    table = Table(expand=True)
    table.add_column("PMID", no_wrap=True)
    table.add_column("year", no_wrap=True)
    table.add_column("title", ratio=4, overflow="fold")
    if wide:
        table.add_column("journal", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("study type", no_wrap=True)
    table.add_column("topics", ratio=1)
    for r in records:
        title = ("[bold red]RETRACTED[/] " if r["retracted"] else "") + _escape(r["title"])
        journal = [_escape(r["journal_abbrev"] or r["journal"])] if wide else []
        table.add_row(r["pmid"], str(r["year"] or ""), title, *journal, r["study_type"] or "", ", ".join(r["topics"]))
    console.print(table)


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


@click.command("export")
@click.option("--query", "-q", metavar="QUERY", help="full-text query as for search (default: every record)")
@filter_options
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="file to write (default: stdout)")
@click.pass_obj
def export_command(app: App, query: str | None, fmt: str, output: Path | None, **filter_args) -> None:
    """Export the corpus, or a filtered slice, for reference managers and spreadsheets.

    JSONL has one object per record (with topics, scores, relevance, study type,
    retracted, key finding); CSV joins lists with '; '; RIS and BibTeX carry authors,
    journal, volume, issue, pages, DOI, PMID, abstract, URL, and our tags as keywords.

    \b
    Example:
        oihwatch export --format ris --topic ketamine --since 2015 -o ketamine.ris
    """
    hits = search(app.store, query, make_filters(app, **filter_args))
    records = iter_records(app.store, [h.pmid for h in hits])
    if output is None:
        count = WRITERS[fmt](records, sys.stdout)
    else:
        # Written beside the target and renamed, so a failed export leaves no half file.
        partial = output.with_name(output.name + ".part")
        try:
            with open(partial, "w", encoding="utf-8", newline="") as stream:
                count = WRITERS[fmt](records, stream)
            partial.replace(output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise InputError(f"cannot write {output}: {exc.strerror}; check the folder exists and is writable") from None
    click.echo(f"exported {count} records" + (f" to {output}" if output else ""), err=True)


@click.command("stats")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.png", help="also draw the trend per topic")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@click.option("--include-retracted", is_flag=True, help="count retracted articles too")
@click.pass_obj
def stats_command(app: App, plot: Path | None, as_json: bool, include_retracted: bool) -> None:
    """Counts of articles per topic per year, and per study type.

    \b
    Example:
        oihwatch stats --plot trends.png
    """
    stats = corpus_stats(app.store, include_retracted)
    if as_json:
        click.echo(json.dumps(stats.to_dict(), indent=2))
    else:
        console = Console()
        years = Table("year", "all", *stats.topics, title="Articles per topic per year (assigned topics)")
        for year in stats.years:
            years.add_row(str(year), str(stats.all_by_year.get(year, 0)), *(str(stats.by_topic_year[t].get(year, 0)) for t in stats.topics))
        years.add_row("total", str(stats.total), *(str(sum(stats.by_topic_year[t].values())) for t in stats.topics), style="bold")
        console.print(years)
        kinds = Table("study type", "articles", title="Articles per study type (strongest evidence first)")
        for name, count in stats.by_study_type.items():
            kinds.add_row(STUDY_TYPES.get(name, name), str(count))
        kinds.add_row("not classified yet", str(stats.unclassified))
        console.print(kinds)
    if plot is not None:
        labels = {name: topic.label for name, topic in app.settings.topics.items()}
        plot_trends(stats, plot, labels)
        click.echo(f"wrote {plot}", err=True)


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True, help="TCP port (0 = any free port)")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0 for every interface)")
@click.pass_obj
def serve_command(app: App, port: int, host: str) -> None:
    """A read-only web view of the corpus (Datasette): full-text search, facets, saved queries.

    Serves a snapshot of the corpus taken at start; restart it after a harvest to
    show new records. Needs the [web] extra (pip install 'oihwatch[web]').

    \b
    Example:
        oihwatch serve --port 8001     # then open http://127.0.0.1:8001/
    """
    from oihwatch.web.server import run_server, snapshot_path
    from oihwatch.web.snapshot import build_snapshot

    target = snapshot_path(app.settings.database_path)
    count = build_snapshot(app.store, target)
    click.echo(f"serving a snapshot of {count} records ({target}) on http://{host}:{port}/", err=True)
    run_server(target, host, port)

