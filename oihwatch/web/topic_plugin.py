"""A Datasette plugin: the saved search's topic, checked against the configured topics.

A topic no configuration has (a typo) matches no article, and an empty result reads as "no
papers on that". In a saved query, ``:_known_topic`` is the label of the request's ``topic``,
given by name or label as configured (any case, without surrounding spaces), as the snapshot's
``topics`` hold them, or empty for every topic; an unknown one stops the query with an error
that names it and the topics there are.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl

NAME = "oihwatch-topics"  # its configuration in Datasette's metadata: {"topics": {configured name: label}}


@hookimpl
def register_magic_parameters(datasette) -> list:
    topics = (datasette.plugin_config(NAME) or {}).get("topics", {})
    by_folded = {given.casefold(): label for name, label in topics.items() for given in (label, name)}  # a name wins

    def known(parameter: str, request) -> str:
        given = request.args.get(parameter, "").strip()
        if given and given.casefold() not in by_folded:
            # What sqlite3 raises for a parameter it cannot bind: Datasette shows it as the query's error,
            # above the form, and answers 400 (an exception of another kind would be a bare error page).
            raise sqlite3.ProgrammingError(f"unknown topic {given!r}; valid topics: {', '.join(topics)}, or empty for every topic")
        return by_folded.get(given.casefold(), "")

    return [("known", known)]
