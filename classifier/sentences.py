"""Sentence evidence: the one sentence of a record that speaks for a label.

The record-level model reads the whole abstract at once, so the single sentence saying that an
opioid was stopped, reduced or switched is diluted by the rest. For the labels listed in
``[sentence_evidence]`` of ``hyperparameters.toml``, a logistic regression over single sentences
(the title is one; each sentence inherits its record's label, and the record's weight is shared
out among its sentences) scores every sentence, and a record's best sentence score joins its
record-level logit in the label's calibration: a Platt step with two inputs instead of one.

Reading sentences costs more than the record model, so only records the label could be tagged
for are read sentence by sentence: a keyword-rule hit for the label, or a record-level
probability at or above the label's ``floor``: ``floor_margin`` times the lowest out-of-fold
record probability of a curated positive that the combined score tags (keyword-rule hits aside,
they are read anyway), so no curated positive the sentences find is lost to the floor. Records
under it get ``fill``, the median best-sentence score of training records under the floor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classifier.topics import TopicRule
from classifier.weak_labels import keyword_hits

# A sentence ends at . ! or ? followed by a capital or an opening bracket ("p < 0.05. In" splits,
# "e.g. morphine" does not); section labels stay with their first sentence.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")


def split_sentences(text: str) -> list[str]:
    """The title (first line) and the abstract's sentences, verbatim; none for an empty record."""
    return [s for line in text.split("\n") for s in SENTENCE_END.split(line) if s.strip()]


@dataclass
class Sentences:
    """Every sentence of a batch of records, and the record (row) each belongs to."""

    texts: list[str]
    owner: np.ndarray

    @classmethod
    def of(cls, texts: Sequence[str]) -> Sentences:
        split = [split_sentences(t) for t in texts]
        owner = np.repeat(np.arange(len(texts)), [len(s) for s in split])
        return cls([s for record in split for s in record], owner)

    def best(self, decisions: np.ndarray, records: int) -> tuple[np.ndarray, np.ndarray]:
        """Per record, the highest sentence decision (-inf without sentences) and that sentence's index."""
        order = np.lexsort((-decisions, self.owner))
        first = order[np.r_[True, self.owner[order][1:] != self.owner[order][:-1]]] if len(order) else order
        top, where = np.full(records, -np.inf), np.full(records, -1)
        top[self.owner[first]], where[self.owner[first]] = decisions[first], first
        return top, where


@dataclass
class SentenceEvidence:
    """The fitted sentence model and, per label, how its best sentence joins the record score.

    ``combine[k]`` = (weight of the record logit, weight of the best sentence, intercept) of
    ``labels[k]``; ``coef[:, k]`` and ``intercept[k]`` its sentence classifier.
    """

    vectorizer: TfidfVectorizer
    rules: list[TopicRule]
    labels: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    combine: np.ndarray
    floor: np.ndarray
    fill: np.ndarray

    def features(self, sentences: Sentences) -> sp.csr_matrix:
        return sentence_features(self.vectorizer, self.rules, sentences.texts)

    def decisions(self, sentences: Sentences) -> np.ndarray:
        """(sentences x labels) decisions of the sentence classifiers."""
        if not sentences.texts:
            return np.zeros((0, len(self.labels)))
        return np.asarray(self.features(sentences) @ self.coef) + self.intercept

    def best_scores(self, texts: Sequence[str]) -> np.ndarray:
        """(records x labels) the best sentence's decision; ``fill`` for a record without text."""
        sentences = Sentences.of(texts)
        decisions = self.decisions(sentences)
        best = np.column_stack([sentences.best(decisions[:, k], len(texts))[0] for k in range(len(self.labels))])
        return np.where(np.isfinite(best), best, self.fill)

    def best_sentence(self, text: str, label: str) -> tuple[str, float] | None:
        """The sentence of ``text`` that scored highest for ``label`` and its score (0-1), or None without text."""
        sentences = Sentences.of([text])
        if not sentences.texts:
            return None
        k = self.labels.index(label)
        decisions = self.decisions(sentences)[:, k]
        i = int(np.argmax(decisions))
        return sentences.texts[i], float(1.0 / (1.0 + np.exp(-decisions[i])))

    def combined_logit(self, k: int, record_logit: np.ndarray, best: np.ndarray) -> np.ndarray:
        a_record, a_sentence, b = self.combine[k]
        return a_record * record_logit + a_sentence * best + b

    def rescore(self, texts: Sequence[str], hits: np.ndarray, record_logit: np.ndarray, columns: Mapping[str, int], gate: bool = True) -> np.ndarray:
        """``record_logit`` (records x model labels) with each sentence label's column replaced by the
        combined logit; with ``gate``, only records at or above the floor or hit by the label's keyword
        rule are read sentence by sentence."""
        out = record_logit.copy()
        rule_column = {rule.name: j for j, rule in enumerate(self.rules)}
        best = np.tile(self.fill, (len(texts), 1))
        read = np.ones(len(texts), dtype=bool)
        if gate:
            read = np.zeros(len(texts), dtype=bool)
            for k, label in enumerate(self.labels):
                probability = 1.0 / (1.0 + np.exp(-record_logit[:, columns[label]]))
                read |= (probability >= self.floor[k]) | hits[:, rule_column[label]].astype(bool)
        rows = np.flatnonzero(read)
        if len(rows):
            best[rows] = self.best_scores([texts[i] for i in rows])
        for k, label in enumerate(self.labels):
            out[:, columns[label]] = self.combined_logit(k, record_logit[:, columns[label]], best[:, k])
        return out


def sentence_features(vectorizer: TfidfVectorizer, rules: Sequence[TopicRule], sentences: Sequence[str]) -> sp.csr_matrix:
    """TF-IDF of each sentence and its own keyword-rule hits."""
    return sp.hstack([vectorizer.transform(sentences), sp.csr_matrix(keyword_hits(sentences, rules))], format="csr")


def fit_sentence_vectorizer(sentences: Sentences, params: Mapping) -> TfidfVectorizer:
    """The sentence vocabulary: words as the record features count them."""
    return TfidfVectorizer(
        min_df=params.get("min_df", 2), max_df=params.get("max_df", 1.0), sublinear_tf=bool(params.get("sublinear_tf", True)), dtype=np.float64
    ).fit(sentences.texts)


def fit_sentence_label(
    X: sp.csr_matrix, sentences: Sentences, y: np.ndarray, w: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]], C: float, random_state: int
) -> tuple[np.ndarray, float, np.ndarray]:
    """Coefficients and intercept of one label's sentence classifier, and each record's out-of-fold
    best-sentence decision (``folds`` split the records, as the record model's do)."""
    per_record = np.bincount(sentences.owner, minlength=len(y))
    weights = w[sentences.owner] / per_record[sentences.owner] * per_record.mean()  # each record weighs as much as before
    targets = y[sentences.owner]
    oof = np.zeros(len(sentences.owner))
    for train, test in folds:
        fitted = np.isin(sentences.owner, train)
        model = _classifier(C, random_state).fit(X[fitted], targets[fitted], sample_weight=weights[fitted])
        oof[~fitted] = model.decision_function(X[~fitted])
    full = _classifier(C, random_state).fit(X, targets, sample_weight=weights)
    return full.coef_[0], float(full.intercept_[0]), sentences.best(oof, len(y))[0]


def fit_combination(record_logit: np.ndarray, best: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """The two-input Platt step: (record weight, sentence weight, intercept), nearly unregularised as Platt's is."""
    fitted = LogisticRegression(C=1e4).fit(np.column_stack([record_logit, best]), y, sample_weight=w)
    return float(fitted.coef_[0, 0]), float(fitted.coef_[0, 1]), float(fitted.intercept_[0])


def choose_floor(record_probability: np.ndarray, keep: np.ndarray, margin: float) -> float:
    """``margin`` times the lowest record probability among the records that must be read (``keep``)."""
    return float(margin * record_probability[keep].min()) if keep.any() else 0.0


class SentenceTrainer:
    """Sentence features of the training records, built once, and the labels fitted on them."""

    def __init__(self, texts: Sequence[str], rules: Sequence[TopicRule], hyperparameters: Mapping):
        self.params = hyperparameters["sentence_evidence"]
        self.random_state = int(hyperparameters["model"]["random_state"])
        self.rules = list(rules)
        self.sentences = Sentences.of(texts)
        self.vectorizer = fit_sentence_vectorizer(self.sentences, hyperparameters["features"])
        self.X = sentence_features(self.vectorizer, self.rules, self.sentences.texts)
        self.fitted: dict[str, dict] = {}

    def combine(self, label: str, y: np.ndarray, w: np.ndarray, folds: Sequence, record_logit: np.ndarray, fit_on: np.ndarray) -> np.ndarray:
        """Fit ``label``'s sentence classifier and its combination with the out-of-fold ``record_logit``
        on the rows ``fit_on`` (where its threshold is chosen); returns the combined out-of-fold logit."""
        coef, intercept, best = fit_sentence_label(self.X, self.sentences, y, w, folds, float(self.params["C"]), self.random_state)
        combine = fit_combination(record_logit[fit_on], best[fit_on], y[fit_on], w[fit_on])
        self.fitted[label] = {"coef": coef, "intercept": intercept, "combine": combine, "record_logit": record_logit, "best": best}
        a_record, a_sentence, b = combine
        return a_record * record_logit + a_sentence * best + b

    def set_floor(self, label: str, must_read: np.ndarray, ruled: np.ndarray) -> None:
        """The floor keeps every ``must_read`` record that the keyword rule does not send to the sentence model anyway."""
        fitted = self.fitted[label]
        probability = 1.0 / (1.0 + np.exp(-fitted["record_logit"]))
        fitted["floor"] = choose_floor(probability, must_read & ~ruled, float(self.params["floor_margin"]))
        under = (probability < fitted["floor"]) & ~ruled
        fitted["fill"] = float(np.median(fitted["best"][under])) if under.any() else float(fitted["best"].min())

    def evidence(self) -> SentenceEvidence | None:
        """What scoring needs, or None when no label uses sentence evidence."""
        if not self.fitted:
            return None
        labels = list(self.fitted)
        return SentenceEvidence(
            vectorizer=self.vectorizer,
            rules=self.rules,
            labels=labels,
            coef=np.column_stack([self.fitted[n]["coef"] for n in labels]),
            intercept=np.array([self.fitted[n]["intercept"] for n in labels]),
            combine=np.array([self.fitted[n]["combine"] for n in labels]),
            floor=np.array([self.fitted[n]["floor"] for n in labels]),
            fill=np.array([self.fitted[n]["fill"] for n in labels]),
        )


def _classifier(C: float, random_state: int) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=random_state)
