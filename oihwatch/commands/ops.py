"""``status``: what happened last, and what needs a look. Light to import: no scikit-learn, no
matplotlib, so monitoring that calls it often does not wait a second each time."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import click
from rich.markup import escape
from rich.table import Table

from corpus.errors import StorageError
from corpus.store import SQLITE_CORRUPT, SQLITE_NOTADB
from oihwatch.app import App
from oihwatch.cli import console_for_people
from oihwatch.model_info import model_meta
from oihwatch.status import gather_status, gather_unreadable
from reports.period import moment_text


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print as JSON (for monitoring)")
@click.pass_obj
def status(app: App, as_json: bool) -> None:
    """Show the last run of each step, the corpus, the model, digests and what needs a look.

    Each of last_runs in --json keeps three counts, found, new and updated, which
    mean, per step: harvest and sweep: the records PubMed listed, the new ones
    stored, the stored ones updated; classify: the records classified (found and
    updated); digest: the papers of the digest (found) and the recipients it was
    sent to or written for as .eml (new); train: the records trained on (found),
    and when 'run' trained the model again for being out of date, the records
    stored (new) and curated labels recorded (updated) since the one it replaced.

    \b
    Example:
        oihwatch status --json
    """
    meta, now = model_meta(app.settings), datetime.now(timezone.utc)
    try:
        info = gather_status(app.settings, app.store, meta, now)
    except (StorageError, sqlite3.DatabaseError) as exc:
        damage = corpus_damage(app, exc)
        if damage is None:
            raise
        info = gather_unreadable(app.settings, meta, now, damage)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    print_status(info)


def corpus_damage(app: App, exc: Exception) -> str | None:
    """Why the corpus could not be read, when that is damage: pages a query found damaged, or a file SQLite
    cannot open at all (cut short, its schema unreadable: 'database disk image is malformed'), which
    status still reports on, as it does damage its queries never meet (``status.integrity``); None
    for anything else (no database, another program's file), which stays an error."""
    if isinstance(exc, sqlite3.DatabaseError):
        corrupt = app.corruption(exc)
        return None if corrupt is None else str(corrupt)
    code = getattr(exc.__cause__, "sqlite_errorcode", None)  # what SQLite said as Store opened the file
    return str(exc) if code is not None and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB) else None


def print_status(info: dict) -> None:
    """The status for a person; every text from the data is escaped, since rich reads '[smtp]' as markup.
    Of a corpus that cannot be read (``records`` None), only what the config and the model say."""
    console = console_for_people()
    if info["records"] is None:
        console.print(f"[bold]corpus[/] {escape(info['database'])}: cannot be read (see the first warning)")
    else:
        print_corpus(console, info)
    console.print(f"[bold]model[/] {escape(model_line(info['model'], info['timezone']))}", highlight=False)
    if info["digests"] is not None:
        console.print(f"[bold]digests[/] {escape(digests_line(info['digests']))}", highlight=False)
    console.print(f"[bold]next runs[/] {escape(next_runs_line(info))}", highlight=False)
    for warning in info["warnings"]:
        console.print(f"[bold red]warning:[/] {escape(warning)}", highlight=False)  # '[smtp]' is not markup


def print_corpus(console, info: dict) -> None:
    """What the corpus holds, its topics' tags and the last run of each step."""
    console.print(f"[bold]corpus[/] {escape(info['database'])}: {info['records']:,} records "
                  f"({info['unclassified']:,} awaiting classification, {info['relevant']:,} about OIH, "
                  f"{info['deleted']:,} deleted by NLM)")
    topics = Table("topic", "label", "tagged", title="topics")
    for name, topic in info["topics"].items():
        topics.add_row(name, escape(topic["label"]), f"{topic['tagged']:,}")
    console.print(topics)
    runs = Table("step", "query", "started", "result", "counts", "error", title=f"last runs ({info['timezone']})")
    for run in info["last_runs"]:
        runs.add_row(run["step"], run["query"], moment_text(run["started"], info["timezone"]), run["status"], counts_text(run),
                     escape(run["error"]))
    console.print(runs if info["last_runs"] else "no runs yet")


def model_line(model: dict | None, zone: str) -> str:
    """'0.1.0+20270301013008.ce526eea trained 2027-03-01 02:30 CET on 147 records; out of date (1,113 records
    stored since): the next run trains it again', or what was stored since when it is not out of date."""
    if model is None:
        return "none"
    trained = moment_text(model["trained"], zone) if model["trained"] else "?"
    line = f"{model['version']} trained {trained} on {model['records']:,} records"
    if model["out_of_date"]:
        return line + f"; out of date ({model['out_of_date']} since): the next run trains it again"
    return line + (f" ({model['stored_since']:,} stored since)" if model["stored_since"] else "")


def next_runs_line(info: dict) -> str:
    """'harvest 2027-12-07 02:30 CET, digest 2027-12-13 07:00 CET'. While the digest due now is held, the
    nightly pass sends it once it may go (a successful harvest, classify done), not the digest job a week on:
    the harvest job says so when it comes first."""
    fires = {name: datetime.fromisoformat(when) for name, when in info["next_runs"].items() if when}
    first, held = min(fires, key=fires.__getitem__, default=None), info["held_digest"]
    parts = []
    for name in info["next_runs"]:
        part = f"{name} {moment_text(fires[name], info['timezone']) if name in fires else 'never'}"
        if held and name == first == "harvest":
            part += f" (with the held {held['period']} digest, once it may go: see the warning)"
        parts.append(part)
    return ", ".join(parts)


def counts_text(run: dict) -> str:
    """A run's counts in the words of its step: the run log keeps found, new and updated for every step,
    and only a harvest's mean that ('4 papers, for 3 recipients' for a digest, '822 classified'). A digest's
    count does not tell sent from written as .eml: the digests line does."""
    found, new, updated = run["found"], run["new"], run["updated"]
    if run["step"] == "digest":  # no paper and no delivery: not due, or nothing for anyone
        return f"{found:,} paper{'' if found == 1 else 's'}, for {new:,} recipient{'' if new == 1 else 's'}" if found or new else "nothing sent or written"
    if run["step"] == "classify":
        return f"{updated:,} classified"
    if run["step"] == "train":  # an older version recorded no count
        since = (f" ({new:,} stored and {updated:,} curated label{'s' * (updated != 1)} recorded since the model before)"
                 if new or updated else "")
        return f"{found:,} records{since}" if found else ""
    return f"{found:,} found, {new:,} new, {updated:,} updated"


# How each delivery status reads after a count in the digests line.
DELIVERY_WORDS = {"sent": "sent", "written": "written as .eml", "pending": "pending", "refused": "refused",
                  "skipped": "skipped (nothing in their topics)", "dropped": "dropped (no longer a recipient)"}


def digests_line(digests: dict) -> str:
    """'3 recorded, 2 delivered to every recipient; last 2026-W50: 3 sent, 2 pending': a digest recorded is
    not yet one delivered, and the last one says how far it got."""
    line = f"{digests['recorded']} recorded, {digests['delivered']} delivered to every recipient"
    some = [f"{digests[key]} {words}" for key, words in (("with_pending", "still pending for some"),
                                                          ("with_refused", "refused for some")) if digests[key]]
    line += f" ({', '.join(some)})" if some else ""
    last = digests["last"]
    if last is None:
        return line + "; none yet"
    counts = last["deliveries"]
    parts = [f"{counts[status]} {words}" for status, words in DELIVERY_WORDS.items() if counts.get(status)]
    return line + f"; last {last['period']}: " + (", ".join(parts) or "no recipients")
