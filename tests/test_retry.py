"""How the retries of a request end: what the error says NCBI did and what to do about it."""

from __future__ import annotations

import random
import re

import pytest

from corpus.errors import HarvestError
from harvester.eutils import EutilsClient
from harvester.ratelimit import RateLimiter
from harvester.retry import RetryPolicy, TransientError, call_with_retries
from fake_eutils import FakeClock


def failing(*errors: TransientError):
    """An attempt that raises ``errors`` in turn, then the last one for ever."""
    queue = list(errors)

    def attempt():
        raise queue.pop(0) if len(queue) > 1 else queue[0]

    return attempt


def give_up(attempt, budget: float) -> tuple[str, FakeClock]:
    clock = FakeClock()
    with pytest.raises(HarvestError) as failure:
        call_with_retries(attempt, "esearch", RetryPolicy(budget=budget), clock=clock, sleep=clock.sleep, rng=random.Random(0))
    return str(failure.value), clock


def test_a_retry_after_longer_than_the_budget_says_ncbi_asked_for_that_wait(httpserver):
    httpserver.expect_request("/esearch.fcgi").respond_with_data(
        '{"error":"API rate limit exceeded","count":"4","limit":"3"}', status=429, headers={"Retry-After": "3600"},
        content_type="application/json")
    clock = FakeClock()
    client = EutilsClient(httpserver.url_for("/"), tool="t", email="e@example.org", retry_budget=8, clock=clock,
                          sleep=clock.sleep, limiter=RateLimiter(10, clock, clock.sleep))
    with pytest.raises(HarvestError) as failure:
        client.search("x")
    assert str(failure.value) == (
        "esearch failed once (HTTP 429 from esearch); NCBI asked to wait 3600s before the next request (Retry-After), "
        "more than is left of the retry budget (ncbi.retry_budget = 8s): run again after that wait")
    assert clock.sleeps == []


def test_a_retry_after_that_passes_what_is_left_of_the_budget_says_so_after_the_failures_before_it():
    message, clock = give_up(failing(TransientError("HTTP 503 from esearch"), TransientError("HTTP 503 from esearch"),
                                     TransientError("HTTP 429 from esearch", retry_after=9.0)), budget=10)
    assert re.match(r"esearch failed 3 times over \ds \(last: HTTP 429 from esearch\); NCBI asked to wait 9s before", message)
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(("budget", "failed"), [(0.1, "esearch failed once (HTTP 503 from esearch); NCBI may be down"),
                                                (2.0, "esearch failed 2 times over 1s (last: HTTP 503 from esearch); NCBI may")])
def test_the_failures_are_counted_in_words_that_read(budget, failed):
    message, _ = give_up(failing(TransientError("HTTP 503 from esearch")), budget)
    assert message.startswith(failed) and "1 times" not in message
