"""The web view says what a person checked as curated, the relevance labels shipped with the classifier as much as
those recorded with ``oihwatch label``: as ``classify`` applies them, and as ``explain`` and the exports say."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.web.snapshot import build_snapshot
from test_export_sources import sourced_corpus

LABELS = {"ketamine": "Ketamine and NMDA antagonists", "tapering": "Tapering and discontinuation"}


@pytest.fixture(scope="module")
def corpus(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sourced_corpus(research_store_path, tmp_path_factory.mktemp("curated"))


@pytest.fixture(scope="module")
def rows(corpus: dict[str, str]) -> dict[str, sqlite3.Row]:
    """The snapshot's rows by PMID."""
    target = Path(corpus["folder"]) / "oihwatch-web.db"
    with Store(Path(corpus["folder"]) / "corpus.db") as store:
        build_snapshot(store, target, 0.5, LABELS)
    with sqlite3.connect(target) as db:
        db.row_factory = sqlite3.Row
        found = {str(row["pmid"]): row for row in db.execute("SELECT pmid, tags, about_oih FROM articles")}
    db.close()
    return found


def test_a_relevance_label_shipped_with_the_classifier_reads_curated(corpus: dict[str, str], rows: dict[str, sqlite3.Row]) -> None:
    said = {name: rows[corpus[name]]["about_oih"] for name in ("shipped yes", "shipped no", "labelled", "waiting", "model")}
    assert said == {"shipped yes": "yes (curated)", "shipped no": "no (curated)", "labelled": "no (curated)",
                    "waiting": "likely", "model": "likely"}  # waiting: the label is not applied yet


def test_the_view_and_the_export_agree_on_who_decided(corpus: dict[str, str], rows: dict[str, sqlite3.Row]) -> None:
    exported = CliRunner().invoke(cli, ["-c", str(Path(corpus["folder"]) / "config.toml"), "export"])
    assert exported.exit_code == 0, exported.output
    for record in map(json.loads, exported.stdout.splitlines()):
        row = rows[record["pmid"]]
        assert row["about_oih"].endswith("(curated)") == (record["relevance_source"] == "curator")
        assert row["tags"] == f"{LABELS['ketamine']} (curated); {LABELS['tapering']} (possible)"
