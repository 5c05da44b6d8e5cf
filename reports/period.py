"""When a digest is due, which period it belongs to, and where its window starts.

A period is named after the ISO week of its due moment (weekday + local time in the configured
time zone), e.g. '2026-W48'. Only the latest due moment counts: a machine that was off for three
Mondays sends one digest (covering everything since the last one), not three. A period that has
no digest yet when the next one falls due within ``FOLD_WITHIN`` (a pass at 02:30 on the digest's
Monday, after a week without one) is folded into that next one: its digest goes out as the next
period's, so that morning brings one digest, not the overdue one and, hours later, a nearly empty one.

A digest's window starts where the digest recorded last ended. One recorded while the machine's
clock ran ahead ends in the future: starting there would pass over every paper first seen until
that moment really comes. The window then starts where the last digest ending by now ended (or,
if none does, where the run log says the clock was last right), and the papers earlier digests
listed are left out (``reports.gather``), so none is lost and none is listed twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from corpus.ledger import deliveries, find_digest, last_digest, owing_digests, unlisted
from corpus.runs import clock_right_until
from corpus.store import Store, iso_utc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_WINDOW = timedelta(days=7)  # the first digest covers what PubMed created in the last week (see reports.gather)
# A period without a digest is folded into the next when that one falls due this soon: a nightly pass
# (02:30) before a morning digest (07:00), or one the evening before.
FOLD_WITHIN = timedelta(hours=12)


def latest_due(weekday: str, at: str, tz: str, now: datetime) -> datetime:
    """The latest moment at or before ``now`` that is ``weekday`` at local time ``at`` (HH:MM) in ``tz``.
    Compared in UTC: two times of one zone compare as wall clocks, blind to the hour DST repeats."""
    local = now.astimezone(ZoneInfo(tz))
    day = local.date() - timedelta(days=(local.weekday() - WEEKDAYS.index(weekday)) % 7)
    due = _due_on(day, at, tz)
    if due.astimezone(timezone.utc) > now.astimezone(timezone.utc):
        due = _due_on(day - timedelta(days=7), at, tz)
    return due


def next_due(weekday: str, at: str, tz: str, now: datetime) -> datetime:
    """The first due moment after ``now``: a week after the latest, at the same local time."""
    return _due_on(latest_due(weekday, at, tz, now).date() + timedelta(days=7), at, tz)


def _due_on(day: date, at: str, tz: str) -> datetime:
    hour, minute = (int(part) for part in at.split(":"))
    return datetime.combine(day, time(hour, minute), ZoneInfo(tz))


def period_name(due: datetime) -> str:
    year, week, _ = due.isocalendar()
    return f"{year}-W{week:02d}"


def current_period(weekday: str, at: str, tz: str, now: datetime) -> str:
    """The period whose digest is (or was) due most recently."""
    return period_name(latest_due(weekday, at, tz, now))


def period_to_send(store: Store, weekday: str, at: str, tz: str, now: datetime) -> str:
    """The period a digest made now belongs to: the current one, or the next when the current one has no
    digest yet and the next falls due within ``FOLD_WITHIN``."""
    current = current_period(weekday, at, tz, now)
    coming = next_due(weekday, at, tz, now)
    if find_digest(store, current) is None and coming.astimezone(timezone.utc) - now.astimezone(timezone.utc) <= FOLD_WITHIN:
        return period_name(coming)
    return current


def digest_due(store: Store, weekday: str, at: str, tz: str, now: datetime, recipients: Iterable[str] = ()) -> str | None:
    """The period to send now (``period_to_send``), or None: due once its moment has passed (or folded
    into it), until every recipient has it (``recipients``: the configured addresses, so one added after
    the digest went out gets it too), and while an earlier period's digest is still owed to someone."""
    period = period_to_send(store, weekday, at, tz, now)
    record = find_digest(store, period)
    if record is None or owing_digests(store, excluding=period):
        return period
    listed = deliveries(store, record.id)
    if not all(d.done for d in listed) or unlisted(listed, recipients):
        return period
    return None


def moment_text(moment: str | datetime, zone: str) -> str:
    """'2027-12-09 07:00 CET': a moment (ISO, as the store keeps it, or a datetime) as an operator reads it, in
    the time zone ``zone``, the schedule's, whose days the digest names, and labelled with the zone's
    abbreviation, which also tells apart the two 02:30s of the night daylight saving time ends."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def midnight(day: date, zone: str) -> str:
    """The moment ``day`` begins in the time zone ``zone``, in UTC as the store keeps moments."""
    return iso_utc(datetime.combine(day, time(0), ZoneInfo(zone)))


def window_start(store: Store, now: datetime, since: date | None = None, zone: str = "UTC") -> str:
    """Where the next digest's window starts: ``since`` (its midnight in ``zone``, the schedule's, whose days
    the digest names), else the end of the digest recorded last, else a week before ``now``. A last digest that ends after ``now`` was recorded by a clock that ran
    ahead (``clock_note``): then the end of the last digest that ends by ``now``, else the last moment the
    run log knows the clock was right, else a week before ``now``."""
    if since is not None:
        return midnight(since, zone)
    previous = last_digest(store)
    if previous is None:
        return iso_utc(now - FIRST_WINDOW)
    if previous.until <= iso_utc(now):
        return previous.until
    sane = last_digest(store, ending_by=iso_utc(now))
    return sane.until if sane else clock_right_until(store, now) or iso_utc(now - FIRST_WINDOW)


def clock_note(store: Store, now: datetime, zone: str) -> str:
    """'the clock looks wrong: ...' when the digest recorded last ends after ``now``, saying where the next
    window starts instead (``window_start``), in the time zone ``zone`` (``moment_text``); '' otherwise."""
    previous = last_digest(store)
    if previous is None or previous.until <= iso_utc(now):
        return ""
    return (f"the clock looks wrong: the {previous.period} digest is recorded up to {moment_text(previous.until, zone)}, "
            f"after now ({moment_text(now, zone)}); so the next digest's window starts at "
            f"{moment_text(window_start(store, now), zone)} instead, and it leaves out what earlier digests listed")
