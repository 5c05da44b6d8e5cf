"""Search latency over a corpus grown to 100,000 records (copies of real ones with new PMIDs).

Prints p50 / p95 per typical search, with and without filters, and checks the floor
(p95 < 50 ms). Run: ``python benchmarks/search.py [--records N] [--db FILE]``.
The baseline in the same run is an unfiltered single-word search.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shared import shared_data  # benchmarks/, the script's folder, is on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from corpus.search import Filters, search  # noqa: E402
from corpus.store import Store  # noqa: E402
from corpus.tags import save_classifications  # noqa: E402
from research_corpus import real_articles, stand_in_classification  # noqa: E402

FLOOR_MS = 50.0
CASES = [
    ("word", "morphine", Filters()),
    ("phrase", '"opioid-induced hyperalgesia"', Filters()),
    ("boolean + prefix", "(ketamine OR magnesium) AND hyperalges*", Filters()),
    ("common word (47% match)", "pain", Filters()),
    ("word + topic", "morphine", Filters(topics=("non_opioid",))),
    ("word + topic + min-score", "pain", Filters(topics=("tapering",), min_score=0.6)),
    ("word + study type + years", "pain", Filters(study_type="review", since=1995, until=2005)),
    ("word + journal", "morphine", Filters(journal="*pain*")),
    ("words", "opioid induced hyperalgesia", Filters()),
    ("common word + topic", "pain", Filters(topics=("non_opioid",))),
    ("common word + every filter", "pain", Filters(topics=("ketamine", "non_opioid"), min_score=0.5, study_type="review", since=1995, until=2010)),
]


def grow(store: Store, shared_data: Path, target: int) -> None:
    """Copies of the real records with new PMIDs (9xxxxxxx) until ``target`` records are stored."""
    originals = [a for a in real_articles(shared_data)]
    store.upsert_articles(originals)
    save_classifications(store, [stand_in_classification(a) for a in originals if a.abstract])
    copy = 0
    while store.count_articles() < target:
        batch = []
        for article in originals[: target - store.count_articles()]:
            copy += 1
            batch.append(dataclasses.replace(article, pmid=str(90_000_000 + copy)))
        store.upsert_articles(batch)
        save_classifications(store, [stand_in_classification(a) for a in batch if a.abstract])


def measure(store: Store, query: str, filters: Filters, limit: int, runs: int) -> tuple[float, float, int]:
    timings = []
    found = 0
    for _ in range(runs):
        start = time.perf_counter()
        found = len(search(store, query, filters, limit))
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))], found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--limit", type=int, default=20, help="results per search, as the CLI default")
    parser.add_argument("--db", type=Path, help="reuse (or create) this corpus file instead of a temporary one")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        store = Store(path)
        if store.count_articles() < args.records:
            start = time.perf_counter()
            grow(store, args.data or shared_data(), args.records)
            print(f"grew the corpus to {store.count_articles()} records in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        print(f"{store.count_articles()} records, {args.runs} runs per search, --limit {args.limit}")
        print(f"{'search':<28} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8} {'p50/base':>9}")
        base = None
        worst = 0.0
        for name, query, filters in CASES:
            p50, p95, found = measure(store, query, filters, args.limit, args.runs)
            base = base or p50
            worst = max(worst, p95)
            print(f"{name:<28} {found:>8} {p50:>8.1f} {p95:>8.1f} {p50 / base:>9.1f}")
        store.close()
    verdict = "ok" if worst < FLOOR_MS else "TOO SLOW"
    print(f"worst p95 {worst:.1f} ms (floor {FLOOR_MS:.0f} ms): {verdict}")
    return 0 if worst < FLOOR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
