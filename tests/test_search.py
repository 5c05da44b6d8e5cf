"""Search: the query language, every filter and the ranking, on a store of real PubMed records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corpus.errors import InputError
from corpus.exports import iter_records
from corpus.search import Filters, build_search, count_matches, fts_query, search
from corpus.store import Store
from oihwatch.cli import cli
from research_corpus import RETRACTED_PMID


def pmids(research_store: Store, query: str | None, **filters) -> list[str]:
    return [hit.pmid for hit in search(research_store, query, Filters(**filters))]


# -- the query language ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fts"),
    [
        ("ketamine", "ketamine"),
        ("opioid-induced hyperalgesia", '"opioid-induced" hyperalgesia'),
        ('"opioid-induced hyperalgesia" AND ketamin*', '"opioid-induced hyperalgesia" AND ketamin*'),
        ("(ketamine OR magnesium) NOT rat", "( ketamine OR magnesium ) NOT rat"),
        ("title:opioid-induced", 'title:"opioid-induced"'),
        ('title:"opioid-induced"', 'title:"opioid-induced"'),
        ('title:"opioid induced hyperalgesia"', 'title:"opioid induced hyperalgesia"'),
        ("title:(ketamine OR morphine)", "title:( ketamine OR morphine )"),
        ("title:abstract:x", 'title:"abstract:x"'),
        ("5-HT3*", '"5-HT3"*'),
        ("μ-opioid", '"μ-opioid"'),
        ("'; DROP TABLE articles; --", "\"';\" DROP TABLE \"articles;\" \"--\""),
        ("methadone 10:1", 'methadone "10:1"'),  # a ratio, not a field named '10'
        ("10:30", '"10:30"'),
        ("^ketamine", '"^ketamine"'),  # FTS5's 'start of a column' is punctuation here
        ("NEAR infrared", "NEAR infrared"),  # FTS5's NEAR is an operator only before a parenthesis (refused)
        ("ketamine (morphine OR pain)", "ketamine AND ( morphine OR pain )"),  # FTS5 joins a group only by AND
        ("(morphine OR pain) ketamine", "( morphine OR pain ) AND ketamine"),
        ("title:(ketamine OR morphine) NOT (rat)", "title:( ketamine OR morphine ) NOT ( rat )"),
        # PubMed's field tags, as its queries are written (the default config.toml's among them)
        ("ketamine[tiab]", "{title abstract}:ketamine"),
        ('"opioid-induced hyperalgesia"[Title/Abstract] OR hyperalgesi*[tiab]',
         '{title abstract}:"opioid-induced hyperalgesia" OR {title abstract}:hyperalgesi*'),
        ('"Analgesics, Opioid"[MeSH] AND Hyperalgesia[mh:noexp] NOT rat [MeSH Terms]',
         'mesh:"Analgesics, Opioid" AND mesh:Hyperalgesia NOT mesh:rat'),
        ("ketamine[ti] morphine[AB] pain[majr] OPRM1[ot] taper[tw] wean[all]",
         "title:ketamine abstract:morphine mesh:pain keywords:OPRM1 taper wean"),
        ('[3H]naloxone [Ca2+]i "IL-1[beta]"', '"[3H]naloxone" "[Ca2+]i" "IL-1[beta]"'),  # not PubMed tags: punctuation
        # unquoted words before a tag are one phrase in that field, as PubMed reads them, back to the last
        # operator, parenthesis, "phrase", field: or tag
        ("opioid induced hyperalgesia[tiab]", '{title abstract}:"opioid induced hyperalgesia"'),
        ('ketamine AND opioid-induced hyperalgesia[ti] OR "central" wind up[ab] NOT rat',
         'ketamine AND title:"opioid-induced hyperalgesia" OR "central" abstract:"wind up" NOT rat'),
        ("(pain) opioid induc*[tiab] morphine[ot] remifentanil tolerance[tw]",
         '( pain ) AND {title abstract}:"opioid induc"* keywords:morphine "remifentanil tolerance"'),
        ("title:ketamine Analgesics, Opioid[mh]", 'title:ketamine mesh:"Analgesics, Opioid"'),
    ],
)
def test_fts_query_quotes_punctuated_words_as_phrases(typed: str, fts: str) -> None:
    assert fts_query(typed) == fts


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("ketamine AND", "cannot read the search query"),
        ("(ketamine OR magnesium", "cannot read the search query"),
        ("NOT ketamine", "NOT leaves papers out of what the query finds before it, and comes first"),
        ('"opioid induced', "no closing quote"),
        ("author:smith", "unknown search field 'author'"),
        ("titel:opioid", "unknown search field 'titel'"),
        ('author:"j smith"', "unknown search field 'author'"),
        ("title:", "the field 'title:' needs a word"),
        ("ketamine title: morphine", "the field 'title:' needs a word"),
        ("   ", "empty"),
    ],
)
def test_broken_query_is_one_line_input_error_explaining_syntax(research_store: Store, query: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        search(research_store, query)
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert '"exact phrases", AND / OR / NOT' in message


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("smith[au]", "PubMed's field tag [au] has no field in oihwatch search; only [tiab] [ti] [ab] [mh]"),
        ("ketamine AND 2015:2020[dp]", "PubMed's field tag [dp] has no field in oihwatch search; use the option --since / --until YEAR"),
        ('"Pain Med"[Journal]', "[Journal] has no field in oihwatch search; use the option --journal"),
        ("randomized controlled trial[pt]", "[pt] has no field in oihwatch search; use the option --study-type"),
        ('"opioid hyperalgesia"[tiab:~3]', "PubMed's proximity search [tiab:~3] is not read here"),
        ('"Hyperalgesia/chemically induced"[Mesh]', 'MeSH subheadings are not indexed: search the heading alone, e.g. "Hyperalgesia"[Mesh]'),
        ("Hyperalgesia/chemically induced[mh]", 'MeSH subheadings are not indexed: search the heading alone, e.g. "Hyperalgesia"[mh]'),
        ("ketamine AND Analgesics, Opioid/adverse effects[MeSH Terms]",
         'MeSH subheadings are not indexed: search the heading alone, e.g. "Analgesics, Opioid"[MeSH Terms]'),
        ("opioid* induced[tiab]", "a prefix* ends a tagged phrase here, not 'opioid*' in opioid* induced[tiab]; search the words with AND"),
        ("(ketamine OR magnesium)[tiab]", "PubMed's field tag [tiab] follows a word or \"phrase\" here, not ')'"),
        ("title:ketamine[tiab]", "title:ketamine[tiab] has two fields"),
        ("[tiab] ketamine", "PubMed's field tag [tiab] must follow a word"),
        ('pain[tiab] AND ("2000/01/01"[Date - Publication] : "3000"[Date - Publication])',
         "[Date - Publication] has no field in oihwatch search; use the option --since / --until YEAR"),
        ("ketamine OR Smith J[Author - First]", "[Author - First] has no field in oihwatch search; only [tiab]"),
    ],
)
def test_a_pubmed_tag_with_no_field_here_is_one_line_naming_it(research_store: Store, query: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        search(research_store, query)
    assert says in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("query", ["ketamine[TİAB]", "ketamine[tıab]", "ketamine[ſb]"])
def test_a_tag_spelt_with_letters_that_only_lower_case_to_one_is_an_unknown_tag(research_store: Store, query: str) -> None:
    with pytest.raises(InputError, match=r"^unknown PubMed tag \["):  # not a KeyError
        search(research_store, query)


def test_pubmed_tags_search_the_fields_they_name(research_store: Store) -> None:
    tiab = set(pmids(research_store, "ketamine[tiab]"))
    assert tiab and tiab == set(pmids(research_store, "title:ketamine OR abstract:ketamine"))
    assert tiab < set(pmids(research_store, "ketamine"))  # MeSH and keywords left out, as PubMed's [tiab] does
    mesh = set(pmids(research_store, "hyperalgesia[mesh]"))
    assert mesh and mesh == set(pmids(research_store, "mesh:hyperalgesia"))
    phrase = set(pmids(research_store, '"opioid-induced hyperalgesia"[tiab]'))
    assert phrase and phrase == set(pmids(research_store, 'title:"opioid-induced hyperalgesia" OR abstract:"opioid-induced hyperalgesia"'))


def test_a_pubmed_tag_after_unquoted_words_searches_them_as_one_phrase_in_its_field(research_store: Store) -> None:
    run = set(pmids(research_store, "opioid induced hyperalgesia[tiab]"))
    assert run and run == set(pmids(research_store, 'title:"opioid induced hyperalgesia" OR abstract:"opioid induced hyperalgesia"'))
    assert run < set(pmids(research_store, "opioid induced (title:hyperalgesia OR abstract:hyperalgesia)"))  # the tag on the last word only
    prefixed = set(pmids(research_store, "opioid induc*[tiab]"))  # FTS5's phrase with a prefix last word
    assert run <= prefixed == {row[0] for row in research_store.db.execute(*build_search('{title abstract}:"opioid induc"*', Filters()))}


def test_the_default_harvest_query_pasted_finds_oih_records(research_store: Store) -> None:
    import tomllib

    from oihwatch.config import default_config_text

    term = tomllib.loads(default_config_text("t@example.org"))["queries"][0]["term"]
    assert "[tiab]" in term and "[MeSH]" in term
    found = pmids(research_store, term)
    assert len(found) > 20
    assert set(pmids(research_store, '"opioid-induced hyperalgesia"[tiab]')) <= set(found)


def test_user_text_travels_as_parameters_only() -> None:
    sql, params = build_search('"x"', Filters(topics=("a'b",), journal="J'; DROP", study_type="rct", since=2000))
    assert "DROP" not in sql and "a'b" not in sql
    assert params[0] == '"x"' and "a'b" in params


def test_injection_attempt_is_just_words(research_store: Store) -> None:
    count = research_store.count_articles()
    assert pmids(research_store, "'; DROP TABLE articles; --") == []
    assert research_store.count_articles() == count


# -- matching and ranking on real records ---------------------------------------------------


def test_phrase_is_stricter_than_words(research_store: Store) -> None:
    words = set(pmids(research_store, "opioid induced hyperalgesia"))
    phrase = set(pmids(research_store, '"opioid-induced hyperalgesia"'))
    assert phrase and phrase < words


def test_boolean_operators(research_store: Store) -> None:
    ketamine, morphine = set(pmids(research_store, "ketamine")), set(pmids(research_store, "morphine"))
    assert set(pmids(research_store, "ketamine AND morphine")) == ketamine & morphine
    assert set(pmids(research_store, "ketamine OR morphine")) == ketamine | morphine
    assert set(pmids(research_store, "ketamine NOT morphine")) == ketamine - morphine


def test_a_ratio_a_caret_and_near_are_words_and_a_group_joins_a_word(research_store: Store) -> None:
    ratio = set(pmids(research_store, "morphine 2:1"))
    assert ratio and ratio == set(pmids(research_store, 'morphine "2 1"'))
    assert set(pmids(research_store, "^ketamine")) == set(pmids(research_store, "ketamine"))
    near = set(pmids(research_store, "NEAR pain"))
    assert near and near == set(pmids(research_store, "near AND pain"))
    joined = set(pmids(research_store, "ketamine (morphine OR pain)"))
    assert joined and joined == set(pmids(research_store, "ketamine AND (morphine OR pain)"))


def test_prefix_and_stemming(research_store: Store) -> None:
    assert set(pmids(research_store, "hyperalgesia")) <= set(pmids(research_store, "hyperalges*"))
    assert len(pmids(research_store, "ketamin*")) >= len(pmids(research_store, "ketamine")) > 10


def test_field_search_and_title_hits_rank_first(research_store: Store) -> None:
    in_title = set(pmids(research_store, "title:ketamine"))
    ranked = pmids(research_store, "ketamine")
    assert in_title and in_title < set(ranked)
    top = ranked[: len(in_title)]
    assert len(set(top) & in_title) >= 0.8 * len(in_title)


def test_field_applies_to_a_phrase_or_a_group(research_store: Store) -> None:
    titles = {r[0] for r in research_store.db.execute("SELECT pmid FROM articles WHERE title LIKE '%opioid-induced%' AND retracted = 0")}
    phrase = set(pmids(research_store, 'title:"opioid-induced"'))
    assert titles and titles <= phrase == set(pmids(research_store, "title:opioid-induced"))
    for pmid in phrase:
        assert "opioid induced" in research_store.get_article(pmid).title.lower().replace("-", " ")
    either = set(pmids(research_store, "title:(ketamine OR morphine)"))
    assert either == set(pmids(research_store, "title:ketamine")) | set(pmids(research_store, "title:morphine"))


def test_mesh_field_searches_the_indexers_headings(research_store: Store) -> None:
    found = search(research_store, 'mesh:"Analgesics, Opioid"', limit=5)
    for hit in found:
        assert "Analgesics, Opioid" in research_store.get_article(hit.pmid).mesh_terms


def test_limit_and_scores_descend(research_store: Store) -> None:
    hits = search(research_store, "morphine", limit=10)
    assert len(hits) == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# -- every filter ------------------------------------------------------------------------


def test_topic_filter_uses_assigned_tags(research_store: Store) -> None:
    found = pmids(research_store, "pain", topics=("ketamine",))
    assert found
    tagged = {r[0] for r in research_store.db.execute("SELECT pmid FROM tags WHERE topic = 'ketamine' AND assigned = 1")}
    assert set(found) <= tagged
    either = set(pmids(research_store, "pain", topics=("ketamine", "genetics")))
    assert set(found) < either


def test_min_score_with_and_without_topic(research_store: Store) -> None:
    high = set(pmids(research_store, "pain", topics=("tapering",), min_score=0.85))
    any_tagged = set(pmids(research_store, "pain", topics=("tapering",), min_score=0.5))
    assert high and high < any_tagged
    for pmid in high:
        assert research_store.db.execute("SELECT score FROM tags WHERE pmid = ? AND topic = 'tapering'", (pmid,)).fetchone()[0] >= 0.85
    assert set(pmids(research_store, "pain", min_score=0.85)) >= high


def test_relevance_filter_is_independent_of_topics(research_store: Store) -> None:
    relevance = dict(research_store.db.execute("SELECT pmid, relevance FROM classifications").fetchall())
    relevant = pmids(research_store, "pain", min_relevance=0.5)
    assert relevant and all(relevance[p] >= 0.5 for p in relevant)
    assert set(relevant) < set(pmids(research_store, "pain"))
    ketamine = set(pmids(research_store, None, topics=("ketamine",)))
    relevant_ketamine = set(pmids(research_store, None, topics=("ketamine",), min_relevance=0.5))
    assert relevant_ketamine and relevant_ketamine < ketamine
    with pytest.raises(InputError, match="--min-relevance 1.5 is not a probability"):
        Filters(min_relevance=1.5).check(set())


def test_study_type_filter(research_store: Store) -> None:
    found = pmids(research_store, None, study_type="rct")
    assert found
    assert set(pmids(research_store, "random*", study_type="rct")) <= set(found)
    types = {research_store.db.execute("SELECT study_type FROM classifications WHERE pmid = ?", (p,)).fetchone()[0] for p in found}
    assert types == {"rct"}


def test_year_filters_are_inclusive(research_store: Store) -> None:
    found = pmids(research_store, "morphine", since=2000, until=2001)
    years = {research_store.get_article(p).year for p in found}
    assert years == {2000, 2001}
    assert set(pmids(research_store, "morphine", since=2002)).isdisjoint(found)


def test_journal_filter_matches_title_or_abbreviation(research_store: Store) -> None:
    by_title = pmids(research_store, None, journal="proceedings of the national academy of sciences of the united states of america")
    by_abbrev = pmids(research_store, None, journal="Proc Natl Acad Sci U S A")
    assert by_abbrev and set(by_abbrev) <= set(by_title)
    for pmid in by_title:
        assert research_store.get_article(pmid).journal.startswith("Proceedings of the National Academy")
    assert set(pmids(research_store, None, journal="proc natl*")) >= set(by_abbrev)
    assert pmids(research_store, None, journal="Proc%") == []  # % is a literal, not a wildcard


def test_journal_filter_ignores_dots_and_case(research_store: Store) -> None:
    dotted = pmids(research_store, None, journal="Int. J. Cancer")
    assert dotted and pmids(research_store, None, journal="int j cancer") == dotted
    assert pmids(research_store, None, journal="Int J Canc*") == dotted


def test_retracted_records_only_on_request(research_store: Store) -> None:
    assert RETRACTED_PMID not in pmids(research_store, "ketamine")
    assert RETRACTED_PMID in pmids(research_store, "ketamine", include_retracted=True)


def test_deleted_records_leave_search(tmp_path: Path, research_store_path: Path) -> None:
    copy = tmp_path / "copy.db"
    with Store(research_store_path) as source:
        source.db.execute("VACUUM INTO ?", (str(copy),))
    with Store(copy) as research_store:
        victim = pmids(research_store, "title:ketamine")[0]
        before = count_matches(research_store, "ketamine"), count_matches(research_store, None)
        research_store.mark_deleted([victim])
        assert victim not in pmids(research_store, "ketamine")
        assert victim not in pmids(research_store, None)
        assert (count_matches(research_store, "ketamine"), count_matches(research_store, None)) == (before[0] - 1, before[1] - 1)


def test_unknown_topic_and_study_type_list_the_valid_ones() -> None:
    with pytest.raises(InputError, match="valid topics: ketamine, tapering"):
        Filters(topics=("ketamin",)).check({"tapering", "ketamine"})
    with pytest.raises(InputError, match="valid study types: meta_analysis, systematic_review, rct"):
        Filters(study_type="RCT").check(set())
    with pytest.raises(InputError, match="--since 2020 is after --until 2010"):
        Filters(since=2020, until=2010).check(set())


# -- the command --------------------------------------------------------------------------


def test_search_command_table(research_cli) -> None:
    result = research_cli("search", "title:ketamine", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "PMID" in result.stdout and "ketamine" in result.stdout.lower()
    assert result.stderr.startswith("first 3 of ")


def test_the_footer_says_how_many_match_when_it_shows_only_the_first(research_store: Store, research_cli) -> None:
    ketamine = len(pmids(research_store, "ketamine"))
    assert ketamine > 20
    assert research_cli("search", "ketamine").stderr.startswith(f"first 20 of {ketamine} matches; --limit N for more\n")
    assert research_cli("search", "ketamine", "--limit", str(ketamine)).stderr.startswith(f"{ketamine} matches\n")
    assert research_cli("search", "ketamine", "--limit", str(ketamine + 1)).stderr.startswith(f"{ketamine} matches\n")
    tagged = len(pmids(research_store, "pain", topics=("ketamine",), since=2000))
    assert tagged > 5
    filtered = research_cli("search", "pain", "--topic", "ketamine", "--since", "2000", "--limit", "5", "--format", "json")
    assert filtered.stderr.startswith(f"first 5 of {tagged} matches;")


@pytest.mark.parametrize(("query", "filters"), [
    ("ketamine", {}), ("pain", {"topics": ("tapering",), "min_score": 0.6}), ("morphine", {"study_type": "review", "since": 1995}),
    ("morphine", {"journal": "*pain*", "include_retracted": True}), (None, {"topics": ("genetics",)}), ("zzzqqq", {}),
])  # fmt: skip
def test_count_matches_is_what_search_finds_without_a_limit(research_store: Store, query: str | None, filters: dict) -> None:
    assert count_matches(research_store, query, Filters(**filters)) == len(pmids(research_store, query, **filters))


def test_search_command_reads_a_ratio_as_words(research_cli) -> None:
    result = research_cli("search", "morphine 2:1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) and "field" not in result.stderr


def test_search_command_reads_pubmed_tags_or_says_which_it_cannot(research_cli) -> None:
    tagged = research_cli("search", "hyperalgesia[mesh]", "--format", "json", "--limit", "1000")
    assert tagged.exit_code == 0, tagged.output
    fielded = research_cli("search", "mesh:hyperalgesia", "--format", "json", "--limit", "1000")
    assert json.loads(tagged.stdout) and json.loads(tagged.stdout) == json.loads(fielded.stdout)
    author = research_cli("search", "chu lf[au]")
    assert author.exit_code == 1 and author.stderr.startswith("Error: PubMed's field tag [au] has no field") and author.stderr.count("\n") == 1
    subheading = research_cli("search", "Hyperalgesia/chemically induced[mh]")
    assert subheading.exit_code == 1 and subheading.stderr.count("\n") == 1
    assert subheading.stderr.startswith('Error: MeSH subheadings are not indexed: search the heading alone, e.g. "Hyperalgesia"[mh]')


def test_search_command_json_with_filters(research_cli) -> None:
    result = research_cli(
        "search", "ketamine", "--topic", "ketamine", "--since", "1995",
        "--format", "json", "--include-retracted", "--limit", "100",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records and all("ketamine" in r["topics"] and r["year"] >= 1995 for r in records)
    assert RETRACTED_PMID in {r["pmid"] for r in records}
    assert records[0]["match_score"] >= records[-1]["match_score"]


def test_search_command_errors_are_one_line(research_cli) -> None:
    bad = research_cli("search", "ketamine AND")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: cannot read the search query") and bad.stderr.count("\n") == 1
    topic = research_cli("search", "x", "--topic", "nope")
    assert topic.exit_code == 2 and "valid topics: genetics, ketamine, non_opioid, tapering" in topic.stderr
    kind = research_cli("search", "x", "--study-type", "trial")
    assert kind.exit_code == 2 and "valid study types:" in kind.stderr
    assert "Traceback" not in bad.output + topic.output + kind.output


def test_search_command_shows_and_filters_relevance(research_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    table = research_cli("search", "title:ketamine", "--limit", "3")
    assert "OIH" in table.stdout and ("0.80" in table.stdout or "0.10" in table.stdout)
    relevant = research_cli("search", "pain", "--relevant", "--format", "json", "--limit", "500")
    assert relevant.exit_code == 0, relevant.output
    records = json.loads(relevant.stdout)
    assert records and all(r["relevance"] >= 0.5 for r in records)  # no model: the digest's threshold is 0.5
    assert len(records) < len(json.loads(research_cli("search", "pain", "--format", "json", "--limit", "500").stdout))
    monkeypatch.setenv("OIHWATCH_CLASSIFIER_RELEVANCE_THRESHOLD", "0.9")  # what the digest would use
    assert "0 matches" in research_cli("search", "pain", "--relevant").stderr
    assert json.loads(research_cli("search", "pain", "--min-relevance", "0.7", "--format", "json", "--limit", "500").stdout) == records
    both = research_cli("search", "pain", "--relevant", "--min-relevance", "0.7")
    assert both.exit_code == 2 and "give --relevant or --min-relevance, not both" in both.stderr


def test_export_command_relevant_slice(research_cli) -> None:
    result = research_cli("export", "--topic", "ketamine", "--relevant")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all("ketamine" in r["topics"] and r["relevance"] >= 0.5 for r in records)
    assert len(records) < len(research_cli("export", "--topic", "ketamine").stdout.splitlines())


def test_search_and_export_say_when_tags_wait_for_classify(tmp_path: Path, research_store_path: Path) -> None:
    from corpus.tags import set_label

    copy = tmp_path / "copy.db"
    with Store(research_store_path) as source:
        source.db.execute("VACUUM INTO ?", (str(copy),))
    with Store(copy) as store:
        store.db.execute("UPDATE articles SET needs_classification = 0")
        store.db.commit()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{copy}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    run = lambda *args: CliRunner().invoke(cli, ["-c", str(config), *args])  # noqa: E731
    assert "note:" not in run("search", "title:ketamine").stderr
    with Store(copy) as store:
        set_label(store, pmids(store, "title:ketamine")[0], "genetics", True)
    for result in (run("search", "title:ketamine"), run("export", "--topic", "genetics")):
        assert result.exit_code == 0, result.output
        assert "note: 1 record is new, revised, newly labelled or tagged by an older model; run 'oihwatch classify'" in result.stderr


def test_the_table_keeps_topic_names_whole_on_a_narrow_terminal_and_no_match_draws_no_table(
    tmp_path: Path, research_store_path: Path, research_cli
) -> None:
    config = tmp_path / "narrow.toml"
    config.write_text(f'[database]\npath = "{research_store_path}"\n', encoding="utf-8")
    narrow = CliRunner().invoke(cli, ["-c", str(config), "search", "ketamine", "--topic", "non_opioid", "--limit", "5"],
                                env={"TTY_COMPATIBLE": "1", "COLUMNS": "80", "NO_COLOR": "1"})  # rich's terminal, 80 wide
    assert narrow.exit_code == 0, narrow.output
    shown = click.unstyle(narrow.stdout)
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert "non_opioid" in shown and "non_o…" not in shown and "topics" in shown
    empty = research_cli("search", "zzzzqqqq")
    assert empty.exit_code == 0 and empty.stdout == "" and empty.stderr.startswith("0 matches")


def test_search_help_ends_with_an_example() -> None:
    result = CliRunner().invoke(cli, ["search", "--help"])
    assert "Example:" in result.output and "oihwatch search" in result.output


def test_a_field_name_without_its_colon_is_an_ordinary_word() -> None:
    assert fts_query("abstract review") == "abstract review"
    assert fts_query("mesh") == "mesh"


def test_search_writes_each_record_as_it_reads_it(research_cli, monkeypatch) -> None:
    """A page may hold 100,000 records: each goes out as it is read, none waits in memory for the rest."""
    import oihwatch.commands.research as research

    written_before_each: list[int] = []

    def watched(store, pmids, *sources):
        for record in iter_records(store, pmids, *sources):
            sys.stdout.flush()
            written_before_each.append(sys.stdout.buffer.getvalue().count(b'"pmid"'))
            yield record

    monkeypatch.setattr(research, "iter_records", watched)
    result = research_cli("search", "ketamine", "--format", "json", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert written_before_each == [0, 1, 2, 3, 4]
    assert len(json.loads(result.stdout)) == 5 and result.stdout.startswith("[\n  {\n    \"pmid\": ")
    assert research_cli("search", "zzzqqq", "--format", "json").stdout == "[]\n"
