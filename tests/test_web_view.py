"""What the web view shows and lets a visitor take away: every row once whatever the order, over HTTP."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urljoin

import httpx
import pytest

pytest.importorskip("datasette")

from conftest import DATASETTE_UNCLOSED  # noqa: E402
from corpus.article import Link, doi_url  # noqa: E402
from corpus.exports import iter_records, notice_texts  # noqa: E402
from corpus.search import Filters, search  # noqa: E402
from corpus.store import Store  # noqa: E402
from corpus.tags import RELEVANCE, Classification, TopicScore, save_classifications, set_label  # noqa: E402
from oihwatch.web.cells_plugin import doi_link  # noqa: E402
from oihwatch.web.metadata import snapshot_taken  # noqa: E402
from oihwatch.web.server import snapshot_path  # noqa: E402
from oihwatch.web.snapshot import build_snapshot  # noqa: E402
from research_corpus import RETRACTED_PMID, copy_store  # noqa: E402
from test_serve import TOPICS, VIEW, one_value, view_client  # noqa: E402

pytestmark = [DATASETTE_UNCLOSED, pytest.mark.usefixtures("datasette_garbage")]  # Datasette's own connections: see conftest


# Papers of the research corpus given notices, with what the view says of them (the CSV export's words).
NOTICES = {
    "ExpressionOfConcernIn": ([Link("ExpressionOfConcernIn", "99000020")], "Expression of concern (PMID 99000020)"),
    "PartialRetractionIn": ([Link("PartialRetractionIn", "", "Pain. 2020;161(3):e1")], "Partially retracted (Pain. 2020;161(3):e1)"),
    "both": ([Link("ErratumIn", "99000022"), Link("ExpressionOfConcernIn", "99000023")],
             "Erratum published (PMID 99000022); Expression of concern (PMID 99000023)"),
}


# Papers of the research corpus given other tags: a person's, and the model's below "likely".
TAGGED = {
    "curated": ([TopicScore("ketamine", 1.0, True, "curator"), TopicScore("tapering", 0.3, True, "model")],
                f"{TOPICS['ketamine']} (curated); {TOPICS['tapering']} (possible)"),
    "genetics": ([TopicScore("genetics", 0.6, True, "model")], "genetics (likely)"),  # not configured: its name
}


class ViewCorpus(NamedTuple):
    path: Path
    noticed: dict[str, str]  # the PMID of each paper of ``NOTICES``, by name
    tagged: dict[str, str]  # and of ``TAGGED``


@pytest.fixture(scope="module")
def view_corpus(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ViewCorpus:
    """A copy of the research corpus in which three papers of its own have notices (``NOTICES``)."""
    path = tmp_path_factory.mktemp("view") / "corpus.db"
    copy_store(research_store_path, path)
    with Store(path) as store:
        plain = [a.pmid for a in store.iter_articles(with_xml=False) if not a.links and a.abstract and not a.retracted]
        noticed, tagged = dict(zip(NOTICES, plain)), dict(zip(TAGGED, plain[len(NOTICES):]))
        store.upsert_articles(dataclasses.replace(store.get_article(pmid), links=NOTICES[name][0]) for name, pmid in noticed.items())
        for name, pmid in tagged.items():
            save_classifications(store, [Classification(pmid, 1.0, "rct", "It works.", "stand-in", TAGGED[name][0])])
        set_label(store, tagged["curated"], RELEVANCE, True)
        set_label(store, tagged["curated"], "ketamine", True)
        set_label(store, tagged["genetics"], RELEVANCE, False)  # not classified since: the model's relevance still
    return ViewCorpus(path, noticed, tagged)


@pytest.fixture(scope="module")
def snapshot(view_corpus: ViewCorpus) -> Path:
    target = snapshot_path(view_corpus.path)
    with Store(view_corpus.path) as store:
        build_snapshot(store, target, 0.5, TOPICS)
    return target


@pytest.fixture(scope="module")
def client(snapshot: Path) -> Iterator[httpx.Client]:
    with view_client(snapshot) as c:
        yield c


def sortable_columns(client: httpx.Client) -> set[str]:
    """The columns whose headings on the table page link to a sort (the other way round for the one it is sorted by)."""
    page = client.get(f"/{VIEW}/articles").text
    headings = re.findall(r'<th [^>]*scope="col"[^>]*>(.*?)</th>', page, re.S)
    return {column for heading in headings for column in re.findall(r"[?&]_sort(?:_desc)?=([^&\"]+)", html.unescape(heading))}


def pages_of(client: httpx.Client, params: dict) -> list[str]:
    """The PMIDs of every page of the table in that order, following the JSON ``next_url``."""
    page = client.get(f"/{VIEW}/articles.json", params={**params, "_size": "max", "_shape": "objects"}).json()
    pmids = [str(r["pmid"]) for r in page["rows"]]
    while page["next_url"]:
        page = client.get(page["next_url"]).json()
        pmids += [str(r["pmid"]) for r in page["rows"]]
    return pmids


def html_pages_of(client: httpx.Client, params: dict) -> list[str]:
    """The PMIDs of every page of the table, following its "Next page" links."""
    url, pmids = client.build_request("GET", f"/{VIEW}/articles", params={**params, "_size": 500}).url, []
    while url:
        page = client.get(url).text
        pmids += re.findall(rf'<td class="col-pmid type-pk"><a href="/{VIEW}/articles/(\d+)"', page)
        following = re.search(r'<a href="([^"]*)">Next page</a>', page)
        url = html.unescape(following[1]) if following else None
    return pmids


def streamed_csv(client: httpx.Client, params: dict) -> list[dict]:
    """Every row of the view as the CSV export's "stream all rows" gives it."""
    response = client.get(f"/{VIEW}/articles.csv", params={**params, "_stream": "on", "_size": "max"})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def test_every_sort_the_table_offers_pages_through_every_row_once(client: httpx.Client) -> None:
    """However a visitor sorts, "Next page", next_url and the CSV of every row hold each article once."""
    total = client.get(f"/{VIEW}/articles.json", params={"_size": 0}).json()["filtered_table_rows_count"]
    columns = sortable_columns(client)
    assert {"newest", "pmid"} <= columns
    for params in ({direction: column} for column in columns for direction in ("_sort", "_sort_desc")):
        for pmids in (pages_of(client, params), html_pages_of(client, params), [r["pmid"] for r in streamed_csv(client, params)]):
            assert len(pmids) == len(set(pmids)) == total, params


def test_pmids_sort_as_numbers(client: httpx.Client, snapshot: Path) -> None:
    pmids = [int(pmid) for pmid in pages_of(client, {"_sort_desc": "pmid"})]
    assert pmids == sorted(pmids, reverse=True)


def test_retracted_articles_are_left_out_as_the_cli_leaves_them_out(client: httpx.Client, research_store: Store) -> None:
    """Listed newest first, a retracted copy of a paper came before the one that stands, and the search box found it first."""
    for query in ("ketamin*", "opioid-induced"):
        rows = client.get(f"/{VIEW}/articles.json", params={"_search": query, "_size": "max", "_shape": "objects"}).json()["rows"]
        assert {str(r["pmid"]) for r in rows} == {h.pmid for h in search(research_store, query, Filters(), limit=10_000)}
    table = client.get(f"/{VIEW}/articles.json", params={"_size": 0}).json()
    assert table["filtered_table_rows_count"] == research_store.count_articles() - 1
    assert "the article is not retracted" in client.get(f"/{VIEW}/articles").text


def test_retracted_articles_are_reachable_and_marked_wherever_they_are_shown(client: httpx.Client) -> None:
    page = client.get(f"/{VIEW}/articles").text
    for link in (f"/{VIEW}/articles?retracted=1", f"/{VIEW}/articles?retracted__in=0%2C1"):
        assert f'href="{link}"' in page
        rows = client.get(link.replace("articles?", "articles.json?_shape=objects&_size=max&")).json()["rows"]
        assert RETRACTED_PMID in {str(r["pmid"]) for r in rows}
    retracted = [r for r in rows if r["retracted"]]
    assert [str(r["pmid"]) for r in retracted] == [RETRACTED_PMID]
    assert retracted[0]["title"].startswith("RETRACTED: ")
    assert retracted[0]["key_finding"].startswith("RETRACTED \u2014 do not rely on this finding: ")
    record = client.get(f"/{VIEW}/articles/{RETRACTED_PMID}").text
    assert '<td class="col-title type-str">RETRACTED: ' in record
    saved = client.get(f"/{VIEW}/retracted.json", params={"_shape": "objects"}).json()["rows"]
    assert [r["title"] for r in saved] == [retracted[0]["title"]]
    # Its own title is searched, not the mark
    title_word = retracted[0]["title"].removeprefix("RETRACTED: ").split()[0]
    found = client.get(f"/{VIEW}/articles.json", params={"_search": f"title:{title_word}", "retracted": 1, "_shape": "objects"}).json()["rows"]
    assert [str(r["pmid"]) for r in found] == [RETRACTED_PMID]
    assert client.get(f"/{VIEW}/articles.json", params={"_search": "title:retracted", "retracted": 1}).json()["rows"] == []


def test_notices_are_shown_in_the_words_of_the_csv_export_and_faceted(client: httpx.Client, view_corpus: ViewCorpus) -> None:
    """An erratum, an expression of concern, a partial retraction: what the exports and the digest say, beside the title."""
    for name, pmid in view_corpus.noticed.items():
        row = client.get(f"/{VIEW}/articles/{pmid}.json", params={"_shape": "objects"}).json()["rows"][0]
        assert row["notices"] == NOTICES[name][1]
        assert row["retracted"] == 0
    with Store(view_corpus.path) as store:  # a notice of the real data
        [exported] = iter_records(store, ["21707279"])
    erratum = client.get(f"/{VIEW}/articles/21707279.json", params={"_shape": "objects"}).json()["rows"][0]
    assert erratum["notices"] == "; ".join(notice_texts(exported)) and erratum["notices"].startswith("Erratum published (")
    columns = re.findall(r'<th [^>]*class="col-(\w+)"', client.get(f"/{VIEW}/articles").text)
    assert columns.index("notices") == columns.index("title") + 1  # read with the title
    facets = client.get(f"/{VIEW}/articles.json", params={"_size": 0}).json()["facet_results"]
    kinds = {item["value"]: item["count"] for item in facets["notice_kinds"]["results"]}
    assert kinds["Expression of concern"] == 1 and kinds["Erratum published; Expression of concern"] == 1
    assert kinds["Partially retracted"] == 1 and kinds["Erratum published"] >= 1
    faceted = client.get(f"/{VIEW}/articles.json", params={"notice_kinds": "Partially retracted", "_shape": "objects"}).json()["rows"]
    assert [str(r["pmid"]) for r in faceted] == [view_corpus.noticed["PartialRetractionIn"]]


def row_of(client: httpx.Client, pmid: str) -> dict:
    return client.get(f"/{VIEW}/articles/{pmid}.json", params={"_shape": "objects"}).json()["rows"][0]


def test_tags_read_as_the_digest_says_them(client: httpx.Client, view_corpus: ViewCorpus) -> None:
    """Topic labels with the confidence in a word, and what a person checked as curated: not names, JSON or probabilities."""
    for name, pmid in view_corpus.tagged.items():
        assert row_of(client, pmid)["tags"] == TAGGED[name][1]
    curated = row_of(client, view_corpus.tagged["curated"])
    assert (curated["about_oih"], curated["topics"]) == ("yes (curated)", f'["{TOPICS["ketamine"]}", "{TOPICS["tapering"]}"]')
    assert row_of(client, view_corpus.tagged["genetics"])["about_oih"] == "likely"  # the label waits for classify
    model = client.get(f"/{VIEW}/articles.json", params={"about_oih": "unlikely", "_size": 1, "_shape": "objects"}).json()["rows"][0]
    assert model["relevance"] < 0.5 and model["relevant"] == 0
    page = client.get(f"/{VIEW}/articles/{view_corpus.tagged['curated']}").text
    assert f'<td class="col-topics type-str">{TOPICS["ketamine"]}; {TOPICS["tapering"]}</td>' in page
    facets = client.get(f"/{VIEW}/articles.json", params={"_size": 0}).json()["facet_results"]
    assert {item["value"] for item in facets["topics"]["results"]} >= {TOPICS["ketamine"], TOPICS["tapering"], "genetics"}
    assert {item["value"] for item in facets["about_oih"]["results"]} == {"likely", "unlikely", "yes (curated)"}


def test_the_language_is_named_and_faceted(client: httpx.Client) -> None:
    languages = {pmid: row_of(client, pmid)["language"] for pmid in ("553791", "28277229", "11666941", "13115093", "35781")}
    assert languages == {"553791": "Chinese", "28277229": "English; Spanish", "11666941": "English", "13115093": "", "35781": ""}
    facets = client.get(f"/{VIEW}/articles.json", params={"_size": 0}).json()["facet_results"]
    assert {"English", "Chinese", "German"} <= {item["value"] for item in facets["language"]["results"]}


def test_the_doi_is_a_link_to_doi_org(client: httpx.Client) -> None:
    row = client.get(f"/{VIEW}/articles.json", params={"doi__not": "", "_size": 1, "_shape": "objects"}).json()["rows"][0]
    assert row["doi"].startswith("10.")  # the downloads keep the DOI itself
    link = f'<a href="{html.escape(doi_url(row["doi"]))}">{html.escape(row["doi"])}</a>'
    for path in (f"/{VIEW}/articles?pmid={row['pmid']}", f"/{VIEW}/articles/{row['pmid']}"):
        assert link in client.get(path).text, path
    assert str(doi_link("10.1002/(SICI)1097-0142(19960815)78:4<852::AID-CNCR23>3.0.CO;2-T")) == (
        '<a href="https://doi.org/10.1002/(SICI)1097-0142(19960815)78:4%3C852::AID-CNCR23%3E3.0.CO;2-T">'
        "10.1002/(SICI)1097-0142(19960815)78:4&lt;852::AID-CNCR23&gt;3.0.CO;2-T</a>")


def test_every_page_says_when_the_snapshot_was_taken_and_of_how_many_records(client: httpx.Client, snapshot: Path,
                                                                             tmp_path: Path) -> None:
    """What was harvested, classified or retracted since is not there: a visitor must be able to tell how old it is."""
    records = one_value(snapshot, "SELECT COUNT(*) FROM articles")
    taken = datetime.fromtimestamp(snapshot.stat().st_mtime, timezone.utc)
    said = f"snapshot of {records:,} records taken {taken:%Y-%m-%d %H:%M} UTC"
    for path in ("/", f"/{VIEW}", f"/{VIEW}/articles", f"/{VIEW}/articles/553791", f"/{VIEW}/search_topic?q=ketamine",
                 f"/{VIEW}/retracted", f"/{VIEW}?sql=select+1"):
        assert said in client.get(path).text, path
    copy = tmp_path / "copy.db"
    copy.write_bytes(snapshot.read_bytes())
    moment = datetime(2026, 11, 30, 9, 0, 59, tzinfo=timezone.utc).timestamp()
    os.utime(copy, (moment, moment))
    assert snapshot_taken(copy) == f"a snapshot of {records:,} records taken 2026-11-30 09:00 UTC"


def test_the_links_of_the_table_description_lead_somewhere_from_every_page_it_is_on(client: httpx.Client) -> None:
    """It is on every record's page too, where a link relative to the table read as a PMID: 'Record not found'."""
    for path in (f"/{VIEW}/articles", f"/{VIEW}/articles/553791"):
        page = client.get(path).text
        description = re.search(r'<div class="metadata-description">(.*?)</div>', page, re.S)[1]
        links = [html.unescape(link) for link in re.findall(r'href="([^"]+)"', description)]
        assert any(link.endswith("search_topic") for link in links)
        for link in links:
            assert client.get(urljoin(f"{client.base_url}{path}", link)).status_code == 200, (path, link)


def test_the_saved_search_says_it_lists_the_best_200_and_how_many_match_in_all(client: httpx.Client) -> None:
    """Its 200 rows, in the page and its CSV, were easily taken for the whole result."""
    page = client.get(f"/{VIEW}/search_topic", params={"q": "pain", "topic": ""}).text
    assert "the best 200 matches" in page and "matches says how many there are in all" in page
    rows = client.get(f"/{VIEW}/search_topic.json", params={"q": "pain", "topic": "", "_shape": "objects"}).json()["rows"]
    in_all = client.get(f"/{VIEW}/articles.json", params={"_search": "pain", "_size": 0}).json()["filtered_table_rows_count"]
    assert len(rows) == 200 < in_all and {r["matches"] for r in rows} == {in_all}
    within = client.get(f"/{VIEW}/search_topic.json", params={"q": "pain", "topic": "ketamine", "_shape": "objects"}).json()["rows"]
    assert {r["matches"] for r in within} == {len(within)}


@pytest.mark.parametrize("params", [{}, {"_search": "pain"}, {"topics__arraycontains": TOPICS["ketamine"]}, {"_sort_desc": "pmid"}])
def test_the_csv_link_of_a_view_gives_every_row_of_it(client: httpx.Client, params: dict) -> None:
    """It gave the first 1,000 and did not say so."""
    page = client.get(f"/{VIEW}/articles", params=params).text
    link = html.unescape(re.search(r'<a href="([^"]+)">CSV</a>', page)[1])
    rows = list(csv.DictReader(io.StringIO(client.get(link).text)))
    total = client.get(f"/{VIEW}/articles.json", params={**params, "_size": 0}).json()["filtered_table_rows_count"]
    assert len(rows) == len({r["pmid"] for r in rows}) == total
    first = client.get(f"/{VIEW}/articles.json", params={**params, "_shape": "objects"}).json()["rows"][0]
    assert rows[0]["pmid"] == str(first["pmid"])  # in the view's order
    asked = client.get(f"/{VIEW}/articles.csv", params={**params, "_size": 5})  # a page asked for is that page
    assert len(list(csv.DictReader(io.StringIO(asked.text)))) == min(5, total)


def test_a_csv_has_no_size_limit(client: httpx.Client) -> None:
    """Datasette's 100 MB cut the CSV of every row from about 55,000 records, its last line a notice that read as a record."""
    assert client.get("/-/settings.json").json()["max_csv_mb"] == 0


@pytest.mark.parametrize("params", [{"_sort": "year"}, {"_sort_desc": "journal"}])
def test_a_sort_the_table_does_not_offer_is_the_visitors_mistake_saying_which_it_offers(client: httpx.Client, params: dict) -> None:
    """Not "Error 500", as if the server had failed (a link kept from before the table sorted only so)."""
    column = next(iter(params.values()))
    said = (f"cannot sort by {column}: the table sorts by newest or pmid, the orders it pages through without losing "
            f"or repeating a row; narrow it by {column} with a facet or filter")
    response = client.get(f"/{VIEW}/articles.json", params=params)
    assert (response.status_code, response.json()["error"]) == (400, said)
    page = client.get(f"/{VIEW}/articles", params=params)
    assert page.status_code == 400 and said in html.unescape(page.text)
