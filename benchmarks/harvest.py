"""Benchmark: harvest N records from the loopback fake E-utilities at NCBI's rate limit.

The fake serves N records made from the real ones of the shared data (new PMIDs, create dates
spread over one year), and oihwatch harvests them into a fresh SQLite file with the real
clock, the real rate limiter and real sleeps. The fake runs in a process of its own, as NCBI
would (in-process, its XML building competed with ours for the GIL). Printed per rate: requests
made, the request floor (1 esearch + ceil(N / batch) efetch per window), wall time, the time
floor set by the rate limit (requests / rate), and the ratio of the two.

    python benchmarks/harvest.py [--records 5000] [--rates 3 10] [--batch 200]

Floor we hold ourselves to: requests <= 1 + ceil(N / batch) per window, and wall
time <= 1.2x requests / rate. Real data: $OIHWATCH_SHARED_DATA, else ../shared/data.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from shared import shared_data  # benchmarks/, the script's folder, is on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from corpus.store import Store  # noqa: E402
from fake_eutils import FakeEutils, copies, load_records  # noqa: E402
from harvester.eutils import EutilsClient  # noqa: E402
from harvester.harvest import harvest_all  # noqa: E402
from harvester.ratelimit import RateLimiter  # noqa: E402

START, END = date(2024, 1, 1), date(2024, 12, 31)


@dataclass
class Query:
    name: str = "oih"
    term: str = "hyperalgesia"


@dataclass
class Options:
    start: date = START
    lookback_days: int = 30
    batch_size: int = 200
    sweep_days: int = 7


def serve(records, connection, stop) -> None:
    """The fake, in a process of its own: NCBI's work must not compete with ours for the GIL."""
    with FakeEutils(records) as fake:
        connection.send(fake.url)
        stop.wait()


@contextlib.contextmanager
def fake_server(records) -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    stop = context.Event()
    process = context.Process(target=serve, args=(records, theirs, stop), daemon=True)
    process.start()
    try:
        yield ours.recv()
    finally:
        stop.set()
        process.join(10)


def run(records, rate: int, batch: int) -> dict:
    with fake_server(records) as url, tempfile.TemporaryDirectory() as folder:
        client = EutilsClient(url, tool="oihwatch-bench", email="bench@example.org", limiter=RateLimiter(rate))
        with Store(Path(folder) / "bench.db") as store:
            began = time.perf_counter()
            [result] = harvest_all([Query()], Options(batch_size=batch), store, client, today=END, since=START, until=END)
            wall = time.perf_counter() - began
            assert store.count_articles() == len(records) == result.counts.new, "harvest incomplete"
        client.close()
    floor_requests = result.windows * 1 + math.ceil(len(records) / batch)
    return {"requests": client.requests_sent, "floor_requests": floor_requests, "windows": result.windows,
            "wall": wall, "floor_wall": client.requests_sent / rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--rates", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    data = shared_data()
    records = copies(load_records(data / "pubmed-xml"), args.records, START, (END - START).days + 1)
    print(f"harvest of {args.records:,} records, batch {args.batch}, one create-date window per year")
    print(f"{'rate/s':>6} {'requests':>8} {'floor':>6} {'wall s':>8} {'floor s':>8} {'ratio':>6}  verdict")
    for rate in args.rates:
        r = run(records, rate, args.batch)
        ratio = r["wall"] / r["floor_wall"]
        ok = r["requests"] <= r["floor_requests"] and ratio <= 1.2
        print(f"{rate:>6} {r['requests']:>8} {r['floor_requests']:>6} {r['wall']:>8.2f} {r['floor_wall']:>8.2f} "
              f"{ratio:>6.2f}  {'ok' if ok else 'OVER THE FLOOR'}")


if __name__ == "__main__":
    main()
