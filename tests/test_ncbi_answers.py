"""NCBI answers that look whole but are not: efetch records other than those asked for, against the loopback fake."""

from __future__ import annotations

import random
import re
from collections import deque
from datetime import date

import pytest

from corpus.runs import get_watermark, last_runs
from corpus.store import Store
from fake_eutils import FakeClock, FakeEutils
from harvester.eutils import EutilsClient
from harvester.harvest import HarvestFailed, harvest_all
from harvester.ratelimit import RateLimiter
from test_harvest import QUERIES, TODAY, Options, expected, stored

START = date(2019, 1, 1)  # six yearly windows of 15 to 51 real records each
OPTIONS = Options(start=START, batch_size=10)
UNASKED = "77777777"


class Misanswering(FakeEutils):
    """The fake, whose next efetch answers (``answers``) hold as many records as asked, but not the ones asked for:
    'dup' (the last is a second copy of the first), 'unasked' (the last is a record under a PMID nobody asked for),
    'shift' (the search's list on the history server gains the record ``newcomer`` at the top before this page)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.answers: deque[str | None] = deque()
        self.newcomer = ""

    def _efetch(self, params: dict[str, str]) -> tuple[int, bytes]:
        how = self.answers.popleft() if self.answers else None
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
def store():
    with Store(":memory:") as db:
        yield db


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
