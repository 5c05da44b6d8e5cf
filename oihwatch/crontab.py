"""Crontab expressions read as cron(8) reads them, turned into APScheduler 3 triggers.

APScheduler 3's ``CronTrigger.from_crontab`` is not crontab: it counts weekdays from 0 = Monday
and rejects 7, where crontab(5) counts from 0 = Sunday and takes 7 as Sunday too, so
``0 7 * * 1`` fired on Tuesdays. It also fires only when the day of month *and* the weekday
match, where cron fires on either once both are restricted (``0 7 1 * mon``: the 1st and every
Monday). So the weekday field is spelled out as APScheduler's day names here, and two
restricted day fields become two triggers joined by ``OrTrigger``.
"""

from __future__ import annotations

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
        return trigger(day, weekdays)
    return OrTrigger([trigger(day, "*"), trigger("*", weekdays)])


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
