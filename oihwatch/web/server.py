"""Datasette over the snapshot: settings that keep it read-only, facets, and saved queries.

The snapshot is opened as an *immutable* database, so no request can change it; the
settings below keep SQL time-limited and facets on the columns librarians slice by.
"""

from __future__ import annotations

from pathlib import Path

SETTINGS = {
    "sql_time_limit_ms": 2000,  # a runaway query from a visitor cannot hog the server
    "default_page_size": 50,
    "suggest_facets": False,  # suggestions cost a query per column on every page
    "allow_download": True,  # the snapshot holds nothing private; researchers may take it
}

# Saved queries: what a systematic reviewer asks first. Read-only SELECTs.
QUERIES = {
    "ketamine_rcts_since_2015": {
        "title": "RCTs on ketamine for OIH since 2015",
        "sql": (
            "SELECT pubmed, title, authors, journal, year, relevance, key_finding FROM articles "
            "WHERE study_type = 'Randomised controlled trial' AND year >= 2015 AND retracted = 0 "
            "AND EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = 'ketamine') "
            "ORDER BY relevance DESC, year DESC"
        ),
    },
    "strongest_evidence": {
        "title": "Meta-analyses and systematic reviews about OIH, newest first",
        "sql": (
            "SELECT pubmed, title, study_type, journal, year, topics, key_finding FROM articles "
            "WHERE evidence_rank <= 1 AND relevance >= 0.5 AND retracted = 0 ORDER BY year DESC"
        ),
    },
    "search_topic": {
        "title": "Full-text search within one topic",
        "description": "q: words, \"phrases\", AND / OR / NOT, prefix*; topic: tapering, ketamine, genetics, non_opioid",
        "sql": (
            "SELECT articles.pubmed, articles.title, articles.journal, articles.year, articles.study_type "
            "FROM articles_fts JOIN articles ON articles.rowid = articles_fts.rowid "
            "WHERE articles_fts MATCH :q AND articles.retracted = 0 "
            "AND EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = :topic) "
            "ORDER BY articles_fts.rank LIMIT 200"
        ),
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
        "sql": "SELECT pubmed, title, journal, year, topics FROM articles WHERE retracted = 1 ORDER BY year DESC",
    },
}


def snapshot_path(database: Path) -> Path:
    """Where the snapshot of ``database`` lives: beside it, ``NAME-web.db``."""
    return database.with_name(database.stem + "-web.db")


def metadata(database_name: str) -> dict:
    return {
        "title": "oihwatch: research on opioid-induced hyperalgesia",
        "description": "A read-only, tagged bibliography of PubMed records about opioid-induced hyperalgesia. "
        "Topics and study types are assigned by oihwatch's classifier; check the abstract before you rely on a tag.",
        "source": "PubMed (NCBI, U.S. National Library of Medicine)",
        "source_url": "https://pubmed.ncbi.nlm.nih.gov/",
        "databases": {
            database_name: {
                "tables": {
                    "articles": {
                        "facets": ["study_type", "year", "journal", {"array": "topics"}, "retracted"],
                        "fts_table": "articles_fts",
                        "fts_pk": "rowid",
                        "searchmode": "raw",
                        "label_column": "title",
                        "description": "One row per PubMed article. Search accepts words, \"phrases\", "
                        "AND / OR / NOT and prefix*. Each 'pubmed' link opens the record on PubMed.",
                    }
                },
                "queries": QUERIES,
            }
        },
    }


def make_datasette(snapshot: Path):
    """A Datasette serving ``snapshot`` immutable (no writes possible)."""
    from datasette.app import Datasette  # first: it registers the default plugins

    from datasette import handle_exception

    # Datasette 0.65 prints every error page's exception with rich, and rich >= 14 raises
    # when that happens outside an ``except`` block: each 404 or 400 then drops the
    # connection instead of answering. Errors still reach the page and the log without it.
    handle_exception.rich = None
    return Datasette(immutables=[str(snapshot)], metadata=metadata(snapshot.stem), settings=SETTINGS)


def run_server(snapshot: Path, host: str, port: int) -> None:
    """Serve until interrupted."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(make_datasette(snapshot).app(), host=host, port=port, log_level="warning"))
    server.run()
