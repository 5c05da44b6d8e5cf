"""Who decided what a record is tagged with, where the store alone cannot tell.

The store keeps each topic tag's source (model, rule, curator), but a record's OIH relevance as
a number only. A relevance is the curator's when ``classify`` applied a curated label: one of the
labels in force, those the classifier ships (``classifier/labels/curated.jsonl``) with the store's
over them, as ``classify`` applies them and ``explain`` reports them. Any other is the model's, or
the relevance rule's when the model in force has too few labels to score relevance. Exports and the
web view read it from here.
"""

from __future__ import annotations

from classifier.curated import CuratedSet, default_label_file, merge_labels, read_label_file
from corpus.exports import MODEL, RULE, RelevanceSources
from corpus.store import Store
from corpus.tags import RELEVANCE, load_labels
from oihwatch.config import Settings
from oihwatch.model_info import model_meta


def labels_in_force(store: Store) -> CuratedSet:
    """The curated labels ``classify`` applies: the shipped set, and the store's (``oihwatch label``) over it."""
    return merge_labels(read_label_file(default_label_file()), load_labels(store))


def relevance_sources(settings: Settings, store: Store) -> RelevanceSources:
    """Who decided each stored relevance: a curator, the model, or the relevance rule when the saved model
    skipped relevance (the store's labels and the shipped ones together were too few to train it)."""
    skipped = (model_meta(settings) or {}).get("skipped", {})
    return RelevanceSources.from_labels(labels_in_force(store).values, RULE if RELEVANCE in skipped else MODEL)
