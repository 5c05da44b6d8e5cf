"""Curated labels through the command line on a real SQLite store: what ``label`` refuses, and what
``explain`` says of the records classify never tags.

One store for the module (real PubMed XML from shared data, the notices of tests/fixtures/notices.xml
and a record with neither title nor abstract), with a saved model: too few of these records are about
OIH or a topic to train one, so every tag comes from the keyword and MeSH rules, which is what these
tests need (a tag that is the machine's, not a curator's). Each test works on a copy.
"""

from __future__ import annotations

import json
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


def tag(config: Path, pmid: str, topic: str) -> tuple[bool, str] | None:
    """(assigned, source) of a record's stored tag, and whether it waits for classify."""
    with Store(config.parent / "oihwatch.db") as store:
        row = store.db.execute("SELECT assigned, source FROM tags WHERE pmid = ? AND topic = ?", (pmid, topic)).fetchone()
    return None if row is None else (bool(row[0]), row[1])


def waiting(config: Path, pmid: str) -> bool:
    with Store(config.parent / "oihwatch.db") as store:
        return bool(store.db.execute("SELECT needs_classification FROM articles WHERE pmid = ?", (pmid,)).fetchone()[0])


def test_clear_gives_the_tag_back_to_the_rules_at_once(config: Path):
    """--not is a curated negative, not an undo; --clear is the undo, applied as a label is: no classify needed."""
    assert tag(config, "16786252", "non_opioid") == (True, "rule")
    assert invoke(config, "label", "16786252", "non_opioid", "--not").exit_code == 0
    assert tag(config, "16786252", "non_opioid") == (False, "curator")
    result = invoke(config, "label", "16786252", "Non-opioid therapies", "--clear")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("PMID 16786252: the label for non_opioid (Non-opioid therapies) recorded here is cleared; "
                             "the model and rules decide again; searches and exports show it now, the web view once serve restarts\n")
    assert tag(config, "16786252", "non_opioid") == (True, "rule") and not waiting(config, "16786252")
    assert stored_labels(config) == []


def test_clear_says_the_label_shipped_with_oihwatch_decides_again(config: Path):
    assert tag(config, "38011560", "ketamine") == (False, "curator")  # the shipped set: not about ketamine
    assert invoke(config, "label", "38011560", "ketamine").exit_code == 0
    assert tag(config, "38011560", "ketamine") == (True, "curator")
    result = invoke(config, "label", "38011560", "ketamine", "--clear")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("PMID 38011560: the label for ketamine (Ketamine and NMDA antagonists) recorded here is cleared; "
                             "the label shipped with oihwatch (not about it) decides again; searches and exports show it now, the web view once serve restarts\n")
    assert tag(config, "38011560", "ketamine") == (False, "curator")


def test_clearing_a_label_not_recorded_here_is_a_one_line_error(config: Path):
    none = invoke(config, "label", "16786252", "ketamine", "--clear")
    assert none.exit_code == 1
    assert none.stderr == ("Error: PMID 16786252 has no label for ketamine (Ketamine and NMDA antagonists) recorded here; "
                           "'oihwatch labels' lists those there are\n")
    shipped = invoke(config, "label", "38011560", "oih", "--clear")
    assert shipped.exit_code == 1
    assert shipped.stderr == ("Error: PMID 38011560 has no label for OIH recorded here: the label shipped with oihwatch (not about "
                              "it) cannot be cleared, only overridden: 'oihwatch label 38011560 oih'\n")
    both = invoke(config, "label", "16786252", "ketamine", "--clear", "--not")
    assert both.exit_code == 2 and both.stderr.endswith("Error: give --not or --clear, not both\n")


def test_clear_without_a_model_leaves_the_record_waiting_for_classify(shared_data: Path, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    assert invoke(config, "ingest", str(shared_data / "pubmed-xml" / "metapub" / "38011560.xml")).exit_code == 0
    assert invoke(config, "label", "38011560", "genetics").exit_code == 0
    with Store(tmp_path / "oihwatch.db") as store:
        store.db.execute("UPDATE articles SET needs_classification = 0")
        store.db.commit()
    result = invoke(config, "label", "38011560", "genetics", "--clear")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("; searches and exports show it after 'oihwatch train' and 'oihwatch classify', the web view once serve restarts\n")
    assert waiting(config, "38011560") and stored_labels(config) == []


def test_labels_lists_the_labels_recorded_here_as_a_table(config: Path):
    empty = invoke(config, "labels")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert empty.stderr == "0 labels recorded here; 'oihwatch label PMID TOPIC' records one\n"
    assert invoke(config, "label", "16786252", "non_opioid", "--not").exit_code == 0
    assert invoke(config, "label", "38011560", "OIH").exit_code == 0
    result = invoke(config, "labels")
    assert result.exit_code == 0, result.output
    assert result.stderr == "2 labels recorded here\n"
    lines = result.stdout.splitlines()
    assert [cell.strip() for cell in lines[1].strip("┃").split("┃")] == ["PMID", "topic", "about it", "recorded", "title"]
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines[3:-1]]
    assert [row[:3] for row in rows] == [["16786252", "non_opioid", "no"], ["38011560", "oih", "yes"]]  # oldest first
    assert all(row[3].endswith("+00:00") for row in rows)
    assert rows[1][4].startswith("Ketamine") and len(rows[1][4]) <= 60  # the title, cut short


def test_labels_carry_to_another_install_as_json_lines_exactly(built: Path, tmp_path: Path):
    """A backup or a colleague's install: what --jsonl prints, --import records, times and all."""
    mine, theirs = (tmp_path / name for name in ("mine", "theirs"))
    for folder in (mine, theirs):
        shutil.copytree(built.parent, folder)
    for args in (("16786252", "non_opioid", "--not"), ("38011560", "ketamine"), ("38011560", "oih", "--not")):
        assert invoke(mine / built.name, "label", *args).exit_code == 0
    exported = invoke(mine / built.name, "labels", "--jsonl")
    assert exported.exit_code == 0 and exported.stderr == "3 labels recorded here\n"
    assert [json.loads(line) for line in exported.stdout.splitlines()][0] == {
        "pmid": "16786252", "topic": "non_opioid", "value": False, "labelled": stored_times(mine / built.name)[0]}
    elsewhere = '{"pmid": "1", "topic": "tapering", "value": true, "labelled": "2026-11-27T10:00:00+01:00"}\n'
    result = invoke(theirs / built.name, "labels", "--import", "-", stdin=exported.stdout + elsewhere)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("recorded 4 labels from stdin; searches and exports show them now; 1 for records not stored here: "
                             "they apply once those records are harvested or ingested\n")
    assert tag(theirs / built.name, "16786252", "non_opioid") == (False, "curator")  # applied at once, as label does
    assert tag(theirs / built.name, "38011560", "ketamine") == (True, "curator")
    carried = invoke(theirs / built.name, "labels", "--jsonl").stdout
    assert carried == '{"pmid": "1", "topic": "tapering", "value": true, "labelled": "2026-11-27T09:00:00+00:00"}\n' + exported.stdout
    assert "(not stored here)" in invoke(theirs / built.name, "labels").stdout


def stored_times(config: Path) -> list[str]:
    with Store(config.parent / "oihwatch.db") as store:
        return [row[0] for row in store.db.execute("SELECT labelled FROM labels ORDER BY labelled")]


@pytest.mark.parametrize(("line", "why"), [
    ('{"pmid": "16786252", "topic": "ketamine", "value": "yes", "labelled": "2026-11-27T09:00:00+00:00"}',
     '"value" is "yes", not true or false'),
    ('{"pmid": 16786252, "topic": "ketamine", "value": true, "labelled": "2026-11-27T09:00:00+00:00"}',
     '"pmid" is 16786252, not a PMID in quotes ("38011560")'),
    ('{"pmid": "16786252", "oih": 1, "topics": ["ketamine"], "split": "train"}', 'no "topic", "value", "labelled"'),
    ('{"pmid": "16786252", "topic": "ketamine", "value": true, "labelled": "2026-11-27"}',
     '"labelled" is "2026-11-27", not an ISO time with its offset ("2026-11-27T09:30:00+00:00")'),
    ('{"pmid": "16786252", "topic": "ketamine", "value": true,', "not JSON"),
])
def test_import_refuses_a_file_with_a_bad_line_naming_it_and_records_nothing(config: Path, line: str, why: str):
    path = config.parent / "labels.jsonl"
    good = '{"pmid": "38011560", "topic": "ketamine", "value": true, "labelled": "2026-11-27T09:00:00+00:00"}'
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    result = invoke(config, "labels", "--import", str(path))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {path} line 3: {why}; a line is {{\"pmid\", \"topic\", \"value\", \"labelled\"}} as "
                             "'oihwatch labels --jsonl' prints it: correct it, nothing was recorded\n")
    assert stored_labels(config) == []


def test_import_refuses_a_label_label_would_refuse(config: Path):
    notice = '{"pmid": "99000010", "topic": "oih", "value": true, "labelled": "2026-11-27T09:00:00+00:00"}'
    result = invoke(config, "labels", "--import", "-", stdin=notice + "\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: stdin line 1: PMID 99000010 is a retraction notice of PMID 24084238, not a paper, ")
    assert result.stderr.endswith("; nothing was recorded\n") and stored_labels(config) == []


def test_import_takes_a_topic_by_its_label_and_keeps_one_not_configured_here(config: Path):
    lines = ('{"pmid": "38011560", "topic": "ketamine AND nmda antagonists", "value": true, "labelled": "2026-11-27T09:00:00+00:00"}\n'
             '{"pmid": "38011560", "topic": "sleep", "value": true, "labelled": "2026-11-27T09:00:00+00:00"}\n')
    result = invoke(config, "labels", "--import", "-", stdin=lines)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("; 1 for topics not configured here (sleep): kept for when they are\n")
    assert stored_labels(config) == [("38011560", "ketamine", 1), ("38011560", "sleep", 1)]
    both = invoke(config, "labels", "--jsonl", "--import", "-", stdin="")
    assert both.exit_code == 2 and both.stderr.endswith("Error: give --jsonl or --import, not both\n")
