"""Stopping ``oihwatch schedule`` (SIGTERM from ``systemctl stop``, or Ctrl-C) while a job runs.

systemd kills a service that has not stopped 90 s after SIGTERM (its default stop timeout); a
harvest retrying an NCBI outage may go on for the whole ncbi.retry_budget (600 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

from processes import signal_while_retrying, stderr_once_stopped
from test_run import write_config

from corpus import Store
from corpus.runs import STOPPED, last_runs
from harvester.harvest import Stop
from oihwatch.app import App
from oihwatch.commands.unattended import run_job
from oihwatch.pipeline import digest_step

# `oihwatch schedule` as installed, but its nightly job fires at start rather than at 02:30: the
# test waits for no clock. Everything else (the scheduler, its signal handlers, the job) is as run.
SCHEDULE_WITH_THE_HARVEST_DUE = (
    "import oihwatch.scheduler as scheduler\n"
    "from apscheduler.triggers.date import DateTrigger\n"
    "cron = scheduler.triggers\n"
    "scheduler.triggers = lambda schedule: {**cron(schedule), 'harvest': DateTrigger()}\n"
    "from oihwatch.cli import main\n"
    "main()\n"
)


def test_sigterm_stops_a_harvest_retrying_an_outage_at_once_and_records_it_interrupted(tmp_path, fake, smtp):
    config = write_config(tmp_path, fake.url, smtp.port, retry_budget="600")
    fake.faults.extend([None] + ["503"] * 10_000)  # the first search is answered, then every request fails
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIHWATCH_")}
    scheduler = subprocess.Popen([sys.executable, "-c", SCHEDULE_WITH_THE_HARVEST_DUE, "-c", str(config), "schedule"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    sent = signal_while_retrying(scheduler, fake, signal.SIGTERM)
    signalled = time.monotonic()
    err = stderr_once_stopped(scheduler, 30, "oihwatch schedule, its harvest retrying,")
    assert scheduler.returncode == 0 and time.monotonic() - signalled < 10, err
    assert len(fake.seen) == sent  # nothing more went to NCBI
    assert err.strip().splitlines()[-1] == (
        "job interrupted: oihwatch is stopping; everything committed so far is kept, and the next run goes on from there")
    with Store(tmp_path / "oihwatch.db") as store:
        runs = last_runs(store)
    assert (runs[("harvest", "oih")].status, runs[("harvest", "oih")].error) == ("interrupted", STOPPED)
    assert set(runs) == {("harvest", "oih")} and smtp.handler.messages == []  # no classify or digest started after


def test_a_stop_while_the_digest_is_mailed_lets_every_message_go_out_and_starts_no_later_step(tmp_path, smtp, capsys):
    """A clinician must not get half a digest, nor the next step run after the service was told to stop."""
    config = write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)
    app, stop, later = App(str(config), environ={}), Stop(), []
    accept = smtp.handler.handle_DATA

    async def stop_while_accepting(server, session, envelope):
        stop.set()  # SIGTERM, as the first message goes over the wire
        return await accept(server, session, envelope)

    smtp.handler.handle_DATA = stop_while_accepting
    monday = datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc)
    run_job(app, [("digest", lambda: digest_step(app, monday)), ("next", lambda: later.append("ran") or "ran")], stop)
    runs = last_runs(app.store)
    app.close()
    assert stop.is_set() and later == [] and runs[("digest", "")].status == "ok"
    assert [len(smtp.handler.received_by(r)) for r in ("all@example.org", "ketamine@example.org")] == [1, 1]
    assert capsys.readouterr().err.splitlines()[-1].startswith("job interrupted: oihwatch is stopping;")
