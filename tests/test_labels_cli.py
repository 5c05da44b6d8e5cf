"""Curated labels through the command line on a real SQLite store: what ``label`` refuses, and what
``explain`` says of the records classify never tags.

One store for the module (real PubMed XML from shared data, the notices of tests/fixtures/notices.xml
and a record with neither title nor abstract), with a saved model: too few of these records are about
OIH or a topic to train one, so every tag comes from the keyword and MeSH rules, which is what these
tests need (a tag that is the machine's, not a curator's). Each test works on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import default_config_text

FIXTURES = Path(__file__).parent / "fixtures"
# A record as PubMed sends one before its title is in (In-Data-Review): no title, no abstract.
NO_TEXT = """<?xml version="1.0"?>
<PubmedArticleSet><PubmedArticle><MedlineCitation Status="In-Data-Review" Owner="NLM"><PMID Version="1">99000020</PMID>
<Article PubModel="Electronic"><Journal><JournalIssue CitedMedium="Internet"><PubDate><Year>2026</Year></PubDate></JournalIssue>
<Title>Pain</Title></Journal><ArticleTitle></ArticleTitle><Language>eng</Language>
<PublicationTypeList><PublicationType>Journal Article</PublicationType></PublicationTypeList></Article></MedlineCitation>
<PubmedData><ArticleIdList><ArticleId IdType="pubmed">99000020</ArticleId></ArticleIdList></PubmedData></PubmedArticle></PubmedArticleSet>
"""


def invoke(config: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["-c", str(config), *args], input=stdin)


@pytest.fixture(scope="module")
def built(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("labels")
    config = folder / "config.toml"
    config.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    (folder / "no_text.xml").write_text(NO_TEXT, encoding="utf-8")
    files = sorted(str(p) for p in (shared_data / "pubmed-xml" / "exports").glob("*.xml"))
    files += sorted(str(p) for p in (shared_data / "pubmed-xml" / "metapub").glob("*.xml"))
    ingested = invoke(config, "ingest", *files, str(FIXTURES / "notices.xml"), str(folder / "no_text.xml"))
    assert ingested.exit_code == 0, ingested.output
    for step in ("train", "classify"):
        result = invoke(config, step)
        assert result.exit_code == 0, result.output
    return config


@pytest.fixture
def config(built: Path, tmp_path: Path) -> Path:
    """A copy of the built store, config and model, for a test to change."""
    shutil.copytree(built.parent, tmp_path / "copy")
    return tmp_path / "copy" / built.name


def stored_labels(config: Path) -> list[tuple]:
    with Store(config.parent / "oihwatch.db") as store:
        return [tuple(row) for row in store.db.execute("SELECT pmid, topic, value FROM labels ORDER BY pmid, topic")]


def test_a_label_on_a_notice_is_refused_naming_the_paper_it_concerns(config: Path):
    """classify never tags a notice: the label would be reported as applied, show nowhere and still train."""
    result = invoke(config, "label", "99000010", "oih")  # the retraction of 24084238
    assert result.exit_code == 1
    assert result.stderr == ("Error: PMID 99000010 is a retraction notice of PMID 24084238, not a paper, and is never tagged: "
                             "a label on it would do nothing; label the paper it concerns instead\n")
    erratum = invoke(config, "label", "99000011", "genetics", "--not")
    assert erratum.exit_code == 1 and erratum.stderr.startswith("Error: PMID 99000011 is an erratum notice of PMID 23657305, ")
    assert stored_labels(config) == []


def test_a_label_on_a_record_with_no_title_or_abstract_is_refused(config: Path):
    result = invoke(config, "label", "99000020", "oih")
    assert result.exit_code == 1
    assert result.stderr == ("Error: PMID 99000020 has no title or abstract, and is never tagged: a label on it would do "
                             "nothing; label it once PubMed gives it a title or abstract\n")
    assert stored_labels(config) == []


@pytest.mark.parametrize(("pmid", "said"), [
    ("99000010", "99000010: not tagged: it is a retraction notice of PMID 24084238, not a paper (the paper it concerns carries the warning)"),
    ("99000012", "99000012: not tagged: it is an expression of concern of PMID 24349601, not a paper (the paper it concerns carries the warning)"),
    ("99000020", "99000020: not tagged: it has no title or abstract"),
])
def test_explain_says_a_record_classify_never_tags_is_not_tagged_and_why(built: Path, pmid: str, said: str):
    """Not what the model would make of it, labelled as the model's decision, nor 'not trained yet'."""
    result = invoke(built, "explain", pmid)
    assert result.exit_code == 0, result.output
    assert result.stdout == said + "\n"
    with Store(built.parent / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM tags WHERE pmid = ?", (pmid,)).fetchone()[0] == 0
