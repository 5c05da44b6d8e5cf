"""The E-utilities client against loopback servers that answer the way a real network can: slowly."""

from __future__ import annotations

import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from corpus.errors import HarvestError
from harvester.eutils import EutilsClient
from harvester.ratelimit import RateLimiter
from fake_eutils import FakeClock

SEARCH = (b"<eSearchResult><Count>1</Count><RetMax>1</RetMax><RetStart>0</RetStart><QueryKey>1</QueryKey>"
          b"<WebEnv>MCID_1</WebEnv><IdList><Id>38011560</Id></IdList></eSearchResult>")


class Trickle:
    """A loopback server whose first ``slow`` answers send a byte every ``pause`` seconds (each read
    of the client returns at once), the whole answer taking ``lasts`` seconds; the others come at once."""

    def __init__(self, slow: int, pause: float = 0.02, lasts: float = 5.0):
        self.slow, self.pause, self.seen = slow, pause, 0
        self.body = SEARCH + b" " * max(0, int(lasts / pause) - len(SEARCH))  # XML, then blanks it may end with
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                if server.seen > server.slow:
                    self.wfile.write(server.body)
                    return
                try:
                    for i in range(len(server.body)):
                        self.wfile.write(server.body[i:i + 1])
                        self.wfile.flush()
                        if server.stopped.wait(server.pause):
                            return
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/"

    def stop(self) -> None:
        self.stopped.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_of(url: str, clock: FakeClock, **kwargs) -> EutilsClient:
    return EutilsClient(url, tool="t", email="e@example.org", clock=clock, sleep=clock.sleep, rng=random.Random(1),
                        limiter=RateLimiter(10, clock, clock.sleep), **kwargs)


def test_an_answer_that_trickles_is_given_up_at_the_timeout_and_asked_again(clock, caplog):
    server = Trickle(slow=1)
    try:
        client = client_of(server.url, clock, timeout=0.5)
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="harvester.retry"):
            assert client.search("x").pmids == ("38011560",)
        took = time.monotonic() - began
    finally:
        server.stop()
    assert server.seen == 2 and took < 3.0  # the trickle alone lasts 5 s
    assert "esearch failed (answer still arriving after 0.5s); retry 1" in caplog.text


def test_answers_that_always_trickle_end_in_the_usual_error_within_the_budget(clock):
    server = Trickle(slow=1000)
    try:
        client = client_of(server.url, clock, timeout=0.5, retry_budget=2)
        began = time.monotonic()
        with pytest.raises(HarvestError, match=r"^esearch failed \d+ times over \d+s \(last: answer still arriving after 0\.5s\)"):
            client.search("x")
        took = time.monotonic() - began
    finally:
        server.stop()
    assert 2 <= server.seen <= 3 and took < 4.0


def test_an_invalid_api_key_is_one_line_saying_what_to_fix_without_the_key(httpserver, clock):
    key = "d0e5n0tw0rk1234567890abcdef"
    httpserver.expect_request("/esearch.fcgi").respond_with_data(  # NCBI's answer, echoing the key it refuses
        f'{{"error":"API key invalid","api-key":"{key}","type":"invalid","status":"unknown"}}', status=400,
        content_type="application/json")
    client = client_of(httpserver.url_for("/"), clock, api_key=key)
    with pytest.raises(HarvestError) as failure:
        client.search("x")
    assert str(failure.value) == ("NCBI esearch answered 'API key invalid' (HTTP 400): the NCBI API key in $NCBI_API_KEY "
                                  "is not valid; fix it, or unset NCBI_API_KEY to harvest without one")
    assert client.requests_sent == 1 and clock.sleeps == []
