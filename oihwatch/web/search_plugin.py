"""A Datasette plugin: full-text queries in the web view read as ``oihwatch search`` reads them.

Datasette's table search calls the SQL function ``escape_fts`` on what the visitor typed
(search mode "escaped"); its own version quotes every word, which loses AND / OR / NOT,
prefix* and fields, while the raw mode turns "opioid-induced" into a column filter. This
plugin registers ``corpus.search.fts_query`` under that name, after Datasette's own
(``trylast``), and as ``fts_query`` for the saved queries.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl

from corpus.errors import InputError
from corpus.search import fts_query


def web_fts_query(text: str) -> str:
    """``fts_query`` for SQL; a query it rejects goes to FTS5 as typed, so the page shows FTS5's own error.
    An empty one (a saved search opened before anything is typed) is the empty phrase: no rows, no error."""
    if not text.strip():
        return '""'
    try:
        return fts_query(text)
    except InputError:
        return text


@hookimpl(trylast=True)
def prepare_connection(conn: sqlite3.Connection) -> None:
    for name in ("fts_query", "escape_fts"):
        conn.create_function(name, 1, web_fts_query, deterministic=True)
