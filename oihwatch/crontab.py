"""Crontab expressions read as cron(8) reads them, turned into APScheduler 3 triggers.

APScheduler 3's ``CronTrigger.from_crontab`` is not crontab: it counts weekdays from 0 = Monday
and rejects 7, where crontab(5) counts from 0 = Sunday and takes 7 as Sunday too, so
``0 7 * * 1`` fired on Tuesdays. It also fires only when the day of month *and* the weekday
match, where cron fires on either once both are restricted (``0 7 1 * mon``: the 1st and every
Monday). So the weekday field is spelled out as APScheduler's day names here, and two
restricted day fields become two triggers joined by ``OrTrigger``.

On the night clocks fall back, APScheduler fires at both of the wall times shown twice: ``30 1 * * *``
in New York would run twice, an hour apart. cron(8) runs a fixed-time job (minute and hour not starting
with '*') once, at the first, and a wildcard one (``*/15 * * * *``, ``0 * * * *``) at each:
``FirstOfRepeated`` does the same. A time the spring change skips needs nothing: APScheduler fires
once, at the instant after the gap, as cron does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's numbering: 0 (and 7) = Sunday
SUNDAY_LAST = 7  # cron's own upper bound for weekdays, so 'fri-7', '*/2' and '1/2' read as cron reads them


def cron_trigger(expression: str, timezone: str) -> BaseTrigger:
    """The trigger that fires when cron would run ``expression`` in ``timezone``; ValueError if it is not one."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields where cron has 5")
    minute, hour, day, month, weekday = fields
    weekdays = weekday_names(weekday)

    def trigger(day: str, day_of_week: str) -> CronTrigger:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=timezone)

    if day.startswith("*") or weekday.startswith("*"):  # cron's rule: a field starting with '*' does not widen
        days = trigger(day, weekdays)
    else:
        days = OrTrigger([trigger(day, "*"), trigger("*", weekdays)])
    if minute.startswith("*") or hour.startswith("*"):  # cron's wildcard job: it runs at each time the clocks show
        return days
    return FirstOfRepeated(days, timezone)


class FirstOfRepeated(BaseTrigger):
    """``trigger`` without the second of a wall time the clocks show twice (the hour they fall back):
    a fixed-time job runs once that night, at the first, as in cron(8)."""

    __slots__ = ("trigger", "zone")

    def __init__(self, trigger: BaseTrigger, timezone: str) -> None:
        self.trigger = trigger
        self.zone = ZoneInfo(timezone)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire = self.trigger.get_next_fire_time(previous_fire_time, now)
        while fire is not None and self.repeated(fire):
            fire = self.trigger.get_next_fire_time(fire, fire)
        return fire

    def repeated(self, fire: datetime) -> bool:
        """Whether the clocks showed the wall time of ``fire`` before, at another offset. Through UTC, as
        ``scheduler.in_zone``: the trigger may hand a wall time with the wrong offset, which ``astimezone``
        to its own zone leaves as it is."""
        local = fire.astimezone(UTC).astimezone(self.zone)
        return local.utcoffset() != local.replace(fold=0).utcoffset()

    def __str__(self) -> str:
        return f"{self.trigger} (a repeated wall time once)"

    def __repr__(self) -> str:
        return f"<FirstOfRepeated ({self.trigger!r})>"


def weekday_names(field: str) -> str:
    """A crontab weekday field (numbers 0-7, names, ranges, lists, steps) as APScheduler's day names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ValueError(f"weekday step {step_text!r} is not a positive number")
        if span == "*":
            first, last = 0, SUNDAY_LAST
        else:
            start, dash, end = span.partition("-")
            first = _weekday(start)
            last = _weekday(end, last=True) if dash else SUNDAY_LAST if slash else first
        if first > last:
            raise ValueError(f"weekday range {span!r} runs backwards (0 and 7 are Sunday)")
        days.update(day % 7 for day in range(first, last + 1, int(step_text or 1)))
    return ",".join(CRON_WEEKDAYS[day] for day in sorted(days, key=lambda day: (day - 1) % 7))


def _weekday(text: str, last: bool = False) -> int:
    """One weekday in crontab numbering; 'sun' ends a range as 7 ('mon-sun' is the whole week)."""
    name = text.lower()
    if name in CRON_WEEKDAYS:
        return SUNDAY_LAST if last and name == "sun" else CRON_WEEKDAYS.index(name)
    if text.isdigit() and int(text) <= SUNDAY_LAST:
        return int(text)
    raise ValueError(f"weekday {text!r} is not 0-7 (0 and 7 are Sunday) or sun, mon, ..., sat")
