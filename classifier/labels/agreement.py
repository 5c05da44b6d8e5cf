#!/usr/bin/env python
"""Agreement between the two independent readings of the curated records (readings.jsonl).

Every curated record was read twice, blind. ``pass`` says when (docs/labelling-guide.md): 5 for
records first read in the earlier passes and read again under the fifth-pass guide without
seeing the first labels; 6 and later for new records (random draws, then model-chosen ones) read by two readers at once. Where the readings
differed an adjudicator read the record again and decided; curated.jsonl holds that result. Cohen's kappa per label is the
ceiling to read the classifier's scores against: a model cannot agree with one reader much
better than a second reader does.

Usage: agreement.py [readings.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

LABELS = ("oih", "tapering", "ketamine", "genetics", "non_opioid")


def value(reading: dict, label: str) -> int:
    return int(reading["oih"]) if label == "oih" else int(label in reading["topics"])


def main(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for name in sorted({r["pass"] for r in rows}):
        group = [r for r in rows if r["pass"] == name]
        print(f"pass {name}: {len(group)} records read twice")
        print(f"{'label':<11} {'kappa':>5} {'both':>5} {'first only':>10} {'second only':>11}")
        for label in LABELS:
            first = [value(r["first"], label) for r in group]
            second = [value(r["second"], label) for r in group]
            kappa = cohen_kappa_score(first, second) if any(first) or any(second) else float("nan")  # nan: no positive at all
            print(
                f"{label:<11} {kappa:>5.2f} {sum(a and b for a, b in zip(first, second)):>5} "
                f"{sum(a and not b for a, b in zip(first, second)):>10} {sum(b and not a for a, b in zip(first, second)):>11}"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("readings.jsonl"))
