"""Full-text search of the corpus: query checking, filters and bm25 ranking.

The query language is SQLite FTS5's, which is close to PubMed's: words, "phrases",
AND / OR / NOT (upper case), parentheses, prefix* and ``title:`` style fields.
Researchers type hyphenated terms ("opioid-induced", "5-HT3") and ratios ("10:1") that
FTS5 would read as column filters, so ``fts_query`` quotes any word holding punctuation
as a phrase; FTS5's ``^`` for the start of a column becomes punctuation the same way.
FTS5 syntax the help does not offer and that would be read as words otherwise (``NEAR(...)``,
``{title abstract}:``, a ``*`` not at the end of a word) is an error, not a search for its
letters that finds nothing. A ``-`` before a word, "phrase", field: or (group) leaves it out,
as in Google and library catalogues: ``a -b`` is ``a NOT b``; a ``-`` inside a word is
punctuation (opioid-induced). A field (a name of letters before a colon) applies to the
word, "phrase" or (group) right after it, as in FTS5.
FTS5 joins a (group) to its neighbours only with an explicit AND, so one is put there, and
after a left-out word too: FTS5 reads ``a NOT b c`` as ``a NOT (b AND c)``.
PubMed's field tags after a word or "phrase" (ketamine[tiab], "Analgesics, Opioid"[MeSH])
become the fields they name, so a PubMed query pastes as it is; as in PubMed, a tag after
unquoted words applies to all of them since the last operator, parenthesis, "phrase",
field: or tag, as one phrase (opioid induced hyperalgesia[tiab]). A tag with no field here
([au], [dp], a MeSH subheading), an unknown or misspelt one ([tiabs]) and an unclosed one
([tiab) are errors saying what to use instead, not searches for their letters: brackets
of a word's own (Lp[a]) are searched inside a "phrase".
Everything the user typed travels as an SQL parameter; only fixed SQL fragments are
joined into the statement.
"""

from __future__ import annotations

import difflib
import functools
import re
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import closing
from dataclasses import dataclass

from corpus.errors import InputError
from corpus.evidence import STUDY_TYPES
from corpus.store import Store

FTS_COLUMNS = ("title", "abstract", "mesh", "keywords")
# bm25 weights per FTS column, in FTS_COLUMNS order: a hit in the title or the
# indexers' MeSH says more about what a paper is about than one in the abstract.
BM25_WEIGHTS = (5.0, 1.0, 2.0, 2.0)
OPERATORS = frozenset({"AND", "OR", "NOT"})
SYNTAX_HELP = (
    'use words, "exact phrases", AND / OR / NOT in upper case, -word to leave a word out, (parentheses), prefix* '
    "and title: abstract: mesh: keywords: fields, e.g. '\"opioid-induced hyperalgesia\" AND ketamin*'"
)

# PubMed's field tags, as researchers paste them from PubMed ('ketamine[tiab]', '"Hyperalgesia"[MeSH]'):
# the fields each searches here (none: every field). MeSH is not exploded to narrower headings, and the
# major-topic flag is not indexed, so [majr] searches every heading.
PUBMED_TAGS: dict[str, tuple[str, ...]] = {
    "tiab": ("title", "abstract"), "title/abstract": ("title", "abstract"),
    "ti": ("title",), "title": ("title",),
    "ab": ("abstract",), "abstract": ("abstract",),
    "mh": ("mesh",), "mesh": ("mesh",), "mesh terms": ("mesh",), "majr": ("mesh",), "mesh major topic": ("mesh",),
    "ot": ("keywords",), "other term": ("keywords",),
    "tw": (), "text word": (), "all": (), "all fields": (),
}  # fmt: skip
# PubMed's other tags: the option that does their work here, or "" when nothing does.
_OPTION_FOR_TAG = {
    **dict.fromkeys(["dp", "pdat", "publication date", "edat", "entry date", "crdt", "create date", "mhda", "dcom", "lr"],
                    "--since / --until YEAR"),
    **dict.fromkeys(["ta", "jour", "journal", "jid"], "--journal"),
    **dict.fromkeys(["pt", "publication type"], "--study-type"),
    **dict.fromkeys(["au", "author", "1au", "lastau", "fau", "full author name", "cn", "corporate author", "ad", "affiliation",
                     "la", "language", "pmid", "uid", "sh", "subheading", "mesh subheading", "nm", "supplementary concept",
                     "pa", "pharmacological action", "rn", "si", "sb", "subset", "filter", "gr", "ir", "fir", "ed", "pg",
                     "vi", "ip", "aid", "lid", "pl", "ps", "pubn", "tt", "isbn", "book", "cois", "auid"], ""),
    # The long names PubMed's Advanced Search Builder writes.
    **dict.fromkeys(["date - publication", "date - create", "date - entry", "date - entrez", "date - mesh",
                     "date - completion", "date - modification"], "--since / --until YEAR"),
    **dict.fromkeys(["author - first", "author - last", "author - full", "author - corporate", "author - identifier",
                     "investigator", "investigator - full", "editor", "publisher", "volume", "issue", "pagination",
                     "grant number", "ec/rn number", "lang", "conflict of interest statements", "location id",
                     "secondary source id", "transliterated title", "place of publication", "nlm unique id"], ""),
}  # fmt: skip
_TAG_NAMES = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in sorted([*PUBMED_TAGS, *_OPTION_FOR_TAG], key=len, reverse=True))
# A tag after its '[': a known name, maybe an option (':noexp', ':~3'), and the ']'.
_KNOWN_TAG = rf"\s*(?ai:{_TAG_NAMES})(?::[^\]\s]*)?\s*"  # ASCII case only: 'İ' lower-cases to no tag
# What else reads as a tag, to refuse rather than search its letters: letters (spaces, '/', '-' between)
# in brackets that end a word ('ketamine[tiabs]', 'Lp[a]'); '[3H]naloxone' and '[Ca2+]i' are words.
_TAG_BODY = rf"(?:{_KNOWN_TAG}|\s*[^\W\d_](?:[^\W\d_]|[ /-])*+(?::[^\]\s]*)?\s*(?=\](?:[\s()\[]|\Z)))"
# A '-' that leaves out what follows it (at the start of a word: in 'opioid-induced' it is punctuation),
# an optional ``field:`` (letters only: '10:1' is a ratio; 'title:-rat' is '-title:rat') glued to
# what follows it, then a "phrase" (a prefix* may end it), a parenthesis, a word (in which a '['
# is punctuation unless a PubMed tag starts there) or a tag that follows nothing; then the PubMed
# tag of what came before.
_TOKEN = re.compile(
    r'(?:(?<![^\s(])(?P<minus>-)(?=[\w"(\[]))?(?:(?P<field>[^\W\d_]+):(?P<minus_after>-(?=[\w"(\[]))?(?=\S))?'
    rf'(?:(?P<term>"[^"]*"?\*?|[()]|(?:[^\s()"\[]|\[(?!{_TAG_BODY}\]))+)|\[(?P<stray>{_TAG_BODY})\])'
    rf"(?:\s*\[(?P<tag>{_TAG_BODY})\])?"
)
TAGS_READ = "[tiab] [ti] [ab] [mh] [majr] [ot] [tw] [all] after a word or \"phrase\""
FIELDS_READ = "title: abstract: mesh: keywords: before one"
# A word FTS5 may read as it is: letters and digits, with an optional prefix star ('NEAR' too: it is
# FTS5's proximity operator only before a parenthesis, which is refused).
_BAREWORD = re.compile(r"\w+\*?")
_GROUP_NEXT = re.compile(r"\s*\(")


@dataclass(frozen=True)
class Filters:
    """What narrows a search or an export besides the query text.

    ``topics``: records with any of these topics assigned (with ``min_score``: with a
    score of at least ``min_score`` for one of them, assigned or not, for recall);
    ``min_score`` alone: any topic scored at least that. ``min_relevance``: OIH relevance of
    at least that (topics say which question a paper informs, relevance whether it is about
    OIH at all; the two are independent). Years are publication years, inclusive. ``journal``
    matches the full title or the ISO abbreviation ignoring case and dots ("Int J Cancer"
    finds "Int. J. Cancer"), with ``*`` as a wildcard.
    """

    topics: tuple[str, ...] = ()
    min_score: float | None = None
    min_relevance: float | None = None
    study_type: str | None = None
    since: int | None = None
    until: int | None = None
    journal: str | None = None
    include_retracted: bool = False

    def check(self, known_topics: Collection[str]) -> None:
        """Raise ``InputError`` naming the valid values when a filter cannot match anything by construction."""
        unknown = [t for t in self.topics if t not in known_topics]
        if unknown:
            valid = ", ".join(sorted(known_topics)) or "none yet (run oihwatch classify)"
            raise InputError(f"unknown topic {unknown[0]!r}; valid topics: {valid}")
        if self.study_type is not None and self.study_type not in STUDY_TYPES:
            raise InputError(f"unknown study type {self.study_type!r}; valid study types: {', '.join(STUDY_TYPES)}")
        if self.min_score is not None and not 0 <= self.min_score <= 1:
            raise InputError(f"--min-score {self.min_score} is not a probability; give a number from 0 to 1")
        if self.min_relevance is not None and not 0 <= self.min_relevance <= 1:
            raise InputError(f"--min-relevance {self.min_relevance} is not a probability; give a number from 0 to 1")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InputError(f"--since {self.since} is after --until {self.until}; swap them")


@dataclass(frozen=True)
class Hit:
    pmid: str
    score: float  # -bm25: higher is more relevant; 0 when there was no query


@functools.lru_cache(maxsize=64)  # pure; a full page of results counts its query again (count_matches)
def fts_query(text: str) -> str:
    """The user's query as FTS5 syntax: punctuated words become phrases, '-word' becomes NOT word, fields are checked.

    Read in two steps, token by token so that the first error typed is the one reported: ``_tokens``
    reads what was typed, ``_Expression`` places each token in the FTS5 expression.
    Raises ``InputError`` for an empty query, an unterminated phrase, an unknown field, an unknown
    PubMed tag or one with no field here, FTS5 syntax that would be read as words (``NEAR(...)``,
    ``{title abstract}:``, ``ket*amine``, an unclosed ``[tiab``), a NOT or -word with nothing before it
    to leave out of, or operator misuse FTS5 refuses ("ketamine AND", "(ketamine").
    """
    expression = _Expression()
    for token in _tokens(text):
        expression.add(token)
    translated = expression.text()
    _check_syntax(text, translated)
    return translated


@dataclass(frozen=True)
class _Token:
    """A word, "phrase", operator or parenthesis as typed, with the '-', field: and PubMed tag around it."""

    typed: str  # all of it, for messages: '-title:ketamine'
    minus: bool  # a '-' before it, or after its field: ('title:-rat'), leaves it out
    field: str | None  # one of FTS_COLUMNS
    term: str  # the word, "phrase", operator or parenthesis itself
    tag: str | None  # the PubMed tag after it, between its brackets
    before_group: bool  # a '(' follows it: 'NEAR(' is FTS5's proximity operator

    @property
    def syntax(self) -> bool:
        """An operator or a parenthesis: FTS5 reads it as it is."""
        return self.term in OPERATORS or self.term in ("(", ")")

    @property
    def plain(self) -> bool:
        """An unquoted word alone: PubMed reads a run of them before a tag as one phrase."""
        return not self.minus and not self.field and not self.term.startswith('"') and not self.syntax

    def fts_term(self) -> str:
        """The term as FTS5 reads it: as typed, or a word holding punctuation as a "phrase" (``_word``).

        Raises ``InputError`` for a phrase with no closing quote, and for what ``_word`` refuses.
        """
        if self.term.startswith('"'):
            phrase = self.term.removesuffix("*")  # '"opioid induc"*': FTS5's prefix phrase
            if len(phrase) == 1 or not phrase.endswith('"'):
                raise InputError(f"the phrase {self.term!r} has no closing quote; {SYNTAX_HELP}")
            return self.term
        return self.term if self.syntax else _word(self.term, self.before_group)


def _tokens(text: str) -> Iterator[_Token]:
    """The query's tokens, read one at a time so that an error is met where it was typed.

    Raises ``InputError`` for what no token can hold: a field: that is no column, a tag after nothing.
    """
    for match in _TOKEN.finditer(text):
        field, stray = match.group("field", "stray")
        if field and field not in FTS_COLUMNS:
            raise InputError(f"unknown search field {field!r}; fields are {', '.join(FTS_COLUMNS)}; {SYNTAX_HELP}")
        if stray is not None:
            _check_tag_known(stray, None)
            raise InputError(f"PubMed's field tag {_typed_tag(stray)} must follow a word or \"phrase\", as in ketamine[tiab]; "
                             f"{SYNTAX_HELP}")
        minus = match.group("minus") or match.group("minus_after")
        yield _Token(match.group(0).strip(), bool(minus), field, match.group("term"), match.group("tag"),
                     before_group=_GROUP_NEXT.match(text, match.end()) is not None)


class _Expression:
    """The FTS5 expression, assembled token by token: what goes before a token (NOT, AND) and whether it
    joins a tagged phrase depend on what the expression ends with."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.run: list[str] = []  # the unquoted words, as typed, that end ``parts``: a tag after the last applies to them all
        self.left_out = False  # ``parts`` ends with a -word: FTS5 reads 'a NOT b c' as 'a NOT (b AND c)', so an AND goes after it

    def add(self, token: _Token) -> None:
        """Append ``token`` in FTS5 syntax, after the NOT its '-' stands for or the AND FTS5 needs before it."""
        if token.minus or token.term == "NOT":  # checked before the term itself: '-ket*amine' first is refused as first
            self._leave_out(token)
        part = self._operand(token)
        self.run = [*self.run, token.term] if token.plain and token.tag is None else []
        if self._needs_and(part):
            self.parts.append("AND")  # 'ketamine (morphine OR pain)': FTS5 reads two words as both, not a word and a group
        self.parts.append(part)
        self.left_out = token.minus and not part.endswith("(")  # a left-out (group) ends at its ')'

    def text(self) -> str:
        """The expression, which FTS5 cannot run empty: raises ``InputError`` when nothing was typed."""
        if not self.parts:
            raise InputError(f"the search query is empty; {SYNTAX_HELP}")
        return " ".join(self.parts)

    def _leave_out(self, token: _Token) -> None:
        """Check that a NOT or -word has something before it to leave out of, and write the '-' as NOT."""
        if token.minus and self.parts and self.parts[-1] == "AND":
            self.parts.pop()  # 'ketamine AND -rat' is 'ketamine NOT rat'
        _check_left_out_of(self.parts, token.typed)
        if token.minus:
            self.parts.append("NOT")

    def _operand(self, token: _Token) -> str:
        """The token's term after its field, or after the field its PubMed tag names."""
        term, field = token.fts_term(), token.field
        if token.tag is not None:
            term, field = self._tagged(token.tag, token, term)
        return f"{field}:{term}" if field else term

    def _tagged(self, tag: str, token: _Token, term: str) -> tuple[str, str | None]:
        """The term a PubMed ``tag`` applies to, and its field: as in PubMed, the unquoted words before a
        tag make one phrase with the word it follows ('opioid induced hyperalgesia[tiab]')."""
        _check_tag_known(tag, token.term)
        if token.plain and self.run:
            term = _phrase([*self.run, token.term], tag)
            del self.parts[-len(self.run):]
        return term, _tag_field(tag, term, token.field)

    def _needs_and(self, part: str) -> bool:
        """FTS5 joins a (group) to its neighbours, and a -word to what follows it, only with an explicit AND."""
        if not self.parts or not _ends_operand(self.parts[-1]) or not _starts_operand(part):
            return False
        return self.left_out or self.parts[-1] == ")" or part.endswith("(")


def _check_left_out_of(parts: list[str], typed: str) -> None:
    """Raise ``InputError`` for a NOT or -word (``typed``) with nothing before it: FTS5's NOT takes what
    follows it out of what comes before it, and has no form of its own ('NOT ketamine', 'a OR -b')."""
    before = parts[-1] if parts else None
    if before is not None and _ends_operand(before):
        return
    where = "first" if before is None else f"after {before}" if before in OPERATORS else "first in its (group)"
    raise InputError(f"{typed} leaves papers out of what the query finds before it, and comes {where}; put what to find "
                     f"before it, e.g. 'hyperalgesia -ketamine' (hyperalgesia NOT ketamine); {SYNTAX_HELP}")


def _check_syntax(typed: str, translated: str) -> None:
    """FTS5 finds operator misuse only when a statement runs: run the query on an empty table of the
    same columns, so every caller (the CLI, the web view's box and saved search) refuses it alike,
    and an error of the corpus itself (a locked file) is never taken for the user's."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(f"CREATE VIRTUAL TABLE query USING fts5({', '.join(FTS_COLUMNS)})")
        try:
            db.execute("SELECT 1 FROM query WHERE query MATCH ?", (translated,)).fetchall()
        except sqlite3.OperationalError as exc:
            detail = str(exc).removeprefix("fts5: ")
            raise InputError(f"cannot read the search query {typed!r} ({detail}); {SYNTAX_HELP}") from None


def _phrase(words: list[str], tag: str) -> str:
    """The unquoted ``words`` before a PubMed tag as one FTS5 phrase; a prefix* may end it, as in PubMed.

    Raises ``InputError`` for a prefix* before the last word, which an FTS5 phrase cannot hold.
    """
    starred = [word for word in words[:-1] if word.endswith("*") and len(word) > 1]
    if starred:
        typed = f"[{' '.join(tag.split())}]"
        raise InputError(f"a prefix* ends a tagged phrase here, not {starred[0]!r} in {' '.join(words)}{typed}; "
                         f"search the words with AND, e.g. {' AND '.join(w + typed for w in words)}")
    prefix = words[-1].endswith("*") and len(words[-1]) > 1
    text = " ".join(words)
    return '"' + (text[:-1] if prefix else text) + '"' + ("*" if prefix else "")


def _tag_field(tag: str, token: str, field: str | None) -> str | None:
    """The FTS5 column filter of a PubMed tag after ``token``: 'title', '{title abstract}', or None for every field.

    Raises ``InputError`` for a tag that has no field here (naming the option that does its work,
    if one does), a tag after an operator or a parenthesis, or a tag beside a ``field:``.
    """
    typed = _typed_tag(tag)
    name, _, option = " ".join(tag.lower().split()).partition(":")
    if token in OPERATORS or token in ("(", ")"):
        raise InputError(f"PubMed's field tag {typed} follows a word or \"phrase\" here, not {token!r}; put title: abstract: "
                         f"mesh: keywords: before a (group) instead, e.g. title:(ketamine OR magnesium)")
    if field:
        raise InputError(f"{field}:{token}{typed} has two fields; give {field}: or {typed}, not both")
    if name not in PUBMED_TAGS:
        instead = _OPTION_FOR_TAG[name]
        use = f"use the option {instead}" if instead else f"only {TAGS_READ} are read, or {FIELDS_READ}"
        raise InputError(f"PubMed's field tag {typed} has no field in oihwatch search; {use}")
    if option and option != "noexp":  # proximity, [tiab:~3]
        raise InputError(f"PubMed's proximity search {typed} is not read here; search the words with AND, or as an \"exact phrase\"")
    columns = PUBMED_TAGS[name]
    if "mesh" in columns and "/" in token:
        raise InputError(f"MeSH subheadings are not indexed: search the heading alone, e.g. {token.split('/')[0]}\"{typed}")
    if not columns:
        return None
    return columns[0] if len(columns) == 1 else "{" + " ".join(columns) + "}"


def _check_tag_known(tag: str, word: str | None) -> None:
    """Raise ``InputError`` for brackets read as a PubMed tag (``tag``, after ``word``) that name none: a
    misspelt tag ([tiabs]) would search its letters and find nothing. A word's own brackets (Lp[a])
    are searched inside a "phrase", as the message says."""
    name = " ".join(tag.lower().split()).partition(":")[0]
    if name in PUBMED_TAGS or name in _OPTION_FOR_TAG:
        return
    typed = _typed_tag(tag)
    close = difflib.get_close_matches(name, PUBMED_TAGS, n=1, cutoff=0.7)  # not [ab] for Lp[a]
    meant = f" (did you mean [{close[0]}]?)" if close else ""
    quoted = '"' + (word or "").strip('"') + typed + '"'
    raise InputError(f"unknown PubMed tag {typed}{meant}; known: {TAGS_READ}; brackets that belong to a word are searched "
                     f"in quotes, e.g. {quoted}; {SYNTAX_HELP}")


def _typed_tag(tag: str) -> str:
    """A PubMed tag as the messages show it: in its brackets, its spaces as typed but one each."""
    return f"[{' '.join(tag.split())}]"


def _ends_operand(part: str) -> bool:
    return part not in OPERATORS and not part.endswith("(")


def _starts_operand(part: str) -> bool:
    return part not in OPERATORS and part != ")"


def _word(token: str, before_group: bool) -> str:
    """An unquoted word (``before_group``: a '(' follows it) as FTS5 reads it: as typed, or as a "phrase"
    when it holds punctuation, which FTS5 would read as syntax ('opioid-induced' as a column filter).

    Raises ``InputError`` for a field with nothing after it, and for FTS5 syntax that would become
    words that find nothing (``_check_unread_fts5``).
    """
    field = token[:-1]
    if token.endswith(":") and field in FTS_COLUMNS:  # 'title:' alone; the word 'title' is a word
        raise InputError(f"the field {token!r} needs a word, \"phrase\" or (group) right after it, e.g. {field}:ketamine; {SYNTAX_HELP}")
    _check_unread_fts5(token, before_group)
    if _BAREWORD.fullmatch(token):
        return token
    prefix = token.endswith("*") and len(token) > 1
    phrase = token[:-1] if prefix else token
    return '"' + phrase + '"' + ("*" if prefix else "")


def _check_unread_fts5(token: str, before_group: bool) -> None:
    """Raise ``InputError`` for FTS5 syntax the help does not offer, in an unquoted word: quoted as
    punctuated words are, it would search its letters and find nothing."""
    if (token == "NEAR" and before_group) or re.fullmatch(r"NEAR/\d+", token):
        raise InputError(f"NEAR is not supported; use AND or an \"exact phrase\"; {SYNTAX_HELP}")
    if "{" in token or "}" in token:
        raise InputError(f"FTS5's {{column}}: filters are not read here (in {token!r}); put a field before a word, "
                         f"e.g. title:ketamine, or a PubMed tag after it, e.g. ketamine[tiab]; {SYNTAX_HELP}")
    if token == "*" or "*" in token[:-1]:
        raise InputError(f"a * goes at the end of a word, as in ketamin*, not as in {token!r}; {SYNTAX_HELP}")
    if "[" in token and "]" not in token[token.rindex("["):]:
        raise InputError(f"the [ in {token!r} has no closing ]; a PubMed tag is written ketamine[tiab]; {SYNTAX_HELP}")


def build_search(query: str | None, filters: Filters, limit: int | None = None) -> tuple[str, list]:
    """The SQL and parameters of a search (``query`` already through ``fts_query``), or of a filtered listing.

    Each filter is a set of article rowids read from a narrow index (tags, classifications,
    year, journal, the few retracted ones), tested against each full-text match with ``+rowid``
    (the ``+`` keeps FTS5 from probing its index once per rowid of the set). No article row
    is read until the ranked page is known, which keeps a search of a common word over
    100,000 records under 50 ms (benchmarks/search.py).
    """
    rowid = "+articles_fts.rowid" if query is not None else "a.rowid"
    where, params = _filter_sets(rowid, filters)
    page = " LIMIT ?" if limit is not None else ""
    page_params = [limit] if limit is not None else []
    if query is None:
        conditions = " AND ".join(["a.deleted = 0", *where])
        sql = f"SELECT a.pmid, 0.0 FROM articles a WHERE {conditions} ORDER BY CAST(a.pmid AS INTEGER){page}"
        return sql, [*params, *page_params]
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    conditions = " AND ".join(["articles_fts MATCH ?", *where])
    sql = (
        f"SELECT a.pmid, -f.bm25 FROM (SELECT rowid, bm25(articles_fts, {weights}) AS bm25 FROM articles_fts "
        f"WHERE {conditions} ORDER BY bm25{page}) f JOIN articles a ON a.rowid = f.rowid WHERE a.deleted = 0 ORDER BY f.bm25"
    )
    return sql, [query, *params, *page_params]


def build_count(query: str | None, filters: Filters) -> tuple[str, list]:
    """The SQL and parameters counting what ``build_search`` finds without a limit.

    No ranking: FTS5 counts the matches of a query from its index alone (a word in
    13,552 of 100,000 records under 1 ms); each filter costs what it costs the search.
    A deleted record has left the full-text index (``Store.mark_deleted``), so a query
    needs no look at the articles.
    """
    rowid = "+articles_fts.rowid" if query is not None else "a.rowid"
    where, params = _filter_sets(rowid, filters)
    if query is None:
        return f"SELECT COUNT(*) FROM articles a WHERE {' AND '.join(['a.deleted = 0', *where])}", params
    return f"SELECT COUNT(*) FROM articles_fts WHERE {' AND '.join(['articles_fts MATCH ?', *where])}", [query, *params]


def _filter_sets(rowid: str, filters: Filters) -> tuple[list[str], list]:
    where: list[str] = []
    params: list = []
    if not filters.include_retracted:
        where.append(f"{rowid} NOT IN (SELECT rowid FROM articles WHERE retracted = 1)")
    if filters.since is not None or filters.until is not None:
        where.append(f"{rowid} IN (SELECT rowid FROM articles WHERE year BETWEEN ? AND ?)")
        params += [filters.since if filters.since is not None else -9999, filters.until if filters.until is not None else 9999]
    if filters.journal and filters.journal.strip("*."):
        pattern = _like_pattern(filters.journal.replace(".", ""))
        where.append(
            f"{rowid} IN (SELECT rowid FROM articles WHERE REPLACE(journal, '.', '') LIKE ? ESCAPE '\\' "
            "OR REPLACE(journal_abbrev, '.', '') LIKE ? ESCAPE '\\')"
        )
        params += [pattern, pattern]
    classified = [(sql, value) for sql, value in (("c.study_type = ?", filters.study_type), ("c.relevance >= ?", filters.min_relevance))
                  if value is not None]
    if classified:
        where.append(f"{rowid} IN (SELECT a2.rowid FROM classifications c JOIN articles a2 ON a2.pmid = c.pmid "
                     f"WHERE {' AND '.join(sql for sql, _ in classified)})")
        params += [value for _, value in classified]
    if filters.topics or filters.min_score is not None:
        criteria, values = [], []
        if filters.topics:
            criteria.append(f"t.topic IN ({', '.join('?' * len(filters.topics))})")
            values += list(filters.topics)
        if filters.min_score is None:
            criteria.append("t.assigned = 1")
        else:
            criteria.append("t.score >= ?")
            values.append(filters.min_score)
        where.append(
            f"{rowid} IN (SELECT a2.rowid FROM tags t JOIN articles a2 ON a2.pmid = t.pmid WHERE {' AND '.join(criteria)})"
        )
        params += values
    return where, params


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def search(store: Store, query: str | None, filters: Filters = Filters(), limit: int | None = None) -> list[Hit]:
    """Records matching ``query`` (best first) and ``filters``; without a query, every match in PMID order."""
    fts = fts_query(query) if query is not None else None
    rows = store.db.execute(*build_search(fts, filters, limit)).fetchall()
    return [Hit(row[0], row[1]) for row in rows]


def count_matches(store: Store, query: str | None, filters: Filters = Filters()) -> int:
    """How many records ``search`` finds with no limit: what a page of the best ones was taken from."""
    fts = fts_query(query) if query is not None else None
    return store.db.execute(*build_count(fts, filters)).fetchone()[0]


def stored_topics(store: Store) -> set[str]:
    """Topic names the corpus has tags for (the classifier may know topics the config no longer lists)."""
    return {row[0] for row in store.db.execute("SELECT DISTINCT topic FROM tags")}
