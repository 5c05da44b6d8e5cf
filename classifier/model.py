"""The fitted model: one calibrated linear classifier per label over shared features.

All labels share one feature matrix, so scoring a batch is one sparse product
(``X @ coef``) followed by each label's Platt calibration: that is what keeps
classification well above 5,000 records/s. ``explain`` reads the same product
term by term, so the terms it shows are exactly what moved the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.features import FeatureBuilder


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))


@dataclass
class OihModel:
    """Scores every trained label; ``labels[j]`` is column j of coef, platt and the output."""

    features: FeatureBuilder
    labels: list[str]
    coef: np.ndarray  # (n_features, n_labels)
    intercept: np.ndarray  # (n_labels,)
    platt: np.ndarray  # (n_labels, 2): probability = sigmoid(a * decision + b)
    thresholds: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)  # label -> why it was not trained
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.meta.get("model_version", "")

    def decision(self, texts: Sequence[str], hits: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.features.transform(texts, hits) @ self.coef) + self.intercept

    def predict_proba(self, texts: Sequence[str], hits: np.ndarray | None = None) -> np.ndarray:
        """(records x labels) calibrated probabilities; ``hits`` = the keyword-rule hits if already known."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return sigmoid(self.decision(texts, hits) * self.platt[:, 0] + self.platt[:, 1])

    def explain(self, text: str, label: str, top: int = 8) -> list[tuple[str, float]]:
        """The terms of ``text`` that pushed ``label`` most, with their share of the decision (positive first)."""
        j = self.labels.index(label)
        row = self.features.transform([text]).tocsr()
        names = self.features.feature_names_
        contributions = [(names[i], float(v * self.coef[i, j] * self.platt[j, 0])) for i, v in zip(row.indices, row.data)]
        contributions.sort(key=lambda item: -abs(item[1]))
        return [c for c in contributions if c[1] != 0][:top]
