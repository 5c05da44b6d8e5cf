"""Curated labels: judgements a person made by reading the record; they always win.

Two sources, in rising precedence: the label set shipped with the package
(``labels/curated.jsonl``, lines ``{"pmid", "oih": 0|1, "topics": [...], "split"}``),
then the store's ``labels`` table written by ``oihwatch label``. The shipped set's
``test`` split never enters training or threshold selection: it is what every
quoted number is measured on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from corpus.errors import ClassifierError
from corpus.tags import RELEVANCE

TRAIN, TEST = "train", "test"


@dataclass(frozen=True)
class CuratedSet:
    """PMID -> {label: bool}, and which PMIDs are held out for testing."""

    values: dict[str, dict[str, bool]] = field(default_factory=dict)
    test_pmids: frozenset[str] = frozenset()

    def for_training(self) -> dict[str, dict[str, bool]]:
        return {p: v for p, v in self.values.items() if p not in self.test_pmids}

    def held_out(self) -> dict[str, dict[str, bool]]:
        return {p: v for p, v in self.values.items() if p in self.test_pmids}


def default_label_file() -> Path:
    return Path(str(resources.files("classifier").joinpath("labels", "curated.jsonl")))


def read_label_file(path: Path) -> CuratedSet:
    """The shipped label set; a record's topics not listed are negatives for the topics the set covers."""
    if not path.exists():
        return CuratedSet()
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((str(row["pmid"]), bool(row["oih"]), list(row.get("topics", [])), row.get("split", TRAIN)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ClassifierError(f"{path} line {number}: not a curated label ({exc}); fix or remove the line") from None
    covered = sorted({t for _, _, topics, _ in rows for t in topics})
    values: dict[str, dict[str, bool]] = {}
    test = set()
    for pmid, oih, topics, split in rows:
        values[pmid] = {RELEVANCE: oih, **{t: t in topics for t in covered}}
        if split == TEST:
            test.add(pmid)
    return CuratedSet(values, frozenset(test))


def merge_labels(shipped: CuratedSet, store_labels: Mapping[str, Mapping[str, bool]]) -> CuratedSet:
    """Store labels (``oihwatch label``) override the shipped ones, label by label."""
    values = {p: dict(v) for p, v in shipped.values.items()}
    for pmid, labels in store_labels.items():
        values.setdefault(pmid, {}).update(labels)
    return CuratedSet(values, shipped.test_pmids)

