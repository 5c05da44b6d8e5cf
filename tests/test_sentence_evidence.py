"""Sentence evidence (classifier/sentences.py) on the real shared corpus: trained with and without it,
saved and loaded, records without an abstract, and the floor that lets scoring skip the sentence model."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from classifier.curated import default_label_file, read_label_file
from classifier.documents import record_text
from classifier.hyperparameters import load_hyperparameters
from classifier.persistence import load_model, save_model
from classifier.sentences import split_sentences
from classifier.tagging import classify_articles
from classifier.topics import rules_fingerprint, topic_rules
from classifier.training import train_model
from classifier.weak_labels import keyword_hits
from corpus.article import AbstractSection, Article
from corpus.errors import ClassifierError
from harvester.jsonl import parse_jsonl

REPO = Path(__file__).resolve().parent.parent
CURATED = read_label_file(default_label_file())


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> list[Article]:
    with (shared_data / "corpus.jsonl").open(encoding="utf-8") as handle:
        return [a for a in parse_jsonl(handle) if a.pmid not in CURATED.test_pmids]  # held-out records are never scored here


@pytest.fixture(scope="module")
def hyperparameters() -> dict:
    return load_hyperparameters()


@pytest.fixture(scope="module")
def rules(hyperparameters):
    topics = tomllib.loads((REPO / "oihwatch" / "default_config.toml").read_text(encoding="utf-8"))["topics"]
    return topic_rules(topics, hyperparameters["relevance"])


@pytest.fixture(scope="module")
def model(corpus, rules, hyperparameters):
    return train_model(corpus, rules, CURATED, hyperparameters, app_version="9.9")


@pytest.fixture(scope="module")
def plain(corpus, rules, hyperparameters):
    return train_model(corpus, rules, CURATED, {**hyperparameters, "sentence_evidence": {"labels": []}})


def test_the_shipped_hyperparameters_give_tapering_sentence_evidence(model, plain, corpus):
    assert model.sentences.labels == ["tapering"] and plain.sentences is None
    texts = [record_text(a) for a in corpus[:300]]
    j = model.labels.index("tapering")
    with_sentences, without = model.predict_proba(texts), plain.predict_proba(texts)
    others = [k for k in range(len(model.labels)) if k != j]
    assert np.array_equal(with_sentences[:, others], without[:, others])  # other labels are untouched
    assert not np.allclose(with_sentences[:, j], without[:, j])
    assert model.thresholds["tapering"] != plain.thresholds["tapering"]  # chosen on the combined score


def test_without_the_option_tapering_scores_are_the_record_models_own(plain, corpus):
    texts = [record_text(a) for a in corpus[:300]]
    expected = 1 / (1 + np.exp(-(plain.decision(texts) * plain.platt[:, 0] + plain.platt[:, 1])))
    assert np.allclose(plain.predict_proba(texts), expected)
    assert plain.best_sentence(texts[0], "tapering") is None


def test_skipping_records_under_the_floor_changes_no_curated_record_and_scores_read_records_alike(model, rules, corpus):
    texts = [record_text(a) for a in corpus]
    hits = keyword_hits(texts, rules)
    gated, every = model.predict_proba(texts, hits), model.predict_proba(texts, hits, gate=False)
    j, k = model.labels.index("tapering"), [r.name for r in rules].index("tapering")
    record = 1 / (1 + np.exp(-(model.decision(texts, hits)[:, j] * model.platt[j, 0] + model.platt[j, 1])))
    read = (record >= model.sentences.floor[0]) | hits[:, k].astype(bool)
    assert 0.1 < read.mean() < 0.6  # the floor spares most records the sentence model
    assert np.array_equal(gated[read], every[read])
    threshold = model.thresholds["tapering"]
    curated = np.array([a.pmid in CURATED.values for a in corpus])
    assert np.array_equal(gated[curated, j] >= threshold, every[curated, j] >= threshold)
    assert ((gated[:, j] >= threshold) != (every[:, j] >= threshold)).mean() < 0.001


def test_the_best_sentence_is_a_sentence_of_the_record_verbatim(model, corpus):
    article = next(a for a in corpus if CURATED.values.get(a.pmid, {}).get("tapering") and a.abstract)
    sentence, score = model.best_sentence(record_text(article), "tapering")
    assert sentence in split_sentences(record_text(article)) and sentence in record_text(article)
    assert 0.5 < score <= 1.0


def test_a_record_without_abstract_is_scored_on_its_title_and_one_without_text_gets_no_tags(model, rules):
    title_only = Article("1", title="Opioid tapering in long-term users: a cohort study.")
    empty = Article("2", title="", abstract_sections=[AbstractSection("")])
    probabilities = model.predict_proba([record_text(title_only), record_text(empty)], gate=False)
    assert np.isfinite(probabilities).all()
    assert model.best_sentence(record_text(title_only), "tapering") == (title_only.title, pytest.approx(model.best_sentence(title_only.title, "tapering")[1]))
    assert model.best_sentence("", "tapering") is None
    results = list(classify_articles([title_only, empty], model, rules, curated={}))
    assert "tapering" in results[0].assigned_topics and results[1].assigned_topics == []


def test_saved_model_loads_back_with_its_sentence_evidence(model, rules, corpus, tmp_path):
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, "9.9", rules_fingerprint(rules))
    texts = [record_text(a) for a in corpus[:200]]
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    assert loaded.best_sentence(texts[0], "tapering") == model.best_sentence(texts[0], "tapering")
    meta = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**meta, "format": 1}))  # saved before sentence evidence
    with pytest.raises(ClassifierError, match="run 'oihwatch train'"):
        load_model(tmp_path, "9.9", rules_fingerprint(rules))
