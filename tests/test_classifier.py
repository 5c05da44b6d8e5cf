"""The classifier: rules, training, persistence, tagging, and the bad inputs it must survive."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest

from classifier import evaluation
from classifier.curated import CuratedSet
from classifier.hyperparameters import load_hyperparameters
from classifier.persistence import load_model, read_meta, save_model
from classifier.tagging import classify_articles
from classifier.topics import topic_rules
from classifier.training import choose_threshold, train_model
from corpus.article import AbstractSection, Article, MeshHeading
from corpus.errors import ClassifierError
from damaged_model import overwrite_coefficients
from harvester.pubmed_xml import parse_pubmed_xml

TOPICS = {
    "ketamine": {"label": "Ketamine", "keywords": ["ketamin"], "mesh": ["Ketamine"]},
    "tapering": {"label": "Tapering", "keywords": [r"\btaper"], "mesh": ["Deprescriptions"]},
    "genetics": {"label": "Genetics", "keywords": ["OPRM1"], "mesh": []},
}
FILLER = "patients pain opioid dose study outcome week group score trial analgesia surgery".split()


def synthetic_articles(n: int = 240, seed: int = 1) -> list[Article]:
    """Records whose topic words are known: ketamine and tapering common, OPRM1 in only three."""
    rng = random.Random(seed)
    articles = []
    for i in range(n):
        words = rng.choices(FILLER, k=40)
        if i % 3 == 0:
            words += ["ketamine", "nmda", "antagonist"]
        if i % 4 == 0:
            words += ["tapering", "dose", "reduction"]
        if i in (5, 7, 11):
            words += ["OPRM1"]
        if i % 5 == 0:
            words += ["opioid-induced", "hyperalgesia"]
        rng.shuffle(words)
        articles.append(Article(str(1000 + i), title=f"Record {i}", abstract_sections=[AbstractSection(" ".join(words) + ".")]))
    return articles


@pytest.fixture(scope="module")
def hyperparameters() -> dict:
    return load_hyperparameters()


@pytest.fixture(scope="module")
def rules(hyperparameters):
    return topic_rules(TOPICS, hyperparameters["relevance"])


@pytest.fixture(scope="module")
def model(rules, hyperparameters):
    return train_model(synthetic_articles(), rules, CuratedSet(), hyperparameters, app_version="9.9")


def test_a_topic_with_too_few_labels_is_named_and_the_others_still_train(model):
    assert "genetics" not in model.labels
    assert "genetics" in model.skipped["genetics"] and "oihwatch label" in model.skipped["genetics"]
    assert {"oih", "ketamine", "tapering"} <= set(model.labels)


def test_too_few_relevance_labels_point_at_labelling_not_at_a_config_block(rules, hyperparameters):
    """Relevance's rule is the package's, not the user's config: labelling records is what a user can do."""
    articles = [a for a in synthetic_articles() if "hyperalgesia" not in a.abstract]
    skipped = train_model(articles, rules, CuratedSet(), hyperparameters).skipped
    assert skipped["oih"].endswith("label records with 'oihwatch label PMID oih'") and "[" not in skipped["oih"]


def test_a_retraction_or_erratum_notice_is_no_evidence_and_gets_no_tags(model, rules):
    notices = list(parse_pubmed_xml(Path(__file__).parent / "fixtures" / "notices.xml"))
    assert notices and all(n.is_notice for n in notices)
    ketamine_trial = [dataclasses.replace(n, abstract_sections=[AbstractSection(
        "A randomized double-blind trial of ketamine and tapering; OPRM1 genotyped.")]) for n in notices]
    for result in classify_articles(ketamine_trial, model, rules, curated={}):
        assert result.study_type == "other" and result.relevance == 0.0 and not result.assigned_topics and not result.key_finding


def test_model_scores_follow_the_topic_words(model, rules):
    results = list(classify_articles(synthetic_articles(30, seed=2), model, rules, curated={}))
    for i, result in enumerate(results):
        assert ("ketamine" in result.assigned_topics) == (i % 3 == 0)
    assert all(0.0 <= t.score <= 1.0 for r in results for t in r.topics)


def test_untrained_topic_falls_back_to_its_rules(model, rules):
    article = Article("1", title="OPRM1 A118G and morphine")
    [result] = classify_articles([article], model, rules, curated={})
    genetics = next(t for t in result.topics if t.topic == "genetics")
    assert genetics.assigned and genetics.source == "rule"


def test_curated_labels_win_over_model_and_rules(model, rules):
    article = Article("42", title="ketamine infusion", abstract_sections=[AbstractSection("ketamine nmda antagonist.")])
    [result] = classify_articles([article], model, rules, curated={"42": {"ketamine": False, "oih": True}})
    ketamine = next(t for t in result.topics if t.topic == "ketamine")
    assert (ketamine.assigned, ketamine.score, ketamine.source) == (False, 0.0, "curator")
    assert result.relevance == 1.0


def test_mesh_rule_adds_a_tag_the_text_missed(model, rules):
    article = Article("43", title="Some patients", mesh=[MeshHeading("Deprescriptions")])
    [result] = classify_articles([article], model, rules, curated={})
    assert "tapering" in result.assigned_topics


def test_model_adds_to_a_keyword_rule_but_never_vetoes_it(model, rules):
    strict = dataclasses.replace(model, thresholds={**model.thresholds, "tapering": 1.01})  # the model tags nothing
    ruled = Article("45", title="A taper of the dose")
    plain = Article("46", title="A dose study")
    by_rule, neither = classify_articles([ruled, plain], strict, rules, curated={})
    tapering = next(t for t in by_rule.topics if t.topic == "tapering")
    assert tapering.assigned and tapering.source == "rule" and 0.0 < tapering.score < 1.0  # the model's score is kept
    assert "tapering" not in neither.assigned_topics


def test_record_without_title_or_abstract_gets_no_tags(model, rules):
    [result] = classify_articles([Article("44")], model, rules, curated={})
    assert result.topics == [] and result.relevance == 0.0 and result.key_finding == ""


def test_evaluation_scores_the_rules_alone_beside_the_model(model, rules):
    """What the model adds is read against the keyword rules (and, with MeSH, the MeSH rule) on the same
    records: one rule hit right, one wrong, one positive no rule sees, one only the MeSH rule sees."""
    articles = [Article("51", title="A taper of the dose"), Article("52", title="A dose study"),
                Article("53", title="Taper talk"), Article("54", title="Some patients", mesh=[MeshHeading("Deprescriptions")])]
    truth = {"51": {"tapering": True}, "52": {"tapering": True}, "53": {"tapering": False}, "54": {"tapering": True}}
    report = evaluation.evaluate_model(model, articles, rules, truth)
    text, mesh = report["without_mesh"]["rules_alone"], report["with_mesh"]["rules_alone"]
    assert text["topics"]["tapering"] == {"precision": 0.5, "recall": 0.3333, "f1": 0.4, "positives": 3, "n": 4}
    assert mesh["topics"]["tapering"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "positives": 3, "n": 4}
    assert (text["macro_f1"], text["macro_f1_topics"]) == (0.4, 1)


def test_train_counts_what_the_rules_tag_as_classify_does_keyword_or_mesh(rules, hyperparameters):
    """train's 'tags N (rules alone M)' is read beside what classify tags: a MeSH hit is a rule's tag there."""
    articles = synthetic_articles()
    keyword = sum("tapering" in a.abstract for a in articles)
    indexed = [Article(str(9000 + i), title="Some patients", mesh=[MeshHeading("Deprescriptions")]) for i in range(3)]
    metrics = train_model(articles + indexed, rules, CuratedSet(), hyperparameters).meta["cv_metrics"]["tapering"]
    assert metrics["rule_tagged"] == keyword + 3 and metrics["tagged"] >= keyword + 3


def test_held_out_records_never_enter_training(rules, hyperparameters):
    articles = synthetic_articles()
    held = frozenset(a.pmid for a in articles[:40])
    model = train_model(articles, rules, CuratedSet({p: {"ketamine": True} for p in held}, held), hyperparameters)
    assert model.meta["records"] == len(articles) - 40


def test_cross_validation_folds_only_the_labelled_records_the_corpus_holds(rules, hyperparameters, monkeypatch):
    articles = synthetic_articles(60)
    present = {a.pmid: {"ketamine": int(a.pmid) % 3 == 1} for a in articles[:10]}
    absent = {str(5000 + i): {"ketamine": True} for i in range(200)}  # labelled, but not in this corpus
    held_per_fold = []
    train = evaluation.train_model

    def recording(articles, rules, curated, hyperparameters):
        held_per_fold.append(len(curated.test_pmids))
        return train(articles, rules, curated, hyperparameters)

    monkeypatch.setattr(evaluation, "train_model", recording)
    result = evaluation.cross_validate(articles, rules, CuratedSet({**present, **absent}), hyperparameters, folds=10)
    assert held_per_fold == [1] * 10  # each fold scores one record; folded over all 210, some scored none
    assert result["records"] == 10


def test_cross_validation_never_trains_on_the_held_out_split(rules, hyperparameters, monkeypatch):
    """Not even as unlabelled text with weak labels: the held-out numbers must come from records no model saw."""
    articles = synthetic_articles(60)
    labels = {a.pmid: {"ketamine": int(a.pmid) % 3 == 1} for a in articles[:20]}
    test = frozenset(a.pmid for a in articles[10:20])
    trained_on = []
    train = evaluation.train_model

    def recording(articles, rules, curated, hyperparameters):
        model = train(articles, rules, curated, hyperparameters)
        trained_on.append(model.meta["records"])
        return model

    monkeypatch.setattr(evaluation, "train_model", recording)
    evaluation.cross_validate(articles, rules, CuratedSet(labels, test), hyperparameters, folds=5)
    assert trained_on == [60 - 10 - 2] * 5  # each fold: every record but the held-out split and the fold's two


def test_saved_model_loads_back_with_the_same_scores(model, rules, tmp_path):
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, "9.9", _trained_for(model))
    texts = ["ketamine nmda", "tapering dose"]
    assert (loaded.predict_proba(texts) == model.predict_proba(texts)).all()
    assert loaded.meta["training_data_hash"] == model.meta["training_data_hash"]


def test_model_from_another_version_is_a_clear_error(model, tmp_path):
    save_model(model, tmp_path)
    with pytest.raises(ClassifierError, match="oihwatch train"):
        load_model(tmp_path, "10.0", _trained_for(model))


def test_a_model_of_another_format_says_which_format_each_side_has(model, tmp_path):
    """Same oihwatch and scikit-learn versions on both sides: without the formats the refusal read as arbitrary."""
    save_model(model, tmp_path)
    meta_file = tmp_path / "model.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta_file.write_text(json.dumps({**meta, "format": 2}), encoding="utf-8")
    with pytest.raises(ClassifierError, match=r"\(model format 2\); this is oihwatch 9\.9 with scikit-learn \S+ \(model format 1\)"):
        load_model(tmp_path, "9.9", _trained_for(model))


def test_changed_topic_rules_ask_for_retraining(model, tmp_path):
    save_model(model, tmp_path)
    changed = _trained_for(model)
    changed["topics"]["ketamine"]["keywords"] = ["ketamin", "esketamin"]
    with pytest.raises(ClassifierError, match="changed since"):
        load_model(tmp_path, "9.9", changed)


def test_no_model_says_to_train(tmp_path):
    with pytest.raises(ClassifierError, match="run 'oihwatch train'"):
        load_model(tmp_path / "models", "9.9", {})


def test_bad_keyword_regex_names_the_topic(hyperparameters):
    with pytest.raises(ClassifierError, match=r"topics\.ketamine"):
        topic_rules({"ketamine": {"label": "K", "keywords": ["ketamin("]}}, hyperparameters["relevance"])


def test_oih_is_reserved_for_relevance(hyperparameters):
    with pytest.raises(ClassifierError, match="reserved"):
        topic_rules({"oih": {"label": "x"}}, hyperparameters["relevance"])


def test_keyword_rules_keep_escapes_when_lowercased(hyperparameters):
    [_, rule] = topic_rules({"t": {"label": "T", "keywords": [r"\bNMDA\b", r"\Bgene"]}}, hyperparameters["relevance"])
    assert rule.keyword_hit("an NMDA antagonist") and not rule.keyword_hit("NMDAR")
    assert rule.keyword_hit("transgene") and not rule.keyword_hit("gene therapy")


def test_a_rule_shows_the_words_it_matched_in_their_own_case(hyperparameters):
    topic = {"label": "K", "keywords": ["ketamin"], "requires": [r"\bpain"], "exclude": ["sedation"]}
    [_, rule] = topic_rules({"ketamine": topic}, hyperparameters["relevance"])
    assert rule.matched_words("Low-dose KETAMINE for pain") == "KETAMIN"
    assert rule.matched_words("Ketamine sedation and pain") == ""


def test_threshold_has_the_best_f_beta_favouring_recall():
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.5, 0.4, 0.3])
    # F1: catching the fourth positive would tag four negatives too, so three of four is best.
    assert choose_threshold(scores, truth, beta=1) == pytest.approx(0.65)
    # F2 weighs recall four times: every positive, at the price of four negatives.
    assert choose_threshold(scores, truth, beta=2) == pytest.approx(0.05)
    # Where the fourth positive costs one negative only, F1 takes it too.
    assert choose_threshold(np.array([0.9, 0.8, 0.7, 0.5, 0.6, 0.2, 0.1, 0.05]), truth, beta=1) == pytest.approx(0.35)
    # A recall floor is kept whatever F-beta says.
    assert choose_threshold(scores, truth, beta=1, min_recall=1.0) == pytest.approx(0.05)


def test_threshold_is_chosen_for_the_tags_as_assigned_model_or_rule():
    truth = np.array([1, 1, 0, 0, 0, 1])
    ruled = np.array([1, 1, 0, 0, 0, 0], dtype=bool)  # a keyword rule tags these whatever the model says
    # The model's best extra tags are two false alarms before its one missed positive: F1 keeps the rules alone.
    only_rules = choose_threshold(np.array([0.9, 0.2, 0.8, 0.7, 0.1, 0.3]), truth, beta=1, ruled=ruled)
    assert only_rules > 1.0
    # When the model ranks the positive the rule missed first, it adds it.
    assert choose_threshold(np.array([0.9, 0.2, 0.4, 0.3, 0.1, 0.8]), truth, beta=1, ruled=ruled) == pytest.approx(0.6)


def test_threshold_never_splits_tied_scores():
    threshold = choose_threshold(np.array([0.9, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0]), beta=2, min_recall=1.0)
    assert 0.1 < threshold < 0.5


def _trained_for(model) -> dict:
    settings = model.meta["settings"]
    return {"topics": {k: dict(v) for k, v in settings["topics"].items()}, "relevance": settings["relevance"]}


def test_requires_and_exclude_narrow_a_keyword_rule_the_same_way_for_one_text_and_a_batch(hyperparameters):
    from classifier.weak_labels import keyword_hits

    topic = {"label": "K", "keywords": ["ketamin"], "requires": [r"\bpain"], "exclude": ["procedural sedation"]}
    rules = topic_rules({"ketamine": topic}, hyperparameters["relevance"])
    texts = ["Ketamine for postoperative pain.", "Ketamine for depression.", "Ketamine procedural sedation and pain scores."]
    assert [rules[1].keyword_hit(t) for t in texts] == [True, False, False]
    assert keyword_hits(texts, rules)[:, 1].tolist() == [1.0, 0.0, 0.0]


def test_a_full_disk_keeps_the_previous_model_and_says_so_in_one_line(model, rules, tmp_path):
    save_model(model, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    # The model file's bytes go to /dev/full, which fails every write with ENOSPC, as a full disk does.
    (tmp_path / ".model.joblib.tmp").symlink_to("/dev/full")
    with pytest.raises(ClassifierError, match=rf"cannot save the model in {tmp_path}: No space left on device; the previous model is kept"):
        save_model(model, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary file left either
    assert load_model(tmp_path, "9.9", _trained_for(model)).meta == model.meta


@pytest.mark.parametrize("inside", [False, True])
def test_a_model_dir_that_is_a_file_or_inside_one_is_one_line_and_the_file_is_kept(model, tmp_path, inside):
    taken = tmp_path / "models"
    taken.write_text("not a folder")
    directory = taken / "more" if inside else taken
    with pytest.raises(ClassifierError, match="cannot save the model in .*(it is a file, not a folder|Not a directory)"):
        save_model(model, directory)
    assert taken.read_text() == "not a folder"


class Killed(BaseException):
    """The process dying at this point: nothing after it runs, not even clean-up."""


def test_a_save_cut_short_at_any_step_leaves_a_model_and_the_metadata_of_that_model(model, tmp_path, monkeypatch):
    newer = dataclasses.replace(model, meta={**model.meta, "model_version": "newer", "thresholds": {"oih": 0.99}})
    replace = os.replace

    def killed_at(step):
        def replacing(source, target):
            if Path(target).name.startswith(step):
                raise Killed
            replace(source, target)
        return replacing

    for step in ("model-", "model.json"):  # before the model file is in place; before its metadata is
        save_model(model, tmp_path)
        with monkeypatch.context() as crash:
            crash.setattr("classifier.persistence.os.replace", killed_at(step))
            with pytest.raises(Killed):
                save_model(newer, tmp_path)
        assert read_meta(tmp_path)["thresholds"] == model.meta["thresholds"]  # what the digest reads
        assert load_model(tmp_path, "9.9", _trained_for(model)).meta == model.meta
    save_model(newer, tmp_path)
    assert read_meta(tmp_path)["thresholds"] == {"oih": 0.99}
    assert load_model(tmp_path, "9.9", _trained_for(model)).meta["model_version"] == "newer"
    assert len(list(tmp_path.glob("model-*.joblib"))) == 1  # the previous model files are gone


def test_metadata_without_its_model_file_is_no_model(model, tmp_path):
    save_model(model, tmp_path)
    next(tmp_path.glob("model-*.joblib")).unlink()
    for read in (lambda: read_meta(tmp_path), lambda: load_model(tmp_path, "9.9", _trained_for(model))):
        with pytest.raises(ClassifierError, match=rf"no usable model in {tmp_path}: model-\w+\.joblib is missing; run 'oihwatch train'"):
            read()


def test_a_train_replacing_the_model_while_it_loads_gives_the_new_model(model, tmp_path, monkeypatch):
    """explain takes no lock: a save between reading the metadata and opening its file removes that file."""
    newer = dataclasses.replace(model, meta={**model.meta, "model_version": "newer"})
    save_model(model, tmp_path)
    first_read = read_meta

    def read_then_train(directory, **options):
        meta = first_read(directory, **options)
        monkeypatch.setattr("classifier.persistence.read_meta", first_read)
        save_model(newer, tmp_path)  # lands now, before the file named in ``meta`` is opened
        return meta

    monkeypatch.setattr("classifier.persistence.read_meta", read_then_train)
    assert load_model(tmp_path, "9.9", _trained_for(model)).meta["model_version"] == "newer"


@pytest.mark.parametrize("damage", ["cut short", "overwritten in its arrays"])
def test_a_damaged_model_file_is_refused_at_load_in_one_line_that_says_to_train(model, tmp_path, damage):
    """Bytes overwritten inside the coefficients still unpickle, into a model that scores wrongly or
    fails deep in scikit-learn: its content no longer matches the SHA-256 its name carries."""
    save_model(model, tmp_path)
    path = next(tmp_path.glob("model-*.joblib"))
    if damage == "cut short":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        overwrite_coefficients(path)
    with pytest.raises(ClassifierError, match=rf"^cannot load {re.escape(str(path))} \([^;]+\); run 'oihwatch train'$"):
        load_model(tmp_path, "9.9", _trained_for(model))


def test_a_models_folder_left_to_another_user_says_whose_fix_it_is_not_free_space(model, tmp_path, monkeypatch):
    """After 'sudo oihwatch train' the models folder is root's: free space would not help the service user."""
    def refused(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(ClassifierError) as failed:
        save_model(model, tmp_path)
    assert str(failed.value).endswith(f"Permission denied. Make {tmp_path} writable for the user running oihwatch "
                                      f"(after a run with sudo: sudo chown -R $USER {tmp_path}), then run 'oihwatch train'")


def test_a_first_save_on_a_full_disk_speaks_of_no_previous_model(model, tmp_path):
    (tmp_path / ".model.joblib.tmp").symlink_to("/dev/full")
    with pytest.raises(ClassifierError) as failed:
        save_model(model, tmp_path)
    assert str(failed.value) == (f"cannot save the model in {tmp_path}: No space left on device. "
                                 "Free some space (or fix the folder's permissions), then run 'oihwatch train'")
    assert list(tmp_path.iterdir()) == []
