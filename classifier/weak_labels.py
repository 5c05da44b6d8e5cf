"""Weak labels: what the MeSH and keyword rules say about each record.

Rules are data (``[topics.NAME] keywords`` and ``mesh`` in config.toml); this module
only applies them. Curated labels overrule these everywhere (see ``curated.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.documents import record_text
from classifier.topics import TopicRule
from corpus.article import Article


def keyword_hits(texts: Sequence[str], rules: Sequence[TopicRule]) -> np.ndarray:
    """(records x rules) 0/1 matrix of keyword-rule hits on title + abstract; a model feature."""
    hits = np.zeros((len(texts), len(rules)), dtype=np.float64)
    for i, text in enumerate(texts):
        lowered = text.lower()
        for j, rule in enumerate(rules):
            if rule.keyword_hit_lower(lowered):
                hits[i, j] = 1.0
    return hits


def mesh_hits(articles: Sequence[Article], rules: Sequence[TopicRule]) -> np.ndarray:
    """(records x rules) 0/1 matrix of MeSH-rule hits (all zero for a record not yet indexed)."""
    hits = np.zeros((len(articles), len(rules)), dtype=np.float64)
    for i, article in enumerate(articles):
        if not article.mesh:
            continue
        terms, text = article.mesh_terms, record_text(article)
        for j, rule in enumerate(rules):
            if rule.mesh_hit(terms, text):
                hits[i, j] = 1.0
    return hits


def weak_labels(articles: Sequence[Article], texts: Sequence[str], rules: Sequence[TopicRule]) -> np.ndarray:
    """(records x rules) 0/1: a keyword rule or a MeSH rule fires."""
    return np.maximum(keyword_hits(texts, rules), mesh_hits(articles, rules))
