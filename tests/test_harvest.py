"""Incremental harvest against the loopback fake: completeness, watermarks, splitting, crashes, sweeps, the CLI."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from concurrent.futures import Future
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from corpus.errors import ConfigError, HarvestError, InputError, StorageError
from corpus.runs import STOPPED, get_watermark, last_runs, set_watermark
from corpus.store import Store
from fake_eutils import FAULTS, FakeClock
from harvester.eutils import EutilsClient
from harvester.harvest import HarvestFailed, Stop, Stopped, _fetch_behind, harvest_all
from harvester.ingest import ingest_files
from processes import signal_while_retrying, stderr_once_stopped
from size_limit import oihwatch_limited
from harvester.ratelimit import RateLimiter
from harvester.windows import Window, extends_coverage, harvest_range, ncbi_today, split_range, windowed_term
from oihwatch.cli import cli

TODAY = date(2024, 12, 31)
KEY = "s3cret-ncbi-key-0123456789"


@dataclass
class Query:
    name: str
    term: str


@dataclass
class Options:
    start: date = date(2000, 1, 1)
    lookback_days: int = 30
    batch_size: int = 100
    sweep_days: int = 7


QUERIES = [Query("oih", 'hyperalgesia AND opioid*[tiab]')]


def expected(records, start=date(2000, 1, 1), end=TODAY) -> set[str]:
    return {p for p, r in records.items() if start <= r.created <= end}


@pytest.fixture
def client(fake):
    clock = FakeClock()
    return EutilsClient(fake.url, tool="oihwatch-test", email="test@example.org", api_key=KEY, timeout=0.5,
                        retry_budget=300, limiter=RateLimiter(10, clock, clock.sleep), clock=clock, sleep=clock.sleep,
                        rng=random.Random(3))


def harvest(store, client, today=TODAY, options=None, **kwargs):
    return harvest_all(QUERIES, options or Options(), store, client, today=today, **kwargs)


def stored(store) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT pmid FROM articles")}


# -- pure windows ------------------------------------------------------------------------------


@given(st.dates(date(1990, 1, 1), date(2030, 1, 1)), st.integers(0, 5000), st.integers(1, 400))
def test_windows_cover_a_range_without_gap_or_overlap(start, length, max_days):
    end = start + timedelta(days=length)
    windows = list(split_range(start, end, max_days))
    assert windows[0].start == start and windows[-1].end == end
    assert all(w.days <= max_days for w in windows)
    assert all(b.start == a.end + timedelta(days=1) for a, b in zip(windows, windows[1:]))
    if windows[0].days > 1:
        left, right = windows[0].halves()
        assert (left.start, right.end, right.start) == (windows[0].start, windows[0].end, left.end + timedelta(days=1))


def test_window_terms_and_ranges():
    window = Window(date(2026, 11, 1), date(2026, 11, 27))
    assert windowed_term(" pain ", window) == '(pain) AND ("2026/11/01"[crdt] : "2026/11/27"[crdt])'
    assert harvest_range(None, date(2000, 1, 1), 30, TODAY) == (date(2000, 1, 1), TODAY)
    assert harvest_range(date(2024, 12, 20), date(2000, 1, 1), 30, TODAY) == (date(2024, 11, 20), TODAY)
    assert extends_coverage(Window(date(2024, 12, 21), TODAY), date(2024, 12, 20), date(2000, 1, 1))
    assert not extends_coverage(Window(date(2024, 12, 22), TODAY), date(2024, 12, 20), date(2000, 1, 1))
    with pytest.raises(HarvestError, match="narrow the query"):
        Window(TODAY, TODAY).halves()


# -- harvesting --------------------------------------------------------------------------------


def test_a_first_run_backfills_every_record_through_the_history_server(fake, store, client, records):
    result, sweep = harvest(store, client)
    want = expected(records)
    assert stored(store) == want and result.counts.new == result.found == len(want)
    assert sweep.step == "sweep" and sweep.span == Window(TODAY - timedelta(days=7), TODAY) and sweep.counts.new == 0
    assert get_watermark(store, "oih") == str(TODAY)
    assert all("WebEnv" in r.params for r in fake.requests("efetch"))  # paged, not by ID
    assert all(store.get_article(p).source == "eutils" for p in list(want)[:5])
    run = last_runs(store)[("harvest", "oih")]
    assert (run.status, run.window_start, run.window_end, run.found, run.new, run.error) == (
        "ok", "2000-01-01", str(TODAY), len(want), len(want), "")
    assert result.summary() == f"oih: harvest 2000-01-01..{TODAY}: {len(want)} found, {len(want)} new, 0 updated; watermark {TODAY}"


def test_a_later_run_looks_back_and_fetches_nothing_already_stored(fake, store, client):
    harvest(store, client)
    fetched = len(fake.requests("efetch"))
    results = harvest(store, client, today=TODAY + timedelta(days=3))
    assert results[0].span == Window(TODAY - timedelta(days=30), TODAY + timedelta(days=3))
    assert results[0].counts.new == 0 and len(fake.requests("efetch")) == fetched


def test_a_record_created_today_but_published_two_years_ago_is_found(fake, store, client, records):
    late = "38011560"  # a 2023 review; pretend NLM only now created its citation
    fake.set_dates(late, created=TODAY + timedelta(days=400))
    harvest(store, client)
    assert late not in stored(store)
    today = TODAY + timedelta(days=400)
    set_watermark(store, "oih", str(today - timedelta(days=1)))
    [result, _sweep] = harvest(store, client, today=today)
    assert late in stored(store) and result.counts.new == 1
    assert store.get_article(late).pub_date_sort < str(today - timedelta(days=365))


def test_a_record_stored_from_a_reference_manager_file_is_replaced_by_pubmeds_record(fake, store, client, tmp_path):
    """A RIS copy has no create date, MeSH or XML, so no digest can list it: the harvest that finds it fetches it."""
    pmid = "38011560"
    fake.set_dates(pmid, created=TODAY - timedelta(days=2))
    copy = tmp_path / "colleague.ris"
    copy.write_text(f"TY  - JOUR\nTI  - Ketamine and OIH\nAN  - {pmid}\nER  - \n", encoding="utf-8")
    ingest_files(store, [copy])
    [result] = harvest(store, client, since=TODAY - timedelta(days=7))
    article = store.get_article(pmid)
    assert result.counts.updated == 1 and article.source == "eutils"
    assert article.raw_xml and article.created and article.mesh
    [again] = harvest(store, client, since=TODAY - timedelta(days=7))
    assert again.counts.updated == again.counts.new == 0


def test_a_window_over_the_cap_is_split_until_each_part_fits(fake, store, client, records):
    fake.cap = client.max_hits = 60  # NCBI's 9,999, scaled to the 822 real records
    result = harvest(store, client, options=Options(batch_size=50))[0]
    want = expected(records)
    assert stored(store) == want and result.found == len(want)
    searches = fake.requests("esearch")
    assert len(searches) > result.windows > len(list(split_range(date(2000, 1, 1), TODAY)))
    assert all(int(r.params["retmax"]) >= 60 for r in searches)


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_kind_still_ends_with_every_record_once(fake, store, client, records, fault):
    fake.faults.extend([fault, fault, "ok", fault])
    [result] = harvest(store, client, since=date(2016, 1, 1), until=date(2018, 12, 31))
    want = expected(records, date(2016, 1, 1), date(2018, 12, 31))
    assert stored(store) == want and result.counts.new == len(want)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mixed_random_faults_end_with_every_record_once(fake, store, client, records, seed):
    fake.fault_rate, fake.rng, fake.delay = 0.2, random.Random(seed), 0.6
    result = harvest(store, client, options=Options(batch_size=150))[0]
    want = expected(records)
    assert stored(store) == want and result.counts.new == len(want)
    assert get_watermark(store, "oih") == str(TODAY)
    assert any(r.fault for r in fake.seen)


class Crashing:
    """A client that dies (like a killed process) on its n-th fetch."""

    def __init__(self, client, crash_on: int):
        self.client, self.crash_on, self.fetches = client, crash_on, 0
        self.max_hits = client.max_hits

    def search(self, term):
        return self.client.search(term)

    def _fetch(self, call, *args):
        self.fetches += 1
        if self.fetches == self.crash_on:
            raise KeyboardInterrupt("killed")
        return call(*args)

    def fetch_page(self, *args):
        return self._fetch(self.client.fetch_page, *args)

    def fetch_pmids(self, *args):
        return self._fetch(self.client.fetch_pmids, *args)


def test_a_harvest_killed_between_batches_stores_every_record_once_when_run_again(fake, store, client, records):
    with pytest.raises(KeyboardInterrupt):
        harvest(store, Crashing(client, crash_on=5), options=Options(batch_size=20))
    first = stored(store)
    mark = get_watermark(store, "oih")
    assert first and mark < str(TODAY)
    # the watermark's promise: every record created up to it is stored
    assert {p for p in expected(records) if str(records[p].created) <= mark} <= first
    run = last_runs(store)[("harvest", "oih")]  # Ctrl-C: interrupted, as a killed run is, not a failure
    assert (run.status, run.error) == ("interrupted", STOPPED) and run.new == len(first)
    result = harvest(store, client, options=Options(batch_size=20))[0]
    want = expected(records)
    assert stored(store) == want and result.counts.new == len(want - first)
    assert result.span.start == date.fromisoformat(mark) - timedelta(days=30)


def test_a_run_killed_outright_shows_what_it_had_stored(fake, store, client, records, monkeypatch):
    """SIGKILL leaves no chance to record the end of a run; its row still counts every committed record."""
    monkeypatch.setattr("harvester.harvest.finish_run", lambda *args, **kwargs: None)
    monkeypatch.setattr("harvester.harvest.finish_stopped", lambda *args, **kwargs: True)
    with pytest.raises(KeyboardInterrupt):
        harvest(store, Crashing(client, crash_on=5), options=Options(batch_size=20))
    run = last_runs(store)[("harvest", "oih")]
    assert run.status == "running" and run.new == len(stored(store)) > 0 and run.found >= run.new


def test_a_commit_that_fails_while_the_next_fetch_fails_too_is_the_error_reported(fake, store, client, records, monkeypatch):
    """The second batch cannot be stored (the disk is full) while NCBI fails the third: the disk is what to fix."""
    harvest(store, client, until=date(2000, 12, 31))
    before = stored(store)
    upsert, calls = store.upsert_articles, []

    def fill_the_disk_on_the_second_batch(articles):
        calls.append(len(articles))
        if len(calls) == 2:  # SQLite's page limit: every page it needs next is one too many, as on a full disk
            pages = store.db.execute("PRAGMA page_count").fetchone()[0]
            store.db.execute(f"PRAGMA max_page_count = {pages}")
        return upsert(articles)

    monkeypatch.setattr(store, "upsert_articles", fill_the_disk_on_the_second_batch)
    fake.faults.extend([None, None, None] + ["503"] * 1000)  # the search and two efetches answered, then NCBI fails
    with pytest.raises(StorageError, match="the disk is full; free space and run it again") as failure:
        harvest(store, client, since=date(2001, 1, 1), until=date(2001, 12, 31), options=Options(batch_size=5))
    assert not isinstance(failure.value, HarvestError) and len(fake.requests("efetch")) > 3
    assert get_watermark(store, "oih") == "2000-12-31" and len(stored(store)) == len(before) + 5 == len(before) + calls[0]
    run = last_runs(store)[("harvest", "oih")]
    assert (run.status, run.new, run.error) == ("failed", 5, str(failure.value))  # not 'StorageError: cannot write ...'
    store.db.execute("PRAGMA max_page_count = 1000000000")
    fake.faults.clear()
    [result] = harvest(store, client, since=date(2001, 1, 1), until=date(2001, 12, 31), options=Options(batch_size=5))
    assert stored(store) == expected(records, end=date(2001, 12, 31)) and get_watermark(store, "oih") == "2001-12-31"
    assert result.counts.new == len(expected(records, date(2001, 1, 1), date(2001, 12, 31))) - 5


def committed(error: BaseException | None = None) -> Future:
    """A batch's commit, done: stored, or failed with ``error``."""
    commit = Future()
    if error is None:
        commit.set_result(None)
    else:
        commit.set_exception(error)
    return commit


def test_a_fetch_behind_a_commit_returns_its_batch_only_once_that_commit_is_stored():
    batch = ["a record"]
    assert _fetch_behind(lambda: batch, None, Stop()) is batch
    assert _fetch_behind(lambda: batch, committed(), Stop()) is batch
    with pytest.raises(StorageError, match="disk is full") as failure:
        _fetch_behind(lambda: batch, committed(StorageError("database or disk is full")), Stop())
    assert failure.value.__context__ is None


@pytest.mark.parametrize("fails, stopped", [(HarvestError("efetch failed"), False), (KeyboardInterrupt(), False),
                                             (None, True)])
def test_a_failed_commit_wins_over_a_failed_fetch_which_rides_along_as_its_context(fails, stopped):
    """NCBI down, Ctrl-C, or a stop before the fetch: the full disk is what to fix, and it is what is raised."""
    def fetch():
        raise fails

    stop = Stop()
    if stopped:
        stop.set()
    disk_full = StorageError("database or disk is full")
    with pytest.raises(StorageError) as failure:
        _fetch_behind(fetch, committed(disk_full), stop)
    assert failure.value is disk_full
    assert isinstance(failure.value.__context__, Stopped) if stopped else failure.value.__context__ is fails
    with pytest.raises(Stopped if stopped else type(fails)):  # behind a commit that was stored, the fetch's own error
        _fetch_behind(fetch, committed(), stop)


def test_an_outage_beyond_the_retry_budget_fails_loudly_and_keeps_the_watermark(fake, store, client, records):
    late = fake.records.pop("38011560")
    harvest(store, client)
    fake.records[late.pmid] = replace(late, created=TODAY + timedelta(days=2))
    fake.faults.extend(["503"] * 1000)
    with pytest.raises(HarvestFailed) as failure:
        harvest(store, client, today=TODAY + timedelta(days=2))
    message = str(failure.value)
    assert "harvest of query 'oih' failed, watermark left at 2024-12-31" in message and "try again later" in message
    assert KEY not in message
    assert get_watermark(store, "oih") == str(TODAY)
    run = last_runs(store)[("harvest", "oih")]
    assert run.status == "failed" and "esearch failed" in run.error and KEY not in run.error
    assert isinstance(failure.value, HarvestError) and failure.value.results == []
    fake.faults.clear()
    [result] = harvest(store, client, today=TODAY + timedelta(days=2))  # no sweep: the last was 2 days ago
    assert result.counts.new == 1 and get_watermark(store, "oih") == str(TODAY + timedelta(days=2))


def test_ctrl_c_while_a_fetch_is_retrying_stops_at_once_and_sends_nothing_more(fake, tmp_path):
    """The retries of an outage can last the whole ncbi.retry_budget; Ctrl-C must not wait for them."""
    fake.faults.extend([None] + ["503"] * 10_000)  # the search is answered, then every efetch fails
    config = tmp_path / "config.toml"
    config.write_text(f'[ncbi]\nemail = "test@example.org"\nbase_url = "{fake.url}"\nretry_budget = 120\n'
                      f'[[queries]]\nname = "oih"\nterm = "hyperalgesia"\n', encoding="utf-8")
    harvest = subprocess.Popen(
        [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config),
         "harvest", "--since", "2023-01-01", "--until", "2023-12-31"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    sent = signal_while_retrying(harvest, fake, signal.SIGINT)
    err = stderr_once_stopped(harvest, 15, "oihwatch harvest")
    assert harvest.returncode == 1 and err.splitlines()[-1] == "Error: interrupted; everything committed so far is kept"
    assert len(fake.seen) == sent


def test_a_first_harvest_that_fails_says_where_the_next_run_starts(fake, store, client):
    fake.faults.extend(["503"] * 1000)
    with pytest.raises(HarvestFailed, match=r"no watermark yet, so the next run starts again from \d{4}-\d{2}-\d{2}"):
        harvest(store, client)
    assert get_watermark(store, "oih") is None


def test_an_explicit_range_past_the_watermark_does_not_claim_the_gap(fake, store, client):
    harvest(store, client, since=date(2020, 1, 1), until=date(2020, 12, 31))
    assert get_watermark(store, "oih") is None
    harvest(store, client, until=date(2010, 6, 30))
    assert get_watermark(store, "oih") == "2010-06-30"


def test_the_sweep_updates_revised_records_when_due(fake, store, client):
    harvest(store, client)
    pmid = "38011560"
    old_title = store.get_article(pmid).title
    fake.revise(pmid, old_title.encode()[:20], b"REVISED " + old_title.encode()[:20], modified=TODAY + timedelta(days=5))
    results = harvest(store, client, today=TODAY + timedelta(days=3))
    assert [r.step for r in results] == ["harvest"]  # the first sweep ran at TODAY, the next is due at +7
    results = harvest(store, client, today=TODAY + timedelta(days=7))
    sweep = results[1]
    assert sweep.step == "sweep" and sweep.span == Window(TODAY, TODAY + timedelta(days=7))
    assert sweep.counts.updated == 1 and store.get_article(pmid).title.startswith("REVISED")
    assert last_runs(store)[("sweep", "oih")].updated == 1


class PassAt(datetime):
    """``datetime`` whose ``now()`` is the time a test's pass runs at."""

    moment = datetime(2024, 12, 31, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))

    @classmethod
    def now(cls, tz=None):
        return cls.moment.astimezone(tz)


def test_the_sweep_covers_ncbis_whole_day_when_the_machines_date_runs_ahead(fake, store, client, monkeypatch):
    """At 02:30 in Berlin it is 20:30 the evening before at NCBI: a revision NCBI makes later that
    evening is dated that day, and the next sweep must cover it."""
    berlin = ZoneInfo("Europe/Berlin")
    assert ncbi_today(datetime(2024, 12, 31, 2, 30, tzinfo=berlin)) == date(2024, 12, 30)
    assert ncbi_today(datetime(2024, 12, 31, 6, 30, tzinfo=berlin)) == date(2024, 12, 31)
    monkeypatch.setattr("harvester.harvest.datetime", PassAt)
    first = harvest_all(QUERIES, Options(), store, client)
    assert [r.span.end for r in first] == [date(2024, 12, 30)] * 2
    pmid = "38011560"
    title = store.get_article(pmid).title.encode()[:20]
    fake.revise(pmid, title, b"RETRACTED: " + title, modified=date(2024, 12, 30))
    monkeypatch.setattr(PassAt, "moment", PassAt.moment + timedelta(days=7))
    sweep = harvest_all(QUERIES, Options(), store, client)[1]
    assert sweep.span == Window(date(2024, 12, 30), date(2025, 1, 6)) and sweep.counts.updated == 1
    assert store.get_article(pmid).title.startswith("RETRACTED")


def test_a_run_whose_clock_ran_ahead_loses_no_record_once_the_clock_is_right(fake, store, client, records):
    """A run with the clock 60 days ahead left its watermark and its sweep's end in the future. Records
    PubMed creates after that run really ran are found once the clock is right, and revisions are swept."""
    later = sorted(records)[:3]
    kept = {pmid: fake.records.pop(pmid) for pmid in later}  # not created yet at NCBI
    harvest(store, client)
    harvest(store, client, today=TODAY + timedelta(days=60))  # searches up to a day that has not come
    assert get_watermark(store, "oih") == str(TODAY + timedelta(days=60))
    for pmid, record in kept.items():
        fake.records[pmid] = replace(record, created=TODAY + timedelta(days=5), modified=TODAY + timedelta(days=5))
    right = TODAY + timedelta(days=40)
    found, sweep = harvest(store, client, today=right)
    assert set(later) <= stored(store) and found.counts.new == 3
    assert found.summary().endswith(f"; watermark {right}; the clock looks wrong: the watermark was 2025-03-01, after "
                                    "today (2025-02-09 at NCBI); moved back to 2024-12-01, where the first search past today began")
    assert sweep.span == Window(TODAY, right) and sweep.clock == (
        "the clock looks wrong: the last sweep ended 2025-03-01, after today (2025-02-09 at NCBI); sweeping again from 2024-12-31")
    assert [r.step for r in harvest(store, client, today=right + timedelta(days=1))] == ["harvest"]  # healed: no sweep due


def test_a_clock_behind_harvests_nothing_and_says_so(fake, store, client):
    harvest(store, client)
    (latest,) = store.db.execute("SELECT MAX(created) FROM articles").fetchone()
    behind = date.fromisoformat(latest) - timedelta(days=30)
    runs = store.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    with pytest.raises(HarvestError) as raised:
        harvest(store, client, today=behind)
    assert str(raised.value) == (f"the clock looks wrong: by this machine's clock it is {behind}, but PubMed created records "
                                 f"stored here on {latest}; set the clock right (NTP); nothing is harvested until then")
    assert store.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == runs and get_watermark(store, "oih") == str(TODAY)


def test_bad_choices_are_one_line_errors(store, client):
    with pytest.raises(ConfigError, match="no query named 'nope'"):
        harvest(store, client, only="nope")
    with pytest.raises(InputError, match="after until"):
        harvest(store, client, since=TODAY, until=TODAY - timedelta(days=1))
    with pytest.raises(InputError, match=f"since {TODAY + timedelta(days=1)} is in the future"):
        harvest(store, client, since=TODAY + timedelta(days=1))


def test_an_until_in_the_future_stops_at_today(store, client, records):
    """A watermark past today would make every later run search nothing until that day came."""
    [result] = harvest(store, client, until=TODAY + timedelta(days=400))
    assert result.span == Window(Options.start, TODAY)
    assert get_watermark(store, "oih") == str(TODAY)
    assert stored(store) == expected(records)


# -- the command line --------------------------------------------------------------------------


def test_the_harvest_command_prints_one_line_per_query(fake, tmp_path, monkeypatch, records):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ncbi]\nemail = "test@example.org"\nbase_url = "{fake.url}"\nretry_budget = 5\n'
        f'[[queries]]\nname = "oih"\nterm = "hyperalgesia"\n[harvest]\nstart = 2024-01-01\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NCBI_API_KEY", KEY)
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(config), "harvest", "--since", "2024-01-01", "--until", "2024-12-31"])
    want = expected(records, date(2024, 1, 1), date(2024, 12, 31))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"oih: harvest 2024-01-01..2024-12-31: {len(want)} found, {len(want)} new, 0 updated; watermark 2024-12-31"
    with Store(tmp_path / "oihwatch.db") as db:
        assert db.count_articles() == len(want)
    bad = runner.invoke(cli, ["-c", str(config), "harvest", "--query", "nope"])
    assert bad.exit_code == 2 and "no query named 'nope'" in bad.output
    help_text = runner.invoke(cli, ["harvest", "--help"]).output
    assert "Example:\n      oihwatch harvest --since 2024-01-01 --query oih" in help_text


def test_a_batch_whose_commit_fails_is_not_counted_in_its_run(fake, tmp_path):
    """SQLite writes a batch's pages at COMMIT, so a full disk or a size limit is met there, after the
    batch was counted: a run that had stored 286 records was recorded as '347 new'."""
    config = tmp_path / "config.toml"
    config.write_text(f'[ncbi]\nemail = "test@example.org"\nbase_url = "{fake.url}"\n[harvest]\nbatch_size = 20\n'
                      f'[[queries]]\nname = "oih"\nterm = "hyperalgesia"\n', encoding="utf-8")
    result = oihwatch_limited(600_000, "-c", str(config), "harvest", "--since", "2000-01-01", "--until", "2024-12-31")
    assert result.returncode == 1 and "oihwatch.db-wal reached this process's file-size limit" in result.stderr
    with Store(tmp_path / "oihwatch.db") as store:
        run = last_runs(store)[("harvest", "oih")]
        assert run.status == "failed" and run.new == len(stored(store)) > 0
