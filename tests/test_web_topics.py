"""The web view's topic filters: a topic named by its label or its name selects it, any other is refused (400)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("datasette")

from conftest import DATASETTE_UNCLOSED  # noqa: E402
from corpus.store import Store  # noqa: E402
from oihwatch.web.server import make_datasette, snapshot_path  # noqa: E402
from oihwatch.web.snapshot import build_snapshot  # noqa: E402
from test_serve import KETAMINE, TOPICS, VIEW, served  # noqa: E402

pytestmark = [DATASETTE_UNCLOSED, pytest.mark.usefixtures("datasette_garbage")]  # Datasette's own connections: see conftest

TABLE = f"/{VIEW}/articles"


@pytest.fixture(scope="module")
def client(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    target = snapshot_path(tmp_path_factory.mktemp("topics") / "corpus.db")
    with Store(research_store_path) as store:
        build_snapshot(store, target, 0.5, TOPICS)
    with served(make_datasette(target, TOPICS)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def pmids(client: httpx.Client, params: dict) -> list[int]:
    """The PMIDs of every row of the table as filtered, in its order, from its CSV."""
    response = client.get(f"{TABLE}.csv", params=params)
    assert response.status_code == 200, response.text[:300]
    return [int(row["pmid"]) for row in csv.DictReader(io.StringIO(response.text))]


@pytest.mark.parametrize("given", ["ketamine", "Ketamine", "KETAMINE", " ketamine ", KETAMINE.upper()])
@pytest.mark.parametrize("operation", ["arraycontains", "arraynotcontains"])
def test_a_topic_named_by_its_name_in_any_case_selects_it_as_its_label_does(client: httpx.Client, given: str, operation: str) -> None:
    """A link kept from the view that filtered by name answered 200 with no rows, which reads as 'no papers on that'."""
    filters = {f"topics__{operation}": given}
    by_label = pmids(client, {f"topics__{operation}": KETAMINE})
    assert by_label and pmids(client, filters) == by_label
    page = client.get(f"{TABLE}.json", params={**filters, "_shape": "objects"}).json()
    assert (page["filtered_table_rows_count"], [row["pmid"] for row in page["rows"]]) == (len(by_label), by_label[:len(page["rows"])])
    said = f'topics {"contains" if operation == "arraycontains" else "does not contain"} "{KETAMINE}"'
    page = client.get(TABLE, params=filters)
    assert page.status_code == 200 and said in html.unescape(page.text)


def test_the_filter_form_naming_a_topic_by_its_name_selects_it(client: httpx.Client) -> None:
    """The table's filter form sends column, operation and value apart; Datasette redirects them to the filter."""
    form = {"_filter_column": "topics", "_filter_op": "arraycontains", "_filter_value": "ketamine"}
    page = client.get(TABLE, params=form, follow_redirects=True)
    assert page.status_code == 200 and f'topics contains "{KETAMINE}"' in html.unescape(page.text)


def test_every_topic_facet_link_of_the_view_narrows_to_its_count(client: httpx.Client) -> None:
    """A configured topic's label, and the name a topic no longer configured keeps (non_opioid), as the facet links them."""
    facet = client.get(f"{TABLE}.json", params={"_size": 0}).json()["facet_results"]["topics"]["results"]
    assert {KETAMINE, "non_opioid"} <= {item["value"] for item in facet}
    for item in facet:
        narrowed = client.get(item["toggle_url"])
        assert (narrowed.status_code, narrowed.json()["filtered_table_rows_count"]) == (200, item["count"]), item["value"]


def test_a_configured_topic_no_paper_has_is_no_rows_not_an_error(client: httpx.Client) -> None:
    assert pmids(client, {"topics__arraycontains": "hypnosis"}) == pmids(client, {"topics__arraycontains": "Hypnosis"}) == []


@pytest.mark.parametrize("params", [{"topics__arraycontains": "ketamin"}, {"topics__arraynotcontains": "Non_opioid"},
                                    {"topics__arraycontains": "ketamine", "topics__arraynotcontains": ""}])
def test_a_topic_neither_configured_nor_in_the_view_is_the_visitors_mistake_saying_which_there_are(client: httpx.Client,
                                                                                                   params: dict) -> None:
    """Not 200 and no rows, which reads as 'no papers on that'."""
    given = [value for value in params.values() if value != "ketamine"][0]
    said = (f"unknown topic {given!r}: the topics are Tapering and discontinuation (tapering), Ketamine and NMDA antagonists "
            "(ketamine), Hypnosis (hypnosis), genetics, non_opioid; filter by a label or a name")
    response = client.get(f"{TABLE}.json", params=params)
    assert (response.status_code, response.json()["error"]) == (400, said)
    page = client.get(TABLE, params=params)
    assert page.status_code == 400 and said in html.unescape(page.text)
    assert client.get(f"{TABLE}.csv", params=params).status_code == 400
