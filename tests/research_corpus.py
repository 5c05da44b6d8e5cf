"""A corpus of real records for the search, export and serve tests, with stand-in classifications.

Real PubMed XML from ``shared/data/pubmed-xml`` goes through the harvester's parser; the
opioid and pain records of ``corpus.jsonl`` that the XML lacks are added as plain articles.
Until the classifier lands, keyword rules here write the tags, so every filter has
something real to find. One retracted copy of a ketamine record is added (the shared data
has no retraction notice).
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from corpus.article import Article, Link
from corpus.store import Store
from corpus.tags import Classification, TopicScore, save_classifications
from harvester.jsonl import parse_jsonl
from harvester.pubmed_xml import parse_pubmed_xml

RETRACTED_PMID = "99000001"
TOPIC_RULES = {
    "ketamine": r"ketamin|\bnmda|dextromethorphan|memantine",
    "tapering": r"\btaper|discontinu|withdrawal|deprescrib",
    "genetics": r"polymorphi|genotyp|oprm1|cyp2d6|\bcomt\b",
    "non_opioid": r"gabapentin|pregabalin|\bnsaid|ibuprofen|celecoxib|clonidine",
}
STUDY_TYPE_RULES = [
    ("Meta-Analysis", "meta_analysis"),
    ("Systematic Review", "systematic_review"),
    ("Randomized Controlled Trial", "rct"),
    ("Clinical Trial", "clinical_trial"),
    ("Case Reports", "case_report"),
    ("Review", "review"),
]


def real_articles(shared_data: Path) -> Iterator[Article]:
    seen: set[str] = set()
    for path in sorted((shared_data / "pubmed-xml").rglob("*.xml*")):
        for record in parse_pubmed_xml(path, on_skip=lambda skipped: None):
            if isinstance(record, Article) and record.pmid not in seen:
                seen.add(record.pmid)
                yield record
    with open(shared_data / "corpus.jsonl", encoding="utf-8") as lines:
        for article in parse_jsonl(lines, name="corpus.jsonl"):
            if article.pmid not in seen:
                seen.add(article.pmid)
                yield dataclasses.replace(article, source="corpus.jsonl")


def stand_in_classification(article: Article) -> Classification:
    text = f"{article.title}\n{article.abstract}".lower()
    topics = []
    for topic, rule in TOPIC_RULES.items():
        score = 0.9 if re.search(rule, article.title.lower()) else 0.7 if re.search(rule, text) else 0.05
        topics.append(TopicScore(topic, score, score >= 0.5, "rule"))
    study_type = next((name for pt, name in STUDY_TYPE_RULES if pt in article.publication_types), "other")
    sentences = re.split(r"(?<=\.)\s+", article.abstract.strip())
    return Classification(
        article.pmid,
        relevance=0.8 if "hyperalges" in text else 0.1,
        study_type=study_type,
        key_finding=sentences[-1] if article.abstract else "",
        model_version="stand-in",
        topics=topics,
    )


def build_research_store(shared_data: Path, path: Path) -> Store:
    """A store at ``path`` of every real record; records without an abstract stay unclassified."""
    store = Store(path)
    articles = list(real_articles(shared_data))
    ketamine = next(a for a in articles if "ketamin" in a.title.lower() and a.abstract)
    retracted = dataclasses.replace(
        ketamine,
        pmid=RETRACTED_PMID,
        publication_types=[*ketamine.publication_types, "Retracted Publication"],
        links=[Link("RetractionIn", "99000002")],
    )
    articles.append(retracted)
    store.upsert_articles(articles)
    save_classifications(store, [stand_in_classification(a) for a in articles if a.abstract])
    return store


def copy_store(source: Path, target: Path) -> Path:
    """A copy of the corpus at ``source`` at ``target`` (SQLite's backup: whole, whatever its write-ahead log holds)."""
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    original.close()
    copy.close()
    return target
