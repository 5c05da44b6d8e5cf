"""A Datasette plugin: a sort the table does not offer is the visitor's mistake (400), saying which it offers.

The table sorts only by columns without ties (``metadata.metadata``); Datasette answers any other
``_sort`` or ``_sort_desc``, as a link kept from before might ask, with "Error 500: Cannot sort
table by year", as if the server had failed.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.views.base import DatasetteError


@hookimpl
def filters_from_request(request, database, table, datasette):
    sortable = datasette.table_metadata(database, table).get("sortable_columns")
    for column in (request.args.get("_sort"), request.args.get("_sort_desc")):
        if sortable and column and column not in sortable:
            raise DatasetteError(f"cannot sort by {column}: the table sorts by {' or '.join(sortable)}, the orders it pages "
                                 f"through without losing or repeating a row; narrow it by {column} with a facet or filter",
                                 status=400)
    return None
