"""A Datasette plugin: a topic the visitor names, by name or label, checked against the configured topics.

A topic no configuration has (a typo) matches no article, and an empty result reads as "no
papers on that". The snapshot's ``topics`` hold each configured topic's label (a topic no longer
configured keeps its name); a topic is given by its name or its label as configured, in any case,
without surrounding spaces:

- in a saved query, ``:_known_topic`` is the label of the request's ``topic``, or empty for every
  topic; an unknown one stops the query with an error that names it and the topics there are;
- the articles table's filters on one topic (``FILTERS``) read a name as its label, so that a link
  kept from when they held names (``topics__arraycontains=ketamine``) selects the topic still; one
  naming neither a configured topic nor a value the snapshot holds answers 400, naming the topics.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from urllib.parse import quote_plus, unquote_plus

from datasette import hookimpl
from datasette.views.base import DatasetteError

NAME = "oihwatch-topics"  # its configuration in Datasette's metadata: {"topics": {configured name: label}}
TABLE = "articles"
# Datasette's filters whose value is one topic, as the topics facet's links and the filter form write them.
FILTERS = ("topics__arraycontains", "topics__arraynotcontains")


def configured(datasette) -> Mapping[str, str]:
    """The configured topics' labels by name."""
    return (datasette.plugin_config(NAME) or {}).get("topics", {})


def labels_by_folded(topics: Mapping[str, str]) -> dict[str, str]:
    """Each topic's label by its label and by its name, case folded (a name wins)."""
    return {given.casefold(): label for name, label in topics.items() for given in (label, name)}


@hookimpl
def register_magic_parameters(datasette) -> list:
    topics = configured(datasette)
    by_folded = labels_by_folded(topics)

    def known(parameter: str, request) -> str:
        given = request.args.get(parameter, "").strip()
        if given and given.casefold() not in by_folded:
            # What sqlite3 raises for a parameter it cannot bind: Datasette shows it as the query's error,
            # above the form, and answers 400 (an exception of another kind would be a bare error page).
            raise sqlite3.ProgrammingError(f"unknown topic {given!r}; valid topics: {', '.join(topics)}, or empty for every topic")
        return by_folded.get(given.casefold(), "")

    return [("known", known)]


def labelled(query: bytes, by_folded: Mapping[str, str]) -> bytes:
    """``query`` with the topic each of ``FILTERS`` gives by name (or label in another case) as its label;
    the rest as sent. Read as Datasette reads a query (latin-1, then percent-decoded as UTF-8)."""
    pieces = []
    for piece in query.split(b"&"):
        key, equals, value = piece.partition(b"=")
        if unquote_plus(key.decode("latin-1")) in FILTERS:
            given = unquote_plus(value.decode("latin-1"))
            value = quote_plus(by_folded.get(given.strip().casefold(), given)).encode("ascii")
        pieces.append(key + equals + value)
    return b"&".join(pieces)


@hookimpl
def asgi_wrapper(datasette):
    """The request's topic filters by label, before Datasette reads them (its filters match the value as given)."""
    def wrap(app):
        by_folded = labels_by_folded(configured(datasette))

        async def topics_by_label(scope, receive, send):
            if scope["type"] == "http" and scope.get("query_string"):
                scope = {**scope, "query_string": labelled(scope["query_string"], by_folded)}
            await app(scope, receive, send)

        return topics_by_label

    return wrap


@hookimpl
def filters_from_request(request, database, table, datasette):
    """Refuse a topic filter whose value, once labelled, is neither a configured label nor one the snapshot holds
    (a topic no longer configured, whose facet link names it). The snapshot is read only for such a value."""
    given = [value for key in FILTERS for value in request.args.getlist(key)]
    topics = configured(datasette)
    labels = set(topics.values())
    if table != TABLE or set(given) <= labels:
        return None

    async def check() -> None:
        held = {value for (value,) in await datasette.get_database(database).execute(
            f"SELECT DISTINCT value FROM {TABLE}, json_each({TABLE}.topics)")}
        unknown = [value for value in given if value not in held | labels]
        if unknown:
            there = [f"{label} ({name})" for name, label in topics.items()] + sorted(held - labels)
            raise DatasetteError(f"unknown topic {unknown[0]!r}: the topics are {', '.join(there)}; filter by a label or a name",
                                 status=400)

    return check
