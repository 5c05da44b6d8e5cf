"""Whether PubMed could be searched: a digest recorded while the harvest fails would miss what PubMed
added, or tell clinicians there is nothing new.

It is read from the runs table, so a digest sent by ``run``, by the scheduler's digest job or by
hand sees the same thing. A new digest waits while the latest harvest of a configured query did not
succeed (``reports.sending``), but not for ever: from ``HARVEST_OUTAGE_GRACE`` after it was due, it
goes out with a note saying since when PubMed could not be searched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from corpus.store import Store
from reports.period import moment_text

# How long a digest waits for a successful harvest after it was due (or after harvesting began to fail,
# if later): NCBI's outages last hours, mostly; one of days must not silence the digest for good.
HARVEST_OUTAGE_GRACE = timedelta(days=3)


@dataclass(frozen=True)
class HarvestOutage:
    """The latest harvest of ``query`` did not succeed."""

    query: str
    failed: str  # when that harvest ended (ISO, UTC)
    since: str  # when the last successful harvest of the query began; its first attempt when none succeeded
    status: str = "failed"  # or 'interrupted' (Ctrl-C, or a process killed), as the runs table has it

    def ended_in(self, zone: str) -> str:
        """How that harvest ended, for a sentence, in the time zone ``zone``: 'failed at 2027-12-06 07:05 CET'
        or 'was interrupted at ...' (``reports.period.moment_text``)."""
        return f"{'was interrupted' if self.status == 'interrupted' else 'failed'} at {moment_text(self.failed, zone)}"

    def release(self, due: datetime) -> datetime:
        """From when a digest due at ``due`` goes out without waiting any longer for a harvest."""
        return max(due, datetime.fromisoformat(self.since)) + HARVEST_OUTAGE_GRACE


def harvest_outage(store: Store, queries: Iterable[str], before: str | None = None,
                   lock_held: bool = True) -> HarvestOutage | None:
    """Of the ``queries`` whose latest harvest (begun at or before ``before``, when given) did not
    succeed, the one failing longest; None when each one's latest harvest succeeded or none was ever
    harvested (a corpus ingested from files). A harvest recorded 'running' is not a failure while
    ``lock_held`` (a process holds the corpus's write lock, as ``oihwatch.lock.held`` tells the caller:
    it may be under way); otherwise its process was killed before recording its end, and it counts as
    interrupted, as the next writer records it, so a preview or status says what a send would do."""
    found = []
    for query in queries:
        latest = store.db.execute(
            "SELECT status, COALESCE(finished, started) FROM runs WHERE step = 'harvest' AND query = ? "
            "AND (? IS NULL OR started <= ?) ORDER BY id DESC LIMIT 1", (query, before, before)).fetchone()
        if latest is None or latest[0] == "ok" or latest[0] == "running" and lock_held:
            continue
        status = "interrupted" if latest[0] == "running" else latest[0]
        found.append(HarvestOutage(query, latest[1], _failing_since(store, query, before), status))
    return min(found, key=lambda outage: outage.since, default=None)


def _failing_since(store: Store, query: str, before: str | None) -> str:
    """When the last successful harvest of ``query`` (begun at or before ``before``) began; its first
    attempt when none succeeded, which is looked up only then."""
    success = store.db.execute(
        "SELECT started FROM runs WHERE step = 'harvest' AND query = ? AND status = 'ok' "
        "AND (? IS NULL OR started <= ?) ORDER BY id DESC LIMIT 1", (query, before, before)).fetchone()
    if success is not None:
        return success[0]
    return store.db.execute("SELECT MIN(started) FROM runs WHERE step = 'harvest' AND query = ?", (query,)).fetchone()[0]
