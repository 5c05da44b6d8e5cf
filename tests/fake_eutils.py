"""A loopback fake of NCBI E-utilities (esearch + efetch) serving real PubMed records, with fault injection.

It understands exactly what oihwatch sends: a term of the form ``(BASE) AND ("Y/M/D"[crdt] :
"Y/M/D"[crdt])`` (or ``[mdat]``) — every record matches BASE, the date range filters — the
history server (``usehistory=y``, ``WebEnv``/``query_key``/``retstart``/``retmax``), efetch by
``id`` over GET or POST, and PubMed's 9,999-hit cap with NCBI's own error text. Each record's
create date comes from its XML (``DateCreated``, else the 'entrez' history event, else 'pubmed'
event), its modification date from ``DateRevised``; a test may override either.

Faults, queued one per request (``fake.faults.extend([...])``) or drawn at random with a seed
(``fake.fault_rate``): 429 with or without Retry-After, 500/502/503, a delay longer than the
client's timeout, a dropped connection, a truncated body (two ways), a damaged gzip body, an HTML
error page, and ``<ERROR>`` inside a 200.
"""

from __future__ import annotations

import gzip
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lxml import etree

FAULTS = ("429", "429-retry-after", "500", "502", "503", "timeout", "drop", "truncate", "cut", "html", "error200", "gzip")

# What NCBI answers when a PubMed esearch pages past its cap (E-utilities, since Nov 2022).
CAP_ERROR = (
    "Search Backend failed: Exception:\n'retstart' cannot be larger than {last}. For PubMed, ESearch can only "
    "retrieve the first {cap:,} records matching the query. To obtain more than {cap:,} PubMed records, consider "
    "using EDirect that contains additional logic to batch PubMed search results automatically so that an arbitrary "
    "number can be retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
)
BACKEND_ERROR = "Search Backend failed: Couldn't resolve #exec.srv.idx1, the address table is empty."
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>NCBI - WWW Error Blocked Diagnostic</title></head>"
    b"<body><h1>Service unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>"
)
XML_HEAD = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)
_TERM = re.compile(
    r'^\((?P<base>.*)\) AND \("(?P<start>\d{4}/\d{2}/\d{2})"\[(?P<field>crdt|mdat)\] : "(?P<end>\d{4}/\d{2}/\d{2})"\[(?P=field)\]\)$',
    re.DOTALL,
)


@dataclass(frozen=True)
class FakeRecord:
    pmid: str
    xml: bytes
    created: date
    modified: date


@dataclass(frozen=True)
class SeenRequest:
    method: str
    endpoint: str
    params: dict[str, str]
    fault: str | None


def load_records(folder: Path) -> dict[str, FakeRecord]:
    """Every dated ``PubmedArticle`` in the XML files under ``folder``, first copy of each PMID kept."""
    records: dict[str, FakeRecord] = {}
    for path in sorted(folder.rglob("*.xml")):
        for _, element in etree.iterparse(str(path), tag="PubmedArticle", load_dtd=False, no_network=True, resolve_entities=False, huge_tree=True):
            pmid = (element.findtext("MedlineCitation/PMID") or "").strip()
            created = _created(element)
            if pmid and created and pmid not in records:
                modified = _ymd(element.find("MedlineCitation/DateRevised")) or created
                records[pmid] = FakeRecord(pmid, etree.tostring(element, with_tail=False), created, max(created, modified))
            element.clear(keep_tail=False)
    return records


def copies(records: dict[str, FakeRecord], n: int, start: date, days: int, first_pmid: int = 90_000_000) -> dict[str, FakeRecord]:
    """``n`` records made from real ones under new PMIDs, created evenly over ``days`` from ``start`` (benchmarks)."""
    originals = list(records.values())
    made = {}
    for i in range(n):
        original = originals[i % len(originals)]
        pmid = str(first_pmid + i)
        xml = re.sub(rb"(<PMID[^>]*>)\d+(</PMID>)", rb"\g<1>" + pmid.encode() + rb"\g<2>", original.xml, count=1)
        created = start + timedelta(days=i * days // n)
        made[pmid] = FakeRecord(pmid, xml, created, created)
    return made


def _ymd(element) -> date | None:
    if element is None:
        return None
    try:
        return date(int(element.findtext("Year")), int(element.findtext("Month")), int(element.findtext("Day") or 1))
    except (TypeError, ValueError):
        return None


def _created(article) -> date | None:
    created = _ymd(article.find("MedlineCitation/DateCreated"))
    if created:
        return created
    # As PubMed's [crdt]: the 'entrez' event (a late record's 'pubmed' event is backdated), else 'pubmed'.
    for status in ("entrez", "pubmed"):
        dates = [_ymd(e) for e in article.iterfind(f"PubmedData/History/PubMedPubDate[@PubStatus='{status}']")]
        if any(dates):
            return min(d for d in dates if d)
    return None


@dataclass
class FakeEutils:
    """The fake's state; ``start()`` serves it on 127.0.0.1 at ``url``."""

    records: dict[str, FakeRecord]
    cap: int = 9999
    fault_rate: float = 0.0
    seed: int = 0
    delay: float = 2.0  # seconds a "timeout" fault waits before answering
    retry_after: str = "7"
    faults: deque[str] = field(default_factory=deque)
    seen: list[SeenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.records = dict(self.records)
        self.rng = random.Random(self.seed)
        self.histories: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    # -- test controls ------------------------------------------------------------

    def set_dates(self, pmid: str, created: date | None = None, modified: date | None = None) -> None:
        record = self.records[pmid]
        self.records[pmid] = replace(record, created=created or record.created, modified=modified or record.modified)

    def revise(self, pmid: str, old: bytes, new: bytes, modified: date) -> None:
        """Change a record's XML (e.g. a new title) and its modification date."""
        record = self.records[pmid]
        assert old in record.xml, f"{old!r} not in record {pmid}"
        self.records[pmid] = replace(record, xml=record.xml.replace(old, new, 1), modified=modified)

    def requests(self, endpoint: str | None = None, clean: bool = False) -> list[SeenRequest]:
        """The requests received (of one endpoint; only those answered without a fault when ``clean``)."""
        return [r for r in self.seen if (endpoint is None or r.endpoint == endpoint) and not (clean and r.fault)]

    # -- serving ------------------------------------------------------------------

    def start(self) -> FakeEutils:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, parse_qs(urlsplit(self.path).query))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake._handle(self, parse_qs(self.rfile.read(length).decode()))

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/entrez/eutils/"

    def stop(self) -> None:
        self.released.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> FakeEutils:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handle(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        params = {k: v[-1] for k, v in query.items()}
        endpoint = urlsplit(handler.path).path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
            if fault is None and self.fault_rate and self.rng.random() < self.fault_rate:
                fault = self.rng.choice(FAULTS)
            self.seen.append(SeenRequest(handler.command, endpoint, params, fault))
            if endpoint == "esearch":
                status, body = self._esearch(params)
            elif endpoint == "efetch":
                status, body = self._efetch(params)
            else:
                status, body = 404, b"unknown endpoint"
        self._answer(handler, status, body, fault, endpoint)

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, fault: str | None, endpoint: str) -> None:
        headers = {"Content-Type": "text/xml; charset=UTF-8"}
        if fault == "drop":
            handler.close_connection = True
            return
        if fault == "timeout":
            self.released.wait(self.delay)
        elif fault and fault[0].isdigit():
            status, body = int(fault[:3]), b"<html><body>Too Many Requests</body></html>" if fault.startswith("429") else HTML_PAGE
            headers["Content-Type"] = "text/html"
            if fault == "429-retry-after":
                headers["Retry-After"] = self.retry_after
        elif fault == "html":
            body, headers["Content-Type"] = HTML_PAGE, "text/html"
        elif fault == "error200":
            root = "eSearchResult" if endpoint == "esearch" else "eFetchResult"
            body = f"<?xml version=\"1.0\" ?>\n<{root}><ERROR>{BACKEND_ERROR}</ERROR></{root}>".encode()
        elif fault == "truncate":
            body = body[: len(body) // 2]
        elif fault == "gzip":  # a gzip body damaged on the way (a proxy, a cut line) but of the length announced
            packed = bytearray(gzip.compress(body))
            packed[len(packed) // 2: len(packed) // 2 + 8] = bytes(8)
            body, headers["Content-Encoding"] = bytes(packed), "gzip"
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body[: len(body) // 2] if fault == "cut" else body)
            handler.wfile.flush()
        except OSError:  # the client gave up first (a "timeout" fault)
            pass
        if fault == "cut":
            handler.close_connection = True

    def _esearch(self, params: dict[str, str]) -> tuple[int, bytes]:
        pmids = self._search(params.get("term", ""))
        start, limit = int(params.get("retstart", 0)), min(int(params.get("retmax", 20)), self.cap)
        if start > self.cap - 1:
            return 200, _esearch_error(CAP_ERROR.format(last=self.cap - 1, cap=self.cap))
        parts = [f"<Count>{len(pmids)}</Count><RetMax>{len(pmids[start:start + limit])}</RetMax><RetStart>{start}</RetStart>"]
        if params.get("usehistory") == "y":
            web_env = f"MCID_fake{len(self.histories)}"
            self.histories[web_env] = pmids[: self.cap]
            parts.append(f"<QueryKey>1</QueryKey><WebEnv>{web_env}</WebEnv>")
        parts.append("<IdList>" + "".join(f"<Id>{p}</Id>" for p in pmids[start:start + limit]) + "</IdList>")
        body = '<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult>' + "".join(parts) + "</eSearchResult>"
        return 200, body.encode()

    def _search(self, term: str) -> list[str]:
        match = _TERM.match(term.strip())
        chosen = list(self.records.values())
        if match:
            start, end = (date(*map(int, match[k].split("/"))) for k in ("start", "end"))
            attribute = "created" if match["field"] == "crdt" else "modified"
            chosen = [r for r in chosen if start <= getattr(r, attribute) <= end]
        # PubMed's default order: most recent first.
        chosen.sort(key=lambda r: (r.created, int(r.pmid)), reverse=True)
        return [r.pmid for r in chosen]

    def _efetch(self, params: dict[str, str]) -> tuple[int, bytes]:
        if "id" in params:
            pmids = [p for p in params["id"].split(",") if p]
        elif params.get("WebEnv") in self.histories and params.get("query_key") == "1":
            start, count = int(params.get("retstart", 0)), int(params.get("retmax", 20))
            pmids = self.histories[params["WebEnv"]][start:start + count]
        else:
            return 200, b'<?xml version="1.0" ?>\n<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>'
        found = [self.records[p].xml for p in pmids if p in self.records]
        if not found:
            return 200, b'<?xml version="1.0" ?>\n<eFetchResult><ERROR>Empty result - nothing to do</ERROR></eFetchResult>'
        return 200, XML_HEAD + b"<PubmedArticleSet>\n" + b"\n".join(found) + b"\n</PubmedArticleSet>\n"


def _esearch_error(text: str) -> bytes:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><ERROR>{escaped}</ERROR></eSearchResult>'.encode()


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it; records every sleep."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
