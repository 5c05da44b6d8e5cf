"""A running ``serve`` shows the corpus as it was when it started: a label recorded since shows once it restarts,
as ``serve --help`` and docs/sharing.md say, of labels as well as of harvests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

pytest.importorskip("datasette")

from conftest import REPO  # noqa: E402
from corpus.store import Store  # noqa: E402
from corpus.tags import Classification, TopicScore, save_classifications, set_label  # noqa: E402
from oihwatch.cli import cli  # noqa: E402
import test_serve  # noqa: E402
from test_serve import VIEW, answering, serve  # noqa: E402

small_corpus = test_serve.small_corpus  # the fixture: 20 articles of the research corpus, quick to snapshot
KETAMINE = '[topics.ketamine]\nlabel = "Ketamine and NMDA antagonists"\nkeywords = ["ketamin"]\n'


def tags_served(url: str, pmid: str) -> str:
    rows = httpx.get(f"{url}{VIEW}/articles.json", params={"pmid": pmid, "_shape": "array"}, timeout=30).json()
    return rows[0]["tags"]


def test_a_label_recorded_while_serve_runs_shows_after_a_restart(tmp_path: Path, small_corpus: Path) -> None:
    with sqlite3.connect(small_corpus) as db:
        pmid = db.execute("SELECT MIN(pmid) FROM articles JOIN classifications USING (pmid) WHERE deleted = 0").fetchone()[0]
    db.close()
    with serve(small_corpus, tmp_path, "--port", "0", topics=KETAMINE) as process:
        try:
            url = answering(process)
            before = tags_served(url, pmid)
            with Store(small_corpus) as store:  # what 'oihwatch label PMID ketamine' records and applies
                set_label(store, pmid, "ketamine", True)
                save_classifications(store, [Classification(pmid, 0.8, "other", "", "v1", [TopicScore("ketamine", 1.0, True, "curator")])])
            during = tags_served(url, pmid)
        finally:
            process.terminate()
    with serve(small_corpus, tmp_path, "--port", "0", topics=KETAMINE) as process:
        try:
            after = tags_served(answering(process), pmid)
        finally:
            process.terminate()
    assert "(curated)" not in before and during == before
    assert after == "Ketamine and NMDA antagonists (curated)"


def test_serve_help_and_the_sharing_guide_say_to_restart_after_labels_too(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    helped = " ".join(CliRunner().invoke(cli, ["-c", str(config), "serve", "--help"]).output.split())
    assert "restart it after a harvest and after labels" in helped
    guide = " ".join((REPO / "docs" / "sharing.md").read_text(encoding="utf-8").split())
    assert "**restart it after each harvest and after labels**" in guide
