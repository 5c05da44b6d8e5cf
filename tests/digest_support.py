"""Stores filled with real PubMed records and hand-written classifications, for the digest tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

from corpus.article import Article
from corpus.store import Store
from corpus.tags import Classification, TopicScore, save_classifications
from harvester.pubmed_xml import parse_pubmed_xml
from reports.sending import DigestParams, Recipient

TOPICS = {
    "tapering": "Tapering and discontinuation",
    "ketamine": "Ketamine and NMDA antagonists",
    "genetics": "Genetics and pharmacogenomics",
    "non_opioid": "Non-opioid therapies",
}
STUDY_TYPES = ["rct", "meta_analysis", "observational", "preclinical", "case_report", "systematic_review"]
MONDAY = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York, after the 07:00 due time


class Clock:
    """A settable clock for the store (first_seen, deliveries)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def real_articles(shared_data: Path, limit: int = 40) -> list[Article]:
    """Real records with a title and an abstract, from the one-record efetch files."""
    articles = []
    for path in sorted((shared_data / "pubmed-xml" / "metapub").glob("*.xml")):
        for record in parse_pubmed_xml(path):
            if isinstance(record, Article) and record.title and record.abstract_sections:
                articles.append(record)
        if len(articles) >= limit:
            break
    return articles[:limit]


def created_on(articles: list[Article], day: date) -> list[Article]:
    """The records as if PubMed had created them on ``day``: news, as a harvest finds it, not backfill."""
    return [replace(article, created=day.isoformat()) for article in articles]


def key_finding(article: Article) -> str:
    """The last abstract section's first sentence, verbatim (what the classifier quotes)."""
    return article.abstract_sections[-1].text.split(". ")[0]


def classify(article: Article, index: int, relevance: float | None = None) -> Classification:
    """Deterministic tags: every 5th record off-topic, every 7th without a topic, topics cycling."""
    names = list(TOPICS)
    topics = [] if index % 7 == 3 else [TopicScore(names[index % 4], 0.6 + (index % 4) / 10, True)]
    if index % 6 == 1:
        topics.append(TopicScore(names[(index + 1) % 4], 0.55, True, "curator"))
    topics.append(TopicScore(names[(index + 2) % 4], 0.1, False))
    if relevance is None:
        relevance = 0.2 if index % 5 == 4 else 0.9
    return Classification(article.pmid, relevance, STUDY_TYPES[index % len(STUDY_TYPES)], key_finding(article), "test", topics)


@contextmanager
def filled_store(shared_data: Path, clock: Clock, limit: int = 40) -> Iterator[tuple[Store, list[Article]]]:
    """An in-memory store of ``limit`` real records created on the clock's day and classified, and those
    records; closed on leaving the block, as Python 3.13 warns of an SQLite connection left to the collector."""
    with Store(":memory:", clock=clock) as store:
        articles = created_on(real_articles(shared_data, limit), clock.now.date())
        store.upsert_articles(articles)
        save_classifications(store, [classify(a, i) for i, a in enumerate(articles)])
        yield store, articles


def params(recipients: tuple[Recipient, ...] = (Recipient("all@example.org"),), **changes) -> DigestParams:
    values = dict(title="OIH evidence digest", topics=TOPICS, relevance_threshold=0.5, recipients=recipients,
                  sender="digest@example.org", timezone="America/New_York")
    values.update(changes)
    return DigestParams(**values)


def words(text: str) -> str:
    """``text`` with its whitespace collapsed: what a reader reads across the lines of the filled plain-text part."""
    return " ".join(text.split())


def parts(message) -> tuple[str, str]:
    """The decoded text and HTML bodies of an e-mail (an EmailMessage, or the path of an .eml file)."""
    import email
    from email.policy import default

    if isinstance(message, Path):
        message = email.message_from_bytes(message.read_bytes(), policy=default)
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
