"""A Datasette plugin: what the view's CSV downloads hold.

- The articles table's CSV holds every row of the view. Datasette's "CSV" link beside "This data as
  json" asks for one page of up to 1,000 rows (``_size=max``), and nothing in the file says that the
  rest is missing; only the advanced form's "stream all rows" (``_stream=on``) gave them all. A CSV
  request for the table that names no page of its own (no ``_next``, and no ``_size`` but max)
  streams every row instead.
- No cell of any CSV of the view (the table's, a saved query's, a row's, an SQL query's) runs as a
  formula in a spreadsheet: a title ``=HYPERLINK("http://…?"&A1, …)`` would send the sheet's cells
  away when clicked. Each such cell starts with a quote, as in ``oihwatch export --format csv``
  (``corpus.exports.spreadsheet_text``). Datasette writes these files itself, as it streams them, so
  the body is rewritten on its way out (``FormulaGuard``). The file no longer tells a number from text,
  so a number below zero is quoted too; only a visitor's own SQL gives one (the view's columns hold none).
"""

from __future__ import annotations

import codecs
import csv
import io
from urllib.parse import parse_qsl

from datasette import hookimpl

from corpus.exports import spreadsheet_text

TABLE_CSV = "/articles.csv"

# What Datasette's CSV is sent as: text/csv when downloaded (``_dl``), text/plain when shown. Its ``_trace``
# debug page (text/html) and its error pages are not CSV.
CSV_TYPES = (b"text/csv", b"text/plain")


def every_row(query: bytes) -> bytes:
    """``query`` with ``_stream=on`` added, unless it asks for a page (``_next``, a ``_size`` other than max) or streams already."""
    args = parse_qsl(query.decode("ascii", "replace"), keep_blank_values=True)
    if any(name in ("_stream", "_next") or (name == "_size" and value != "max") for name, value in args):
        return query
    return query + b"&_stream=on" if query else b"_stream=on"


class FormulaGuard:
    """A CSV body as Datasette streams it, given back chunk by chunk with ``spreadsheet_text`` applied to every cell.

    Datasette writes it with Python's csv module in the excel dialect: each record ends with CR LF, and a
    field that holds a quote, a comma or a line break (an abstract's paragraphs) is quoted, its quotes
    doubled. A line break thus ends a record when the quotes since the record began are even. Only
    complete records are rewritten, so memory holds one record at a time, however many rows stream.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._pending = ""  # the start of a record whose end has not come yet
        self._quotes = 0  # how many quotes it holds

    def feed(self, body: bytes, final: bool) -> bytes:
        """The records that ``body`` completes, protected; with ``final``, whatever is left too."""
        text = self._pending + self._decoder.decode(body, final)
        records, start, searched, quotes = [], 0, len(self._pending), self._quotes
        while (line_end := text.find("\n", searched)) != -1:
            quotes += text.count('"', searched, line_end)
            searched = line_end + 1
            if quotes % 2 == 0:
                records.append(protected(text[start:searched]))
                start, quotes = searched, 0
        if final and start < len(text):  # no record of Datasette's: the message of an error that cut the stream
            records.append(protected(text[start:]))
            start = len(text)
        self._pending, self._quotes = text[start:], quotes + text.count('"', searched)
        return "".join(records).encode("utf-8")


def protected(record: str) -> str:
    """``record`` (one CSV record, its line end with it) with ``spreadsheet_text`` applied to each cell, written
    again in Datasette's dialect; as it is when no cell changes, so that those go out byte for byte."""
    csv.field_size_limit(max(csv.field_size_limit(), len(record)))  # the record is in memory already, whole
    row = next(csv.reader([record]))
    cells = [spreadsheet_text(cell) for cell in row]
    if cells == row:
        return record
    written = io.StringIO()
    csv.writer(written).writerow(cells)
    return written.getvalue()


def asks_for_csv(scope: dict) -> bool:
    """Whether the request names the format csv: Datasette reads it from the path as sent (``raw_path``)."""
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    return path.endswith(b".csv")


def is_csv(start: dict) -> bool:
    """Whether a response, by its start message, is a CSV that Datasette wrote: not an error page or ``_trace``'s HTML."""
    content_type = next((v for k, v in start.get("headers", []) if k.lower() == b"content-type"), b"")
    return start["status"] == 200 and content_type.startswith(CSV_TYPES)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def csv_downloads(scope, receive, send):
            if scope["type"] != "http" or not asks_for_csv(scope):
                await app(scope, receive, send)
                return
            if scope["path"].endswith(TABLE_CSV):
                scope = {**scope, "query_string": every_row(scope.get("query_string", b""))}
            guard = None

            async def send_protected(message):
                nonlocal guard
                if message["type"] == "http.response.start" and is_csv(message):
                    guard = FormulaGuard()
                    # A length sent with it would no longer hold (Datasette streams its CSV without one)
                    message = {**message, "headers": [(k, v) for k, v in message["headers"] if k.lower() != b"content-length"]}
                elif message["type"] == "http.response.body" and guard is not None:
                    more = message.get("more_body", False)
                    message = {**message, "body": guard.feed(message.get("body", b""), final=not more)}
                    if more and not message["body"]:
                        return
                await send(message)

            await app(scope, receive, send_protected)

        return csv_downloads

    return wrap
