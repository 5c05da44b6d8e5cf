"""Request pacing for NCBI E-utilities: at most N request *starts* in any one-second window.

NCBI allows 3 requests per second per process without an API key and 10 with one
(E-utilities documentation, "Usage Guidelines and Requirements"); clients that exceed it are
answered with 429 and, if they persist, blocked. Starts are spaced evenly (1/N seconds
apart) so there is no burst, and a sliding window over the last N starts makes the
guarantee hold even where floating-point spacing would round a hair short.

The clock and ``sleep`` are injected so tests check the guarantee without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# NCBI's published limits, requests per second.
RATE_WITHOUT_KEY = 3
RATE_WITH_KEY = 10


class RateLimiter:
    """Blocks in ``acquire()`` until one more request may start; thread-safe."""

    def __init__(
        self,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep
        self._starts: deque[float] = deque(maxlen=per_second)
        self._lock = threading.Lock()

    def next_start(self) -> float:
        """The earliest clock time at which the next request may start."""
        if not self._starts:
            return float("-inf")
        spaced = self._starts[-1] + 1.0 / self.per_second
        if len(self._starts) == self.per_second:
            return max(spaced, self._starts[0] + 1.0)
        return spaced

    def acquire(self) -> float:
        """Wait for a free slot, record it, and return the clock time of the start."""
        with self._lock:
            while True:
                now = self.clock()
                wait = self.next_start() - now
                if wait <= 0:
                    self._starts.append(now)
                    return now
                self.sleep(wait)


_shared: dict[int, RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(per_second: int) -> RateLimiter:
    """The one limiter of this process for a rate: NCBI counts requests per process, not per client."""
    with _shared_lock:
        if per_second not in _shared:
            _shared[per_second] = RateLimiter(per_second)
        return _shared[per_second]


def ncbi_rate(has_api_key: bool) -> int:
    return RATE_WITH_KEY if has_api_key else RATE_WITHOUT_KEY
