"""When a digest is due, and which period it belongs to.

A period is named after the ISO week of its due moment (weekday + local time in the configured
time zone), e.g. '2026-W48'. Only the latest due moment counts: a machine that was off for three
Mondays sends one digest (covering everything since the last one), not three.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from corpus.ledger import deliveries, find_digest, owing_digests, unlisted
from corpus.store import Store

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def latest_due(weekday: str, at: str, tz: str, now: datetime) -> datetime:
    """The latest moment at or before ``now`` that is ``weekday`` at local time ``at`` (HH:MM) in ``tz``.
    Compared in UTC: two times of one zone compare as wall clocks, blind to the hour DST repeats."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    hour, minute = (int(part) for part in at.split(":"))
    days_back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    day = (local - timedelta(days=days_back)).date()
    due = datetime.combine(day, time(hour, minute), zone)
    if due.astimezone(timezone.utc) > now.astimezone(timezone.utc):
        due = datetime.combine(day - timedelta(days=7), time(hour, minute), zone)
    return due


def period_name(due: datetime) -> str:
    year, week, _ = due.isocalendar()
    return f"{year}-W{week:02d}"


def current_period(weekday: str, at: str, tz: str, now: datetime) -> str:
    """The period whose digest is (or was) due most recently."""
    return period_name(latest_due(weekday, at, tz, now))


def digest_due(store: Store, weekday: str, at: str, tz: str, now: datetime, recipients: Iterable[str] = ()) -> str | None:
    """The period to send now, or None: due once its moment has passed, until every recipient has it
    (``recipients``: the configured addresses, so one added after the digest went out gets it too),
    and while an earlier period's digest is still owed to someone."""
    period = current_period(weekday, at, tz, now)
    record = find_digest(store, period)
    if record is None or owing_digests(store, excluding=period):
        return period
    listed = deliveries(store, record.id)
    if not all(d.done for d in listed) or unlisted(listed, recipients):
        return period
    return None
