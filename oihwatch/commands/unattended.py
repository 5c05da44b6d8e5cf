"""``run`` and ``schedule``: the passes that run unattended, from cron, a timer or the scheduler."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from corpus.errors import LockError, OihwatchError
from harvester.harvest import Stop, Stopped
from oihwatch.app import App
from oihwatch.commands.digest import digest_now
from oihwatch.config import require_ncbi_email
from oihwatch.pipeline import StepResult, classify_step, digest_step, full_pass, pass_steps, run_steps
from oihwatch.scheduler import build_scheduler, next_fire_times, run_forever


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
    check_at_start(app)
    results = full_pass(app, digest_now, print_step)
    failed = [r.step for r in results if not r.ok]
    if failed:
        raise OihwatchError(f"{', '.join(failed)} failed (see the lines above); 'oihwatch status' shows the details")


@click.command()
@click.option("--list", "list_only", is_flag=True, help="print the jobs and their next fire times, then exit")
@click.pass_obj
def schedule(app: App, list_only: bool) -> None:
    """Run the harvest and digest jobs on the [schedule] cron expressions, in the foreground.

    Jobs run one at a time and missed runs are coalesced into one. SIGTERM or Ctrl-C
    stops a running harvest before its next request to NCBI (what it committed is kept) and
    lets a classify or digest under way finish, then exits.

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

    check_at_start(app)
    stop = Stop()

    def harvest_job() -> None:  # the whole pass, so a digest a failed send still owes goes out the next night
        run_job(app, pass_steps(app, digest_now, stop), stop)

    def digest_job() -> None:
        run_job(app, [("classify", lambda: classify_step(app)), ("digest", lambda: digest_step(app, digest_now()))], stop)

    scheduler = build_scheduler(settings.schedule, {"harvest": harvest_job, "digest": digest_job})
    run_forever(scheduler, lambda: click.echo(
        f"scheduling harvest '{settings.schedule.harvest}' and digest '{settings.schedule.digest}' "
        f"({settings.schedule.timezone}); Ctrl-C stops", err=True), stop)


def check_at_start(app: App) -> None:
    """What a pass needs that loading the config does not check, checked at start rather than each
    night at its step: the NCBI contact address (to harvest). The mail settings are not: a digest that
    could not be e-mailed fails the digest step of every pass (``pipeline.digest_step``), and must not
    also stop the harvest that keeps the corpus and its searches current."""
    if app.settings.queries:
        require_ncbi_email(app.settings)


def run_job(app: App, steps, stop: Stop | None = None) -> None:
    """A scheduled job: the same steps as ``run``; a lock held by a manual run skips this turn, and
    anything else that stops the job before its steps (a damaged corpus) is said as a failure.
    ``stop``, set when the scheduler is told to stop, ends the job before its next step or request to NCBI."""
    try:
        run_steps(app, steps, print_step, stop)
    except Stopped:
        click.echo("job interrupted: oihwatch is stopping; everything committed so far is kept, "
                   "and the next run goes on from there", err=True)
    except LockError as exc:
        click.echo(f"job skipped: {exc}", err=True)
    except OihwatchError as exc:
        click.echo(f"job FAILED: {' '.join(str(exc).split())}", err=True)
