"""The query language's edges: '-word' leaves a word out, and FTS5 syntax the translation would turn into
words (NEAR, {column sets}, a misplaced *, an unknown or unclosed [tag]) is refused, alike in the CLI,
in export and in the web view."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from conftest import DATASETTE_UNCLOSED
from corpus.errors import InputError
from corpus.search import SYNTAX_HELP, Filters, fts_query, search
from corpus.store import Store


def found(store: Store, query: str) -> set[str]:
    return {hit.pmid for hit in search(store, query)}


# -- '-word' ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fts"),
    [
        ("hyperalgesia -ketamine", "hyperalgesia NOT ketamine"),
        # FTS5 reads 'a NOT b c' as 'a NOT (b AND c)': what follows a left-out word is joined by AND
        ("hyperalgesia -ketamine rat", "hyperalgesia NOT ketamine AND rat"),
        ("opioid hyperalgesia -ketamine -rat", "opioid hyperalgesia NOT ketamine NOT rat"),
        ('hyperalgesia -"nerve injury"', 'hyperalgesia NOT "nerve injury"'),
        ("hyperalgesia -(ketamine OR magnesium) rat", "hyperalgesia NOT ( ketamine OR magnesium ) AND rat"),
        ("hyperalgesia -title:ketamine", "hyperalgesia NOT title:ketamine"),
        ("hyperalgesia title:-ketamine", "hyperalgesia NOT title:ketamine"),
        ("hyperalgesia -ketamine[tiab] rat", "hyperalgesia NOT {title abstract}:ketamine AND rat"),
        ("hyperalgesia AND -ketamine", "hyperalgesia NOT ketamine"),
        ("(pain OR hyperalgesia) -ketamine", "( pain OR hyperalgesia ) NOT ketamine"),
        ("pain (hyperalgesia -ketamine)", "pain AND ( hyperalgesia NOT ketamine )"),
        ("hyperalgesia -5-HT3", 'hyperalgesia NOT "5-HT3"'),
        # a '-' inside a word, after a quote or alone is punctuation, as before
        ("opioid-induced hyperalgesia", '"opioid-induced" hyperalgesia'),
        ("5-HT3 anti-NGF", '"5-HT3" "anti-NGF"'),
        ('"opioid"-induced', '"opioid" "-induced"'),
        ("morphine - ketamine", 'morphine "-" ketamine'),
    ],
)
def test_a_leading_minus_leaves_out_what_follows_it(typed: str, fts: str) -> None:
    assert fts_query(typed) == fts


def test_minus_word_finds_the_papers_without_the_word(research_store: Store) -> None:
    hyperalgesia, ketamine, rat = (found(research_store, word) for word in ("hyperalgesia", "ketamine", "rat"))
    left_out = found(research_store, "hyperalgesia -ketamine")
    assert left_out and left_out == hyperalgesia - ketamine == found(research_store, "hyperalgesia NOT ketamine")
    assert hyperalgesia & ketamine and found(research_store, "hyperalgesia ketamine") == hyperalgesia & ketamine
    between = found(research_store, "hyperalgesia -ketamine rat")
    assert between and between == (hyperalgesia & rat) - ketamine


def test_hyphenated_words_find_what_they_found(research_store: Store) -> None:
    hyphenated = found(research_store, "opioid-induced hyperalgesia")
    assert hyphenated and hyphenated == found(research_store, '"opioid induced" hyperalgesia')


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("-ketamine", "-ketamine leaves papers out of what the query finds before it, and comes first; put what to find before it, "
                      "e.g. 'hyperalgesia -ketamine' (hyperalgesia NOT ketamine)"),
        ('-"nerve injury" pain', '-"nerve injury" leaves papers out of what the query finds before it, and comes first'),
        ("hyperalgesia OR -ketamine", "-ketamine leaves papers out of what the query finds before it, and comes after OR"),
        ("pain (-ketamine)", "-ketamine leaves papers out of what the query finds before it, and comes first in its (group)"),
        ("NOT ketamine", "NOT leaves papers out of what the query finds before it, and comes first"),
    ],
)
def test_a_minus_word_with_nothing_before_it_is_refused_naming_not(query: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        fts_query(query)
    message = str(caught.value)
    assert message.startswith(says) and message.endswith(SYNTAX_HELP) and "\n" not in message


# -- FTS5 syntax that would become words ------------------------------------------------------------


REFUSED = [
    ("NEAR(ketamine hyperalgesia, 5)", 'NEAR is not supported; use AND or an "exact phrase"'),
    ("ketamine NEAR (hyperalgesia pain)", 'NEAR is not supported; use AND or an "exact phrase"'),
    ("ketamine NEAR/3 hyperalgesia", 'NEAR is not supported; use AND or an "exact phrase"'),
    ("{title abstract}:ketamine", "FTS5's {column}: filters are not read here (in '{title'); put a field before a word, "
                                  "e.g. title:ketamine, or a PubMed tag after it, e.g. ketamine[tiab]"),
    ("ketamine[xx]", "unknown PubMed tag [xx]; known: [tiab] [ti] [ab] [mh] [majr] [ot] [tw] [all] after a word or \"phrase\"; "
                     'brackets that belong to a word are searched in quotes, e.g. "ketamine[xx]"'),
    ("ketamine[tiabs]", "unknown PubMed tag [tiabs] (did you mean [tiab]?); known: [tiab] [ti]"),
    ('"opioid-induced hyperalgesia"[Title/Abstrct]', "unknown PubMed tag [Title/Abstrct] (did you mean [title/abstract]?)"),
    ("hyperalgesia [xx]", "unknown PubMed tag [xx]"),
    ("[xx] hyperalgesia", 'unknown PubMed tag [xx]; known: [tiab] [ti]'),
    ("Lp[a]", 'unknown PubMed tag [a]; known: [tiab] [ti] [ab] [mh] [majr] [ot] [tw] [all] after a word or "phrase"; '
              'brackets that belong to a word are searched in quotes, e.g. "Lp[a]"'),
    ("ketamine[tiab", "the [ in 'ketamine[tiab' has no closing ]; a PubMed tag is written ketamine[tiab]"),
    ("ketamine[mesh terms", "the [ in 'ketamine[mesh' has no closing ]"),
    ("*", "a * goes at the end of a word, as in ketamin*, not as in '*'"),
    ("ketamine *", "a * goes at the end of a word, as in ketamin*, not as in '*'"),
    ("ket*amine", "a * goes at the end of a word, as in ketamin*, not as in 'ket*amine'"),
    ("*ketamine", "a * goes at the end of a word, as in ketamin*, not as in '*ketamine'"),
]


@pytest.mark.parametrize(("query", "says"), REFUSED)
def test_fts5_syntax_read_as_words_is_refused_saying_what_to_use(research_store: Store, query: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        search(research_store, query)
    message = str(caught.value)
    assert message.startswith(says) and message.endswith(SYNTAX_HELP) and "\n" not in message


@pytest.mark.parametrize(
    ("typed", "fts"),
    [
        ("NEAR infrared", "NEAR infrared"),  # NEAR is FTS5's operator only before a parenthesis
        ("near (ketamine OR pain)", "near AND ( ketamine OR pain )"),
        ('"Lp[a]" [3H]naloxone [Ca2+]i', '"Lp[a]" "[3H]naloxone" "[Ca2+]i"'),  # brackets of a word's own
        ("ketamin* 5-HT3*", 'ketamin* "5-HT3"*'),
        ('"opioid induc"*', '"opioid induc"*'),  # FTS5's prefix phrase
        ('"opioid induc"*[tiab]', '{title abstract}:"opioid induc"*'),
    ],
)
def test_what_is_near_the_refused_syntax_still_reads(typed: str, fts: str) -> None:
    assert fts_query(typed) == fts


def test_a_prefix_phrase_finds_what_its_prefix_does(research_store: Store) -> None:
    prefixed = found(research_store, '"opioid induc"*')
    assert prefixed and found(research_store, '"opioid-induced hyperalgesia"') <= prefixed


# -- the command and export -------------------------------------------------------------------------


def test_search_command_leaves_out_a_minus_word(research_cli, research_store: Store) -> None:
    result = research_cli("search", "hyperalgesia -ketamine", "--format", "json", "--limit", "1000")
    assert result.exit_code == 0, result.output
    assert {r["pmid"] for r in json.loads(result.stdout)} == found(research_store, "hyperalgesia NOT ketamine")
    exported = research_cli("export", "-q", "hyperalgesia -ketamine")
    assert exported.exit_code == 0, exported.output
    assert {json.loads(line)["pmid"] for line in exported.stdout.splitlines()} == found(research_store, "hyperalgesia NOT ketamine")


@pytest.mark.parametrize("args", [["-ketamine"], ["hyperalgesia", "-ketamine"], ["--limit", "3", "-ketamine"]])
def test_a_query_read_as_an_option_says_how_to_write_it(research_cli, args: list[str]) -> None:
    """Its advice works at once: '-- -ketamine' would only meet the next error, a -word with nothing before it."""
    result = research_cli("search", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: No such option '-k'. A -word leaves a word out of what the words before it find: put them first, "
        "in quotes, e.g. oihwatch search 'hyperalgesia -ketamine'"
    )
    assert research_cli("search", "hyperalgesia -ketamine").exit_code == 0


def test_a_misspelt_long_option_keeps_clicks_suggestion(research_cli) -> None:
    result = research_cli("search", "ketamine", "--limt", "3")
    assert result.exit_code == 2 and result.stderr.splitlines()[-1] == "Error: No such option '--limt'. Did you mean '--limit'?"


@pytest.mark.parametrize("command", [["search", "--"], ["export", "-q"]])
@pytest.mark.parametrize(("query", "says"), [("-ketamine", "-ketamine leaves papers out"), *REFUSED[::3]])
def test_the_commands_refuse_in_one_line(research_cli, command: list[str], query: str, says: str) -> None:
    result = research_cli(*command, query)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"Error: {says}") and result.stderr.count("\n") == 1


# -- the web view -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_view(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The web view of the research corpus, answered in process (Datasette's own client)."""
    pytest.importorskip("datasette")
    from oihwatch.web.server import make_datasette, snapshot_path
    from oihwatch.web.snapshot import build_snapshot

    target = snapshot_path(tmp_path_factory.mktemp("web") / "corpus.db")
    with Store(research_store_path) as store:
        build_snapshot(store, target, 0.5, {"ketamine": "ketamine", "tapering": "tapering"})
    datasette = make_datasette(target, {"ketamine": "ketamine", "tapering": "tapering"})  # topic labels by name

    def get(path: str, params: dict):
        return asyncio.run(datasette.client.get(path, params=params))

    return get


@DATASETTE_UNCLOSED
@pytest.mark.usefixtures("datasette_garbage")  # Datasette's own connections: see conftest
@pytest.mark.parametrize(("query", "says"), [("-ketamine", "-ketamine leaves papers out"), *REFUSED[::3]])
def test_the_web_views_search_box_and_saved_search_refuse_alike(web_view, research_cli, query: str, says: str) -> None:
    said = research_cli("search", "--", query).stderr.removeprefix("Error: ").rstrip("\n")
    assert said.startswith(says)
    for path, params in [("/corpus-web/articles.json", {"_search": query}),
                         ("/corpus-web/search_topic.json", {"q": query, "topic": ""}),
                         ("/corpus-web/search_topic.json", {"q": query, "topic": "ketamine"})]:  # fmt: skip
        response = web_view(path, params)
        assert (response.status_code, response.json()["error"]) == (400, said), params


@DATASETTE_UNCLOSED
@pytest.mark.usefixtures("datasette_garbage")  # Datasette's own connections: see conftest
def test_the_web_views_search_box_leaves_out_a_minus_word(web_view, research_store: Store) -> None:
    rows = web_view("/corpus-web/articles.json", {"_search": "hyperalgesia -ketamine", "_shape": "objects", "_size": "max"}).json()["rows"]
    without = {h.pmid for h in search(research_store, "hyperalgesia NOT ketamine", Filters(include_retracted=True))}
    assert rows and {str(r["pmid"]) for r in rows} == without
    saved = web_view("/corpus-web/search_topic.json", {"q": "hyperalgesia -ketamine", "topic": "", "_shape": "objects"}).json()["rows"]
    ranked = [h.pmid for h in search(research_store, "hyperalgesia NOT ketamine")]
    assert saved and [r["pubmed"].rstrip("/").rsplit("/", 1)[1] for r in saved] == ranked


@pytest.mark.parametrize("start", ["x [a", "x [mesh", "x [a/", "ketamine [ tiab"])
def test_an_unclosed_bracket_before_a_long_run_of_spaces_is_refused_at_once(start):
    """A bracket's letters and the spaces after them were two ways to read the same spaces, tried against each
    other: 60,000 spaces took about 30 s, and one such request held the whole web view. Ten seconds is
    thousands of times what it takes, so only the old backtracking can reach the alarm."""
    def stuck(signum, frame):
        raise TimeoutError("the query translation backtracks")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(10)
    try:
        with pytest.raises(InputError, match="has no closing ]"):
            fts_query(start + " " * 60_000 + "1")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
