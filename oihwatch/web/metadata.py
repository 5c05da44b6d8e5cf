"""What the web view says besides the rows: the saved queries, the articles table's description and
column notes, and what it is a snapshot of (Datasette's metadata). Imported by ``server.make_datasette``
only, once the [web] extra is known to be there."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from datasette.utils import tilde_encode
from markupsafe import escape

from corpus.search import BM25_WEIGHTS
from oihwatch.web import topic_plugin

# The saved search lists as many matches as a reader goes through; it says how many there are in all,
# lest they be taken for the whole result.
BEST = 200

# Saved queries: what a systematic reviewer asks first. Read-only SELECTs. ``saved_queries`` adds
# the one about a configured topic.
QUERIES = {
    "strongest_evidence": {
        "title": "Meta-analyses and systematic reviews about OIH, newest first",
        "sql": (
            "SELECT pubmed, title, study_type, journal, year, tags, key_finding FROM articles "
            "WHERE evidence_rank <= 1 AND relevant = 1 AND retracted = 0 ORDER BY year DESC"
        ),
    },
    "search_topic": {
        "title": f"Full-text search: the best {BEST} matches, best first (optionally within one topic)",
        "description": "q: words, \"phrases\", AND / OR / NOT, prefix*, title: abstract: mesh: keywords: fields, "
        "as for oihwatch search; topic: {topics}, or empty for every topic. "
        f"It lists the best {BEST}; matches says how many there are in all, and the search box of the articles "
        "table lists every one (newest first), with a CSV of them all",
        "sql": (
            f"WITH found AS (SELECT articles.rowid AS pmid, bm25(articles_fts, {', '.join(map(str, BM25_WEIGHTS))}) AS rank "
            "FROM articles_fts JOIN articles ON articles.rowid = articles_fts.rowid "
            "WHERE articles_fts MATCH :_fts_q AND articles.retracted = 0 "
            "AND (:_known_topic = '' OR EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = :_known_topic))) "
            "SELECT pubmed, title, journal, year, study_type, about_oih, tags, (SELECT COUNT(*) FROM found) AS matches "
            f"FROM found JOIN articles USING (pmid) ORDER BY found.rank LIMIT {BEST}"
        ),
        "params": ["q", "topic"],  # the form's fields; the SQL reads q translated and the topic checked (search_plugin.py, topic_plugin.py)
    },
    "topic_trend": {
        "title": "Articles per topic per year",
        "sql": (
            "SELECT topic.value AS topic, year, COUNT(*) AS articles FROM articles, json_each(articles.topics) AS topic "
            "WHERE retracted = 0 GROUP BY topic.value, year ORDER BY topic.value, year"
        ),
    },
    "retracted": {
        "title": "Retracted articles in the corpus",
        "sql": "SELECT pubmed, title, notices, journal, year, tags FROM articles WHERE retracted = 1 ORDER BY year DESC",
    },
}


# What the columns that need it mean, on the articles page.
COLUMNS = {
    "language": "the language of the paper (its title is then PubMed's English translation, in brackets)",
    "tags": "the clinical topics the paper informs, each with how sure the classifier is in a word: likely, possible "
    "(tags are set to miss little), or curated when a person checked it",
    "about_oih": "whether the paper is about OIH itself: likely or unlikely by the digest's threshold, "
    "or yes / no (curated) when a person checked it",
    "doi": "a link to the paper at doi.org",
    "notices": "what PubMed links to the paper since: an erratum, an expression of concern, a partial retraction, "
    "a corrected version, the retraction notice (as the CSV export and the digest say them)",
    "notice_kinds": "the kinds of those notices, for the facet",
    "topics": "the topics of tags, for the facet",
    "relevance": "the classifier's probability that the paper is about OIH (1 or 0 when curated)",
    "relevant": "1 when relevance reaches the digest's threshold",
}




def saved_queries(topics: Mapping[str, str]) -> dict:
    """``QUERIES`` for the configured ``topics`` (labels by name): the saved search lists their names, and
    the RCTs on ketamine come first when a topic is named ketamine (in any letter case, as configured).
    Without one (renamed, removed) that query is left out, where it would return nothing and say nothing."""
    search_topic = QUERIES["search_topic"]
    queries = {**QUERIES, "search_topic": {**search_topic, "description": search_topic["description"].format(topics=", ".join(topics))}}
    ketamine = next((label for topic, label in topics.items() if topic.casefold() == "ketamine"), None)
    if ketamine is None:
        return queries
    rcts = {
        "title": "RCTs on ketamine for OIH since 2015",
        "sql": (
            "SELECT pubmed, title, authors, journal, year, about_oih, tags, key_finding FROM articles "
            "WHERE study_type = 'Randomised controlled trial' AND year >= 2015 AND relevant = 1 AND retracted = 0 "
            f"AND EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = {sql_text(ketamine)}) "
            "ORDER BY relevance DESC, year DESC"
        ),
    }
    return {"ketamine_rcts_since_2015": rcts, **queries}


def sql_text(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def snapshot_taken(snapshot: Path) -> str:
    """'a snapshot of 5,779 records taken 2026-11-30 09:00 UTC': how much the view holds, and how old it is,
    which its visitors cannot tell otherwise (it shows no record harvested, classified or retracted since)."""
    with contextlib.closing(sqlite3.connect(f"{snapshot.resolve().as_uri()}?immutable=1", uri=True)) as db:
        records = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    taken = datetime.fromtimestamp(snapshot.stat().st_mtime, timezone.utc)
    return f"a snapshot of {records:,} records taken {taken:%Y-%m-%d %H:%M} UTC"


def metadata(database_name: str, topics: Mapping[str, str], taken: str) -> dict:
    """Datasette's metadata; ``topics`` are the configured topics' labels by name, as the snapshot has them,
    ``taken`` what the view is a snapshot of (``snapshot_taken``)."""
    about = taken[0].upper() + taken[1:]  # in the footer of every page
    queries = {name: {**query, "about": about} for name, query in saved_queries(topics).items()}
    # From the root, as Datasette's own links: the table's description is on every record's page too,
    # where a relative link to search_topic read as the record of PMID 'search_topic'.
    database = escape(f"/{tilde_encode(database_name)}")
    table = f"{database}/articles"
    shows = f"This is {taken}: what was harvested, classified or retracted since appears when the view is restarted."
    return {
        "title": "oihwatch: research on opioid-induced hyperalgesia",
        "description": "A read-only, tagged bibliography of PubMed records about opioid-induced hyperalgesia. "
        "Topics and study types are assigned by oihwatch's classifier; check the abstract before you rely on a tag. " + shows,
        "source": "PubMed (NCBI, U.S. National Library of Medicine)",
        "source_url": "https://pubmed.ncbi.nlm.nih.gov/",
        "about": about,
        "plugins": {topic_plugin.NAME: {"topics": dict(topics)}},
        "databases": {
            database_name: {
                "tables": {
                    "articles": {
                        # Not retracted: the table leaves them out (retracted_plugin.py), so it would count 0 alone.
                        "facets": ["study_type", "year", "journal", {"array": "topics"}, "about_oih", "relevant", "language", "notice_kinds"],
                        "columns": COLUMNS,
                        "fts_table": "articles_fts",
                        "fts_pk": "rowid",
                        "searchmode": "escaped",  # escape_fts is our fts_query here (search_plugin.py)
                        "sort": "newest",  # year, then PMID, as one unique column (snapshot.py)
                        # Only columns without ties: Datasette orders a sort's first page by the column alone and
                        # the next ones by it and the PMID, so a sort by year or journal lost and repeated rows
                        # from page to page, in "Next page", next_url and the CSV of every row alike.
                        "sortable_columns": ["newest", "pmid"],
                        "label_column": "title",
                        "about": about,
                        "description_html": "One row per PubMed article, newest first (by year, then PMID: the column <em>newest</em>; click its heading "
                        "for oldest first, or sort by <em>pmid</em>: the other columns are for facets and filters). Search accepts words, "
                        "&quot;phrases&quot;, AND / OR / NOT, prefix* and title: abstract: mesh: keywords: fields, "
                        "as <code>oihwatch search</code> does; the box narrows this table (newest first, with facets), "
                        f'the saved query <a href="{database}/search_topic">search_topic</a> lists the best matches first. '
                        "<em>about_oih</em> says whether the article is about OIH itself (<em>relevant</em> = 1: "
                        "at the digest's threshold); its tags say which clinical question it informs. Each 'pubmed' link "
                        "opens the record on PubMed. "
                        "Retracted articles are left out, as <code>oihwatch search</code> leaves them out: "
                        f'<a href="{table}?retracted=1">list them</a> (each title marked RETRACTED), '
                        f'or <a href="{table}?retracted__in=0%2C1">every article</a>. '
                        "The CSV link gives every row of the view, its filters and search applied; the JSON a page "
                        "at a time (follow <code>next_url</code>). " + shows,
                    }
                },
                "queries": queries,
            }
        },
    }
