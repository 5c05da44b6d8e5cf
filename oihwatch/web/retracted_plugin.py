"""A Datasette plugin: the articles table leaves retracted articles out, as ``oihwatch search`` does.

Listed among the others, newest first, a retracted copy of a paper came before the one that
stands, and its search found it first. A visitor who filters on the column ``retracted``
chooses for themselves: ``retracted=1`` lists only the retracted articles (each title marked,
``snapshot.RETRACTED_TITLE``), ``retracted__in=0,1`` every article. Record pages, the saved
query *retracted* and SQL typed in the view read the table as it is.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.filters import FilterArguments

TABLE = "articles"
COLUMN = "retracted"


def filters_retracted(args) -> bool:
    """Whether the request's filters name ``COLUMN`` (``retracted=1``, ``retracted__in=0,1``...): Datasette
    reads any argument that does not start with '_', and any with '__', as COLUMN__OPERATION."""
    return any(key.rsplit("__", 1)[0] == COLUMN for key in args if not key.startswith("_") or "__" in key)


@hookimpl
def filters_from_request(request, database, table, datasette):
    if table != TABLE or filters_retracted(request.args):
        return None
    return FilterArguments([f"{COLUMN} = 0"], human_descriptions=["the article is not retracted"])
