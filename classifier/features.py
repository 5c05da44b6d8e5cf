"""Features: TF-IDF over title + abstract, plus one column per keyword rule.

The rule columns let the linear model learn, from curated labels, how far to trust
each rule; the words let it find what the rules miss. Hyperparameters come from
``hyperparameters.toml`` (see the note there on how they were chosen).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.topics import TopicRule
from classifier.weak_labels import keyword_hits


class FeatureBuilder:
    """TF-IDF + rule-hit columns; ``fit`` returns self, fitted attributes end in ``_``."""

    def __init__(self, rules: Sequence[TopicRule], params: Mapping):
        self.rules = list(rules)
        self.params = dict(params)

    def fit(self, texts: Sequence[str]) -> FeatureBuilder:
        p = self.params
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=(1, int(p.get("word_ngram_max", 1))),
            min_df=p.get("min_df", 2),
            max_df=p.get("max_df", 1.0),
            max_features=p.get("max_features"),
            sublinear_tf=bool(p.get("sublinear_tf", True)),
            dtype=np.float64,
        )
        self.vectorizer_.fit(texts)
        return self

    def transform(self, texts: Sequence[str], hits: np.ndarray | None = None) -> sp.csr_matrix:
        """Features of ``texts``; pass ``keyword_hits(texts, rules)`` when already computed."""
        words = self.vectorizer_.transform(texts)
        hits = keyword_hits(texts, self.rules) if hits is None else hits
        return sp.hstack([words, sp.csr_matrix(hits * float(self.params.get("rule_weight", 1.0)))], format="csr")

    @property
    def feature_names_(self) -> list[str]:
        return list(self.vectorizer_.get_feature_names_out()) + [f"[rule:{r.name}]" for r in self.rules]
