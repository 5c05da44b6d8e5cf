"""A Datasette plugin: full-text queries in the web view read as ``oihwatch search`` reads them.

Datasette's table search calls the SQL function ``escape_fts`` on what the visitor typed
(search mode "escaped"); its own version quotes every word, which loses AND / OR / NOT,
prefix* and fields, while the raw mode turns "opioid-induced" into a column filter. This
plugin registers ``corpus.search.fts_query`` under that name, after Datasette's own
(``trylast``), and as ``fts_query`` for SQL typed in the view. The saved search reads
``:_fts_q``, the request's ``q`` translated.

A query ``fts_query`` refuses is the CLI's one-line message, saying what to use: the table's
search is checked before its SQL runs (an SQL function can raise only "user-defined function
raised exception"), and the saved search's ``:_fts_q`` fails as ``:_known_topic`` does
(``topic_plugin``). Both answer 400.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from corpus.errors import InputError
from corpus.search import fts_query


def translated(text: str) -> str:
    """``fts_query``; an empty query (a saved search opened before anything is typed) is the empty
    phrase: no rows, no error."""
    return fts_query(text) if text.strip() else '""'


def web_fts_query(text: str) -> str:
    """``translated`` for SQL; a query it rejects goes to FTS5 as typed (the table's search and the
    saved search are refused before, with the CLI's message)."""
    try:
        return translated(text)
    except InputError:
        return text


@hookimpl(trylast=True)
def prepare_connection(conn: sqlite3.Connection) -> None:
    for name in ("fts_query", "escape_fts"):
        conn.create_function(name, 1, web_fts_query, deterministic=True)


@hookimpl
def filters_from_request(request, database, table, datasette):
    """Refuse, with the CLI's message, a table search ``escape_fts`` would get and ``fts_query`` rejects.

    Which search Datasette runs, as its own ``search_filters`` decides: ``_search``, else each
    ``_search_COLUMN``; none in raw search mode (typed for FTS5 itself) or on a table without full text.
    """

    async def check() -> None:
        searches = {key: request.args[key] for key in request.args if key.startswith("_search") and key != "_searchmode"}
        metadata = datasette.table_metadata(database, table)
        raw = {"raw": True, "escaped": False}.get(request.args.get("_searchmode"), metadata.get("searchmode") == "raw")
        if not searches or raw:
            return
        if not (request.args.get("_fts_table") or metadata.get("fts_table") or await datasette.get_database(database).fts_table(table)):
            return
        for name, text in [("_search", searches["_search"])] if "_search" in searches else searches.items():
            try:
                translated(text)
            except InputError as exc:
                if request.path.endswith(".json"):
                    raise DatasetteError(str(exc), status=400) from None
                page = search_again(str(exc), name, request, datasette.urls.table(database, table))
                raise DatasetteError(page, title="This search cannot be read", status=400, message_is_html=True) from None

    return check


def search_again(message: str, name: str, request, table_url: str) -> Markup:
    """The error page's body: ``message``, and the search form with the query and the request's other
    filters, to correct it, and a way back to the table (Datasette's error page has neither)."""
    kept = "".join(f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
                   for key in request.args if key not in (name, "_next") for value in request.args.getlist(key))
    return Markup(
        f"<p>{escape(message)}</p>"
        f'<form class="core" action="{escape(table_url)}" method="get"><p>'
        f'<input type="search" name="{escape(name)}" value="{escape(request.args[name])}" size="60"> '
        f'<input type="submit" value="Search">{kept}</p></form>'
        f'<p><a href="{escape(table_url)}">Back to the table</a></p>'
    )


@hookimpl
def register_magic_parameters(datasette) -> list:
    def fts(parameter: str, request) -> str:
        """``:_fts_q``: the request's ``q`` translated."""
        try:
            return translated(request.args.get(parameter, ""))
        except InputError as exc:
            # What sqlite3 raises for a parameter it cannot bind: Datasette shows it above the form and answers 400.
            raise sqlite3.ProgrammingError(str(exc)) from None

    return [("fts", fts)]
