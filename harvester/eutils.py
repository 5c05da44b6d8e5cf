"""The E-utilities client: sends the requests ``eutils_protocol`` builds, politely and persistently.

Every request waits for the process-wide rate limiter, carries ``tool``/``email``/``api_key``,
and is retried (``harvester.retry``) on 429, 5xx, timeouts, dropped connections, truncated or
HTML bodies and ``<ERROR>`` inside a 200, honouring ``Retry-After``; after the retry budget a
``HarvestError`` says so. A 4xx other than 429 is our request's fault and fails at once.
Each answer must arrive whole within ``timeout``: httpx bounds each read, not the whole
answer, and a server or proxy that sends a byte a second would hold the harvest (and the
corpus lock) for ever.

The API key is a URL parameter and httpx logs URLs, so the key is scrubbed from httpx's and
httpcore's log records here, from every answer before it is read (NCBI may echo the key in
an error), and from every message this module raises, before the retry loop logs it; it
never leaves this object except on the wire to NCBI.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import time
from collections.abc import Callable

import httpx

from corpus.article import Article
from corpus.errors import HarvestError
from harvester.eutils_protocol import (
    History,
    HistoryExpired,
    Request,
    SearchResult,
    fetch_ids_request,
    fetch_page_request,
    identified,
    read_articles,
    read_search,
    search_request,
)
from harvester.ratelimit import RateLimiter, ncbi_rate, shared_limiter
from harvester.retry import RetryPolicy, TransientError, call_with_retries, parse_retry_after
from harvester.windows import MAX_HITS

logger = logging.getLogger(__name__)

_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2")
_KEY_IN_URL = re.compile(r"(api_key=)[^&\s'\"]+")
_INVALID_KEY = re.compile(r"API key invalid", re.IGNORECASE)  # NCBI's 400: {"error":"API key invalid","api-key":…}


class _RedactKey(logging.Filter):
    """Rewrites log records of the HTTP libraries so that no API key survives in them."""

    def __init__(self) -> None:
        super().__init__("oihwatch-redact-api-key")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_redactor = _RedactKey()


MASK = "***"  # what stands where a secret was


def redact(text: str, secrets: set[str] | frozenset[str] = frozenset()) -> str:
    """``text`` with ``api_key=…`` URL parameters and the given secret values replaced by ``MASK``."""
    text = _KEY_IN_URL.sub(rf"\g<1>{MASK}", text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def _install_redaction(api_key: str | None) -> None:
    if api_key:
        _redactor.secrets.add(api_key)
    for name in _HTTP_LOGGERS:
        log = logging.getLogger(name)
        if _redactor not in log.filters:
            log.addFilter(_redactor)


class EutilsClient:
    """search / fetch against E-utilities at ``base_url``; tests pass a loopback URL, a fake clock and sleep."""

    def __init__(
        self,
        base_url: str,
        *,
        tool: str,
        email: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry_budget: float = 600.0,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        max_hits: int = MAX_HITS,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.tool, self.email = tool, email
        self._api_key = api_key or None
        self.timeout = timeout  # seconds for a whole answer; httpx's own timeout bounds each read within it
        self.policy = RetryPolicy(budget=retry_budget)
        self.limiter = limiter or shared_limiter(ncbi_rate(self._api_key is not None))
        self.clock, self.sleep, self.rng = clock, sleep, rng or random.Random()
        self.max_hits = max_hits  # PubMed's cap; tests lower it to exercise window splitting cheaply
        self.requests_sent = 0
        _install_redaction(self._api_key)
        try:
            self._http = httpx.Client(timeout=timeout, transport=transport, headers={"User-Agent": f"{tool} (oihwatch)"})
        except UnicodeEncodeError:  # the tool names us in the User-Agent header, which HTTP keeps to ASCII
            raise HarvestError(f"ncbi.tool {tool!r} holds a character other than ASCII, which an HTTP header cannot carry; "
                               "name the tool in ASCII letters (or set $OIHWATCH_NCBI_TOOL)") from None

    def __repr__(self) -> str:
        return f"EutilsClient({self.base_url!r}, tool={self.tool!r}, api_key={'set' if self._api_key else 'none'})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EutilsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the calls --------------------------------------------------------------

    def search(self, term: str) -> SearchResult:
        """Hit count, PMIDs (up to ``max_hits``, PubMed's 9,999) and the history-server handle of a search."""
        request = search_request(term, self.max_hits)
        return self._call(request, lambda body: read_search(body, self.max_hits), "esearch")

    def fetch_page(self, history: History, start: int, count: int) -> list[Article]:
        """Records ``start`` .. ``start + count - 1`` of a search on the history server."""
        request = fetch_page_request(history, start, count)
        return self._call(request, lambda body: read_articles(body, count), f"efetch of records {start + 1}-{start + count}")

    def fetch_pmids(self, pmids: list[str]) -> list[Article]:
        """The records of ``pmids`` (POST for long lists)."""
        request = fetch_ids_request(pmids)
        return self._call(request, lambda body: read_articles(body, len(pmids)), f"efetch of {len(pmids)} PMIDs")

    # -- sending ----------------------------------------------------------------

    def _call(self, request: Request, read: Callable[[bytes], object], what: str):
        request = identified(request, self.tool, self.email, self._api_key)
        return call_with_retries(
            lambda: self._attempt(request, read), what, self.policy, clock=self.clock, sleep=self.sleep, rng=self.rng
        )

    def _attempt(self, request: Request, read: Callable[[bytes], object]):
        """One exchange and the reading of its answer, with the key redacted from every message raised: here,
        before the retry loop logs a ``TransientError`` in its warning, or a ``HarvestError`` reaches the caller."""
        try:
            return read(self._send(request))
        except TransientError as exc:
            raise TransientError(self._redact(str(exc)), exc.retry_after) from None
        except HistoryExpired as exc:  # kept apart: the harvest fetches the rest by PMID instead
            raise HistoryExpired(self._redact(str(exc))) from None
        except HarvestError as exc:
            raise HarvestError(self._redact(str(exc))) from None

    def _send(self, request: Request) -> bytes:
        """One HTTP exchange under the rate limiter; passing failures become ``TransientError``.

        The body comes back with the key taken out: what is read from it (an ``<ERROR>``, PubMed's
        warnings, a parser's complaint) is quoted cut to a length, and a key cut in two would no
        longer match the secret when the message is redacted."""
        self.limiter.acquire()
        self.requests_sent += 1
        try:
            status, body, encoding = self._exchange(request)
        except httpx.TimeoutException:
            raise TransientError(f"no answer within {self.timeout:g}s") from None
        except httpx.ConnectError as exc:
            if _unknown_host(exc):  # a typo in base_url or no DNS at all: waiting will not fix it
                host = httpx.URL(self.base_url).host
                raise HarvestError(f"cannot resolve {host} (ncbi.base_url): check the address and this machine's network") from None
            raise TransientError(f"connection failed ({type(exc).__name__}: {exc})") from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection failed ({type(exc).__name__}: {exc})") from None
        except httpx.DecodingError as exc:  # a compressed body damaged on the way: ask again, as for a cut one
            raise TransientError(f"damaged response ({exc})") from None
        except (httpx.InvalidURL, UnicodeError) as exc:  # 'http://a..b/': a host name no resolver can be asked for
            raise HarvestError(f"ncbi.base_url {self.base_url} is not a usable address ({exc}); "
                               "check it (or $OIHWATCH_NCBI_BASE_URL)") from None
        if status != 200:
            raise HarvestError(self._refused(request, status, self._redact(body.decode(encoding, errors="replace"))))
        return body.replace(self._api_key.encode(), MASK.encode()) if self._api_key else body

    def _exchange(self, request: Request) -> tuple[int, bytes, str]:
        """The status, body and charset of one exchange; a 429, 5xx or redirect ends it before its body is read.

        httpx's timeout bounds each read, and so the wait for the status line; the body is read in
        chunks until ``timeout`` has passed since the request went out, then given up as a timeout.
        That deadline is on ``time.monotonic``, not the injected clock: it bounds time on the wire,
        which the clock of the retry back-off (a fake one in tests) does not see."""
        deadline = time.monotonic() + self.timeout
        payload = {"data": dict(request.params)} if request.method == "POST" else {"params": request.params}
        with self._http.stream(request.method, self.base_url + request.path, **payload) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise TransientError(f"HTTP {status} from {request.endpoint}", retry_after)
            if 300 <= status < 400:
                raise HarvestError(self._redirected(request, response))
            chunks = []
            for chunk in response.iter_bytes():
                if time.monotonic() > deadline:
                    raise TransientError(f"answer still arriving after {self.timeout:g}s")
                chunks.append(chunk)
            return status, b"".join(chunks), response.encoding or "utf-8"

    def _refused(self, request: Request, status: int, text: str) -> str:
        """What NCBI's refusal says, and what to do when it is of the API key (``text`` is redacted).
        The key comes from $NCBI_API_KEY only (``oihwatch.config``), so that is what to fix."""
        if self._api_key and _INVALID_KEY.search(text):
            return (f"NCBI {request.endpoint} answered 'API key invalid' (HTTP {status}): the NCBI API key in $NCBI_API_KEY "
                    "is not valid; fix it, or unset NCBI_API_KEY to harvest without one")
        excerpt = " ".join(text.split())[:200]
        return f"NCBI {request.endpoint} refused the request (HTTP {status})" + (f": {excerpt}" if excerpt else "")

    def _redirected(self, request: Request, response: httpx.Response) -> str:
        """What to set ``ncbi.base_url`` to when NCBI redirects (http:// to https://, usually). The redirect
        is not followed: a request would go where the config does not say, and a POST would become a GET.
        The address is shown without its query, which repeats ours (and so the API key)."""
        said = f"NCBI {request.endpoint} answered HTTP {response.status_code}, a redirect (not followed)"
        location = response.headers.get("Location", "").strip()
        if not location:
            return f"{said} with no address to go to; check ncbi.base_url (or $OIHWATCH_NCBI_BASE_URL)"
        try:
            target = response.request.url.join(location).copy_with(query=None, fragment=None, username=None, password=None)
        except (httpx.InvalidURL, ValueError):
            return f"{said} to an address that is not a URL; check ncbi.base_url (or $OIHWATCH_NCBI_BASE_URL)"
        shown = self._redact(str(target))
        base = shown.removesuffix(request.path) if shown.endswith("/" + request.path) else ""
        return (f"{said} to {shown}: set ncbi.base_url (or $OIHWATCH_NCBI_BASE_URL) to "
                + (base if base else "the E-utilities address there"))

    def _redact(self, text: str) -> str:
        return redact(text, {self._api_key} if self._api_key else set())


def _unknown_host(exc: BaseException) -> bool:
    """True when name resolution said the host does not exist (EAI_NONAME), not 'try again later'."""
    while exc is not None:
        if isinstance(exc, socket.gaierror):
            return exc.errno == socket.EAI_NONAME
        exc = exc.__cause__ or exc.__context__
    return False
