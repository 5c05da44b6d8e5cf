"""Retrying a request that failed for a passing reason, within a bounded total time.

Why not tenacity: its ``stop_after_delay`` measures time with ``time.monotonic`` itself, so a
test that injects ``sleep`` would never see the budget run out. This loop takes the clock,
``sleep`` and the random source as arguments, so tests run an hour-long outage in no time.

Backoff is exponential with "equal jitter" (half the delay fixed, half random), so many
clients that failed together do not come back together; a server's ``Retry-After`` wins
when it sends one. When the next wait would pass the budget the loop stops with a
``HarvestError`` that names what failed, how often, and what to do. When the wait the server
asked for is what passes the budget, the message says so and how long: the loop may stop at
the first answer, and 'failed over 0s, NCBI may be down' would not tell what happened.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

from corpus.errors import HarvestError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, timeout, dropped connection, truncated or HTML body, <ERROR>."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """``budget``: seconds from the first attempt after which we give up. Delays: base·2ⁿ, capped."""

    budget: float = 600.0
    base: float = 1.0
    cap: float = 60.0

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1, 2, ...)."""
        ceiling = min(self.cap, self.base * 2 ** (failures - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def call_with_retries(
    attempt: Callable[[], T],
    what: str,
    policy: RetryPolicy,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """``attempt()`` until it returns, retrying ``TransientError``; ``HarvestError`` once the budget is spent."""
    rng = rng or random.Random()
    started = clock()
    failures = 0
    while True:
        try:
            return attempt()
        except TransientError as exc:
            failures += 1
            delay = exc.retry_after if exc.retry_after is not None else policy.backoff(failures, rng)
            elapsed = clock() - started
            if elapsed + delay > policy.budget:
                raise HarvestError(_given_up(what, failures, elapsed, exc, policy)) from None
            logger.warning("%s failed (%s); retry %d in %.1fs", what, exc, failures, delay)
            sleep(delay)


def _given_up(what: str, failures: int, elapsed: float, exc: TransientError, policy: RetryPolicy) -> str:
    """Why the retries of ``what`` stopped after its last failure, ``exc``, and what to do."""
    failed = f"{what} failed once ({exc})" if failures == 1 else f"{what} failed {failures} times over {elapsed:.0f}s (last: {exc})"
    budget = f"ncbi.retry_budget = {policy.budget:g}s"
    if exc.retry_after is not None:
        return (f"{failed}; NCBI asked to wait {exc.retry_after:.0f}s before the next request (Retry-After), "
                f"more than is left of the retry budget ({budget}): run again after that wait")
    return f"{failed}; NCBI may be down or rate-limiting us: try again later (retry budget {budget})"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP-date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
