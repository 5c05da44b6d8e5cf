"""``run``, ``schedule`` and ``status``: running unattended, and telling the operator how it went."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corpus.errors import LockError, OihwatchError
from oihwatch.app import App
from oihwatch.config import require_ncbi_email
from oihwatch.commands.classify import model_problem
from oihwatch.commands.digest import digest_now
from oihwatch.model_info import model_meta
from oihwatch.pipeline import StepResult, classify_step, digest_step, full_pass, harvest_step, run_steps
from oihwatch.scheduler import build_scheduler, next_fire_times, run_forever
from oihwatch.status import gather_status

log = logging.getLogger(__name__)


def print_step(result: StepResult) -> None:
    click.echo(result.line(), err=True)


@click.command()
@click.pass_obj
def run(app: App) -> None:
    """One full pass for cron or a systemd timer: harvest → classify → digest if due.

    Prints one line per step on stderr; exits 1 if any step failed (the others still ran).

    \b
    Example:
        oihwatch -c /srv/oihwatch/config.toml run
    """
    needs_ncbi(app)
    results = full_pass(app, digest_now, print_step)
    failed = [r.step for r in results if not r.ok]
    if failed:
        raise OihwatchError(f"{', '.join(failed)} failed (see the lines above); 'oihwatch status' shows the details")


@click.command()
@click.option("--list", "list_only", is_flag=True, help="print the jobs and their next fire times, then exit")
@click.pass_obj
def schedule(app: App, list_only: bool) -> None:
    """Run the harvest and digest jobs on the [schedule] cron expressions, in the foreground.

    Jobs run one at a time, missed runs are coalesced into one, and SIGTERM or Ctrl-C
    lets the running job finish before stopping.

    \b
    Example:
        oihwatch schedule --list
    """
    settings = app.settings
    if list_only:
        now = datetime.now(timezone.utc)
        for name, times in next_fire_times(settings.schedule, now, count=3).items():
            expression = getattr(settings.schedule, name)
            click.echo(f"{name:<8} {expression:<16} next: {', '.join(t.isoformat() for t in times)}")
        return

    needs_ncbi(app)

    def harvest_job() -> None:  # with the digest step, so a digest a failed send still owes goes out the next night
        run_job(app, [("harvest", lambda: harvest_step(app)), ("classify", lambda: classify_step(app)),
                      ("digest", lambda: digest_step(app, digest_now()))])

    def digest_job() -> None:
        run_job(app, [("classify", lambda: classify_step(app)), ("digest", lambda: digest_step(app, digest_now()))])

    scheduler = build_scheduler(settings.schedule, {"harvest": harvest_job, "digest": digest_job})
    run_forever(scheduler, lambda: click.echo(
        f"scheduling harvest '{settings.schedule.harvest}' and digest '{settings.schedule.digest}' "
        f"({settings.schedule.timezone}); Ctrl-C stops", err=True))


def needs_ncbi(app: App) -> None:
    """A pass that harvests checks for the NCBI contact address at start, not each night at the harvest."""
    if app.settings.queries:
        require_ncbi_email(app.settings)


def run_job(app: App, steps) -> None:
    """A scheduled job: the same steps as ``run``; a lock held by a manual run skips this turn, and
    anything else that stops the job before its steps (a damaged corpus) is said as a failure."""
    try:
        run_steps(app, steps, print_step)
    except LockError as exc:
        click.echo(f"job skipped: {exc}", err=True)
    except OihwatchError as exc:
        click.echo(f"job FAILED: {' '.join(str(exc).split())}", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print as JSON (for monitoring)")
@click.pass_obj
def status(app: App, as_json: bool) -> None:
    """Show the last run of each step, the corpus, the model, digests and what needs a look.

    \b
    Example:
        oihwatch status --json
    """
    settings = app.settings
    meta = model_meta(settings)
    model = model_summary(meta)
    if meta is not None:
        model["problem"] = model_problem(app, meta)
    info = gather_status(settings, app.store, model, datetime.now(timezone.utc))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    print_status(info)


def model_summary(meta: dict | None) -> dict | None:
    """The parts of a model's metadata an operator reads: version, when, on what, how good."""
    if meta is None:
        return None
    return {
        "version": meta.get("model_version", ""),
        "trained": meta.get("created", ""),
        "training_data_hash": meta.get("training_data_hash", ""),
        "records": meta.get("records", 0),
        "skipped": meta.get("skipped", {}),
        "cv_metrics": meta.get("cv_metrics", {}),
    }


def print_status(info: dict) -> None:
    """The status for a person; every text from the data is escaped, since rich reads '[smtp]' as markup."""
    console = Console()
    console.print(f"[bold]corpus[/] {escape(info['database'])}: {info['records']:,} records "
                  f"({info['unclassified']:,} awaiting classification, {info['relevant']:,} about OIH, "
                  f"{info['deleted']:,} deleted by NLM)")
    topics = Table("topic", "label", "tagged", title="topics")
    for name, topic in info["topics"].items():
        topics.add_row(name, escape(topic["label"]), f"{topic['tagged']:,}")
    console.print(topics)
    runs = Table("step", "query", "started", "result", "found", "new", "updated", "error", title="last runs")
    for run in info["last_runs"]:
        runs.add_row(run["step"], run["query"], run["started"], run["status"], str(run["found"]), str(run["new"]),
                     str(run["updated"]), escape(run["error"]))
    console.print(runs if info["last_runs"] else "no runs yet")
    model = info["model"]
    console.print(f"[bold]model[/] {model.get('version')} trained {model.get('trained', '?')}" if model else "[bold]model[/] none")
    digests = info["digests"]
    last = digests["last"]
    console.print(f"[bold]digests[/] {digests['sent']} sent; last {last['period'] if last else 'none'}; "
                  f"{len(digests['pending'])} deliveries pending")
    console.print("[bold]next runs[/] " + ", ".join(f"{k} {v}" for k, v in info["next_runs"].items()))
    for warning in info["warnings"]:
        console.print(f"[bold red]warning:[/] {escape(warning)}", highlight=False)  # '[smtp]' is not markup
