"""A Datasette plugin: the articles table's CSV holds every row of the view.

Datasette's "CSV" link beside "This data as json" asks for one page of up to 1,000 rows
(``_size=max``), and nothing in the file says that the rest is missing; only the advanced
form's "stream all rows" (``_stream=on``) gave them all. A CSV request for the table that
names no page of its own (no ``_next``, and no ``_size`` but max) streams every row instead.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from datasette import hookimpl

TABLE_CSV = "/articles.csv"


def every_row(query: bytes) -> bytes:
    """``query`` with ``_stream=on`` added, unless it asks for a page (``_next``, a ``_size`` other than max) or streams already."""
    args = parse_qsl(query.decode("ascii", "replace"), keep_blank_values=True)
    if any(name in ("_stream", "_next") or (name == "_size" and value != "max") for name, value in args):
        return query
    return query + b"&_stream=on" if query else b"_stream=on"


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def streaming_table_csv(scope, receive, send):
            if scope["type"] == "http" and scope["path"].endswith(TABLE_CSV):
                scope = {**scope, "query_string": every_row(scope.get("query_string", b""))}
            await app(scope, receive, send)

        return streaming_table_csv

    return wrap
