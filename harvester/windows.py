"""Date windows for PubMed searches: which days to search, and how to narrow a window that is too big.

New records are found by **create date** (``[crdt]``), not Entrez date: PubMed sets the Entrez
date of a record added more than a year late to its publication date, so an Entrez-date
window would never see it. Revisions are found by modification date (``[mdat]``).

PubMed's esearch returns at most the first 9,999 hits of a query (NCBI, 2022), so a window
with more hits is halved, recursively, until each half fits. All of this is pure: dates in,
windows and search terms out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from corpus.errors import HarvestError

# The most hits PubMed's esearch will list for one query (NCBI E-utilities, since Nov 2022).
MAX_HITS = 9999
# Backfill windows are at most this long, so a first run commits (and advances the watermark)
# year by year and a crash costs at most one year's search, not the whole backfill.
BACKFILL_WINDOW_DAYS = 366

CREATE_DATE = "crdt"
MODIFICATION_DATE = "mdat"

# PubMed dates what it creates and revises by NCBI's clock, US Eastern time (Bethesda, Maryland).
NCBI_TIME_ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True, order=True)
class Window:
    """The days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def halves(self, max_hits: int = MAX_HITS) -> tuple[Window, Window]:
        """Two windows that cover this one with no gap or overlap; a one-day window cannot be halved."""
        if self.days == 1:
            raise HarvestError(
                f"more than {max_hits:,} records on {self.start} alone: PubMed cannot list them; narrow the query"
            )
        middle = self.start + timedelta(days=self.days // 2 - 1)
        return Window(self.start, middle), Window(middle + timedelta(days=1), self.end)

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


def windowed_term(term: str, window: Window, field: str = CREATE_DATE) -> str:
    """The query limited to the window, in PubMed's syntax: ``(TERM) AND ("2026/11/01"[crdt] : "2026/11/27"[crdt])``."""
    start, end = window.start.strftime("%Y/%m/%d"), window.end.strftime("%Y/%m/%d")
    return f'({term.strip()}) AND ("{start}"[{field}] : "{end}"[{field}])'


def split_range(start: date, end: date, max_days: int = BACKFILL_WINDOW_DAYS) -> Iterator[Window]:
    """Consecutive windows of at most ``max_days`` from ``start`` to ``end``; nothing when ``end < start``."""
    while start <= end:
        last = min(end, start + timedelta(days=max_days - 1))
        yield Window(start, last)
        start = last + timedelta(days=1)


def ncbi_today(now: datetime) -> date:
    """NCBI's date at ``now`` (an aware time), the last day a search can cover.

    The machine's own date can run a day ahead (02:30 in Berlin is 20:30 the evening before in New
    York): a sweep ending on that date would start the next one after the rest of NCBI's day, and
    a revision made that evening would never be swept.
    """
    return now.astimezone(NCBI_TIME_ZONE).date()


def harvest_range(
    watermark: date | None, first_start: date, lookback_days: int, today: date
) -> tuple[date, date]:
    """Days to search on a regular run: from the watermark minus the look-back (else the backfill start) to today."""
    if watermark is None:
        return first_start, today
    return max(first_start, watermark - timedelta(days=lookback_days)), today


def extends_coverage(window: Window, watermark: date | None, first_start: date) -> bool:
    """True when committing ``window`` leaves no gap behind it, so the watermark may move to its end.

    The watermark means "every record created up to here is stored"; a window harvested by
    ``--since`` beyond it (or beyond the backfill start on a first run) must not claim the gap.
    """
    covered_to = watermark if watermark is not None else first_start - timedelta(days=1)
    return window.start <= covered_to + timedelta(days=1)
