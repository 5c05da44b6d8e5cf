"""Incremental harvest: find every new record of each query by create-date windows, and never lose one.

For each query: search create-date windows from the stored watermark minus a look-back up to
today (a first run backfills from ``start``); halve any window with more hits than PubMed lists;
skip PMIDs already stored as PubMed's record (a copy from a RIS, CSV or other file is fetched,
to be replaced by PubMed's with its dates); fetch the rest in batches and commit each batch as
it arrives, the last batch of a window in the same transaction that moves the watermark to the
window's end. So a crash or an outage keeps every committed record, leaves the watermark short
of what was not committed, and the next run looks back over the gap and stores each missing
record once.

Every ``sweep_days`` a modification-date sweep re-fetches the query's records changed since
the last sweep (revisions, retraction and erratum links, late MeSH that makes an old record
match) and upserts them. Every query and sweep is a run record; a failed one is recorded as
failed with its error, never as "0 new records". An interrupted one (Ctrl-C, or a ``Stop`` set
from another thread) is recorded as interrupted, and keeps what it committed.

The machine's clock sets "today", and a wrong one must cost no record. A clock behind is told
by what PubMed created (``corpus.runs.clock_behind``): nothing is harvested then. A clock that ran
ahead for a run left a watermark, or a sweep's end, after today, claiming days that had not come:
a search from there (less the look-back) would pass over what PubMed created since that run really
ran, for good. So a watermark after today is moved back to where the first search past today
began (every record created before that was stored, as a regular search starts before the
watermark it found), and a sweep ending after today is due at once, from where the first sweep
past today began; the result's line says so (``QueryResult.clock``).

Plain values come in (anything with the attributes of ``QuerySpec`` / ``HarvestOptions``, e.g.
oihwatch's settings); this module knows nothing of the application around it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol, TypeVar

from corpus.article import Article
from corpus.errors import ConfigError, HarvestError, InputError, OihwatchError
from corpus.runs import (
    clock_behind, finish_run, finish_stopped, first_window_past, get_watermark, record_progress, rewind_watermark,
    set_watermark, start_run, success_recorded_last,
)
from corpus.store import Store, UpsertCounts
from harvester.eutils_protocol import History, HistoryExpired, SearchResult
from harvester.windows import (
    CREATE_DATE,
    MODIFICATION_DATE,
    Window,
    extends_coverage,
    harvest_range,
    ncbi_today,
    split_range,
    windowed_term,
)

logger = logging.getLogger(__name__)
HARVEST, SWEEP = "harvest", "sweep"
# Requests by PMID for records an efetch answer left out, before the window fails: NCBI's mirrors
# can disagree for a moment, but one that keeps leaving a record out will not be talked round.
REFETCHES = 3
T = TypeVar("T")


class QuerySpec(Protocol):
    name: str
    term: str


class HarvestOptions(Protocol):
    start: date  # first create date of a backfill
    lookback_days: int
    batch_size: int
    sweep_days: int


class Searcher(Protocol):
    """What the harvest needs of an E-utilities client (``harvester.eutils.EutilsClient``)."""

    max_hits: int  # the most PMIDs one search lists (PubMed: 9,999)

    def search(self, term: str) -> SearchResult: ...
    def fetch_page(self, history: History, start: int, count: int) -> list[Article]: ...
    def fetch_pmids(self, pmids: list[str]) -> list[Article]: ...


@dataclass
class QueryResult:
    """What one harvest or sweep of one query did."""

    query: str
    step: str
    span: Window | None
    windows: int = 0
    found: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    watermark: str | None = None
    clock: str = ""  # 'the clock looks wrong: ...' when a watermark or sweep after today was moved back

    def summary(self) -> str:
        """One line for the operator, e.g. 'oih: harvest 2026-10-28..2026-11-27: 41 found, 3 new, 1 updated'."""
        span = str(self.span) if self.span else "nothing to search"
        mark = f"; watermark {self.watermark}" if self.step == HARVEST and self.watermark else ""
        clock = f"; {self.clock}" if self.clock else ""
        return (
            f"{self.query}: {self.step} {span}: {self.found} found, {self.counts.new} new, "
            f"{self.counts.updated} updated{mark}{clock}"
        )


@dataclass(frozen=True)
class ProgressUpdate:
    query: str
    step: str
    windows_done: int
    windows_total: int
    records_stored: int


Progress = Callable[[ProgressUpdate], None]


@dataclass(frozen=True)
class _Batch:
    """The records of one fetch that were asked for, and the PMIDs asked for that NCBI did not return."""

    articles: list[Article]
    missing: list[str]


class Stopped(KeyboardInterrupt):
    """A harvest ended by its ``Stop``; handled as Ctrl-C is: what it committed is kept, its run is 'interrupted'."""


class Stop(threading.Event):
    """A request from another thread that a harvest stop at its next safe point.

    Ctrl-C stops a harvest in the main thread at once. One that ``oihwatch schedule`` runs in a
    worker thread, which no signal reaches, would go on retrying an NCBI outage for the whole
    ncbi.retry_budget (600 s), where systemd waits 90 s for a service to stop. The scheduler's
    signal handler sets this; the harvest checks it before every request, and a client whose
    ``sleep`` is ``Stop.sleep`` leaves its retry back-off as soon as it is set. A request under
    way is not cut: it ends within ncbi.timeout.
    """

    def check(self) -> None:
        if self.is_set():
            raise Stopped("stopped before it finished")

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that ends early, raising ``Stopped``, once this is set."""
        if self.wait(seconds):
            self.check()


class HarvestFailed(HarvestError):
    """A query failed; ``results`` holds what the queries before it did (committed and kept)."""

    def __init__(self, message: str, results: list[QueryResult]):
        super().__init__(message)
        self.results = results


def harvest_all(
    queries: Sequence[QuerySpec],
    options: HarvestOptions,
    store: Store,
    client: Searcher,
    *,
    today: date | None = None,
    since: date | None = None,
    until: date | None = None,
    only: str | None = None,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> list[QueryResult]:
    """Harvest every query (or the one named ``only``), then sweep those whose sweep is due.

    ``since``/``until`` harvest a chosen create-date range instead (no sweep; ``until`` stops
    at today); the watermark still only moves where that leaves no gap. Raises ``HarvestFailed`` at the first query
    that fails, after recording its run as failed; ``Stopped`` once ``stop`` is set; ``HarvestError`` before
    anything while the clock is behind. ``today`` is NCBI's date (``ncbi_today``) unless given.
    """
    today = today or ncbi_today(datetime.now(timezone.utc))
    if behind := clock_behind(store, today):
        raise HarvestError(f"{behind}; nothing is harvested until then")
    if since and since > today:
        raise InputError(f"since {since} is in the future (today is {today} at NCBI, US Eastern time): nothing can have been created yet")
    if since and until and since > until:
        raise InputError(f"since {since} is after until {until}; swap them")
    if until and until > today:
        until = today  # the watermark must never claim days that have not happened
    selected = [q for q in queries if only is None or q.name == only]
    if not selected:
        names = ", ".join(q.name for q in queries) or "none"
        raise ConfigError(f"no query named {only!r} in the configuration (queries: {names})" if only
                          else "no [[queries]] in the configuration: add one with a name and a PubMed term")
    results: list[QueryResult] = []
    for query in selected:
        try:
            results.append(harvest_query(query, options, store, client, today=today, since=since, until=until,
                                         progress=progress, stop=stop))
            if since is None and until is None and (sweep := sweep_query(query, options, store, client, today=today,
                                                                         progress=progress, stop=stop)):
                results.append(sweep)
        except HarvestError as exc:
            mark = get_watermark(store, query.name)
            resume = f"watermark left at {mark}" if mark else f"no watermark yet, so the next run starts again from {options.start}"
            raise HarvestFailed(
                f"harvest of query {query.name!r} failed, {resume} (records committed so far are kept): {exc}",
                results,
            ) from None
    return results


def harvest_query(
    query: QuerySpec,
    options: HarvestOptions,
    store: Store,
    client: Searcher,
    *,
    today: date,
    since: date | None = None,
    until: date | None = None,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> QueryResult:
    """Search the query's create-date windows and store the records not yet stored."""
    clock = _rewind_future_watermark(store, query.name, today)
    start, end = harvest_range(_watermark_date(store, query.name), options.start, options.lookback_days, today)
    start, end = since or start, until or end
    job = _Job(HARVEST, query, options, store, client, progress, CREATE_DATE, stop)
    return job.run(start, end, clock)


def _rewind_future_watermark(store: Store, query: str, today: date) -> str:
    """Move a watermark after ``today`` back to where the query's first search past today began (no later
    than today), and say so; '' when the watermark is not after today."""
    mark = _watermark_date(store, query)
    if mark is None or mark <= today:
        return ""
    began = first_window_past(store, HARVEST, query, today)
    back = min(today, date.fromisoformat(began)) if began else today
    rewind_watermark(store, query, str(back))
    return (f"the clock looks wrong: the watermark was {mark}, after today ({today} at NCBI); moved back to {back}, "
            "where the first search past today began")


def sweep_from(store: Store, query: str, sweep_days: int, today: date) -> tuple[date | None, str]:
    """Where the query's modification-date sweep starts if one is due today (else None), with a note when
    the clock looks wrong: the end of the last sweep, ``sweep_days`` after it; the first, ``sweep_days``
    back. A last sweep that ends after today is due now, from where the first sweep past today began."""
    last = success_recorded_last(store, SWEEP, query)
    if last is None:
        return today - timedelta(days=sweep_days), ""
    end = date.fromisoformat(last.window_end)
    if end > today:
        start = min(today, date.fromisoformat(first_window_past(store, SWEEP, query, today)))
        return start, (f"the clock looks wrong: the last sweep ended {end}, after today ({today} at NCBI); "
                       f"sweeping again from {start}")
    return (end, "") if end + timedelta(days=sweep_days) <= today else (None, "")


def sweep_query(
    query: QuerySpec, options: HarvestOptions, store: Store, client: Searcher, *, today: date,
    progress: Progress | None = None, stop: Stop | None = None,
) -> QueryResult | None:
    """Re-fetch the query's records modified since the last sweep, if a sweep is due (``sweep_from``)."""
    start, clock = sweep_from(store, query.name, options.sweep_days, today)
    if start is None:
        return None
    job = _Job(SWEEP, query, options, store, client, progress, MODIFICATION_DATE, stop)
    return job.run(start, today, clock)


class _Job:
    """One run (harvest or sweep) of one query over a date range, recorded in the runs table."""

    def __init__(self, step: str, query: QuerySpec, options: HarvestOptions, store: Store, client: Searcher,
                 progress: Progress | None, date_field: str, stop: Stop | None):
        self.step, self.query, self.options, self.store, self.client = step, query, options, store, client
        self.progress, self.date_field = progress, date_field
        self.stop = stop or Stop()  # one never set stops nothing
        self.warned: set[str] = set()
        self.term_matches = False  # PubMed found records for the query's term (without a window) in this run
        self.run_id = 0  # the runs row, once run() has started it

    def run(self, start: date, end: date, clock: str = "") -> QueryResult:
        span = Window(start, end) if start <= end else None
        result = QueryResult(self.query.name, self.step, span, clock=clock)
        self.run_id = start_run(self.store, self.step, self.query.name, str(start), str(end))
        try:
            self._windows(list(split_range(start, end)), result)
        except BaseException as exc:
            counts = (result.found, result.counts.new, result.counts.updated)
            if not finish_stopped(self.store, self.run_id, exc, *counts):
                # An error a user can fix (NCBI down, a full disk) says what to do; a bug names its class
                error = str(exc) if isinstance(exc, OihwatchError) else f"{type(exc).__name__}: {exc}"
                finish_run(self.store, self.run_id, "failed", *counts, error)
            raise
        result.watermark = get_watermark(self.store, self.query.name)
        finish_run(self.store, self.run_id, "ok", result.found, result.counts.new, result.counts.updated)
        logger.info("%s", result.summary())
        return result

    def _windows(self, windows: list[Window], result: QueryResult) -> None:
        pending = deque(windows)
        total = len(pending)
        while pending:
            window = pending.popleft()
            self.stop.check()
            search = self.client.search(windowed_term(self.query.term, window, self.date_field))
            self._warn(search.warnings)
            if search.count == 0 and search.not_found:
                self._check_term_matches(search.not_found)
            if search.count > self.client.max_hits:
                logger.info("%s: %s has %d hits, more than PubMed lists; halving it", self.query.name, window, search.count)
                pending.extendleft(reversed(window.halves(self.client.max_hits)))
                total += 1
                continue
            result.found += search.count
            self._store_window(window, search, result)
            result.windows += 1
            if self.progress:
                self.progress(ProgressUpdate(self.query.name, self.step, result.windows, total, result.counts.new + result.counts.updated))

    def _store_window(self, window: Window, search: SearchResult, result: QueryResult) -> None:
        """Fetch and commit the window's records batch by batch; the last commit also moves the watermark.

        Each batch is committed in a worker thread while the next is fetched: at NCBI's 10 requests/s
        the storing would otherwise add to the wait the rate limit imposes. The fetches stay in this
        (the main) thread, where Ctrl-C stops one at once, even in the back-off of its retries, and
        nothing more goes to NCBI; leaving the ``with`` block waits only for the commit under way,
        so every batch fetched before the interruption is kept. A batch NCBI would not complete is
        committed as far as it came, and fails the window before the watermark moves.
        """
        advance = self.step == HARVEST and extends_coverage(window, _watermark_date(self.store, self.query.name), self.options.start)
        batches = list(self._batches(search))
        if not batches and advance:
            set_watermark(self.store, self.query.name, str(window.end))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit") as committer:
            committing: Future[None] | None = None
            for number, (pmids, fetch) in enumerate(batches, 1):
                batch = _fetch_behind(lambda: self._fetch_asked(fetch, pmids), committing, self.stop)
                moves_watermark = number == len(batches) and advance and not batch.missing
                committing = committer.submit(self._commit, batch.articles, window, moves_watermark, result)
                if batch.missing:
                    committing.result()
                    raise HarvestError(f"efetch did not return {len(batch.missing)} of the {len(pmids)} records asked for "
                                       f"({_pmids(batch.missing)}), after asking {REFETCHES} more times by PMID; "
                                       "try again later")
            if committing is not None:
                committing.result()

    def _commit(self, articles: list[Article], window: Window, moves_watermark: bool, result: QueryResult) -> None:
        """Store one fetched batch and the run's progress in one transaction (with the watermark, for the last).
        The batch counts in ``result`` once committed: a full disk is mostly met at COMMIT, where SQLite
        writes the batch's pages, and the run must not claim records it could not store."""
        for article in articles:
            article.source = "eutils"
        with self.store.transaction():
            counts = self.store.upsert_articles(articles)
            record_progress(self.store, self.run_id, result.found, result.counts.new + counts.new,
                            result.counts.updated + counts.updated)
            if moves_watermark:
                set_watermark(self.store, self.query.name, str(window.end))
        result.counts += counts

    def _batches(self, search: SearchResult) -> Iterator[tuple[list[str], Callable[[], list[Article]]]]:
        """Fetches to make, each with the PMIDs it asks for: pages of the history server when every hit is
        wanted, else the wanted PMIDs (a harvest skips those stored as PubMed's record; a copy from
        another file is replaced). A search that is paged listed every hit (no more than ``max_hits``)."""
        size = self.options.batch_size
        wanted = list(search.pmids)
        if self.step == HARVEST:
            known = self.store.pubmed_pmids(search.pmids)
            wanted = [pmid for pmid in search.pmids if pmid not in known]
        if search.history is not None and len(wanted) == search.count:
            pages = _Pages(self.client, search.history, self.query.name)
            for start in range(0, search.count, size):
                page = wanted[start:start + size]
                yield page, lambda start=start, page=page: pages.fetch(start, page)
        else:
            for start in range(0, len(wanted), size):
                chunk = wanted[start:start + size]
                yield chunk, lambda chunk=chunk: self.client.fetch_pmids(chunk)

    def _fetch_asked(self, fetch: Callable[[], list[Article]], pmids: list[str]) -> _Batch:
        """``fetch()``'s records of ``pmids``, asking up to ``REFETCHES`` more times by PMID for those it left out.

        NCBI can answer with as many records as asked for but not the ones asked for: one twice, one
        nobody asked for, or a history page served after the search's list there shifted. Each passed
        a count of the records, and the record left out was lost for good behind the watermark.
        """
        articles = self._asked(fetch(), pmids)
        missing = _missing(articles, pmids)
        for _ in range(REFETCHES):
            if not missing:
                break
            logger.warning("query %s: efetch left out %d of the %d records asked for (%s); asking for them by PMID",
                           self.query.name, len(missing), len(pmids), _pmids(missing))
            self.stop.check()
            articles += self._asked(self.client.fetch_pmids(missing), missing)
            missing = _missing(articles, pmids)
        return _Batch(articles, missing)

    def _asked(self, articles: list[Article], pmids: list[str]) -> list[Article]:
        """The ``articles`` of ``pmids``. Any other is left out, with a warning: the query's search did not list it
        here, so storing it would put in the corpus (and a digest) a record the query may not find at all."""
        asked = set(pmids)
        others = sorted({article.pmid for article in articles} - asked)
        if others:
            logger.warning("query %s: efetch returned %d record(s) not asked for (%s); not stored",
                           self.query.name, len(others), _pmids(others))
        return [article for article in articles if article.pmid in asked]

    def _check_term_matches(self, not_found: tuple[str, ...]) -> None:
        """Raise ``HarvestError`` when the query's term matches no record in PubMed at all, PubMed not knowing
        a phrase or field of it: a typo ('hyperalgezia'), which PubMed answers with 0 hits and a note. Taken
        for an empty window, it moved the watermark over the whole backfill, and correcting the term later
        found none of it. A window with no hits is as often just quiet, when the unknown phrase is one of
        several OR'ed; so the term without a window decides, once a run."""
        if self.term_matches:
            return
        if self.client.search(self.query.term).count == 0:
            raise HarvestError(f"PubMed knows nothing of {', '.join(not_found)}, so the query matches no record at all: "
                               f"correct its term in config.toml ([[queries]] name = \"{self.query.name}\")")
        self.term_matches = True

    def _warn(self, warnings: tuple[str, ...]) -> None:
        for warning in warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                logger.warning("query %s: PubMed says %s", self.query.name, warning)


class _Pages:
    """The pages of one search on NCBI's history server; by PMID once the server no longer holds the search.

    The history server keeps a search for a limited time, and every page asked of it after that
    fails alike ('Unable to obtain query #1'): retried, that same request went on for the whole
    ncbi.retry_budget and ended as "NCBI may be down". The search listed every PMID of its pages,
    so the rest are fetched by PMID, which no expiry touches, in the same order.
    """

    def __init__(self, client: Searcher, history: History, query: str):
        self.client, self.history, self.query = client, history, query

    def fetch(self, start: int, pmids: list[str]) -> list[Article]:
        if self.history is not None:
            try:
                return self.client.fetch_page(self.history, start, len(pmids))
            except HistoryExpired:
                logger.warning("query %s: the search session on NCBI's history server expired; "
                               "fetching the rest of this window by PMID", self.query)
                self.history = None
        return self.client.fetch_pmids(pmids)


def _fetch_behind(fetch: Callable[[], T], committing: Future[None] | None, stop: Stop) -> T:
    """``fetch()`` (unless ``stop`` is set) while the batch before is ``committing``, then wait for that commit.

    A failed commit (a full disk, a locked file) is raised even when the fetch failed too (NCBI
    down, Ctrl-C, a stop): it came first, and it is what the operator must fix; the fetch's error
    rides along as its context. The batch that failed to commit was the last one submitted, so no
    later batch, and no watermark, is committed after it.
    """
    try:
        stop.check()
        return fetch()
    finally:
        if committing is not None:
            committing.result()


def _missing(articles: list[Article], pmids: list[str]) -> list[str]:
    """The ``pmids`` none of ``articles`` holds, in their order."""
    have = {article.pmid for article in articles}
    return [pmid for pmid in pmids if pmid not in have]


def _pmids(pmids: list[str], shown: int = 5) -> str:
    """'PMID 1, 2, 3, 4, 5 and 7 more': a few PMIDs for a log line or an error, never thousands."""
    more = f" and {len(pmids) - shown} more" if len(pmids) > shown else ""
    return f"PMID {', '.join(pmids[:shown])}{more}"


def _watermark_date(store: Store, query: str) -> date | None:
    mark = get_watermark(store, query)
    return date.fromisoformat(mark) if mark else None
