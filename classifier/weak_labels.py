"""Weak labels: what the MeSH and keyword rules say about each record.

Rules are data (``[topics.NAME] keywords`` and ``mesh`` in config.toml); this module
only applies them. Curated labels overrule these everywhere (see ``curated.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import re2

from classifier.documents import record_text
from classifier.topics import TopicRule, rule_options
from corpus.article import Article


def keyword_hits(texts: Sequence[str], rules: Sequence[TopicRule]) -> np.ndarray:
    """(records x rules) 0/1 matrix of keyword-rule hits on title + abstract; a model feature.

    Every rule's keyword, requires and exclude patterns sit in one RE2 set, so each text
    is lower-cased once and scanned once for all of them (~30,000 records/s, against
    ~1,900/s for the same rules as Python regexes, one search per rule).
    """
    slots, patterns = [], []
    for rule in rules:
        slot = []
        for part in rule.search_patterns():
            slot.append(len(patterns) if part else -1)
            if part:
                patterns.append(part)
        slots.append(slot)
    matched = np.zeros((len(texts), len(patterns) + 1), dtype=bool)  # the last column stays False: "no such part"
    if patterns:
        searcher = re2.Set.SearchSet(rule_options())
        for pattern in patterns:
            searcher.Add(pattern)
        searcher.Compile()
        for i, text in enumerate(texts):
            found = searcher.Match(text.lower())
            if found:  # None when nothing matches, and matched[i, None] would mark the whole row
                matched[i, found] = True
    hits = np.zeros((len(texts), len(rules)), dtype=np.float64)
    for j, (keyword, requires, exclude) in enumerate(slots):
        if keyword >= 0:
            context = matched[:, requires] if requires >= 0 else True
            hits[:, j] = matched[:, keyword] & context & ~matched[:, exclude]
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


def rule_hits(articles: Sequence[Article], keyword: np.ndarray, rules: Sequence[TopicRule]) -> np.ndarray:
    """(records x rules) 0/1: a keyword rule (``keyword``, already computed) or a MeSH rule fires."""
    return np.maximum(keyword, mesh_hits(articles, rules))
