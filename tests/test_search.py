"""Search: the query language, every filter and the ranking, on a store of real PubMed records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.errors import InputError
from corpus.search import Filters, build_search, fts_query, search
from corpus.store import Store
from oihwatch.cli import cli
from research_corpus import RETRACTED_PMID


@pytest.fixture
def store(research_store_path: Path):
    with Store(research_store_path) as opened:
        yield opened


def pmids(store: Store, query: str | None, **filters) -> list[str]:
    return [hit.pmid for hit in search(store, query, Filters(**filters))]


def run_cli(tmp_path: Path, database: Path, *args: str):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    return CliRunner().invoke(cli, ["-c", str(config), *args])


# -- the query language ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fts"),
    [
        ("ketamine", "ketamine"),
        ("opioid-induced hyperalgesia", '"opioid-induced" hyperalgesia'),
        ('"opioid-induced hyperalgesia" AND ketamin*', '"opioid-induced hyperalgesia" AND ketamin*'),
        ("(ketamine OR magnesium) NOT rat", "( ketamine OR magnesium ) NOT rat"),
        ("title:opioid-induced", 'title:"opioid-induced"'),
        ("5-HT3*", '"5-HT3"*'),
        ("μ-opioid", '"μ-opioid"'),
        ("'; DROP TABLE articles; --", "\"';\" DROP TABLE \"articles;\" \"--\""),
    ],
)
def test_fts_query_quotes_punctuated_words_as_phrases(typed: str, fts: str) -> None:
    assert fts_query(typed) == fts


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("ketamine AND", "cannot read the search query"),
        ("(ketamine OR magnesium", "cannot read the search query"),
        ("NOT ketamine", "cannot read the search query"),
        ('"opioid induced', "no closing quote"),
        ("author:smith", "unknown search field 'author'"),
        ("   ", "empty"),
    ],
)
def test_broken_query_is_one_line_input_error_explaining_syntax(store: Store, query: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        search(store, query)
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert '"exact phrases", AND / OR / NOT' in message


def test_user_text_travels_as_parameters_only() -> None:
    sql, params = build_search('"x"', Filters(topics=("a'b",), journal="J'; DROP", study_type="rct", since=2000))
    assert "DROP" not in sql and "a'b" not in sql
    assert params[0] == '"x"' and "a'b" in params


def test_injection_attempt_is_just_words(store: Store) -> None:
    count = store.count_articles()
    assert pmids(store, "'; DROP TABLE articles; --") == []
    assert store.count_articles() == count


# -- matching and ranking on real records ---------------------------------------------------


def test_phrase_is_stricter_than_words(store: Store) -> None:
    words = set(pmids(store, "opioid induced hyperalgesia"))
    phrase = set(pmids(store, '"opioid-induced hyperalgesia"'))
    assert phrase and phrase < words


def test_boolean_operators(store: Store) -> None:
    ketamine, morphine = set(pmids(store, "ketamine")), set(pmids(store, "morphine"))
    assert set(pmids(store, "ketamine AND morphine")) == ketamine & morphine
    assert set(pmids(store, "ketamine OR morphine")) == ketamine | morphine
    assert set(pmids(store, "ketamine NOT morphine")) == ketamine - morphine


def test_prefix_and_stemming(store: Store) -> None:
    assert set(pmids(store, "hyperalgesia")) <= set(pmids(store, "hyperalges*"))
    assert len(pmids(store, "ketamin*")) >= len(pmids(store, "ketamine")) > 10


def test_field_search_and_title_hits_rank_first(store: Store) -> None:
    in_title = set(pmids(store, "title:ketamine"))
    ranked = pmids(store, "ketamine")
    assert in_title and in_title < set(ranked)
    top = ranked[: len(in_title)]
    assert len(set(top) & in_title) >= 0.8 * len(in_title)


def test_mesh_field_searches_the_indexers_headings(store: Store) -> None:
    found = search(store, 'mesh:"Analgesics, Opioid"', limit=5)
    for hit in found:
        assert "Analgesics, Opioid" in store.get_article(hit.pmid).mesh_terms


def test_limit_and_scores_descend(store: Store) -> None:
    hits = search(store, "morphine", limit=10)
    assert len(hits) == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# -- every filter ------------------------------------------------------------------------


def test_topic_filter_uses_assigned_tags(store: Store) -> None:
    found = pmids(store, "pain", topics=("ketamine",))
    assert found
    tagged = {r[0] for r in store.db.execute("SELECT pmid FROM tags WHERE topic = 'ketamine' AND assigned = 1")}
    assert set(found) <= tagged
    either = set(pmids(store, "pain", topics=("ketamine", "genetics")))
    assert set(found) < either


def test_min_score_with_and_without_topic(store: Store) -> None:
    high = set(pmids(store, "pain", topics=("tapering",), min_score=0.85))
    any_tagged = set(pmids(store, "pain", topics=("tapering",), min_score=0.5))
    assert high and high < any_tagged
    for pmid in high:
        assert store.db.execute("SELECT score FROM tags WHERE pmid = ? AND topic = 'tapering'", (pmid,)).fetchone()[0] >= 0.85
    assert set(pmids(store, "pain", min_score=0.85)) >= high


def test_study_type_filter(store: Store) -> None:
    found = pmids(store, None, study_type="rct")
    assert found
    assert set(pmids(store, "random*", study_type="rct")) <= set(found)
    types = {store.db.execute("SELECT study_type FROM classifications WHERE pmid = ?", (p,)).fetchone()[0] for p in found}
    assert types == {"rct"}


def test_year_filters_are_inclusive(store: Store) -> None:
    found = pmids(store, "morphine", since=2000, until=2001)
    years = {store.get_article(p).year for p in found}
    assert years == {2000, 2001}
    assert set(pmids(store, "morphine", since=2002)).isdisjoint(found)


def test_journal_filter_matches_title_or_abbreviation(store: Store) -> None:
    by_title = pmids(store, None, journal="proceedings of the national academy of sciences of the united states of america")
    by_abbrev = pmids(store, None, journal="Proc Natl Acad Sci U S A")
    assert by_abbrev and set(by_abbrev) <= set(by_title)
    for pmid in by_title:
        assert store.get_article(pmid).journal.startswith("Proceedings of the National Academy")
    assert set(pmids(store, None, journal="proc natl*")) >= set(by_abbrev)
    assert pmids(store, None, journal="Proc%") == []  # % is a literal, not a wildcard


def test_retracted_records_only_on_request(store: Store) -> None:
    assert RETRACTED_PMID not in pmids(store, "ketamine")
    assert RETRACTED_PMID in pmids(store, "ketamine", include_retracted=True)


def test_deleted_records_leave_search(tmp_path: Path, research_store_path: Path) -> None:
    copy = tmp_path / "copy.db"
    with Store(research_store_path) as source:
        source.db.execute("VACUUM INTO ?", (str(copy),))
    with Store(copy) as store:
        victim = pmids(store, "title:ketamine")[0]
        store.mark_deleted([victim])
        assert victim not in pmids(store, "ketamine")
        assert victim not in pmids(store, None)


def test_unknown_topic_and_study_type_list_the_valid_ones() -> None:
    with pytest.raises(InputError, match="valid topics: ketamine, tapering"):
        Filters(topics=("ketamin",)).check({"tapering", "ketamine"})
    with pytest.raises(InputError, match="valid study types: meta_analysis, systematic_review, rct"):
        Filters(study_type="RCT").check(set())
    with pytest.raises(InputError, match="--since 2020 is after --until 2010"):
        Filters(since=2020, until=2010).check(set())


# -- the command --------------------------------------------------------------------------


def test_search_command_table(tmp_path: Path, research_store_path: Path) -> None:
    result = run_cli(tmp_path, research_store_path, "search", "title:ketamine", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "PMID" in result.stdout and "ketamine" in result.stdout.lower()
    assert "3 matches" in result.stderr


def test_search_command_json_with_filters(tmp_path: Path, research_store_path: Path) -> None:
    result = run_cli(
        tmp_path, research_store_path, "search", "ketamine", "--topic", "ketamine", "--since", "1995",
        "--format", "json", "--include-retracted", "--limit", "100",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records and all("ketamine" in r["topics"] and r["year"] >= 1995 for r in records)
    assert RETRACTED_PMID in {r["pmid"] for r in records}
    assert records[0]["match_score"] >= records[-1]["match_score"]


def test_search_command_errors_are_one_line(tmp_path: Path, research_store_path: Path) -> None:
    bad = run_cli(tmp_path, research_store_path, "search", "ketamine AND")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: cannot read the search query") and bad.stderr.count("\n") == 1
    topic = run_cli(tmp_path, research_store_path, "search", "x", "--topic", "nope")
    assert topic.exit_code == 1 and "valid topics: genetics, ketamine, non_opioid, tapering" in topic.stderr
    kind = run_cli(tmp_path, research_store_path, "search", "x", "--study-type", "trial")
    assert kind.exit_code == 1 and "valid study types:" in kind.stderr
    assert "Traceback" not in bad.output + topic.output + kind.output


def test_search_help_ends_with_an_example() -> None:
    result = CliRunner().invoke(cli, ["search", "--help"])
    assert "Example:" in result.output and "oihwatch search" in result.output
