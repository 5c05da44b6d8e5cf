"""Versioned PubMed records (``<PMID Version="2">``): the store keeps the latest version of a PMID."""

from __future__ import annotations

import re

import pytest

from corpus import Article
from harvester.pubmed_xml import parse_pubmed_bytes

PMID = "38011560"  # a real record (a 2023 ketamine review); its Version 2 is made from it below


def parsed(xml: bytes) -> Article:
    (record,) = parse_pubmed_bytes(b"<PubmedArticleSet>" + xml + b"</PubmedArticleSet>")
    return record


@pytest.fixture
def versions(records) -> tuple[Article, Article]:
    """Version 1 and a Version 2 of the record, with the same DateRevised and a title of its own."""
    v1 = records[PMID].xml
    v2 = v1.replace(b'<PMID Version="1">', b'<PMID Version="2">', 1).replace(b"<ArticleTitle>", b"<ArticleTitle>Version 2: ", 1)
    return parsed(v1), parsed(v2)


def test_a_version_1_copy_never_replaces_the_stored_version_2(store, versions):
    v1, v2 = versions
    assert (v1.version, v2.version, v1.revised) == (1, 2, v2.revised)
    assert store.upsert_articles([v2]).new == 1
    assert store.upsert_articles([v1]).unchanged == 1
    stored = store.get_article(PMID)
    assert stored.version == 2 and stored.title.startswith("Version 2: ")


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_of_both_versions_in_one_batch_version_2_is_kept_whatever_their_order(store, versions, order):
    store.upsert_articles([versions[i] for i in order])
    assert store.get_article(PMID).version == 2


def test_a_later_version_replaces_an_earlier_one_revised_after_it(store, versions):
    v1, v2 = versions
    store.upsert_articles([v1])
    earlier = parsed(re.sub(rb"(<DateRevised>\s*<Year>)\d{4}", rb"\g<1>2001", v2.raw_xml.encode(), count=1))
    assert earlier.revised < v1.revised and earlier.version == 2
    assert store.upsert_articles([earlier]).updated == 1
    assert store.upsert_articles([v1]).unchanged == 1
    assert store.get_article(PMID).version == 2
