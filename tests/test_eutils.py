"""The E-utilities client: pure request building and response reading, rate limiting, retries, secrecy."""

from __future__ import annotations

import logging
import random
import socket
from datetime import date, datetime, timezone

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.errors import HarvestError
from harvester.eutils import EutilsClient, redact
from harvester.eutils_protocol import (
    History,
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
from fake_eutils import CAP_ERROR, FAULTS, FakeClock, FakeEutils

KEY = "k3y-0f-n0-one-b8d1c0ffee"
ALL = '(opioid) AND ("1900/01/01"[crdt] : "2100/12/31"[crdt])'


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(fake: FakeEutils, clock: FakeClock, api_key: str | None = None, **kwargs) -> EutilsClient:
    kwargs.setdefault("timeout", 0.5)
    return EutilsClient(
        fake.url, tool="oihwatch-test", email="test@example.org", api_key=api_key,
        limiter=RateLimiter(ncbi_rate(api_key is not None), clock, clock.sleep),
        clock=clock, sleep=clock.sleep, rng=random.Random(1), **kwargs,
    )


# -- pure request building and response reading ---------------------------------------------


def test_requests_carry_identity_and_speak_ncbi_names_only_here():
    request = identified(search_request("hyperalgesia"), "oihwatch", "me@example.org", KEY)
    params = dict(request.params)
    assert request.method == "GET" and request.path == "esearch.fcgi"
    assert params == {"db": "pubmed", "term": "hyperalgesia", "usehistory": "y", "retmax": str(MAX_HITS),
                      "retmode": "xml", "tool": "oihwatch", "email": "me@example.org", "api_key": KEY}
    assert "api_key" not in dict(identified(search_request("x"), "t", "e", None).params)
    page = dict(fetch_page_request(History("MCID_1", "1"), 400, 200).params)
    assert (page["WebEnv"], page["query_key"], page["retstart"], page["retmax"]) == ("MCID_1", "1", "400", "200")


def test_long_id_lists_go_by_post():
    assert fetch_ids_request([str(i) for i in range(200)]).method == "GET"
    long = fetch_ids_request([str(i) for i in range(201)])
    assert long.method == "POST" and dict(long.params)["id"].count(",") == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>502</body></html>", "HTML"),
        (b"<eSearchResult><Count>3</Count><IdList><Id>1</Id>", "truncated"),
        (b"<eSearchResult><ERROR>Search Backend failed: x</ERROR></eSearchResult>", "Backend failed"),
        (b"<eSearchResult><IdList/></eSearchResult>", "no Count"),
        (b"<eSearchResult><Count>3</Count><IdList><Id>1</Id></IdList></eSearchResult>", "1 of 3"),
        (b"<eLinkResult/>", "not <eSearchResult>"),
    ],
)
def test_a_bad_esearch_response_is_transient_never_empty(body, reason):
    with pytest.raises(TransientError, match=reason):
        read_search(body)


def test_an_esearch_response_is_read_with_its_warnings():
    body = (b"<eSearchResult><Count>2</Count><RetMax>2</RetMax><RetStart>0</RetStart><QueryKey>1</QueryKey>"
            b"<WebEnv>MCID_9</WebEnv><IdList><Id>2</Id><Id>1</Id></IdList>"
            b"<ErrorList><PhraseNotFound>hyperalgesiaa</PhraseNotFound></ErrorList></eSearchResult>")
    result = read_search(body)
    assert (result.count, result.pmids, result.history) == (2, ("2", "1"), History("MCID_9", "1"))
    assert result.warnings == ("PhraseNotFound: hyperalgesiaa",)


def test_an_esearch_response_names_the_parts_of_the_term_pubmed_does_not_know():
    body = (b"<eSearchResult><Count>0</Count><IdList/><ErrorList><PhraseNotFound>hyperalgezia</PhraseNotFound>"
            b"<FieldNotFound>tiabx</FieldNotFound></ErrorList><WarningList><QuotedPhraseNotFound>\"oih x\"</QuotedPhraseNotFound>"
            b"<PhraseIgnored>and</PhraseIgnored><OutputMessage>No items found.</OutputMessage></WarningList></eSearchResult>")
    result = read_search(body)
    assert result.not_found == ("hyperalgezia", "field [tiabx]", '"oih x"')
    assert len(result.warnings) == 5 and read_search(b"<eSearchResult><Count>0</Count><IdList/></eSearchResult>").not_found == ()


def test_a_short_or_broken_efetch_response_is_transient(records):
    record = next(iter(records.values()))
    whole = b"<PubmedArticleSet>" + record.xml + b"</PubmedArticleSet>"
    assert [a.pmid for a in read_articles(whole, 1)] == [record.pmid]
    for body, reason in [(whole, "1 of 2"), (whole[:-40], "truncated"), (b"<html>oops</html>", "HTML"),
                         (b"<eFetchResult><ERROR>Empty result - nothing to do</ERROR></eFetchResult>", "error")]:
        with pytest.raises(TransientError, match=reason):
            read_articles(body, 2 if reason == "1 of 2" else 1)


# -- the rate limiter --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(per_second=st.sampled_from([3, 10]), gaps=st.lists(st.floats(0, 1.5), min_size=1, max_size=60))
def test_the_limiter_never_allows_more_starts_in_any_second(per_second, gaps):
    clock = FakeClock()
    limiter = RateLimiter(per_second, clock, clock.sleep)
    starts = []
    for gap in gaps:
        clock.now += gap
        starts.append(limiter.acquire())
    assert starts == sorted(starts)
    for i in range(len(starts) - per_second):
        assert starts[i + per_second] - starts[i] >= 1.0  # so no 1-second window holds per_second + 1 starts


def test_the_limiter_spaces_starts_evenly_and_waits_only_as_needed():
    clock = FakeClock(0.0)
    limiter = RateLimiter(3, clock, clock.sleep)
    assert [limiter.acquire() for _ in range(4)] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    clock.now = 10.0
    assert limiter.acquire() == 10.0


def test_the_limiter_is_shared_by_the_process_and_follows_the_key():
    assert shared_limiter(3) is shared_limiter(3)
    assert (ncbi_rate(False), ncbi_rate(True)) == (3, 10)


def test_client_requests_respect_the_limit(fake, clock):
    client = make_client(fake, clock, api_key=KEY)
    times = []
    real_acquire = client.limiter.acquire
    client.limiter.acquire = lambda: times.append(real_acquire()) or times[-1]
    for _ in range(25):
        client.search(ALL)
    assert all(times[i + 10] - times[i] >= 1.0 for i in range(len(times) - 10))
    assert times[-1] - times[0] == pytest.approx(2.4)


# -- retries -----------------------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_a_retry_after_wins():
    clock = FakeClock()
    failures = iter([TransientError("503"), TransientError("503"), TransientError("429", retry_after=7.0), None])

    def attempt():
        error = next(failures)
        if error:
            raise error
        return "ok"

    assert call_with_retries(attempt, "esearch", RetryPolicy(budget=100), clock=clock, sleep=clock.sleep, rng=random.Random(0)) == "ok"
    first, second, third = clock.sleeps
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0 and third == 7.0


def test_retries_stop_after_the_budget_with_a_clear_error():
    clock = FakeClock()

    def attempt():
        raise TransientError("HTTP 503 from efetch")

    with pytest.raises(HarvestError, match=r"efetch of 3 PMIDs failed \d+ times over \d+s \(last: HTTP 503 from efetch\)"):
        call_with_retries(attempt, "efetch of 3 PMIDs", RetryPolicy(budget=300), clock=clock, sleep=clock.sleep)
    assert sum(clock.sleeps) <= 300 and len(clock.sleeps) >= 5


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


# -- the client against the loopback fake ------------------------------------------------------


def test_pages_through_the_history_server(fake, clock):
    client = make_client(fake, clock)
    search = client.search(ALL)
    assert search.count == len(search.pmids) == len(fake.records)
    fetched = []
    for start in range(0, 450, 150):
        fetched += [a.pmid for a in client.fetch_page(search.history, start, 150)]
    assert fetched == list(search.pmids[:450])
    pages = fake.requests("efetch")
    assert [(r.params["retstart"], r.params["retmax"], r.params["WebEnv"]) for r in pages] == [
        ("0", "150", search.history.web_env), ("150", "150", search.history.web_env), ("300", "150", search.history.web_env)]
    assert all(r.params["tool"] == "oihwatch-test" and r.params["email"] == "test@example.org" for r in fake.seen)


def test_long_id_lists_are_posted_and_fetched_whole(fake, clock):
    client = make_client(fake, clock)
    pmids = sorted(fake.records)[:250]
    assert sorted(a.pmid for a in client.fetch_pmids(pmids)) == pmids
    assert [r.method for r in fake.requests("efetch")] == ["POST"]
    client.fetch_pmids(pmids[:20])
    assert fake.requests("efetch")[-1].method == "GET"


def test_the_fake_enforces_the_cap_with_ncbis_text(fake):
    fake.cap = 100
    response = httpx.get(fake.url + "esearch.fcgi", params={"db": "pubmed", "term": ALL, "retstart": "100"})
    assert "'retstart' cannot be larger than 99" in response.text and "first 100 records" in response.text
    assert CAP_ERROR.format(last=9998, cap=9999).startswith("Search Backend failed")
    with pytest.raises(TransientError, match="Search Backend failed"):
        read_search(response.content)


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_retried_until_the_answer_is_whole(fake, clock, fault):
    client = make_client(fake, clock)
    expected = client.search(ALL)
    fake.faults.extend([fault, fault])
    assert client.search(ALL).pmids == expected.pmids
    fake.faults.extend([fault, fault])
    assert [a.pmid for a in client.fetch_page(expected.history, 0, 40)] == list(expected.pmids[:40])
    assert len(fake.requests(clean=False)) == 7
    if fault == "429-retry-after":
        assert clock.sleeps.count(7.0) == 4


def test_mixed_random_faults_end_with_every_record(fake, clock):
    fake.fault_rate, fake.rng = 0.3, random.Random(7)
    client = make_client(fake, clock)
    search = client.search(ALL)
    pmids = [a.pmid for start in range(0, 600, 100) for a in client.fetch_page(search.history, start, 100)]
    assert pmids == list(search.pmids[:600])
    assert any(r.fault for r in fake.seen)


def test_a_page_of_a_search_the_history_server_lost_fails_at_once_saying_so(fake, clock):
    """Every page asked of that WebEnv again fails alike: retried, it took the whole budget and read 'NCBI may be down'."""
    client = make_client(fake, clock)
    with pytest.raises(HarvestError, match=r"^the search session on NCBI's history server expired \(NCBI: Unable to obtain "
                                           r"query #1\); run the search again$"):
        client.fetch_page(History("MCID_gone", "1"), 0, 10)
    assert len(fake.requests("efetch")) == 1 and clock.sleeps == []
    with pytest.raises(TransientError, match="Empty result"):  # NCBI's other <ERROR>s are retried, as before
        read_articles(b"<eFetchResult><ERROR>Empty result - nothing to do</ERROR></eFetchResult>", 1)


def test_a_refused_request_fails_at_once(clock):
    client = EutilsClient("http://eutils.invalid/", tool="t", email="e@x.org", clock=clock, sleep=clock.sleep,
                          limiter=RateLimiter(3, clock, clock.sleep),
                          transport=httpx.MockTransport(lambda request: httpx.Response(400, text="Invalid db name")))
    with pytest.raises(HarvestError, match=r"esearch refused the request \(HTTP 400\): Invalid db name"):
        client.search("x")
    assert clock.sleeps == []


def test_an_outage_beyond_the_budget_fails_loudly_without_the_key(fake, clock, caplog):
    fake.faults.extend(["503"] * 500)
    client = make_client(fake, clock, api_key=KEY, retry_budget=120)
    caplog.set_level(logging.DEBUG, logger="httpx")
    with caplog.at_level(logging.DEBUG), pytest.raises(HarvestError) as failure:
        client.search(ALL)
    assert "esearch failed" in str(failure.value) and "try again later" in str(failure.value)
    assert KEY not in str(failure.value)
    assert KEY not in caplog.text


def test_the_api_key_goes_to_ncbi_but_never_into_a_log(fake, clock, caplog):
    client = make_client(fake, clock, api_key=KEY)
    fake.faults.extend(["500", "drop"])
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLI quiets httpx; here it must speak
    with caplog.at_level(logging.DEBUG):
        search = client.search(ALL)
        client.fetch_page(search.history, 0, 5)
        client.fetch_pmids(list(search.pmids[:300]))
    assert all(r.params["api_key"] == KEY for r in fake.seen)
    assert "api_key=***" in caplog.text  # httpx logged the URL, redacted
    assert KEY not in caplog.text
    assert KEY not in repr(client)


def test_the_key_is_scrubbed_from_a_refusal_that_echoes_it(clock):
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "API key invalid", "api-key": KEY})

    client = EutilsClient("http://eutils.invalid/", tool="t", email="e@x.org", api_key=KEY, clock=clock, sleep=clock.sleep,
                          limiter=RateLimiter(10, clock, clock.sleep), transport=httpx.MockTransport(refuse))
    with pytest.raises(HarvestError, match="API key invalid") as failure:
        client.search("x")
    assert KEY not in str(failure.value)
    assert redact(f"GET /esearch.fcgi?db=pubmed&api_key={KEY}&tool=t") == "GET /esearch.fcgi?db=pubmed&api_key=***&tool=t"


def test_fake_create_dates_come_from_the_xml(records):
    # 38011560 (2023 ketamine review) has no DateCreated; its 'pubmed'/'entrez' history gives the create date.
    assert records["38011560"].created.year == 2023
    assert all(isinstance(r.created, date) for r in records.values())


def test_an_unknown_host_fails_at_once_instead_of_retrying():
    sleeps = []
    client = EutilsClient("http://eutils.host.invalid/entrez/eutils/", tool="t", email="e@example.org",
                          limiter=RateLimiter(1000, clock=lambda: 0.0, sleep=sleeps.append), sleep=sleeps.append)
    with pytest.raises(HarvestError, match=r"cannot resolve eutils\.host\.invalid \(ncbi\.base_url\)"):
        client.search("hyperalgesia")
    assert client.requests_sent == 1 and sleeps == []


@pytest.mark.parametrize(
    "location, said",
    [
        # What NCBI does to plain http: the same path and query over https.
        ("https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi?db=pubmed&term=x&api_key=" + KEY,
         "esearch answered HTTP 302, a redirect (not followed) to https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi: "
         "set ncbi.base_url (or $OIHWATCH_NCBI_BASE_URL) to https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"),
        ("/eutils/v2/esearch.fcgi?api_key=" + KEY, "to http://eutils.example.org/eutils/v2/esearch.fcgi: "
         "set ncbi.base_url (or $OIHWATCH_NCBI_BASE_URL) to http://eutils.example.org/eutils/v2/"),
        ("https://www.example.org/moved", "to https://www.example.org/moved: set ncbi.base_url (or $OIHWATCH_NCBI_BASE_URL) "
         "to the E-utilities address there"),
        ("", "302, a redirect (not followed) with no address to go to; check ncbi.base_url"),
    ],
)
def test_a_redirect_says_where_to_and_what_to_set_without_following_it_or_showing_the_key(clock, location, said):
    seen = []

    def redirect(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(302, headers={"Location": location} if location else {})

    client = EutilsClient("http://eutils.example.org/entrez/eutils/", tool="t", email="e@x.org", api_key=KEY, clock=clock,
                          sleep=clock.sleep, limiter=RateLimiter(10, clock, clock.sleep), transport=httpx.MockTransport(redirect))
    with pytest.raises(HarvestError) as failure:
        client.search("x")
    assert said in str(failure.value) and KEY not in str(failure.value)
    assert len(seen) == 1 and clock.sleeps == []  # neither followed nor retried


# -- the key in NCBI's answers: echoed back, it is redacted in every log line and message ------------


@pytest.fixture
def keyed(httpserver, clock):
    """A client with the API key against a loopback server each test scripts (pytest-httpserver)."""
    return EutilsClient(httpserver.url_for("/"), tool="t", email="e@x.org", api_key=KEY, retry_budget=5, clock=clock,
                        sleep=clock.sleep, rng=random.Random(1), limiter=RateLimiter(10, clock, clock.sleep))


def test_retry_warnings_never_show_a_key_ncbi_echoes(httpserver, keyed, caplog):
    httpserver.expect_request("/esearch.fcgi").respond_with_data(
        f"<eSearchResult><ERROR>API key {KEY} is invalid</ERROR></eSearchResult>", content_type="text/xml")
    httpserver.expect_request("/efetch.fcgi").respond_with_data(
        f"<PubmedArticleSet><ERROR>key {KEY}</ERROR></PubmedArticleSet>", content_type="text/xml")
    with caplog.at_level(logging.WARNING, logger="harvester"):
        for call in (lambda: keyed.search("x"), lambda: keyed.fetch_pmids(["1"])):
            with pytest.raises(HarvestError) as failure:
                call()
            assert KEY not in str(failure.value)
    warnings = [r.getMessage() for r in caplog.records if r.name == "harvester.retry"]
    assert any("esearch failed (esearch returned an error: API key *** is invalid); retry 1" in w for w in warnings)
    assert any("efetch of 1 PMIDs failed" in w and "key ***" in w for w in warnings)
    assert not any(KEY in r.getMessage() for r in caplog.records if r.name != "werkzeug")  # the server's own log aside


def test_pubmed_warnings_never_show_a_key_ncbi_echoes(httpserver, keyed):
    httpserver.expect_request("/esearch.fcgi").respond_with_data(
        f"<eSearchResult><Count>0</Count><IdList/><ErrorList><PhraseNotFound>{KEY}</PhraseNotFound></ErrorList>"
        f"<WarningList><OutputMessage>No items found for {KEY}.</OutputMessage></WarningList></eSearchResult>",
        content_type="text/xml")
    assert keyed.search("x").warnings == ("PhraseNotFound: ***", "OutputMessage: No items found for ***.")


@pytest.mark.parametrize(
    ("status", "body"),
    [   # NCBI's refusal in JSON, and an <ERROR>, each long enough that the 200-character excerpt ends inside the key
        (400, '{"error":"API key invalid' + "x" * 156 + f'","api-key":"{KEY}"}}'),
        (200, "<eSearchResult><ERROR>" + "y" * 190 + f" key={KEY}</ERROR></eSearchResult>"),
    ],
)
def test_no_part_of_the_key_is_left_where_an_excerpt_cuts_it(httpserver, keyed, status, body):
    httpserver.expect_request("/esearch.fcgi").respond_with_data(body, status=status, content_type="text/xml")
    with pytest.raises(HarvestError) as failure:
        keyed.search("x")
    assert KEY[:4] not in str(failure.value)


def test_a_tool_name_no_http_header_can_carry_is_one_clear_error():
    with pytest.raises(HarvestError, match=r"ncbi\.tool 'oihwätch' holds a character other than ASCII"):
        EutilsClient("http://127.0.0.1:9/", tool="oihwätch", email="e@example.org")


def test_a_host_name_that_cannot_be_encoded_fails_at_once_with_one_clear_error(monkeypatch):
    loopback_only = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # as the stdlib's does before asking a resolver (the test guard does not)
        host.encode("idna")
        return loopback_only(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    sleeps = []
    client = EutilsClient("http://a..b/", tool="t", email="e@example.org",
                          limiter=RateLimiter(1000, clock=lambda: 0.0, sleep=sleeps.append), sleep=sleeps.append)
    with pytest.raises(HarvestError, match=r"^ncbi\.base_url http://a\.\.b/ is not a usable address \(.*\); check it") as failure:
        client.search("hyperalgesia")
    assert "\n" not in str(failure.value) and client.requests_sent == 1 and sleeps == []
