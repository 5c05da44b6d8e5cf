"""NCBI answers that pass for whole ones, or for passing failures, but are not, against the loopback fake: efetch
records other than those asked for, a search PubMed could not read in part (a phrase it does not know is left out,
and a term of nothing else matches nothing), and a search its history server no longer holds."""

from __future__ import annotations

import json
import logging
import random
import re
from collections import deque
from datetime import date

import pytest
from click.testing import CliRunner

from corpus.runs import get_watermark, last_runs
from fake_eutils import FakeClock, FakeEutils
from harvester.eutils import EutilsClient
from harvester.harvest import HarvestFailed, harvest_all
from harvester.ratelimit import RateLimiter
from oihwatch.cli import cli
from test_harvest import QUERIES, TODAY, Options, Query, expected, stored

START = date(2019, 1, 1)  # six yearly windows of 15 to 51 real records each
OPTIONS = Options(start=START, batch_size=10)
UNASKED = "77777777"
TYPO = '"opioid-induced hyperalgezia"'
# PubMed's answer to TYPO alone (HTTP 200): no record, and why.
NOTHING = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart>'
    b"<QueryKey>1</QueryKey><WebEnv>MCID_0</WebEnv><IdList/><TranslationSet/>"
    b"<ErrorList><PhraseNotFound>hyperalgezia</PhraseNotFound></ErrorList><WarningList>"
    b'<QuotedPhraseNotFound>"opioid-induced hyperalgezia"</QuotedPhraseNotFound><OutputMessage>No items found.</OutputMessage>'
    b"</WarningList></eSearchResult>"
)
# NCBI's answer to a page asked of a search its history server no longer holds (HTTP 200).
LOST = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eFetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
        b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
        b"<eFetchResult>\n\t<ERROR>Unable to obtain query #1</ERROR>\n</eFetchResult>\n")


class Misanswering(FakeEutils):
    """The fake, whose next efetch answers (``answers``) hold as many records as asked, but not the ones asked for:
    'dup' (the last is a second copy of the first), 'unasked' (the last is a record under a PMID nobody asked for),
    'shift' (the search's list on the history server gains the record ``newcomer`` at the top before this page);
    'expire' (the history server loses the search: this page and every later one asked of it answer LOST).
    A term holding TYPO is answered as PubMed does: alone, nothing; OR'ed with another term, that term's hits (every
    record here) and a note that the phrase was not found."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.answers: deque[str | None] = deque()
        self.newcomer = ""
        self.expired: set[str] = set()

    def _esearch(self, params: dict[str, str]) -> tuple[int, bytes]:
        status, body = super()._esearch(params)
        term = params.get("term", "")
        if TYPO not in term:
            return status, body
        if " OR " not in term:
            return status, NOTHING
        return status, body.replace(b"</eSearchResult>", b"<ErrorList><PhraseNotFound>hyperalgezia</PhraseNotFound>"
                                                           b"</ErrorList></eSearchResult>")

    def _efetch(self, params: dict[str, str]) -> tuple[int, bytes]:
        how = self.answers.popleft() if self.answers else None
        if how == "expire":
            self.expired.add(params["WebEnv"])
        if params.get("WebEnv") in self.expired:
            return 200, LOST
        if how == "shift" and params.get("WebEnv") in self.histories:
            self.histories[params["WebEnv"]].insert(0, self.newcomer)
        status, body = super()._efetch(params)
        articles = re.findall(rb"<PubmedArticle>.*?</PubmedArticle>", body, re.S)
        if how == "dup":
            body = body.replace(articles[-1], articles[0])
        elif how == "unasked":
            body = body.replace(articles[-1], re.sub(rb"(<PMID[^>]*>)\d+", rb"\g<1>" + UNASKED.encode(), articles[0], count=1))
        return status, body


@pytest.fixture
def fake(records):
    with Misanswering(records) as server:
        server.newcomer = min(p for p, r in records.items() if r.created < START)  # outside every window searched
        yield server


@pytest.fixture
def client(fake):
    clock = FakeClock()
    return EutilsClient(fake.url, tool="oihwatch-test", email="test@example.org", timeout=0.5, retry_budget=60,
                        limiter=RateLimiter(10, clock, clock.sleep), clock=clock, sleep=clock.sleep, rng=random.Random(3))


def harvest(store, client):
    return harvest_all(QUERIES, OPTIONS, store, client, today=TODAY)


def by_id(fake) -> list[list[str]]:
    return [r.params["id"].split(",") for r in fake.requests("efetch") if "id" in r.params]


@pytest.mark.parametrize("how", ["dup", "unasked", "shift"])
def test_an_answer_with_the_right_count_but_other_records_is_completed_by_pmid(fake, store, client, records, how):
    """Counting records let each of these through as whole: the record left out was lost for good behind the watermark."""
    fake.answers.extend([None, how])  # the second page of the first window
    harvest(store, client)
    want = expected(records, START)
    assert stored(store) == want and get_watermark(store, "oih") == str(TODAY)
    assert UNASKED not in stored(store) and fake.newcomer not in stored(store)
    newest_first = sorted((p for p in want if records[p].created.year == 2019), key=lambda p: (records[p].created, int(p)),
                          reverse=True)
    assert by_id(fake) == [[newest_first[10:20][-1]]]  # the last of the second page, asked for again by PMID


def test_records_ncbi_never_returns_fail_the_window_and_a_healthy_rerun_gets_them(fake, store, client, records):
    fake.answers.extend(["unasked"] * 4)  # the first page and each request by PMID for what it left out
    with pytest.raises(HarvestFailed) as failure:
        harvest(store, client)
    message = str(failure.value)
    assert "\n" not in message and "no watermark yet" in message
    assert re.search(r"efetch did not return 1 of the 10 records asked for \(PMID \d+\), after asking 3 more times by PMID",
                     message), message
    assert get_watermark(store, "oih") is None and UNASKED not in stored(store)
    assert len(stored(store)) == 9 and len(by_id(fake)) == 3  # what came is kept; the requests are bounded
    run = last_runs(store)[("harvest", "oih")]
    assert (run.status, run.new) == ("failed", 9) and "did not return 1 of the 10" in run.error
    harvest(store, client)
    assert stored(store) == expected(records, START) and get_watermark(store, "oih") == str(TODAY)


def test_a_request_by_pmid_that_returns_another_record_is_asked_again(fake, store, client, records):
    """The path a later run takes (some PMIDs of the window already stored): the same check, the same repair."""
    until = sorted(records[p].created for p in expected(records, START))[5]  # so the next run looks back over a stored record
    harvest_all(QUERIES, OPTIONS, store, client, today=TODAY, until=until)
    fake.answers.append("unasked")
    harvest(store, client)
    chunk, again = by_id(fake)[:2]
    assert again == chunk[-1:]  # the one the answer left out
    assert stored(store) == expected(records, START) and UNASKED not in stored(store)


def test_a_search_the_history_server_lost_is_fetched_by_pmid_not_asked_again(fake, store, client, records, caplog):
    """Asked again with the same WebEnv for the whole retry budget, it failed as if NCBI were down."""
    fake.answers.extend([None, "expire"])  # the second page of the first window
    with caplog.at_level(logging.WARNING, logger="harvester.harvest"):
        harvest(store, client)
    assert stored(store) == expected(records, START) and get_watermark(store, "oih") == str(TODAY)
    [lost] = fake.expired
    assert [r.fault for r in fake.requests("efetch") if r.params.get("WebEnv") == lost] == [None, None]  # no retry
    newest_first = sorted((p for p in expected(records, START) if records[p].created.year == 2019),
                          key=lambda p: (records[p].created, int(p)), reverse=True)
    assert by_id(fake) == [newest_first[10:20]]  # the rest of that window; the next windows page their own searches
    assert "query oih: the search session on NCBI's history server expired; fetching the rest of this window by PMID" in caplog.messages


# -- a query PubMed cannot read in part ----------------------------------------------------------


def test_a_query_pubmed_cannot_read_fails_and_leaves_the_watermark_for_the_corrected_term(fake, store, client, records):
    """Taken for an empty window, it moved the watermark over the whole backfill, which the corrected term never searched."""
    with pytest.raises(HarvestFailed) as failure:
        harvest_all([Query("oih", TYPO)], Options(start=START), store, client, today=TODAY)
    assert str(failure.value) == (
        "harvest of query 'oih' failed, no watermark yet, so the next run starts again from 2019-01-01 (records committed "
        'so far are kept): PubMed knows nothing of hyperalgezia, "opioid-induced hyperalgezia", so the query matches no '
        'record at all: correct its term in config.toml ([[queries]] name = "oih")')
    assert get_watermark(store, "oih") is None
    run = last_runs(store)[("harvest", "oih")]
    assert run.status == "failed" and run.error.startswith("PubMed knows nothing of hyperalgezia")
    harvest_all([Query("oih", "opioid-induced hyperalgesia")], Options(start=START), store, client, today=TODAY)
    assert stored(store) == expected(records, START) and get_watermark(store, "oih") == str(TODAY)


def test_a_window_with_no_hits_of_a_query_that_has_some_elsewhere_is_only_quiet(fake, store, client, records, caplog):
    """An unknown phrase OR'ed with known ones leaves the query its hits: a window without any is empty, and passed."""
    query = Query("oih", f"hyperalgesia OR {TYPO}")
    quiet, today = date(2025, 6, 1), date(2025, 9, 1)  # no record of the fake was created in between
    with caplog.at_level(logging.WARNING, logger="harvester.harvest"):
        found, sweep = harvest_all([query], Options(start=quiet), store, client, today=today)
        assert found.found == sweep.found == 0 and get_watermark(store, "oih") == str(today)
        harvest_all([query], Options(start=quiet), store, client, today=today, since=START, until=date(2019, 12, 31))
    assert stored(store) == expected(records, START, date(2019, 12, 31))  # hits with the note: stored, with a warning
    assert caplog.messages.count("query oih: PubMed says PhraseNotFound: hyperalgezia") == 3
    whole = [r for r in fake.requests("esearch") if r.params["term"] == query.term]
    assert len(whole) == 2  # once for the harvest, once for the sweep: not for every window


def test_the_command_says_so_in_one_line_and_status_shows_it(fake, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[ncbi]\nemail = "test@example.org"\nbase_url = "{fake.url}"\nretry_budget = 5\n'
                      f"[[queries]]\nname = \"oih\"\nterm = '{TYPO}'\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(config), "harvest"])
    assert result.exit_code == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: harvest of query 'oih' failed") and 'knows nothing of hyperalgezia, "opioid-induced' in line
    status = json.loads(runner.invoke(cli, ["-c", str(config), "status", "--json"]).stdout)
    [harvest] = [run for run in status["last_runs"] if run["step"] == "harvest"]
    assert harvest["status"] == "failed" and "correct its term in config.toml" in harvest["error"]
