"""Full-text search of the corpus: query checking, filters and bm25 ranking.

The query language is SQLite FTS5's, which is close to PubMed's: words, "phrases",
AND / OR / NOT (upper case), parentheses, prefix* and ``title:`` style fields.
Researchers type hyphenated terms ("opioid-induced", "5-HT3") and ratios ("10:1") that
FTS5 would read as column filters, so ``fts_query`` quotes any word holding punctuation
as a phrase; FTS5's own operators that the help does not offer (``^`` for the start of
a column, ``NEAR(...)``) become plain words the same way. A field (a name of letters
before a colon) applies to the word, "phrase" or (group) right after it, as in FTS5.
FTS5 joins a (group) to its neighbours only with an explicit AND, so one is put there.
Everything the user typed travels as an SQL parameter; only fixed SQL fragments are
joined into the statement.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection
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
    'use words, "exact phrases", AND / OR / NOT in upper case, (parentheses), prefix* '
    "and title: abstract: mesh: keywords: fields, e.g. '\"opioid-induced hyperalgesia\" AND ketamin*'"
)

# An optional ``field:`` (letters only: '10:1' is a ratio) glued to what follows it, then a "phrase",
# a parenthesis or a word.
_TOKEN = re.compile(r'(?:([^\W\d_]+):(?=\S))?("[^"]*"?|[()]|[^\s()"]+)')
# A word FTS5 may read as it is: letters and digits, with an optional prefix star. 'NEAR' is FTS5's
# proximity operator before a parenthesis, so it goes quoted, as a word.
_BAREWORD = re.compile(r"\w+\*?")
_FTS_KEYWORDS = frozenset({"NEAR"})


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


def fts_query(text: str) -> str:
    """The user's query as FTS5 syntax: punctuated words become phrases, fields are checked.

    Raises ``InputError`` for an empty query, an unterminated phrase or an unknown field.
    Operator misuse ("ketamine AND") is left for SQLite to report, see ``search``.
    """
    parts = []
    for field, token in _TOKEN.findall(text):
        if field and field not in FTS_COLUMNS:
            raise InputError(f"unknown search field {field!r}; fields are {', '.join(FTS_COLUMNS)}; {SYNTAX_HELP}")
        if token.startswith('"'):
            if len(token) == 1 or not token.endswith('"'):
                raise InputError(f"the phrase {token!r} has no closing quote; {SYNTAX_HELP}")
        elif token not in OPERATORS and token not in ("(", ")"):
            token = _word(token)
        part = f"{field}:{token}" if field else token
        if parts and _ends_operand(parts[-1]) and _starts_operand(part) and (parts[-1] == ")" or part.endswith("(")):
            parts.append("AND")  # 'ketamine (morphine OR pain)': FTS5 reads two words as both, not a word and a group
        parts.append(part)
    if not parts:
        raise InputError(f"the search query is empty; {SYNTAX_HELP}")
    return " ".join(parts)


def _ends_operand(part: str) -> bool:
    return part not in OPERATORS and not part.endswith("(")


def _starts_operand(part: str) -> bool:
    return part not in OPERATORS and part != ")"


def _word(token: str) -> str:
    field = token[:-1]
    if token.endswith(":") and field in FTS_COLUMNS:  # 'title:' alone; the word 'title' is a word
        raise InputError(f"the field {token!r} needs a word, \"phrase\" or (group) right after it, e.g. {field}:ketamine; {SYNTAX_HELP}")
    if _BAREWORD.fullmatch(token) and token not in _FTS_KEYWORDS:
        return token
    prefix = token.endswith("*") and len(token) > 1
    phrase = token[:-1] if prefix else token
    return '"' + phrase + '"' + ("*" if prefix else "")


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
    sql, params = build_search(fts, filters, limit)
    try:
        rows = store.db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if fts is None:
            raise
        detail = str(exc).removeprefix("fts5: ")
        raise InputError(f"cannot read the search query {query!r} ({detail}); {SYNTAX_HELP}") from None
    return [Hit(row[0], row[1]) for row in rows]


def stored_topics(store: Store) -> set[str]:
    """Topic names the corpus has tags for (the classifier may know topics the config no longer lists)."""
    return {row[0] for row in store.db.execute("SELECT DISTINCT topic FROM tags")}
