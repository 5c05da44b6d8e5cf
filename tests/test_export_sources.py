"""Exports say who decided each tag and each relevance (model, rule or curator), a curator's labels shipped
with the classifier as much as those recorded by ``oihwatch label``, and in CSV, RIS and BibTeX say it in the
digest's words. Another oihwatch reading the JSON Lines back still ignores all of it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import bibtexparser
import pytest
import rispy
from click.testing import CliRunner

from classifier.curated import default_label_file, read_label_file
from corpus.store import Store
from corpus.tags import RELEVANCE, Classification, TopicScore, load_classifications, load_labels, save_classifications, set_label
from oihwatch.cli import cli
from reports.assembly import Tag

# A record's tags as ``classify`` leaves them: a curator's yes and no, a keyword rule's tag, the model's score.
TAGS = [
    TopicScore("ketamine", 1.0, True, "curator"),
    TopicScore("tapering", 0.3, True, "rule"),
    TopicScore("non_opioid", 0.0, False, "curator"),
    TopicScore("genetics", 0.05, False, "model"),
]


def sourced_corpus(research_store_path: Path, folder: Path) -> dict[str, str]:
    """A store in ``folder``, with its config.toml, of five real records tagged ``TAGS``, by what decided their
    relevance: a label shipped with the classifier (yes, and no) or recorded in the store, a label recorded
    since the record was classified, and none; their PMIDs by those names, and the folder."""
    shipped = read_label_file(default_label_file()).values
    with Store(research_store_path) as research, Store(folder / "corpus.db") as store:
        texts = [a.pmid for a in research.iter_articles(with_xml=False) if a.abstract and not a.retracted]
        pmids = {
            "shipped yes": next(p for p in texts if shipped.get(p, {}).get(RELEVANCE) is True),
            "shipped no": next(p for p in texts if shipped.get(p, {}).get(RELEVANCE) is False),
            **dict(zip(["labelled", "waiting", "model"], [p for p in texts if p not in shipped])),
        }
        store.upsert_articles(research.get_article(pmid) for pmid in pmids.values())
        relevance = {"shipped yes": 1.0, "shipped no": 0.0, "labelled": 0.0, "waiting": 0.7, "model": 0.8}
        save_classifications(store, [Classification(pmids[name], value, "rct", "It works.", "v1", TAGS)
                                     for name, value in relevance.items()])
        set_label(store, pmids["labelled"], RELEVANCE, False)  # then classified: its relevance is the label's
        set_label(store, pmids["waiting"], RELEVANCE, False)  # not classified since: the model's relevance still
    (folder / "config.toml").write_text('[database]\npath = "corpus.db"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    return {"folder": str(folder), **pmids}


@pytest.fixture(scope="module")
def corpus(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sourced_corpus(research_store_path, tmp_path_factory.mktemp("sources"))


def export(corpus: dict[str, str], fmt: str) -> str:
    result = CliRunner().invoke(cli, ["-c", str(Path(corpus["folder"]) / "config.toml"), "export", "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_jsonl_says_who_decided_each_tag_and_each_relevance(corpus: dict[str, str]) -> None:
    records = {r["pmid"]: r for r in map(json.loads, export(corpus, "jsonl").splitlines())}
    sources = {name: records[corpus[name]]["relevance_source"] for name in ("shipped yes", "shipped no", "labelled", "waiting", "model")}
    assert sources == {"shipped yes": "curator", "shipped no": "curator", "labelled": "curator", "waiting": "model", "model": "model"}
    assert records[corpus["model"]]["tag_sources"] == {"genetics": "model", "ketamine": "curator", "non_opioid": "curator", "tapering": "rule"}


def test_a_relevance_the_model_was_not_trained_for_is_the_rules(corpus: dict[str, str], tmp_path: Path) -> None:
    models = Path(corpus["folder"]) / "models"
    models.mkdir(exist_ok=True)
    (models / "model-0.joblib").write_bytes(b"")
    (models / "model.json").write_text(json.dumps({"model_file": "model-0.joblib", "thresholds": {"ketamine": 0.5},
                                                   "skipped": {RELEVANCE: "label 'oih' not trained"}}), encoding="utf-8")
    try:
        records = {r["pmid"]: r for r in map(json.loads, export(corpus, "jsonl").splitlines())}
    finally:
        for made in models.iterdir():
            made.unlink()
    assert (records[corpus["model"]]["relevance_source"], records[corpus["shipped yes"]]["relevance_source"]) == ("rule", "curator")


def test_csv_says_each_tag_in_the_digests_words_and_who_decided_every_score(corpus: dict[str, str]) -> None:
    rows = {r["pmid"]: r for r in csv.DictReader(io.StringIO(export(corpus, "csv")))}
    row = rows[corpus["shipped yes"]]
    digest = {tag.label: tag.confidence for tag in (Tag.of(t.topic, t) for t in TAGS if t.assigned)}
    assert row["tags"] == "; ".join(f"{topic} ({word})" for topic, word in digest.items()) == "ketamine (curated); tapering (possible)"
    assert row["tag_sources"] == "genetics=model; ketamine=curator; non_opioid=curator; tapering=rule"  # as the scores
    assert (row["relevance_source"], rows[corpus["model"]]["relevance_source"]) == ("curator", "model")


def test_ris_and_bibtex_notes_say_what_a_curator_decided(corpus: dict[str, str]) -> None:
    entries = {e["accession_number"]: e for e in rispy.loads(export(corpus, "ris"))}
    notes = entries[corpus["shipped no"]]["notes"]
    assert "oihwatch OIH relevance: 0.00 (curated)" in notes
    topics = next(n for n in notes if n.startswith("oihwatch topics: "))
    assert {"ketamine 1.00 assigned (curated)", "tapering 0.30 assigned (possible)", "non_opioid 0.00 not assigned (curated)",
            "genetics 0.05"} == set(topics.removeprefix("oihwatch topics: ").split(", "))
    assert "oihwatch OIH relevance: 0.80" in entries[corpus["model"]]["notes"]  # the model's: no word
    bib = {e["pmid"]: e for e in bibtexparser.loads(export(corpus, "bibtex")).entries}
    assert "ketamine 1.00 assigned (curated)" in bib[corpus["labelled"]]["note"]
    assert "OIH relevance: 0.00 (curated)" in bib[corpus["labelled"]]["note"]


def test_ingest_reads_an_export_with_sources_and_still_ignores_every_tag(corpus: dict[str, str], tmp_path: Path) -> None:
    exported = tmp_path / "export.jsonl"
    exported.write_text(export(corpus, "jsonl"), encoding="utf-8")
    assert all("tag_sources" in json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines())
    (tmp_path / "config.toml").write_text('[database]\npath = "other.db"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "config.toml"), "ingest", str(exported)])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "other.db") as other:
        assert other.count_articles() == 5
        assert load_classifications(other) == {} and load_labels(other) == {}
