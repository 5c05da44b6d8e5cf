"""How far the corpus has moved on since the saved model was trained, and whether the model is out of
date: what the classify step of ``oihwatch run`` and the scheduler trains it again for
(``pipeline.classify_step``) and what ``status`` shows.

A curated label overrides the tags of its own record at once, but the model learns from it only when it
is trained again; and a model trained on a fresh install's first backfill (a few hundred records) would
otherwise tag a corpus many times that size for good. So the model is out of date once the curated
labels training uses differ from those it was trained with (recorded by ``oihwatch label`` or
``labels --import``, cleared, or on a record stored since), or once the records stored since it was
trained reach a quarter of those it was trained on, and at least 50. Both are read from the model's
metadata (when it was trained, on how many records, a fingerprint of those labels: ``train`` saves it)
and a few indexed queries of the store, with no model loaded: milliseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from classifier.curated import default_label_file, read_label_file
from corpus.store import Store, iso_utc
from corpus.tags import RELEVANCE
from oihwatch.config import Settings

# The corpus has outgrown the model once the records stored since it was trained reach this share of those it
# was trained on, and at least MIN_GROWTH: after a backfill of a few hundred records the model is trained again
# within weeks; one trained on the shared corpus (4,073 of its records learnt from) once 1,019 more are stored.
GROWTH = 0.25
MIN_GROWTH = 50
# The key of the model's metadata holding the fingerprint of the store's labels it was trained with (``labels_key``).
LABELS_KEY = "store_labels"


@dataclass(frozen=True)
class ModelAge:
    """What the corpus gained since the saved model was trained."""

    trained_on: int  # the records the model learned from (``records`` in its metadata)
    stored_since: int  # records stored since, those NLM deleted left out
    labels_since: int  # curated labels training uses recorded since (by their time)
    labels_changed: bool  # the labels training uses are not those it was trained with
    labels_then: int | None  # how many it was trained with (None: a model trained before this was saved)
    labels_now: int

    @property
    def grown(self) -> bool:
        """Whether the corpus has outgrown the model (``GROWTH``, ``MIN_GROWTH``)."""
        return self.stored_since >= max(MIN_GROWTH, GROWTH * self.trained_on)

    @property
    def gained(self) -> str:
        """What makes the model out of date, '3 curated labels recorded and 273 records stored'; '' when it is not.
        Labels changed with none recorded since were cleared, imported with their earlier times, or are on
        records stored (or deleted by NLM) since: said by their count then and now."""
        parts = []
        if self.labels_changed:
            parts.append(f"{self.labels_since:,} curated label{'s' * (self.labels_since != 1)} recorded" if self.labels_since
                         else f"curated labels changed ({self.labels_then:,} then, {self.labels_now:,} now)")
        if self.grown:
            parts.append(f"{self.stored_since:,} records stored")
        return " and ".join(parts)

    @property
    def out_of_date(self) -> str:
        """Why the model is out of date, '3 curated labels recorded since the model was trained on 147
        records'; '' when it is not."""
        return f"{self.gained} since the model was trained on {self.trained_on:,} records" if self.gained else ""


def model_age(settings: Settings, store: Store, meta: dict | None, now: datetime) -> ModelAge | None:
    """What the corpus gained between the training of the model ``meta`` describes and ``now``; None
    without a model, or for metadata that does not say when it was trained."""
    try:
        trained = iso_utc(datetime.fromisoformat((meta or {})["created"]))
    except (KeyError, TypeError, ValueError):
        return None
    until = iso_utc(now)
    # Moments are kept to the second. Records stored in the second training ended in were, all but always, read by
    # it (an ingest and a train of a few hundred records fit in one second). Moments after now (a clock that ran
    # ahead when they were recorded) count once they come, so a training never repeats itself run after run.
    (stored,) = store.db.execute("SELECT COUNT(*) FROM articles WHERE first_seen > ? AND first_seen <= ? AND deleted = 0",
                                 (trained, until)).fetchone()
    labels = training_labels(settings, store)
    since = sum(1 for *_, labelled in labels if trained <= labelled <= until)
    then = meta.get(LABELS_KEY)
    changed = labels_key(labels) != then if then else since > 0  # an older model: by the labels' times alone
    return ModelAge(int(meta.get("records", 0)), stored, since, changed, then["count"] if then else None, len(labels))


def training_labels(settings: Settings, store: Store) -> list[tuple[str, str, bool, str]]:
    """The curated labels of the store training uses, (PMID, topic, value, when recorded): on a stored record
    (one recorded or imported before its record applies once it is stored), of relevance or a configured topic
    (a topic taken out of the config trains nothing), and not on a record the shipped label set holds out
    for evaluation (``label`` says such a label will not train the model)."""
    rows = store.db.execute("SELECT l.pmid, l.topic, l.value, l.labelled FROM labels l JOIN articles a ON a.pmid = l.pmid "
                            "AND a.deleted = 0 ORDER BY l.pmid, l.topic").fetchall()
    if not rows:  # the shipped label set is read only when there is something to check against it
        return []
    held_out = read_label_file(default_label_file()).test_pmids
    topics = {RELEVANCE, *settings.topics}
    return [(pmid, topic, bool(value), labelled) for pmid, topic, value, labelled in rows
            if topic in topics and pmid not in held_out]


def labels_key(labels: list[tuple[str, str, bool, str]]) -> dict:
    """How many ``labels`` there are and a SHA-256 of what they say (not when: a label recorded again alike
    changes nothing), saved with a model (``LABELS_KEY``) to tell a change of them since."""
    said = "\n".join(f"{pmid}\t{topic}\t{int(value)}" for pmid, topic, value, _ in labels)
    return {"count": len(labels), "sha256": hashlib.sha256(said.encode()).hexdigest()}
