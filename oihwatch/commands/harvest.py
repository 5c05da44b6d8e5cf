"""``oihwatch harvest``: fetch the configured queries' new PubMed records into the corpus."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harvester.eutils import EutilsClient
from harvester.harvest import HarvestFailed, ProgressUpdate, QueryResult, harvest_all
from harvester.harvest import Progress as ProgressCallback
from oihwatch.app import App
from oihwatch.commands.params import IsoDate
from oihwatch.config import Settings, require_ncbi_email

DATE = IsoDate()


@click.command()
@click.option("--since", type=DATE, metavar="D", help="first create date to search (YYYY-MM-DD); default: watermark minus look-back")
@click.option("--until", type=DATE, metavar="D", help="last create date to search (YYYY-MM-DD); default: today")
@click.option("--query", "query_name", metavar="NAME", help="harvest only this [[queries]] entry")
@click.pass_obj
def harvest(app: App, since: datetime | None, until: datetime | None, query_name: str | None) -> None:
    """Fetch new PubMed records of the configured queries into the corpus.

    Searches create-date windows from each query's watermark (minus harvest.lookback_days) to
    today, skips records already stored from PubMed (a copy from a RIS, CSV or other file is fetched
    again), and moves the watermark only over committed records.
    A first run backfills from harvest.start. Every harvest.sweep_days it also re-fetches
    records modified since (revisions, retractions). Prints one summary line per query.

    \b
    Example:
        oihwatch harvest --since 2024-01-01 --query oih
    """
    settings = app.settings
    names = [q.name for q in settings.queries]
    if query_name is not None and query_name not in names:
        raise click.BadParameter(f"no query named {query_name!r} (configured: {', '.join(names) or 'none'})", param_hint="--query")
    if since and until and since > until:
        raise click.BadParameter(f"{since:%Y-%m-%d} is after --until {until:%Y-%m-%d}", param_hint="--since")
    console = Console(stderr=True)
    client = eutils_client(settings)  # before the corpus is opened: a missing ncbi.email creates nothing
    with client, app.writing("harvest") as store, _progress_bar(console) as progress:
        try:
            results = harvest_all(
                settings.queries,
                settings.harvest,
                store,
                client,
                since=since.date() if since else None,
                until=until.date() if until else None,
                only=query_name,
                progress=progress,
            )
        except HarvestFailed as exc:
            _report(exc.results)
            raise
    _report(results)


def eutils_client(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> EutilsClient:
    """The E-utilities client the settings describe (the API key comes from $NCBI_API_KEY); it waits
    out its retry back-off with ``sleep``."""
    ncbi = settings.ncbi
    return EutilsClient(
        ncbi.base_url,
        tool=ncbi.tool,
        email=require_ncbi_email(settings),
        api_key=ncbi.api_key.get_secret_value() if ncbi.api_key else None,
        timeout=ncbi.timeout,
        retry_budget=ncbi.retry_budget,
        sleep=sleep,
    )


def _report(results: list[QueryResult]) -> None:
    for result in results:
        click.echo(result.summary())


@contextlib.contextmanager
def _progress_bar(console: Console) -> Iterator[ProgressCallback]:
    """A rich bar per query and step on stderr (only on a terminal: cron logs stay clean)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("windows"),
               TextColumn("{task.fields[stored]} stored"), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal, transient=True) as bar:
        tasks: dict[tuple[str, str], int] = {}

        def update(event: ProgressUpdate) -> None:
            key = (event.query, event.step)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{event.query} {event.step}", total=event.windows_total, stored=0)
            bar.update(tasks[key], total=event.windows_total, completed=event.windows_done, stored=event.records_stored)

        yield update
