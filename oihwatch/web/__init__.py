"""The read-only web view of the corpus (``oihwatch serve``), on Datasette: needs the [web] extra."""
