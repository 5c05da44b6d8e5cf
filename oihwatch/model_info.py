"""What the application reads of the saved model without loading it: its metadata, and the
OIH relevance a record needs to reach a digest."""

from __future__ import annotations

from classifier.metadata import read_meta
from corpus.errors import ClassifierError
from corpus.tags import RELEVANCE
from oihwatch.config import Settings

# Without a model there are no probabilities to compare, only rule hits (0 or 1).
NO_MODEL_THRESHOLD = 0.5


def model_meta(settings: Settings) -> dict | None:
    """The saved model's metadata, or None when there is no usable model."""
    try:
        return read_meta(settings.resolve(settings.classifier.model_dir))
    except ClassifierError:
        return None


def relevance_threshold(settings: Settings) -> float:
    """``classifier.relevance_threshold``, or (``"model"``) the threshold training chose for relevance."""
    configured = settings.classifier.relevance_threshold
    if configured != "model":
        return float(configured)
    meta = model_meta(settings) or {}
    return float(meta.get("thresholds", {}).get(RELEVANCE, NO_MODEL_THRESHOLD))
