"""The E-utilities wire format, pure: requests built from plain values, responses read into plain values.

This is the HTTP edge, and the only module that speaks NCBI's parameter names (``retmax``,
``WebEnv``, ``query_key``). Nothing here sends anything (``harvester.eutils`` does), so
every request and every response NCBI can give is tested without a network.

A response that is not what was asked for is a ``TransientError`` for the sender to retry,
never an empty result: NCBI answers overload with HTML pages, cut-off bodies and ``<ERROR>``
elements inside a 200, and each of those once advanced a real harvester's watermark over
records it never stored. The one ``<ERROR>`` asking again cannot mend, a search the history
server no longer holds, is ``HistoryExpired``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from corpus.article import Article
from corpus.errors import HarvestError, InputError
from harvester.pubmed_xml import parse_pubmed_bytes
from harvester.records import Deletion
from harvester.retry import TransientError
from harvester.windows import MAX_HITS

DB = "pubmed"
# NCBI: "if more than about 200 UIDs are to be provided, the request should be made using the
# HTTP POST method" (E-utilities documentation, EFetch).
POST_OVER_IDS = 200

_XML_PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=True)
# NCBI's <ERROR> in an efetch answer, and what it says when its history server no longer holds the
# search asked of ('Unable to obtain query #1', or a complaint about the WebEnv or query_key).
_ERROR = re.compile(rb"<ERROR>([^<]*)</ERROR>")
_SEARCH_LOST = re.compile(r"obtain query|WebEnv|query.?key", re.IGNORECASE)


class HistoryExpired(HarvestError):
    """NCBI's history server no longer holds the search a page was asked of: it keeps one for a limited
    time, and a page asked again of the same ``WebEnv`` fails the same way, so this is not retried."""


@dataclass(frozen=True)
class Request:
    """One E-utilities call: ``endpoint`` is 'esearch' or 'efetch'; ``params`` as sent (identity added later)."""

    method: str
    endpoint: str
    params: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        return f"{self.endpoint}.fcgi"


@dataclass(frozen=True)
class History:
    """Where NCBI's history server keeps a search result, for paging through it."""

    web_env: str
    query_key: str


@dataclass(frozen=True)
class SearchResult:
    count: int
    pmids: tuple[str, ...]
    history: History | None
    warnings: tuple[str, ...] = ()  # PubMed's notes on the term, e.g. 'PhraseNotFound: hyperalgezia'
    not_found: tuple[str, ...] = ()  # the phrases and fields of the term PubMed does not know, e.g. 'hyperalgezia'


# PubMed's notes (in <ErrorList> and <WarningList>) that it does not know a part of the term, which it
# then leaves out of the search: how each part is named to the operator.
_NOT_FOUND = {"PhraseNotFound": "{}", "QuotedPhraseNotFound": "{}", "FieldNotFound": "field [{}]"}


def search_request(term: str, limit: int = MAX_HITS) -> Request:
    """esearch with the history server on, listing up to ``limit`` PMIDs."""
    params = (("db", DB), ("term", term), ("usehistory", "y"), ("retmax", str(limit)), ("retmode", "xml"))
    return Request("POST" if len(term) > 1500 else "GET", "esearch", params)


def fetch_page_request(history: History, start: int, count: int) -> Request:
    """efetch of records ``start`` .. ``start + count - 1`` of a search kept on the history server."""
    params = (
        ("db", DB),
        ("WebEnv", history.web_env),
        ("query_key", history.query_key),
        ("retstart", str(start)),
        ("retmax", str(count)),
        ("retmode", "xml"),
    )
    return Request("GET", "efetch", params)


def fetch_ids_request(pmids: list[str] | tuple[str, ...]) -> Request:
    """efetch of the given PMIDs; POST when the list is long (NCBI's advice, and URL length limits)."""
    params = (("db", DB), ("id", ",".join(pmids)), ("retmode", "xml"))
    return Request("POST" if len(pmids) > POST_OVER_IDS else "GET", "efetch", params)


def identified(request: Request, tool: str, email: str, api_key: str | None) -> Request:
    """The request with the identity NCBI asks of every call: ``tool``, ``email`` and ``api_key`` when there is one."""
    identity = (("tool", tool), ("email", email)) + ((("api_key", api_key),) if api_key else ())
    return Request(request.method, request.endpoint, request.params + identity)


def read_search(body: bytes, limit: int = MAX_HITS) -> SearchResult:
    """An esearch XML response asked for ``limit`` PMIDs; ``TransientError`` for anything but a complete one."""
    root = _xml_root(body, "esearch")
    if root.tag != "eSearchResult":
        raise TransientError(f"esearch returned <{root.tag}>, not <eSearchResult>")
    error = root.findtext("ERROR")
    if error is not None:
        raise TransientError(f"esearch returned an error: {_one_line(error)}")
    count_text = root.findtext("Count")
    if count_text is None or not count_text.strip().isdigit():
        raise TransientError("esearch response has no Count")
    pmids = tuple(e.text.strip() for e in root.iterfind("IdList/Id") if e.text and e.text.strip())
    if len(pmids) < min(int(count_text), limit):
        raise TransientError(f"esearch listed {len(pmids)} of {count_text} PMIDs")
    web_env, query_key = root.findtext("WebEnv"), root.findtext("QueryKey")
    history = History(web_env.strip(), query_key.strip()) if web_env and query_key else None
    notes = [(e.tag, _one_line(e.text or "")) for parent in ("ErrorList", "WarningList") for e in root.iterfind(f"{parent}/*")]
    warnings = tuple(f"{tag}: {text}" for tag, text in notes)
    not_found = tuple(dict.fromkeys(_NOT_FOUND[tag].format(text) for tag, text in notes if tag in _NOT_FOUND))
    return SearchResult(int(count_text), pmids, history, warnings, not_found)


def read_articles(body: bytes, expected: int) -> list[Article]:
    """An efetch response holding ``expected`` records; a short, cut-off, empty or HTML response is a ``TransientError``,
    an answer that the search is no longer on the history server ``HistoryExpired``."""
    _reject_lost_search(body)
    try:
        records = parse_pubmed_bytes(body, name="efetch response")
    except InputError as exc:
        raise TransientError(_one_line(str(exc))) from None
    articles = [r for r in records if not isinstance(r, Deletion)]
    if len(articles) < expected:
        raise TransientError(f"efetch returned {len(articles)} of {expected} records")
    return articles


def _reject_lost_search(body: bytes) -> None:
    """``HistoryExpired`` when NCBI's answer is an ``<ERROR>`` saying its history server lost the search (an
    answer of a few hundred bytes: the start of a body is enough)."""
    error = _ERROR.search(body[:2000])
    said = _one_line(error.group(1).decode("utf-8", "replace")) if error else ""
    if _SEARCH_LOST.search(said):
        raise HistoryExpired(f"the search session on NCBI's history server expired (NCBI: {said}); run the search again")


def _xml_root(body: bytes, endpoint: str) -> etree._Element:
    _reject_html(body, endpoint)
    try:
        return etree.fromstring(body, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise TransientError(f"{endpoint} returned truncated or malformed XML ({len(body)} bytes): {exc.msg}") from None


def _reject_html(body: bytes, endpoint: str) -> None:
    head = body.lstrip()[:200].lower()
    if not head:
        raise TransientError(f"{endpoint} returned an empty body")
    if head.startswith(b"<html") or head.startswith(b"<!doctype html"):
        raise TransientError(f"{endpoint} returned an HTML page instead of XML (an NCBI error page)")


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]
