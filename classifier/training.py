"""Training: weak labels overruled by curated ones, one calibrated classifier per label.

Targets are the rules' weak labels with every curated label written over them (and
weighted ``curated_weight`` times). Each label's probabilities are Platt-calibrated
on out-of-fold decisions, and its threshold has the best out-of-fold F-beta
(``threshold_beta``: recall weighs more than precision) on curated labels (on weak
labels when a label has too few curated positives or negatives). Records of the curated
``test`` split are left out entirely, so every number measured on them is honest. Pure:
articles in, model out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from classifier.curated import CuratedSet
from classifier.documents import has_text, record_text
from classifier.features import FeatureBuilder
from classifier.metadata import FORMAT, sklearn_version
from classifier.model import OihModel, sigmoid
from classifier.topics import TopicRule, rules_fingerprint
from classifier.weak_labels import keyword_hits, rule_hits
from corpus.article import Article
from corpus.errors import ClassifierError
from corpus.tags import RELEVANCE

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """Rows are records with text; columns are rules (relevance first)."""

    pmids: list[str]
    texts: list[str]
    targets: np.ndarray  # 0/1
    weights: np.ndarray
    curated: np.ndarray  # bool: the target came from a person
    hits: np.ndarray  # keyword-rule hits (features, and the tags a rule gives whatever the model says)
    ruled: np.ndarray  # keyword- or MeSH-rule hits: the weak labels, and what classify's rules tag on stored records

    def digest(self) -> str:
        """A hash of exactly what the model learns from, saved with the model."""
        h = hashlib.sha256()
        for pmid, text, target, weight in zip(self.pmids, self.texts, self.targets, self.weights):
            h.update(f"{pmid}\x1f{text}\x1f{target.tolist()}\x1f{weight.tolist()}\x1e".encode())
        return h.hexdigest()


def build_training_data(
    articles: Sequence[Article], rules: Sequence[TopicRule], curated: CuratedSet, curated_weight: float, weak_weight: float = 1.0
) -> TrainingData:
    """Weak labels overruled by curated train labels; held-out test records and empty records are left out."""
    kept = [a for a in articles if has_text(a) and a.pmid not in curated.test_pmids]
    texts = [record_text(a) for a in kept]
    hits = keyword_hits(texts, rules)
    ruled = rule_hits(kept, hits, rules)  # weak labels: a keyword or a MeSH rule fires
    targets = ruled.copy()
    weights = np.full_like(targets, weak_weight)
    is_curated = np.zeros(targets.shape, dtype=bool)
    train_labels = curated.for_training()
    for i, article in enumerate(kept):
        for j, rule in enumerate(rules):
            value = train_labels.get(article.pmid, {}).get(rule.name)
            if value is not None:
                targets[i, j], weights[i, j], is_curated[i, j] = float(value), curated_weight, True
    return TrainingData([a.pmid for a in kept], texts, targets, weights, is_curated, hits, ruled)


def train_model(
    articles: Sequence[Article],
    rules: Sequence[TopicRule],
    curated: CuratedSet,
    hyperparameters: Mapping,
    app_version: str = "",
) -> OihModel:
    """Fit the features and every label that has enough positives; the others are listed in ``skipped``."""
    params = hyperparameters["model"]
    data = build_training_data(articles, rules, curated, float(params["curated_weight"]), float(params["weak_weight"]))
    if len(data.texts) < 2 * int(params["cv_folds"]):
        raise ClassifierError(
            f"only {len(data.texts)} records with a title or abstract to train on; ingest or harvest records first (oihwatch harvest)"
        )
    features = FeatureBuilder(rules, hyperparameters["features"]).fit(data.texts)
    X = features.transform(data.texts, data.hits)
    labels, columns, skipped, thresholds, metrics = [], [], {}, {}, {}
    for j, rule in enumerate(rules):
        y, w = data.targets[:, j], data.weights[:, j]
        positives = int(y.sum())
        need = int(params["min_positives"])
        if positives < need or len(y) - positives < need:
            # Relevance's rule lives in the package's hyperparameters, which a user does not edit: labels are the way.
            remedy = "" if rule.name == RELEVANCE else f"add keywords or MeSH to [topics.{rule.name}] or "
            skipped[rule.name] = (
                f"label {rule.name!r} not trained: {positives} positive and {len(y) - positives} negative labels (need {need} of each); "
                f"{remedy}label records with 'oihwatch label PMID {rule.name}'"
            )
            log.warning(skipped[rule.name])
            continue
        coef, intercept, platt, oof = fit_label(X, y, w, params)
        curated_y = y[data.curated[:, j]]
        curated_positives, curated_negatives = int(curated_y.sum()), int(len(curated_y) - curated_y.sum())
        # Curated negatives are needed as much as positives: on a new topic's few hand-labelled records,
        # nearly all positive, no false alarm can be counted, and the threshold fell below most of the
        # corpus (11 positives and 1 negative: 2,343 of 4,818 records tagged, "P 0.92 R 1.00").
        on_curated = min(curated_positives, curated_negatives) >= int(params["min_curated_positives"])
        truth_mask = data.curated[:, j] if on_curated else np.ones(len(y), dtype=bool)
        # Topic tags are the model's or a keyword rule's; relevance is a score the digest cuts alone. The
        # keyword rule only, not MeSH's: the threshold and these scores are for a record fresh from PubMed,
        # weeks before its MeSH, as the digest meets it (the counts below are for the stored records).
        ruled = data.hits[truth_mask, j].astype(bool) & (rule.name != RELEVANCE)
        thresholds[rule.name] = choose_threshold(
            oof[truth_mask], y[truth_mask], float(params["threshold_beta"]), float(params["min_recall"]), ruled=ruled
        )
        metrics[rule.name] = {
            "cv_on": "curated" if on_curated else "weak",
            "curated_positives": curated_positives,
            "curated_negatives": curated_negatives,
            **scores((oof[truth_mask] >= thresholds[rule.name]) | ruled, y[truth_mask]),
            # How many training records the label would tag, against the rules alone: a threshold chosen on a
            # few hand-picked labels can sit below much of the corpus, and this is where it shows at once.
            "tagged": int(((oof >= thresholds[rule.name]) | (data.ruled[:, j].astype(bool) & (rule.name != RELEVANCE))).sum()),
            "rule_tagged": int(data.ruled[:, j].sum()),
        }
        labels.append(rule.name)
        columns.append((coef, intercept, platt))
    if not labels:  # e.g. a new install's first small harvest: tag by the rules until labels exist
        log.warning("no label could be trained yet; every label falls back to its keyword and MeSH rules")
    created = datetime.now(timezone.utc)
    data_hash = data.digest()
    meta = {
        "format": FORMAT,
        "model_version": f"{app_version or '0'}+{created:%Y%m%d%H%M%S}.{data_hash[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "oihwatch": app_version,
        "sklearn": sklearn_version(),
        "training_data_hash": data_hash,
        "records": len(data.texts),
        "curated_records": int(data.curated.any(axis=1).sum()),
        "settings": rules_fingerprint(rules),
        "hyperparameters": dict(hyperparameters),
        "thresholds": thresholds,
        "skipped": skipped,
        "cv_metrics": metrics,
    }
    return OihModel(
        features=features,
        labels=labels,
        coef=np.column_stack([c[0] for c in columns]) if columns else np.zeros((X.shape[1], 0)),
        intercept=np.array([c[1] for c in columns], dtype=float),
        platt=np.array([c[2] for c in columns], dtype=float).reshape(len(columns), 2),
        thresholds=thresholds,
        skipped=skipped,
        meta=meta,
    )


def _classifier(params: Mapping) -> LogisticRegression:
    return LogisticRegression(C=float(params["C"]), class_weight="balanced", solver="liblinear", random_state=int(params["random_state"]))


def fit_label(X: sp.csr_matrix, y: np.ndarray, w: np.ndarray, params: Mapping) -> tuple[np.ndarray, float, tuple[float, float], np.ndarray]:
    """Coefficients, intercept and Platt (a, b) for one label, and its out-of-fold calibrated probabilities."""
    folds = StratifiedKFold(n_splits=int(params["cv_folds"]), shuffle=True, random_state=int(params["random_state"]))
    oof = np.zeros(len(y))
    for train, test in folds.split(np.zeros(len(y)), y):
        oof[test] = _classifier(params).fit(X[train], y[train], sample_weight=w[train]).decision_function(X[test])
    calibrator = LogisticRegression(C=1e4).fit(oof.reshape(-1, 1), y, sample_weight=w)
    a, b = float(calibrator.coef_[0, 0]), float(calibrator.intercept_[0])
    full = _classifier(params).fit(X, y, sample_weight=w)
    return full.coef_[0], float(full.intercept_[0]), (a, b), sigmoid(a * oof + b)


def choose_threshold(
    probabilities: np.ndarray, truth: np.ndarray, beta: float, min_recall: float = 0.0, ruled: np.ndarray | None = None
) -> float:
    """The threshold with the best F-beta on ``truth`` among those keeping recall at ``min_recall`` or more.

    beta 2 weighs recall four times as much as precision: a clinician must not miss a paper,
    but a tag on every paper is no tag at all (cross-validated on the curated train split, a
    hard recall floor of 0.90 made tapering tag 301 of 690 records). ``ruled`` marks records a
    keyword rule tags anyway (tagging never lets the model veto a rule), so F-beta is that of
    the tags as they will be assigned: where the model adds only false alarms to the rules, the
    threshold rises above every score. The threshold sits halfway between the chosen score and
    the next lower one, so a record scored like the last positive kept is tagged too.
    """
    truth = truth.astype(bool)
    ruled = np.zeros(len(truth), dtype=bool) if ruled is None else ruled.astype(bool)
    positives = int(truth.sum())
    if not positives:
        return 0.5
    order = np.argsort(-probabilities, kind="stable")
    ranked, hits, free = probabilities[order], truth[order], ~ruled[order]
    # k = -1: the model adds nothing; k >= 0: it also tags ranked[0..k] (ruled ones count once).
    tp = int((truth & ruled).sum()) + np.concatenate([[0], np.cumsum(hits & free)])
    tagged = int(ruled.sum()) + np.concatenate([[0], np.cumsum(free)])
    last_of_tie = np.concatenate([[True], ranked[1:] != ranked[:-1], [True]])  # a threshold keeps all tied scores
    recall, precision = tp / positives, tp / np.maximum(tagged, 1)
    f_beta = (1 + beta**2) * precision * recall / np.maximum(beta**2 * precision + recall, 1e-12)
    eligible = last_of_tie & (recall >= min_recall - 1e-12)  # tagging everything always qualifies
    k = int(np.flatnonzero(eligible)[np.argmax(f_beta[eligible])]) - 1
    if k < 0:
        return float(np.nextafter(max(ranked[0], 1.0), np.inf))  # above every probability
    lower = ranked[k + 1] if k + 1 < len(ranked) else 0.0
    return float((ranked[k] + lower) / 2)


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of 0/1 predictions, with the counts behind them."""
    predicted, truth = predicted.astype(bool), truth.astype(bool)
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    fn = int((~predicted & truth).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "positives": tp + fn, "n": len(truth)}

