"""A Datasette plugin: cells of the articles table as a reader takes them, the values kept as they are.

The DOI is a link to doi.org, as in the digest (the downloads keep the DOI itself); ``topics``
reads as the labels it holds rather than as JSON (the column is there for the topic facet).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from datasette import hookimpl
from markupsafe import Markup, escape

# What RFC 3986 allows as is in a URL path; the rest of a DOI is percent-encoded, as the digest does
# (reports.assembly): old Wiley DOIs hold '<' and '>', and a DOI may hold '#' or '?'.
PATH_SAFE = "/:@!$&'()*+,;="


def doi_link(doi: str) -> Markup:
    return Markup(f'<a href="https://doi.org/{escape(quote(doi, safe=PATH_SAFE))}">{escape(doi)}</a>')


@hookimpl
def render_cell(value, column, table, database, datasette):
    if table != "articles" or not value or not isinstance(value, str):
        return None
    if column == "doi":
        return doi_link(value)
    if column == "topics":
        return "; ".join(json.loads(value)) or Markup("&nbsp;")  # as Datasette shows an empty cell
    return None
