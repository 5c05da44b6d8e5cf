"""What the application reads of the saved model without loading it (nor scikit-learn): its
metadata, whether it can be used with these settings, and the OIH relevance a record needs to
reach a digest; and the topic rules the settings make."""

from __future__ import annotations

from classifier.hyperparameters import load_hyperparameters
from classifier.metadata import check_meta, read_meta, trained_for
from classifier.topics import TopicRule, rules_fingerprint, topic_rules
from corpus.errors import ClassifierError
from corpus.tags import RELEVANCE
from oihwatch import __version__
from oihwatch.config import Settings

# Without a model there are no probabilities to compare, only rule hits (0 or 1).
NO_MODEL_THRESHOLD = 0.5


def model_meta(settings: Settings) -> dict | None:
    """The saved model's metadata, or None when there is no usable model (``why_no_model`` says why)."""
    try:
        return read_meta(settings.resolve(settings.classifier.model_dir))
    except ClassifierError:
        return None


def why_no_model(settings: Settings) -> str:
    """Why ``model_meta`` found no usable model, in the words classify fails with: none trained yet, a
    ``model.json`` that cannot be read (cut short: 'oihwatch train' writes it anew), or the model file
    it names gone. Read again, as only this one case needs it; a train may have saved a model since."""
    try:
        read_meta(settings.resolve(settings.classifier.model_dir))
    except ClassifierError as exc:
        return str(exc)
    return "a model was saved while status read the corpus: run 'oihwatch status' again"


def relevance_threshold(settings: Settings) -> float:
    """``classifier.relevance_threshold``, or (``"model"``) the threshold training chose for relevance."""
    return threshold_of(settings, model_meta(settings) if settings.classifier.relevance_threshold == "model" else None)


def threshold_of(settings: Settings, meta: dict | None) -> float:
    """``relevance_threshold`` from the model's metadata the caller has read (None: no usable model),
    so that a caller that also shows the model counts with that same model's threshold."""
    configured = settings.classifier.relevance_threshold
    if configured != "model":
        return float(configured)
    return float((meta or {}).get("thresholds", {}).get(RELEVANCE, NO_MODEL_THRESHOLD))


def rules_for(settings: Settings) -> tuple[list[TopicRule], dict]:
    """The topic and relevance rules of these settings, and the classifier's hyperparameters."""
    hyperparameters = load_hyperparameters()
    topics = {name: topic.model_dump() for name, topic in settings.topics.items()}
    return topic_rules(topics, hyperparameters["relevance"]), hyperparameters


def model_problem(settings: Settings, meta: dict) -> str | None:
    """Why the saved model ``meta`` describes cannot be used (another version, changed topics), or None."""
    rules, _ = rules_for(settings)
    try:
        check_meta(meta, settings.resolve(settings.classifier.model_dir), __version__, rules_fingerprint(rules))
    except ClassifierError as exc:
        return str(exc)
    return None


def trained_for_other_rules(settings: Settings, meta: dict | None) -> bool:
    """Whether the saved model ``meta`` describes (None: there is none) was trained for other topics or
    topic rules than these settings': the tags it made then file papers under those, not under the
    configured ones (a new topic has none). Another oihwatch or scikit-learn version alone does not
    count: its tags still fit these topics."""
    if meta is None:
        return False
    rules, _ = rules_for(settings)
    return trained_for(meta) != rules_fingerprint(rules)
