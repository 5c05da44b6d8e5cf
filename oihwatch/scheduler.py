"""``oihwatch schedule``: APScheduler 3.x in the foreground, holding no logic of its own.

Its two jobs call the same functions as ``oihwatch run``. One worker thread means one
job at a time; ``coalesce`` turns a backlog of missed runs into one; ``max_instances=1``
stops a slow harvest from overlapping the next. A stop signal ends a running harvest at its
next request; a classify or digest under way finishes (no mail is cut mid-message).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger

from oihwatch.config import ScheduleSettings
from oihwatch.crontab import cron_trigger

# A run missed by up to six hours (a reboot, a suspended VM) still runs; older ones wait for the next time.
MISFIRE_GRACE_SECONDS = 6 * 3600


def triggers(schedule: ScheduleSettings) -> dict[str, BaseTrigger]:
    """The trigger of each job: its crontab expression, read as cron reads it, in the configured time zone."""
    return {name: cron_trigger(getattr(schedule, name), schedule.timezone) for name in ("harvest", "digest")}


def next_fire_times(schedule: ScheduleSettings, now: datetime, count: int = 3) -> dict[str, list[datetime]]:
    """The next ``count`` fire times of each job after ``now`` (``in_zone``)."""
    result = {}
    for name, trigger in triggers(schedule).items():
        times, previous, moment = [], None, now
        for _ in range(count):
            fire = trigger.get_next_fire_time(previous, moment)
            if fire is None:
                break
            times.append(in_zone(fire, schedule.timezone))
            previous, moment = fire, fire
        result[name] = times
    return result


def next_fire_time(schedule: ScheduleSettings, name: str, after: datetime) -> datetime | None:
    """When job ``name`` first fires at or after ``after`` (``in_zone``), or None if it never does."""
    fire = triggers(schedule)[name].get_next_fire_time(None, after)
    return in_zone(fire, schedule.timezone) if fire else None


def in_zone(fire: datetime, tz: str) -> datetime:
    """A fire time as the zone's clocks show it. A time that does not exist (02:30 on the night clocks
    spring forward) comes from the trigger with the offset of before the change ('02:30-05:00'), where
    the job runs at 03:30 (-04:00). Through UTC: ``astimezone`` to the zone it is in changes nothing."""
    return fire.astimezone(timezone.utc).astimezone(ZoneInfo(tz))


def build_scheduler(schedule: ScheduleSettings, jobs: dict[str, Callable[[], object]]) -> BlockingScheduler:
    """A scheduler with one cron job per entry of ``jobs`` (names as in ``triggers``)."""
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        timezone=schedule.timezone,
    )
    for name, trigger in triggers(schedule).items():
        scheduler.add_job(
            jobs[name], trigger, id=name, name=name,
            coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    return scheduler


def run_forever(scheduler: BlockingScheduler, started: Callable[[], None], stopping: threading.Event) -> None:
    """Block until SIGINT or SIGTERM, then set ``stopping``, wait for the running job and stop.

    Jobs run in a worker thread, which the signal does not reach: ``stopping`` tells the job to
    end at its next safe point (a harvest before its next request or in its retry back-off,
    ``harvester.harvest.Stop``), where systemd would otherwise kill one that retries an NCBI outage.
    ``started`` is called once the scheduler runs with the signal handlers in place, so whoever
    waits for it can stop us.
    """

    def stop(signum, frame):
        stopping.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.add_listener(lambda event: started(), EVENT_SCHEDULER_STARTED)
    scheduler.start()
