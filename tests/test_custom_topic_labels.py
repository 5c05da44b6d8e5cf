"""A topic of one's own, labelled with 'oihwatch label': on the shared corpus (corpus.jsonl), a
buprenorphine topic the shipped curated labels do not cover, labelled as a user would.

One ingested corpus for the module; each test trains on its own copy.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import default_config_text

BUPRENORPHINE = """
[topics.buprenorphine]
label = "Buprenorphine"
keywords = ['buprenorphin', 'butrans', 'suboxone']
requires = ['\\bpain', 'analges', 'hyperalges']
exclude = ['maintenance treatment']
mesh = ["Buprenorphine"]
"""
# Buprenorphine in the title, none in the shipped held-out split.
POSITIVES = "9439446 8138651 9167372 9404175 8280545 8542854 8961492 9349066 8737553 8829938 7489472".split()


@pytest.fixture(scope="module")
def ingested(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("custom-topic") / "config.toml"
    path.write_text(default_config_text("ops@example.org") + BUPRENORPHINE, encoding="utf-8")
    result = invoke(path, "ingest", str(shared_data / "corpus.jsonl"))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def config(ingested: Path, tmp_path: Path) -> Path:
    shutil.copytree(ingested.parent, tmp_path / "copy")
    return tmp_path / "copy" / ingested.name


def invoke(config: Path, *args: str):
    return CliRunner().invoke(cli, ["-c", str(config), *args])


def line_of(output: str, label: str) -> str:
    return next(line for line in output.splitlines() if line.split()[:1] == [label])


def tagged(config: Path, topic: str) -> tuple[int, int]:
    """How many records carry ``topic``, of how many."""
    with Store(config.parent / "oihwatch.db") as store:
        count = store.db.execute("SELECT COUNT(*) FROM tags WHERE topic = ? AND assigned = 1", (topic,)).fetchone()[0]
        return count, store.count_articles()


def test_a_few_labelled_positives_and_one_negative_do_not_put_a_new_topic_on_the_corpus(config: Path):
    """With (almost) no curated negatives no false alarm can be counted, so a threshold chosen on curated
    records alone fell below most of the corpus: 2,343 of 4,818 records tagged, 'P 0.92 R 1.00'."""
    for pmid in POSITIVES:
        assert invoke(config, "label", pmid, "buprenorphine").exit_code == 0
    assert invoke(config, "label", "9301399", "buprenorphine", "--not").exit_code == 0  # the keyword rule tags it
    trained = invoke(config, "train")
    assert trained.exit_code == 0, trained.output
    assert ("CV on weak labels (its own rules, not a measurement; 11 curated positives and 1 negative, "
            "a curated threshold needs 5 of each): P ") in line_of(trained.stdout, "buprenorphine")
    assert invoke(config, "classify").exit_code == 0
    count, records = tagged(config, "buprenorphine")
    assert 11 <= count < records / 20, (count, records)  # about the 50 records that name it, not 2,343
    # train says how many records the label would tag, beside the rules alone, where a low threshold shows at once
    would, of, ruled = map(int, re.search(r"; tags (\d+) of (\d+) records \(rules alone (\d+)\)$",
                                          line_of(trained.stdout, "buprenorphine").replace(",", "")).groups())
    assert of <= records and ruled <= would < of / 20, (would, of, ruled)


def test_evaluate_lists_a_topic_no_record_is_labelled_for_and_says_what_macro_f1_is_over(config: Path):
    """A new (or renamed) topic has no curated labels: it was left out of evaluate silently, and the
    macro-F1 averaged over the others without saying so."""
    assert invoke(config, "train").exit_code == 0
    result = invoke(config, "evaluate", "--folds", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if not line.startswith(" ")]
    assert len(heads) == 4
    for head in heads:
        assert " over 4 of 5 topics (" in lines[head] or " over 3 of 5 topics (" in lines[head], lines[head]
        assert line_of("\n".join(lines[head + 1 : head + 6]), "buprenorphine").split(None, 1)[1] == "n/a (no labelled records)"
        assert "buprenorphine n/a" in lines[head + 6]  # the rules alone, the same way
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("  rules alone")]
    assert {line.index(line.split()[1], 2) for line in rows} == {len("  buprenorphine ")}, rows  # one column, the longest name's
    report = json.loads(invoke(config, "evaluate", "--folds", "2", "--json").stdout)
    for part in ("cross_validated", "held_out"):
        for measured in (report[part]["without_mesh"], report[part]["with_mesh"]):
            assert measured["topics"]["buprenorphine"] == {"precision": None, "recall": None, "f1": None, "positives": 0, "n": 0}
            assert measured["macro_f1_topics"] < len(measured["topics"]) == 5


def test_labels_on_held_out_records_say_they_do_not_train_and_evaluate_gives_no_precision_without_negatives(config: Path):
    """These six buprenorphine papers are in the shipped held-out split: the labels never reached training,
    unsaid, and evaluate scored the topic on its six positives alone, precision 1.0 by construction,
    averaged into the held-out macro-F1."""
    held_out = "7489418 9172009 9172024 9190324 9926189 11967625".split()
    for pmid in held_out:
        said = invoke(config, "label", pmid, "buprenorphine").stdout
        assert said.endswith("; the record is held out for evaluation: this label will not train the model\n"), said
    assert "held out" not in invoke(config, "label", POSITIVES[0], "buprenorphine").stdout
    assert invoke(config, "train").exit_code == 0
    report = json.loads(invoke(config, "evaluate", "--folds", "2", "--json").stdout)
    for measured in (report["held_out"]["without_mesh"], report["held_out"]["with_mesh"]):
        bup = measured["topics"]["buprenorphine"]
        assert (bup["precision"], bup["f1"], bup["positives"], bup["n"]) == (None, None, 6, 6) and bup["recall"] is not None
        f1s = [t["f1"] for t in measured["topics"].values() if t["f1"] is not None]
        assert measured["macro_f1_topics"] == len(f1s) and measured["macro_f1"] == pytest.approx(sum(f1s) / len(f1s), abs=1e-4)
        assert measured["rules_alone"]["topics"]["buprenorphine"]["f1"] is None
    lines = invoke(config, "evaluate", "--folds", "2").stdout.splitlines()
    held = lines.index(next(line for line in lines if line.startswith("held_out (")))
    assert re.fullmatch(r"R \d\.\d{3}  P, F1 n/a \(no negatives\)  \(6 positives\)",
                        line_of("\n".join(lines[held + 1 : held + 6]), "buprenorphine").split(None, 1)[1])
    assert re.search(r"buprenorphine R \d\.\d{3} F1 n/a\)$", lines[held + 6]), lines[held + 6]


def test_train_aligns_its_lines_to_the_longest_topic_name(config: Path):
    """At a fixed 12 characters a longer name pushed its row's columns out of line."""
    result = invoke(config, "train")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(rows) == 5 and {line.index(line.split()[1], 2) for line in rows} == {len("  buprenorphine ")}, rows


def test_train_says_when_a_topic_looks_renamed_and_its_labels_left_behind(config: Path):
    """Labels are kept by a topic's name: renamed, non_opioid's curated labels no longer reach it, and train,
    scoring it on weak labels, read as if it had got better."""
    quiet = invoke(config, "train")
    assert quiet.exit_code == 0 and "note:" not in quiet.stderr  # a new topic without labels is no rename
    config.write_text(config.read_text(encoding="utf-8").replace("[topics.non_opioid]", "[topics.nonopioid]", 1), encoding="utf-8")
    renamed = invoke(config, "train")
    assert renamed.exit_code == 0, renamed.output
    [note] = [line for line in renamed.stderr.splitlines() if line.startswith("note:")]
    assert re.fullmatch(r"note: no curated label names 'nonopioid', 'buprenorphine', while labels name topics not in the "
                        r"config: 'non_opioid' \([\d,]+ records\); labels are kept by a topic's name: if one was renamed, "
                        r"give it back its name and change its label instead", note), note
