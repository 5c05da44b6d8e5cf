"""A Datasette plugin: cells of the articles table as a reader takes them, the values kept as they are.

The DOI is a link to doi.org, as in the digest (the downloads keep the DOI itself); ``topics``
reads as the labels it holds rather than as JSON (the column is there for the topic facet).
"""

from __future__ import annotations

import json
from datasette import hookimpl
from markupsafe import Markup, escape

from corpus.article import doi_url


def doi_link(doi: str) -> Markup:
    return Markup(f'<a href="{escape(doi_url(doi))}">{escape(doi)}</a>')


@hookimpl
def render_cell(value, column, table, database, datasette):
    if table != "articles" or not value or not isinstance(value, str):
        return None
    if column == "doi":
        return doi_link(value)
    if column == "topics":
        return "; ".join(json.loads(value)) or Markup("&nbsp;")  # as Datasette shows an empty cell
    return None
