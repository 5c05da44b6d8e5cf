"""Evaluation on curated labels the model did not train on, with and without MeSH.

Two measurements: the held-out ``test`` split scored by a model trained without it,
and k-fold cross-validation over the curated ``train`` split (each fold retrains
with that fold held out). "Without MeSH" strips the headings from the scored records,
as a record fresh from PubMed arrives; "with MeSH" lets the MeSH rule add tags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from classifier.curated import CuratedSet
from classifier.documents import record_text
from classifier.model import OihModel
from classifier.tagging import classify_articles
from classifier.topics import TopicRule
from classifier.training import scores, train_model
from classifier.weak_labels import keyword_hits, rule_hits
from corpus.article import Article
from corpus.tags import RELEVANCE


def evaluate_model(model: OihModel, articles: Sequence[Article], rules: Sequence[TopicRule], truth: Mapping[str, Mapping[str, bool]]) -> dict:
    """Per-topic precision/recall/F1, macro-F1 and relevance ROC-AUC on ``truth``, with and without MeSH."""
    scored = [a for a in articles if a.pmid in truth]
    return {
        "records": len(scored),
        "without_mesh": _pooled([(model, scored)], rules, truth, strip_mesh=True),
        "with_mesh": _pooled([(model, scored)], rules, truth, strip_mesh=False),
    }


def _measure_results(results: Sequence, rules: Sequence[TopicRule], truth: Mapping[str, Mapping[str, bool]]) -> dict:
    """Scores per topic and the relevance ROC-AUC. The ROC-AUC is None when the relevance labels are all
    of one kind."""
    relevance = [(r.relevance, truth[r.pmid][RELEVANCE]) for r in results if RELEVANCE in truth[r.pmid]]
    y_score, y_true = (np.array(v) for v in zip(*relevance)) if relevance else (np.array([]), np.array([]))
    auc = float(roc_auc_score(y_true, y_score)) if 0 < y_true.sum() < len(y_true) else None
    return {
        **_topic_scores({r.pmid: r.assigned_topics for r in results}, rules, truth),
        "relevance_roc_auc": None if auc is None else round(auc, 4),
        "relevance_positives": int(y_true.sum()),
    }


def _topic_scores(assigned: Mapping[str, Collection[str]], rules: Sequence[TopicRule], truth: Mapping[str, Mapping[str, bool]]) -> dict:
    """Precision, recall and F1 per topic of the tags ``assigned`` to each PMID, and their macro-F1. Every
    configured topic is listed: one with no positives among the scored records (none labelled at all, as a
    new or renamed topic's, ``n`` 0) has no precision, recall or F1 (None: nothing could be found, so 0
    would read as a model that finds nothing) and is left out of the macro-F1, which says over how many
    topics it is taken (``macro_f1_topics``). One with positives but no negatives among them (a new topic
    labelled on held-out records) keeps its recall, but has no precision or F1: no tag could be wrong, so
    they would be 1.0 by construction; it is left out of the macro-F1 too."""
    topics = {}
    for rule in rules[1:]:
        pairs = [(rule.name in tags, truth[pmid][rule.name]) for pmid, tags in assigned.items() if rule.name in truth[pmid]]
        predicted, actual = np.array(pairs, dtype=bool).reshape(-1, 2).T
        measured = scores(predicted, actual)
        if not measured["positives"]:
            measured = {**measured, "precision": None, "recall": None, "f1": None}
        elif measured["positives"] == measured["n"]:
            measured = {**measured, "precision": None, "f1": None}
        topics[rule.name] = measured
    f1s = [t["f1"] for t in topics.values() if t["f1"] is not None]
    return {"topics": topics, "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None, "macro_f1_topics": len(f1s)}


def _rules_alone(articles: Sequence[Article], rules: Sequence[TopicRule], truth: Mapping[str, Mapping[str, bool]]) -> dict:
    """What the keyword (and MeSH) rules tag without the model, measured the same way: the model is there
    to add to the rules, and an auditor sees by how much."""
    hits = rule_hits(articles, keyword_hits([record_text(a) for a in articles], rules), rules).astype(bool)
    assigned = {a.pmid: {rule.name for j, rule in enumerate(rules) if hits[i, j]} for i, a in enumerate(articles)}
    return _topic_scores(assigned, rules, truth)


def stored_training_pmids(curated: CuratedSet, articles: Sequence[Article]) -> list[str]:
    """The curated training records the corpus holds, sorted: the ones cross-validation can fold and
    score (the shipped labels cover records a corpus may not hold)."""
    stored = {a.pmid for a in articles}
    return sorted(p for p in curated.for_training() if p in stored)


def cross_validate(
    articles: Sequence[Article], rules: Sequence[TopicRule], curated: CuratedSet, hyperparameters: Mapping, folds: int = 5, seed: int = 0
) -> dict:
    """k-fold over curated train records: retrain without each fold, score it; scores pooled over folds.

    ``folds`` is 2 or more: one fold would hold out every curated record, so its model would learn
    from weak labels alone and the numbers would not be cross-validated.
    """
    if folds < 2:
        raise ValueError(f"cross-validation needs 2 folds or more, not {folds}")
    train = curated.for_training()
    by_pmid = {a.pmid: a for a in articles}
    pmids = stored_training_pmids(curated, articles)
    order = np.random.default_rng(seed).permutation(len(pmids))
    fold_of = {pmids[i]: k % folds for k, i in enumerate(order)}
    pooled: list = []
    for k in range(folds):
        held = frozenset(p for p in pmids if fold_of[p] == k)
        # The held-out split stays out of every fold's training, as out of the shipped model's.
        model = train_model(articles, rules, CuratedSet(train, held | curated.test_pmids), hyperparameters)
        pooled.append((model, [by_pmid[p] for p in held]))
    truth = {p: train[p] for p in pmids}
    return {
        "folds": folds,
        "records": len(pmids),
        "without_mesh": _pooled(pooled, rules, truth, strip_mesh=True),
        "with_mesh": _pooled(pooled, rules, truth, strip_mesh=False),
    }


def _pooled(pooled, rules, truth, strip_mesh: bool) -> dict:
    """Score every fold with its own model, then measure all predictions together, and the rules alone on
    the same records."""
    results, scored = [], []
    for model, held in pooled:
        held = [dataclasses.replace(a, mesh=[]) for a in held] if strip_mesh else held
        results += list(classify_articles(held, model, rules, curated={}))
        scored += held
    return {**_measure_results(results, rules, truth), "rules_alone": _rules_alone(scored, rules, truth)}
