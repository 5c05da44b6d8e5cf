"""The classifier's commands end to end: a temp config and database, real PubMed XML from shared data.

ingest -> classify without a model (exit 1, says to train) -> train -> classify -> explain ->
label (the curated label wins on re-classifying) -> evaluate --json. One store for the module:
training is the slow step and every later command reads the model it saved.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.curated import default_label_file, read_label_file
from classifier.training import build_training_data
from corpus.store import Store
from damaged_model import overwrite_coefficients
from harvester.jsonl import parse_jsonl
from oihwatch.app import App
from oihwatch.cli import cli
from oihwatch.commands.classify import classify_records, evaluate, train_and_save
from oihwatch.config import default_config_text
from oihwatch.model_info import rules_for
from oihwatch.pipeline import classify_step
from oihwatch.provenance import labels_in_force


CURATED_TRAIN = set(read_label_file(default_label_file()).for_training())


@pytest.fixture(scope="module")
def config(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("classifier-cli")
    text = default_config_text("ops@example.org")
    # A topic with too few records to train: tagged by its keyword rule alone (explain shows the words).
    text = text.replace("[classifier]", '[topics.hypnosis]\nlabel = "Hypnosis"\nkeywords = ["hypnos"]\n\n[classifier]', 1)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    files = sorted(str(p) for p in (shared_data / "pubmed-xml" / "exports").glob("*.xml"))
    files += sorted(str(p) for p in (shared_data / "pubmed-xml" / "metapub").glob("*.xml"))
    result = invoke(path, "ingest", *files)
    assert result.exit_code == 0, result.output
    with (shared_data / "corpus.jsonl").open(encoding="utf-8") as handle:
        opioid_records = [a for i, a in enumerate(parse_jsonl(handle)) if a.pmid in CURATED_TRAIN or i % 4 == 0]
    with Store(folder / "oihwatch.db") as store:
        store.upsert_articles(opioid_records)  # the XML files hold too few topic records to train on
    return path


def invoke(config: Path, *args: str):
    return CliRunner().invoke(cli, ["-c", str(config), *args])


def tags(config: Path, pmid: str) -> dict:
    with Store(config.parent / "oihwatch.db") as store:
        rows = store.db.execute("SELECT topic, assigned, source FROM tags WHERE pmid = ?", (pmid,)).fetchall()
    return {topic: (bool(assigned), source) for topic, assigned, source in rows}


def test_a_label_before_any_model_is_kept_and_says_what_shows_it(shared_data: Path, tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    assert invoke(path, "ingest", str(shared_data / "pubmed-xml" / "metapub" / "38011560.xml")).exit_code == 0
    result = invoke(path, "label", "38011560", "ketamine", "--not")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PMID 38011560 is not about ketamine (Ketamine and NMDA antagonists); ")
    assert "after 'oihwatch train' and 'oihwatch classify'" in result.stdout
    with Store(tmp_path / "oihwatch.db") as store:
        rows = store.db.execute("SELECT topic, value FROM labels WHERE pmid = '38011560'").fetchall()
    assert [tuple(row) for row in rows] == [("ketamine", 0)]


def test_label_takes_a_topic_in_any_letter_case_as_search_and_recipients_do(shared_data: Path, tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    assert invoke(path, "ingest", str(shared_data / "pubmed-xml" / "metapub" / "38011560.xml")).exit_code == 0
    for typed in (" Ketamine", "OIH"):
        result = invoke(path, "label", "38011560", typed)
        assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PMID 38011560 is about OIH")
    with Store(tmp_path / "oihwatch.db") as store:
        rows = store.db.execute("SELECT topic, value FROM labels WHERE pmid = '38011560' ORDER BY topic").fetchall()
    assert [tuple(row) for row in rows] == [("ketamine", 1), ("oih", 1)]


def test_label_takes_a_topic_by_the_label_the_digest_and_web_view_show(shared_data: Path, tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    assert invoke(path, "ingest", str(shared_data / "pubmed-xml" / "metapub" / "38011560.xml")).exit_code == 0
    result = invoke(path, "label", "38011560", " tapering AND DISCONTINUATION", "--not")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PMID 38011560 is not about tapering (Tapering and discontinuation); ")
    with Store(tmp_path / "oihwatch.db") as store:
        rows = store.db.execute("SELECT topic, value FROM labels WHERE pmid = '38011560'").fetchall()
    assert [tuple(row) for row in rows] == [("tapering", 0)]


@pytest.fixture(scope="module")
def trained(config: Path) -> Path:
    missing = invoke(config, "classify")
    assert missing.exit_code == 1
    assert "run 'oihwatch train'" in missing.output
    result = invoke(config, "train")
    assert result.exit_code == 0, result.output
    assert "saved to" in result.output
    return config


def test_train_then_classify_tags_every_record(trained: Path):
    result = invoke(trained, "classify", "--all")
    assert result.exit_code == 0, result.output
    assert int(result.stdout.split()[0]) > 1500


def test_explain_shows_the_terms_behind_each_tag(trained: Path):
    result = invoke(trained, "explain", "38011560")  # metapub: a ketamine-for-depression review
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("38011560: relevance")
    assert "ketamine:" in result.output and "ketamin" in result.output


def test_explain_says_who_set_the_relevance(trained: Path, tmp_path: Path):
    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / trained.name
    curated = read_label_file(default_label_file()).values
    with Store(config.parent / "oihwatch.db") as store:
        unread = next(a.pmid for a in store.iter_articles() if a.pmid not in curated and a.abstract)
    assert re.fullmatch(rf"{unread}: relevance [01]\.\d\d \(model\), .*", invoke(config, "explain", unread).stdout.splitlines()[0])
    assert invoke(config, "explain", "38011560").stdout.startswith("38011560: relevance 0.00 (curator), ")  # read: not OIH
    assert invoke(config, "label", "38011560", "oih").exit_code == 0
    lines = invoke(config, "explain", "38011560").stdout.splitlines()
    assert lines[:3] == ["38011560: relevance 1.00 (curator), study type review", "oih (relevance): 1.00 (curator)",
                         "    set by a curator who read the record, not by any term"]


def test_explain_shows_no_term_weights_under_a_curated_tag(trained: Path):
    """No term pushed a tag a person set: the model's weights listed there would read as the reason."""
    lines = invoke(trained, "explain", "38011560").stdout.splitlines()  # the shipped set labels it for each default topic
    curated = [i for i, line in enumerate(lines) if line.endswith("(curator)")]
    assert len(curated) == 5, lines  # relevance and the four topics
    for i in curated:
        assert lines[i + 1] == "    set by a curator who read the record, not by any term"
        assert i + 2 == len(lines) or not lines[i + 2].startswith(" "), lines  # nothing more under it


def test_explain_names_the_words_a_keyword_rule_matched(trained: Path):
    assert invoke(trained, "classify", "--all").exit_code == 0
    with Store(trained.parent / "oihwatch.db") as store:
        pmid, topic = store.db.execute(
            "SELECT pmid, topic FROM tags WHERE source = 'rule' AND assigned = 1 ORDER BY pmid LIMIT 1"
        ).fetchone()
    lines = invoke(trained, "explain", pmid).output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith(f"{topic}:"))
    assert lines[head].endswith("assigned (rule)")
    assert lines[head + 1].startswith(('    keyword rule matched "', "    MeSH rule: ")) and len(lines[head + 1]) > 20


def test_explain_an_unknown_pmid_is_a_clear_error(trained: Path):
    result = invoke(trained, "explain", "1")
    assert result.exit_code == 1 and "not in the corpus" in result.output


def test_a_curated_label_wins_when_reclassified(trained: Path):
    assert invoke(trained, "classify", "--all").exit_code == 0
    with Store(trained.parent / "oihwatch.db") as store:  # a record no curator has judged yet
        [pmid] = store.db.execute("SELECT pmid FROM tags WHERE topic = 'ketamine' AND source = 'model' ORDER BY pmid LIMIT 1").fetchone()
    labelled = invoke(trained, "label", pmid, "ketamine")
    assert labelled.exit_code == 0 and "show it now" in labelled.output, labelled.output
    assert tags(trained, pmid)["ketamine"] == (True, "curator")  # applied at once, no classify needed
    assert invoke(trained, "label", pmid, "ketamine", "--not").exit_code == 0
    assert invoke(trained, "classify", "--all").exit_code == 0
    assert tags(trained, pmid)["ketamine"] == (False, "curator")


def test_evaluate_json_reports_with_and_without_mesh(trained: Path):
    result = invoke(trained, "evaluate", "--json", "--folds", "2")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for part in ("cross_validated", "held_out"):
        assert {"without_mesh", "with_mesh", "records"} <= set(report[part])
        assert "relevance_positives" in report[part]["without_mesh"]
        assert {"topics", "macro_f1", "macro_f1_topics"} == set(report[part]["with_mesh"]["rules_alone"])
    # what it measures, on stderr; the fold models' 'not trained' lines are not the user's model's
    assert re.fullmatch(r"cross-validating \(2 folds\), then the saved model on the held-out records "
                        r"\(\d+ with curated training labels, \d+ held out\)\.\.\.\n", result.stderr), result.stderr


def test_evaluate_leaves_topics_without_positives_out_of_the_macro_f1(shared_data: Path, tmp_path: Path):
    """The PubMed XML files' curated records hold no positive: a 0.00 would read as a model that finds
    nothing, and 'None' is Python's word. Two records labelled ketamine make the one topic averaged."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    assert invoke(path, "ingest", *sorted(str(p) for p in (shared_data / "pubmed-xml" / "metapub").glob("*.xml"))).exit_code == 0
    with Store(tmp_path / "oihwatch.db") as store:
        curated = sorted({row[0] for row in store.db.execute("SELECT pmid FROM articles")} & CURATED_TRAIN)
    for pmid in curated[:2]:
        assert invoke(path, "label", pmid, "ketamine").exit_code == 0
    assert invoke(path, "train").exit_code == 0
    lines = invoke(path, "evaluate", "--folds", "2").stdout.splitlines()
    none = "relevance ROC-AUC n/a (no positives)"
    assert re.fullmatch(rf"cross_validated \(\d+ records, without mesh\): macro-F1 (\d\.\d{{3}}) over 1 of 4 topics "
                        rf"\(the others are n/a\)  {re.escape(none)}", lines[0]), lines[0]
    assert lines[1] == "  tapering   P, R, F1 n/a (no positives)"  # names padded to the longest, non_opioid
    assert re.fullmatch(r"  ketamine   P \d\.\d{3}  R \d\.\d{3}  F1 \d\.\d{3}  \(2 positives\)", lines[2]), lines[2]
    # each part ends with the rules alone on the same records, the topics without positives n/a there too
    assert re.fullmatch(r"  rules alone: macro-F1 \d\.\d{3} over 1 of 4 topics \(the others are n/a\) \(tapering n/a, "
                        r"ketamine R \d\.\d{3} F1 \d\.\d{3}, genetics n/a, non_opioid n/a\)", lines[5]), lines[5]
    assert re.fullmatch(rf"held_out \(\d+ records, without mesh\): macro-F1 n/a \(no topic has both positives and negatives\)  "
                        rf"{re.escape(none)}", lines[12])
    assert lines[17] == ("  rules alone: macro-F1 n/a (no topic has both positives and negatives) "
                         "(tapering n/a, ketamine n/a, genetics n/a, non_opioid n/a)")
    report = json.loads(invoke(path, "evaluate", "--folds", "2", "--json").stdout)
    measured = report["cross_validated"]["without_mesh"]
    assert measured["topics"]["tapering"] == {"precision": None, "recall": None, "f1": None, "positives": 0, "n": measured["topics"]["tapering"]["n"]}
    assert (measured["macro_f1"], measured["macro_f1_topics"]) == (measured["topics"]["ketamine"]["f1"], 1)
    held = report["held_out"]["without_mesh"]
    assert (held["macro_f1"], held["macro_f1_topics"], held["relevance_roc_auc"]) == (None, 0, None)


@pytest.mark.parametrize("folds", ["0", "-1", "1"])
def test_evaluate_needs_two_folds_or_more(trained: Path, folds: str):
    result = invoke(trained, "evaluate", "--folds", folds)
    assert result.exit_code == 2, result.output  # one fold would hold out every curated record: nothing cross-validated
    assert f"Invalid value for '--folds': {folds} is not in the range x>=2" in result.stderr and "Traceback" not in result.output


def test_evaluate_refuses_more_folds_than_curated_records_before_training(trained: Path, monkeypatch: pytest.MonkeyPatch):
    def no_training(*args, **kwargs):
        raise AssertionError("evaluate trained a fold model before refusing --folds")

    monkeypatch.setattr("classifier.evaluation.train_model", no_training)
    with Store(trained.parent / "oihwatch.db") as store:
        shipped = len({row[0] for row in store.db.execute("SELECT pmid FROM articles")} & CURATED_TRAIN)
    result = invoke(trained, "evaluate", "--folds", "100000")
    assert result.exit_code == 2, result.output  # a bad option value, as --folds 1 is
    said = re.search(r"\nError: Invalid value for '--folds': 100000 is more than the (\d+) records with curated training "
                     r"labels in the corpus \(each fold holds out at least one\); give 2 to \1\n$", result.stderr)
    assert result.stderr.startswith("Usage: ")
    assert said and int(said.group(1)) >= shipped > 1000, result.stderr  # the shipped labels, and any given with 'label'
    assert result.stdout == ""


def test_explain_says_when_a_paper_is_retracted(trained: Path):
    assert invoke(trained, "ingest", str(Path(__file__).parent / "fixtures" / "notices.xml")).exit_code == 0
    result = invoke(trained, "explain", "24084238")  # retracted by the notice 99000010
    assert result.exit_code == 0 and result.stdout.splitlines()[0].endswith("; RETRACTED (search and export show it only with --include-retracted)")
    assert "RETRACTED" not in invoke(trained, "explain", "38011560").stdout


def test_explain_says_relevance_is_not_trained_yet(shared_data: Path, tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    files = sorted(str(p) for p in (shared_data / "pubmed-xml" / "exports").glob("*.xml"))  # no OIH record among them
    assert invoke(path, "ingest", *files).exit_code == 0
    assert invoke(path, "train").exit_code == 0
    with Store(tmp_path / "oihwatch.db") as store:
        pmid = next(store.iter_articles()).pmid
    lines = invoke(path, "explain", pmid).stdout.splitlines()
    assert lines[1:3] == ["oih (relevance): 0.00 (rule)", "    not trained yet (too few labelled records): 'oihwatch train' prints why"]


def test_a_topic_added_to_the_config_retrains_and_tags_every_record_on_the_next_run(trained: Path, tmp_path: Path):
    """Only new records would otherwise meet the new topic, and status would not say the model is stale."""
    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / "config.toml"
    assert invoke(config, "classify", "--all").exit_code == 0
    text = config.read_text(encoding="utf-8").replace(
        "[classifier]", '[topics.sleep]\nlabel = "Sleep"\nkeywords = ["sleep", "insomnia"]\n\n[classifier]', 1)
    config.write_text(text, encoding="utf-8")
    status = json.loads(invoke(config, "status", "--json").stdout)
    assert any("the saved model cannot be used: the topics or their rules changed" in w for w in status["warnings"])
    app = App(str(config), environ={})
    with app.writing("run"):
        report = classify_step(app)
    app.close()
    with Store(config.parent / "oihwatch.db") as store:
        records = store.count_articles()
        versions = {row[0] for row in store.db.execute("SELECT DISTINCT model_version FROM classifications")}
        sleep = store.db.execute("SELECT COUNT(*) FROM tags WHERE topic = 'sleep' AND assigned = 1").fetchone()[0]
    assert report.startswith("trained model ") and report.endswith(f"; {records} records classified")
    assert "(the topics or their rules changed since the model in " in report  # why it trained
    assert len(versions) == 1 and sleep > 0
    assert not json.loads(invoke(config, "status", "--json").stdout)["model"]["problem"]


def test_label_with_an_unknown_topic_lists_the_topics_there_are(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    result = invoke(path, "label", "1", "nope")
    assert result.exit_code == 2  # a bad argument, as a bad PMID is: a usage error
    assert result.stderr.startswith("Usage: ") and result.stderr.endswith(
        "\nError: Invalid value for 'TOPIC': unknown topic 'nope'; use 'oih' or one of: tapering (Tapering and discontinuation), "
        "ketamine (Ketamine and NMDA antagonists), genetics (Genetics and pharmacogenomics), non_opioid (Non-opioid therapies)\n")
    path.write_text('[ncbi]\nemail = "ops@example.org"\n[topics]\n', encoding="utf-8")
    result = invoke(path, "label", "1", "nope")
    assert result.exit_code == 2
    assert result.stderr.endswith("\nError: Invalid value for 'TOPIC': unknown topic 'nope'; use 'oih' (no [topics.*] are configured)\n")


def test_a_pasted_pmid_with_spaces_is_the_pmid_and_anything_else_is_a_usage_error(trained: Path):
    assert invoke(trained, "explain", " 38011560 ").stdout.startswith("38011560: relevance ")
    wrong = invoke(trained, "explain", "PMID:38011560")
    assert wrong.exit_code == 2 and "'PMID:38011560' is not a PMID (digits only, e.g. 38011560)" in wrong.stderr
    assert invoke(trained, "label", "x1", "oih").exit_code == 2
    assert invoke(trained, "explain", "３８０１１５６０").exit_code == 2  # full-width digits are not a PMID


def test_after_a_train_every_record_waits_for_classify(trained: Path, tmp_path: Path):
    """Its tags came from the model replaced: a plain classify brings every one up to date."""
    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / "config.toml"
    assert invoke(config, "classify", "--all").exit_code == 0
    assert json.loads(invoke(config, "status", "--json").stdout)["unclassified"] == 0
    result = invoke(config, "train")
    assert result.exit_code == 0
    assert result.stdout.startswith("model ") and "'oihwatch classify' next" not in result.stdout  # the report is train's result
    assert result.stderr.splitlines()[-1] == "run 'oihwatch classify' next: every record waits for it, its tags came from the model replaced"
    status = json.loads(invoke(config, "status", "--json").stdout)
    records = status["records"]
    assert status["unclassified"] == records
    assert next(run["found"] for run in status["last_runs"] if run["step"] == "train") == records  # trained on
    assert invoke(config, "classify").stdout == f"{records} records classified\n"


def test_a_run_that_retrains_for_another_version_says_what_changed(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / "config.toml"
    meta_path = config.parent / "models" / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "oihwatch": "0.0.1"}), encoding="utf-8")
    app = App(str(config), environ={})
    with app.writing("run"):
        report = classify_step(app)
    app.close()
    assert re.search(r"\(the model in .* was made by oihwatch 0\.0\.1 with scikit-learn \S+ \(model format 1\); "
                     r"this is oihwatch \S+ with scikit-learn \S+ \(model format 1\)\); \d+ records classified$", report), report
    printed = capsys.readouterr()
    assert printed.out == ""  # the report is one of the run's step lines, on stderr as they are
    assert "saved to" in printed.err and "'oihwatch classify' next" not in printed.err  # the run classifies right after


def test_train_classify_and_evaluate_never_read_the_raw_xml_and_train_on_the_same_data(trained: Path, tmp_path: Path):
    """The classifier never looks at a record's PubMed XML (about 15 KB each in a harvested corpus), yet
    train held every record with it at once: 1.7 GB at 100,000 records. SQLite's authorizer sees every
    column a statement reads; the model still learns from exactly what it learnt from with the XML."""
    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / "config.toml"
    app = App(str(config), environ={})
    assert app.store.db.execute("SELECT COUNT(*) FROM articles WHERE raw_xml != ''").fetchone()[0] > 100
    read = []

    def authorize(action, table, column, *_):
        if action == sqlite3.SQLITE_READ and (table, column) == ("articles", "raw_xml"):
            read.append(column)
        return sqlite3.SQLITE_OK

    app.store.db.set_authorizer(authorize)
    train_and_save(app, report_on_stderr=False)
    assert read == [], "train"
    assert classify_records(app, everything=True) > 1500
    assert read == [], "classify"
    assert CliRunner().invoke(evaluate, ["--json", "--folds", "2"], obj=app).exit_code == 0
    assert read == [], "evaluate"
    app.store.db.set_authorizer(None)
    rules, hyperparameters = rules_for(app.settings)
    weights = [float(hyperparameters["model"][name]) for name in ("curated_weight", "weak_weight")]
    whole = build_training_data(list(app.store.iter_articles()), rules, labels_in_force(app.store), *weights)
    saved = json.loads((config.parent / "models" / "model.json").read_text(encoding="utf-8"))
    assert saved["training_data_hash"] == whole.digest()
    app.close()


def test_a_model_file_damaged_in_place_is_one_line_for_classify_and_label_and_run_retrains(trained: Path, tmp_path: Path):
    """Bytes overwritten in the model's arrays still unpickle: the file is refused at load, as a truncated
    one is, so classify and label say what to do in one line and a run trains a new model by itself."""
    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / "config.toml"
    path = next((config.parent / "models").glob("model-*.joblib"))
    overwrite_coefficients(path)
    refused = f"Error: cannot load {path} (damaged: its content does not match the SHA-256 in its name); run 'oihwatch train'\n"
    classify = invoke(config, "classify", "--all")
    assert (classify.exit_code, classify.output) == (1, refused)
    label = invoke(config, "label", "38011560", "ketamine")
    assert label.exit_code == 0, label.output
    app = App(str(config), environ={})
    with app.writing("run"):
        report = classify_step(app)
    app.close()
    assert re.fullmatch(rf"trained model \S+ \(cannot load {re.escape(str(path))} \(damaged: [^)]+\)\); \d+ records classified", report), report


def test_a_train_stopped_after_its_model_is_saved_leaves_every_record_waiting_for_classify(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A full disk or a kill between the two steps must not leave a new model in force whose tags no record
    waits for: the next digest would go out with the old model's tags (a new topic's papers missing)."""
    import oihwatch.commands.classify as classify_command

    shutil.copytree(trained.parent, tmp_path / "copy")
    config = tmp_path / "copy" / "config.toml"
    assert invoke(config, "classify", "--all").exit_code == 0

    def stopped_after(save):
        def save_then_stop(*args, **kwargs):
            save(*args, **kwargs)
            raise KeyboardInterrupt  # what a kill right after the save leaves, as far as the store can tell
        return save_then_stop

    monkeypatch.setattr(classify_command, "save_model", stopped_after(classify_command.save_model))
    assert invoke(config, "train").exit_code == 1
    status = json.loads(invoke(config, "status", "--json").stdout)
    assert status["unclassified"] == status["records"]
