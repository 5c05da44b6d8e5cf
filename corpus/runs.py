"""Bookkeeping of unattended work: per-query watermarks and a record of every run.

A run is recorded as 'running' when it starts and 'ok' or 'failed' when it ends ('interrupted'
when Ctrl-C stopped it), so a failure is never reported as "0 new records". Its counts move with each commit of records,
so a run that dies shows what it stored. A process killed mid-step leaves its row
'running'; the next writer, holding the lock that process held, marks it 'interrupted'.

Runs are numbered in the order they really happened, whatever the machine's clock said: the run
log is also the record of when that clock was wrong. A run that started "after now" ran by a
clock that was ahead then (or the clock is behind now); ``clock_behind`` tells the second case by
PubMed's create dates, which NCBI's clock sets and ours cannot move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from corpus.store import Store, iso_utc


@dataclass
class Run:
    id: int
    step: str
    query: str
    started: str
    finished: str | None
    window_start: str
    window_end: str
    found: int
    new: int
    updated: int
    status: str
    error: str


def start_run(store: Store, step: str, query: str = "", window_start: str = "", window_end: str = "") -> int:
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO runs (step, query, started, window_start, window_end) VALUES (?, ?, ?, ?, ?)",
            (step, query, store.now(), window_start, window_end),
        )
    return cursor.lastrowid


def finish_run(
    store: Store, run_id: int, status: str, found: int = 0, new: int = 0, updated: int = 0, error: str = ""
) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE runs SET finished = ?, status = ?, found = ?, new = ?, updated = ?, error = ? WHERE id = ?",
            (store.now(), status, found, new, updated, error, run_id),
        )


def record_progress(store: Store, run_id: int, found: int, new: int, updated: int) -> None:
    """The counts so far; call it inside the transaction that committed the records they count."""
    with store.transaction() as db:
        db.execute("UPDATE runs SET found = ?, new = ?, updated = ? WHERE id = ?", (found, new, updated, run_id))


INTERRUPTED = ("the process stopped before the step finished (killed, or the machine went down), or could not "
               "record its end (a full disk); the output of that run says which")


STOPPED = ("stopped by an interrupt (Ctrl-C or SIGINT, or a stop of oihwatch schedule) before the step finished; "
           "what it committed is kept, and the next run goes on from there")


def finish_stopped(store: Store, run_id: int, exc: BaseException, found: int = 0, new: int = 0, updated: int = 0) -> bool:
    """Record a run that ``exc`` ended before it finished as 'interrupted' when ``exc`` is an interrupt
    (Ctrl-C), as a killed one is, not as 'failed' with the bare 'KeyboardInterrupt'; False for any other error."""
    if not isinstance(exc, KeyboardInterrupt):
        return False
    finish_run(store, run_id, "interrupted", found, new, updated, error=STOPPED)
    return True


def mark_interrupted(store: Store) -> int:
    """Mark every 'running' run 'interrupted'. Call it only under the write lock: every step runs
    under it, so a 'running' row then belongs to a process that died."""
    with store.transaction() as db:
        return db.execute(
            "UPDATE runs SET status = 'interrupted', error = ? WHERE status = 'running'", (INTERRUPTED,)
        ).rowcount


def last_runs(store: Store) -> dict[tuple[str, str], Run]:
    """The latest run of each (step, query)."""
    rows = store.db.execute(
        "SELECT * FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY step, query) ORDER BY step, query"
    )
    return {(r["step"], r["query"]): Run(**dict(r)) for r in rows}


def success_recorded_last(store: Store, step: str, query: str = "") -> Run | None:
    """The success recorded last (the latest in fact, whatever its clock said)."""
    row = store.db.execute(
        "SELECT * FROM runs WHERE step = ? AND query = ? AND status = 'ok' ORDER BY id DESC LIMIT 1", (step, query)
    ).fetchone()
    return Run(**dict(row)) if row else None


def success_started_last(store: Store, step: str, query: str, now: datetime) -> Run | None:
    """The success that started last by the clock, leaving out any that started after ``now``: how long ago
    the step last worked. A run whose clock was set back is recorded after (by id) runs it seems to predate,
    and one whose clock ran ahead would seem to have worked in the future."""
    row = store.db.execute(
        "SELECT * FROM runs WHERE step = ? AND query = ? AND status = 'ok' AND started <= ? "
        "ORDER BY started DESC, id DESC LIMIT 1", (step, query, iso_utc(now))
    ).fetchone()
    return Run(**dict(row)) if row else None


def runs_after(store: Store, now: datetime) -> tuple[int, str | None]:
    """How many runs are recorded as started after ``now``, and the latest such start."""
    count, latest = store.db.execute("SELECT COUNT(*), MAX(started) FROM runs WHERE started > ?", (iso_utc(now),)).fetchone()
    return count, latest


def clock_right_until(store: Store, now: datetime) -> str | None:
    """When the run recorded just before the first run that started after ``now`` started: the last moment
    the clock is known to have been right before it ran ahead (None when no run started after ``now``, or
    none came before the first that did)."""
    row = store.db.execute(
        "SELECT started FROM runs WHERE id < (SELECT MIN(id) FROM runs WHERE started > ?) ORDER BY id DESC LIMIT 1",
        (iso_utc(now),),
    ).fetchone()
    return row[0] if row else None


def first_window_past(store: Store, step: str, query: str, day: date) -> str | None:
    """The earliest start among the windows of the query's runs of ``step`` (harvest, sweep) that end after
    ``day``: where the first search past ``day`` began. None when no window ends after ``day``."""
    row = store.db.execute("SELECT MIN(window_start) FROM runs WHERE step = ? AND query = ? AND window_end > ?",
                           (step, query, day.isoformat())).fetchone()
    return row[0]


# The records whose create dates tell NCBI's date: the last stored (a scan of every record would read the
# whole corpus, and create dates have no index). Ingesting thousands of old records hides it until the next harvest.
RECENT_RECORDS = 1000


def clock_behind(store: Store, today: date) -> str:
    """'the clock looks wrong: ...' when PubMed created a record stored here more than a day after ``today``,
    the machine's date; '' otherwise. NCBI's clock dates what PubMed creates, so a create date after
    tomorrow proves that our clock is behind (a day is left for the gap between NCBI's date and ours)."""
    (latest,) = store.db.execute(
        "SELECT MAX(created) FROM (SELECT created FROM articles ORDER BY rowid DESC LIMIT ?)", (RECENT_RECORDS,)
    ).fetchone()
    if not latest or latest[:10] <= (today + timedelta(days=1)).isoformat():
        return ""
    return (f"the clock looks wrong: by this machine's clock it is {today}, but PubMed created records stored here "
            f"on {latest[:10]}; set the clock right (NTP)")


def get_watermark(store: Store, query: str) -> str | None:
    """ISO date up to which every record of ``query`` created is stored, or None before the first harvest."""
    row = store.db.execute("SELECT value FROM watermarks WHERE query = ?", (query,)).fetchone()
    return row[0] if row else None


def set_watermark(store: Store, query: str, value: str) -> None:
    """Advance (never move back) the watermark; call it inside the transaction that committed the records."""
    with store.transaction() as db:
        db.execute(
            "INSERT INTO watermarks (query, value, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(query) DO UPDATE SET value = MAX(value, excluded.value), updated = excluded.updated",
            (query, value, store.now()),
        )


def rewind_watermark(store: Store, query: str, value: str) -> None:
    """Move the watermark back to ``value``: only for one that a clock running ahead put after today, which
    claims days that had not happened yet (``harvester.harvest``)."""
    with store.transaction() as db:
        db.execute("UPDATE watermarks SET value = ?, updated = ? WHERE query = ?", (value, store.now(), query))
