"""A model out of date with the corpus: curated labels recorded, or a quarter more records stored, since it
was trained. The classify step of ``oihwatch run`` trains it again and classifies every record with it, as
'oihwatch train' and 'oihwatch classify' would; the run, its runs table and ``status`` say why. Real runs: a
model trained by ``oihwatch train`` on real records, the CLI, .eml files in the outbox."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.store import Store, iso_utc
from digest_support import real_articles
from oihwatch.cli import cli
from oihwatch.config import default_config_text
from oihwatch.model_age import GROWTH, MIN_GROWTH

LABELLED = "921394"  # a record of the training file, held out by no label set


def oihwatch(config: Path, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, ["-c", str(config), *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory) -> Path:
    """A folder as train and classify leave it: a model trained on 400 real records of the shared corpus.
    Every paper relevant, one reader."""
    folder = tmp_path_factory.mktemp("trained")
    text = default_config_text("ops@example.org").replace('relevance_threshold = "model"', "relevance_threshold = 0.0", 1)
    config = folder / "config.toml"
    config.write_text(text + '\n[[recipients]]\nemail = "all@example.org"\n', encoding="utf-8")
    training = folder / "training.jsonl"
    lines = (shared_data / "corpus.jsonl").read_text(encoding="utf-8").splitlines(True)
    training.write_text("".join(lines[:400]))
    assert any(json.loads(line)["pmid"] == LABELLED for line in lines[:400])
    for step in (["ingest", str(training)], ["train"], ["classify"]):
        assert oihwatch(config, *step).exit_code == 0
    return config


@pytest.fixture
def config(trained, tmp_path) -> Path:
    """A copy of the trained folder, its records stored two hours ago and its model trained one hour ago:
    moments are kept to the second, and here each step follows the one before within a second, where a
    model is trained at night and a curator labels by day."""
    shutil.copytree(trained.parent, tmp_path, dirs_exist_ok=True)
    now = datetime.now(timezone.utc)
    with Store(tmp_path / "oihwatch.db") as store, store.transaction() as db:
        db.execute("UPDATE articles SET first_seen = ?", (iso_utc(now - timedelta(hours=2)),))
    config = tmp_path / "config.toml"
    trained_then = {**meta(config), "created": iso_utc(now - timedelta(hours=1))}
    (tmp_path / "models" / "model.json").write_text(json.dumps(trained_then), encoding="utf-8")
    return config


def label(config: Path, pmid: str, topic: str) -> None:
    """``oihwatch label``, a minute before the run that follows (``config``)."""
    assert oihwatch(config, "label", pmid, topic).exit_code == 0
    with Store(config.parent / "oihwatch.db") as store, store.transaction() as db:
        db.execute("UPDATE labels SET labelled = ?", (iso_utc(datetime.now(timezone.utc) - timedelta(minutes=1)),))


@pytest.fixture
def run(fake):
    """``oihwatch run`` harvesting from the loopback NCBI, which has nothing new since today."""
    today = datetime.now(timezone.utc).date().isoformat()
    return lambda config: oihwatch(config, "run", env={"OIHWATCH_NCBI_BASE_URL": fake.url, "OIHWATCH_HARVEST_START": today})


def meta(config: Path) -> dict:
    return json.loads((config.parent / "models" / "model.json").read_text(encoding="utf-8"))


def store_news(config: Path, shared_data: Path, count: int) -> None:
    """``count`` real records under new PMIDs, created by PubMed today: what a night's harvest stores."""
    today = datetime.now(timezone.utc).date().isoformat()
    articles = real_articles(shared_data, count)
    assert len(articles) == count
    with Store(config.parent / "oihwatch.db") as store:
        store.upsert_articles([replace(a, pmid=str(99_000_000 + i), created=today) for i, a in enumerate(articles)])


def classify_line(result) -> str:
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("classify: ")]
    return line


def model_versions(config: Path) -> set[str]:
    with Store(config.parent / "oihwatch.db") as store:
        return {row[0] for row in store.db.execute("SELECT DISTINCT model_version FROM classifications")}


def status_text(config: Path) -> str:
    """``oihwatch status`` on a screen wide enough for the last runs' table to keep each row on one line."""
    return oihwatch(config, "status", env={"COLUMNS": "300"}).stdout


def last_train(config: Path) -> dict:
    return next(r for r in json.loads(oihwatch(config, "status", "--json").stdout)["last_runs"] if r["step"] == "train")


def test_a_label_recorded_since_the_model_was_trained_makes_the_next_run_train_it_again(config, run):
    before = meta(config)
    label(config, LABELLED, "ketamine")
    model = json.loads(oihwatch(config, "status", "--json").stdout)["model"]
    assert (model["records"], model["labels_since"], model["out_of_date"]) == (before["records"], 1, "1 curated label recorded")
    shown = status_text(config)
    assert f" on {before['records']:,} records; out of date (1 curated label recorded since): the next run trains it again\n" in shown

    ran = run(config)
    assert ran.exit_code == 0, ran.output
    after = meta(config)
    with Store(config.parent / "oihwatch.db") as store:
        every = store.count_articles()
    assert classify_line(ran) == (f"classify: ok: retrained model {after['model_version']} (1 curated label recorded since "
                                  f"the model was trained on {before['records']:,} records); {every} records classified")
    assert model_versions(config) == {after["model_version"]} != {before["model_version"]}
    assert {k: last_train(config)[k] for k in ("status", "found", "new", "updated")} == {
        "status": "ok", "found": every, "new": 0, "updated": 1}
    assert "400 records (0 stored and 1 curated label recorded since the model before)" in status_text(config)
    model = json.loads(oihwatch(config, "status", "--json").stdout)["model"]
    assert (model["labels_since"], model["out_of_date"]) == (0, "")

    again = run(config)
    assert classify_line(again) == "classify: ok: 0 records classified" and meta(config) == after


def test_the_corpus_grown_by_a_quarter_makes_the_run_train_again_and_the_digest_lists_every_new_paper(config, shared_data, run):
    trained_on = meta(config)["records"]
    needed = max(MIN_GROWTH, math.ceil(GROWTH * trained_on))
    store_news(config, shared_data, needed - 1)
    status = status_text(config)
    assert f" on {trained_on:,} records ({needed - 1:,} stored since)\n" in status
    assert "out of date" not in status

    store_news(config, shared_data, needed)  # the same records again, and one more
    before = meta(config)
    ran = run(config)
    assert ran.exit_code == 0, ran.output
    version = meta(config)["model_version"]
    assert re.match(rf"classify: ok: retrained model {re.escape(version)} \({needed:,} records stored since the model was "
                    rf"trained on {trained_on:,} records\); \d+ records classified$", classify_line(ran)), ran.stderr
    assert version != before["model_version"] and model_versions(config) == {version}
    assert (last_train(config)["new"], last_train(config)["updated"]) == (needed, 0)
    # Every paper of the week is in the digest the same pass sends, classified by the new model.
    assert re.search(rf"^digest: ok: \d{{4}}-W\d\d: {needed} papers, written for 1 recipient\(s\)", ran.stderr, re.M), ran.stderr


def test_a_training_that_fails_keeps_the_model_in_force_and_holds_no_digest(config, shared_data, run):
    store_news(config, shared_data, 12)
    label(config, LABELLED, "ketamine")
    before = meta(config)
    (config.parent / "models" / ".model.joblib.tmp").mkdir()  # where a save writes first: it cannot
    ran = run(config)
    assert ran.exit_code == 1
    assert re.match(r"classify: FAILED: could not train the model again \(1 curated label recorded since the model was "
                    rf"trained on {before['records']:,} records\): cannot save the model in .*; the previous model is kept\. "
                    r".*; \d+ records classified with the model in force$", classify_line(ran)), ran.stderr
    assert meta(config) == before and model_versions(config) == {before["model_version"]}
    assert re.search(r"^digest: ok: \d{4}-W\d\d: 12 papers, written for 1 recipient\(s\)", ran.stderr, re.M), ran.stderr
    assert "out of date (1 curated label recorded since)" in status_text(config)  # the next run tries again


def test_a_label_cleared_or_imported_with_its_earlier_time_makes_the_run_train_again_one_recorded_alike_does_not(
        config, run, tmp_path):
    """The labels training uses are compared with those the model was trained with, not only by when they were
    recorded: a cleared label leaves no time behind, and an imported one keeps the time of another install."""
    label(config, LABELLED, "ketamine")
    assert "retrained model" in classify_line(run(config))
    trained_on = meta(config)["records"]
    exported = tmp_path / "labels.jsonl"
    exported.write_text(oihwatch(config, "labels", "--jsonl").stdout, encoding="utf-8")

    assert oihwatch(config, "label", LABELLED, "ketamine").exit_code == 0  # the same judgement, recorded again
    assert "out of date" not in status_text(config)
    assert classify_line(run(config)) == "classify: ok: 0 records classified"

    assert oihwatch(config, "label", LABELLED, "ketamine", "--clear").exit_code == 0
    why = f"curated labels changed (1 then, 0 now) since the model was trained on {trained_on:,} records"
    assert "out of date (curated labels changed (1 then, 0 now) since)" in status_text(config)
    assert re.match(rf"classify: ok: retrained model \S+ \({re.escape(why)}\); \d+ records classified$", classify_line(run(config)))

    assert oihwatch(config, "labels", "--import", str(exported)).exit_code == 0  # recorded an hour before this model
    why = f"curated labels changed (0 then, 1 now) since the model was trained on {trained_on:,} records"
    assert re.match(rf"classify: ok: retrained model \S+ \({re.escape(why)}\); \d+ records classified$", classify_line(run(config)))
    assert classify_line(run(config)) == "classify: ok: 0 records classified"
