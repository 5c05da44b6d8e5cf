"""Retraction, erratum and expression-of-concern notices (and partial retractions, corrected republications)
flag the paper they concern, whichever comes first.

The originals are real records of the shared data as NLM first published them (no link back to the
notice yet); the notices are tests/fixtures/notices.xml.
"""

from __future__ import annotations

import io
import sqlite3
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

import corpus.store as store_module
from corpus.article import Article
from corpus.exports import article_record
from corpus.ledger import standing_marks
from corpus.schema import MIGRATIONS
from corpus.search import Filters, search
from corpus.store import Store
from corpus.tags import Classification, TopicScore, save_classifications
from digest_support import MONDAY, Clock, filled_store, params, parts
from harvester.medline import parse_medline
from harvester.pubmed_xml import parse_pubmed_xml
from reports.delivery import OutboxTransport
from reports.sending import send_due_digest

NOTICES = Path(__file__).parent / "fixtures" / "notices.xml"
RETRACTED, CORRECTED, CONCERNED = "24084238", "23657305", "24349601"


@pytest.fixture
def originals(shared_data) -> list[Article]:
    folder = shared_data / "pubmed-xml" / "metapub"
    return [next(iter(parse_pubmed_xml(folder / f"{pmid}.xml"))) for pmid in (RETRACTED, CORRECTED, CONCERNED)]


def notices() -> list[Article]:
    return list(parse_pubmed_xml(NOTICES))


def assert_flagged(store: Store) -> None:
    assert standing_marks(store.get_article(RETRACTED)) == {"retracted"}
    assert standing_marks(store.get_article(CORRECTED)) == {"ErratumIn:99000011"}
    assert standing_marks(store.get_article(CONCERNED)) == {"ExpressionOfConcernIn:99000012"}
    flags = dict(store.db.execute("SELECT pmid, retracted FROM articles WHERE pmid IN (?, ?, ?)", (RETRACTED, CORRECTED, CONCERNED)))
    assert flags == {RETRACTED: 1, CORRECTED: 0, CONCERNED: 0}


def test_a_notice_flags_the_paper_stored_before_it_and_a_stale_copy_cannot_clear_it(store, originals):
    assert not any(standing_marks(a) for a in originals)
    store.upsert_articles(originals)
    counts = store.upsert_articles(notices())
    assert (counts.new, counts.updated) == (3, 0)  # the originals it flags are not counted as the batch's own
    assert_flagged(store)
    again = store.upsert_articles([*originals, *notices()])  # the sweep brings the originals not yet revised
    assert again.unchanged == 6
    assert_flagged(store)


def test_a_paper_stored_after_its_notice_is_flagged_on_arrival(store, originals):
    store.upsert_articles(notices())
    assert store.count_articles() == 3
    store.upsert_articles(originals)
    assert_flagged(store)


def test_readers_see_the_flag(store, originals):
    store.upsert_articles([*notices(), *originals])
    assert article_record(store.get_article(RETRACTED), None)["retracted"] is True
    listed = {hit.pmid for hit in search(store, "miRNA")}
    assert RETRACTED not in listed and RETRACTED in {hit.pmid for hit in search(store, "miRNA", Filters(include_retracted=True))}


# A corrected version of 23657305 that NLM republished (PubMed XML names the link
# CorrectedandRepublishedFrom), and a partial retraction of 24349601 as a MEDLINE (.nbib) record: the
# XML has no RefType for partial retractions, MEDLINE's is PROF. PMIDs 99000013-99000014 are invented.
REPUBLISHED = f"""<PubmedArticleSet><PubmedArticle>
  <MedlineCitation Status="PubMed-not-MEDLINE" Owner="NLM"><PMID Version="1">99000013</PMID>
    <Article PubModel="Print">
      <Journal><JournalIssue CitedMedium="Internet"><PubDate><Year>2026</Year></PubDate></JournalIssue><Title>Arquivos de gastroenterologia</Title></Journal>
      <ArticleTitle>Hfe mutations and iron overload in patients with alcoholic liver disease.</ArticleTitle>
      <PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
    </Article>
    <CommentsCorrectionsList><CommentsCorrections RefType="CorrectedandRepublishedFrom"><RefSource>Arq Gastroenterol. 2013</RefSource><PMID Version="1">{CORRECTED}</PMID></CommentsCorrections></CommentsCorrectionsList>
  </MedlineCitation>
  <PubmedData><ArticleIdList><ArticleId IdType="pubmed">99000013</ArticleId></ArticleIdList></PubmedData>
</PubmedArticle></PubmedArticleSet>""".encode()
PARTIAL_RETRACTION = f"""PMID- 99000014
STAT- Publisher
DP  - 2026 Nov
TI  - Partial retraction: Genes, Economics, and Happiness.
PT  - Retraction of Publication
PROF- J Neurosci Psychol Econ. 2012 Dec;5(4):193-211. PMID: {CONCERNED}
CRDT- 2026/11/25 06:00

"""


def corrections() -> list[Article]:
    """The republished version and the partial retraction, as the XML and MEDLINE readers give them."""
    return [*parse_pubmed_xml(REPUBLISHED), *parse_medline(io.StringIO(PARTIAL_RETRACTION))]


@pytest.mark.parametrize("notices_first", [False, True])
def test_a_corrected_republication_or_partial_retraction_flags_the_paper_it_concerns(store, originals, notices_first):
    store.upsert_articles([*corrections(), *originals] if notices_first else [*originals, *corrections()])
    assert standing_marks(store.get_article(CORRECTED)) == {"CorrectedandRepublishedIn:99000013"}
    assert standing_marks(store.get_article(CONCERNED)) == {"PartialRetractionIn:99000014"}
    assert not store.get_article(CONCERNED).retracted  # in part: still found by search and exports
    republished, partial = corrections()
    assert not republished.is_notice and partial.is_notice  # the corrected version is a paper to list


def test_a_paper_retracted_and_replaced_is_retracted_and_names_its_replacement(store, originals):
    # MEDLINE's RRF: the replacing version (invented PMID 99000015) names the paper it replaced.
    replacement = parse_medline(io.StringIO(
        f"PMID- 99000015\nDP  - 2026 Nov\nTI  - Genes, Economics, and Happiness (replacement).\n"
        f"PT  - Journal Article\nRRF - J Neurosci Psychol Econ. 2012 Dec;5(4):193-211. PMID: {CONCERNED}\n\n"))
    store.upsert_articles([*originals, *replacement])
    replaced = store.get_article(CONCERNED)
    assert replaced.retracted and standing_marks(replaced) == {"retracted", "RetractedandRepublishedIn:99000015"}
    assert not store.get_article("99000015").is_notice  # the replacement is a paper to list


def test_opening_a_store_written_under_older_rules_derives_its_columns_again(originals, tmp_path):
    """A paper retracted and replaced, stored before such a link counted as a retraction (schema 5): its
    content is the same, so storing it again kept the row, and it stayed in search and exports."""
    replacement = parse_medline(io.StringIO(
        f"PMID- 99000015\nDP  - 2026 Nov\nTI  - Genes, Economics, and Happiness (replacement).\n"
        f"PT  - Journal Article\nRRF - J Neurosci Psychol Econ. 2012 Dec;5(4):193-211. PMID: {CONCERNED}\n\n"))
    with Store(tmp_path / "old.db") as before:
        before.upsert_articles([*originals, *replacement])
        before.db.execute("UPDATE articles SET retracted = 0 WHERE pmid = ?", (CONCERNED,))  # as the older rules wrote it
        before.db.execute("PRAGMA user_version = 5")
        stamps = dict(before.db.execute("SELECT pmid, last_updated FROM articles"))
        assert CONCERNED in [a.pmid for a in search(before, "happiness", Filters())]  # listed as a current paper
    with Store(tmp_path / "old.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.db.execute("SELECT retracted FROM articles WHERE pmid = ?", (CONCERNED,)).fetchone()[0] == 1
        assert CONCERNED not in [a.pmid for a in search(store, "happiness", Filters())]
        assert CONCERNED in [a.pmid for a in search(store, "happiness", Filters(include_retracted=True))]  # still indexed
        assert dict(store.db.execute("SELECT pmid, last_updated FROM articles")) == stamps  # nothing else rewritten
        assert store._rederive() == 0  # every row now as today's rules derive it


def version_3_store(path: Path, articles: list[Article]) -> None:
    """A corpus of ``articles`` as oihwatch wrote it before notices had their table (schema 3)."""
    with pytest.MonkeyPatch.context() as old:
        old.setattr(Store, "_with_notices", lambda self, article: article)
        old.setattr(Article, "concerned", lambda self: [])
        with Store(path) as before:
            before.upsert_articles(articles)
            assert not before.get_article(RETRACTED).retracted
            before.db.execute("DROP TABLE notices")
            before.db.execute("PRAGMA user_version = 3")


def test_opening_an_older_store_flags_the_papers_of_the_notices_it_holds(originals, tmp_path):
    version_3_store(tmp_path / "old.db", [*originals, *notices()])
    with Store(tmp_path / "old.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert_flagged(store)
    with closing(sqlite3.connect(tmp_path / "old.db")) as db:  # sqlite3's own with leaves it open
        assert db.execute("SELECT COUNT(*) FROM notices").fetchone()[0] == 3


def test_an_older_store_upgrades_past_a_later_change_to_the_articles_table(originals, tmp_path, monkeypatch):
    version_3_store(tmp_path / "old.db", [*originals, *notices()])
    # A later migration adds a column that the store's code then fills: migration 4 must not write
    # records with that code before the column exists.
    monkeypatch.setattr("corpus.store.MIGRATIONS", [*MIGRATIONS, "ALTER TABLE articles ADD COLUMN issn TEXT NOT NULL DEFAULT '';"])
    row = store_module._article_row
    monkeypatch.setattr("corpus.store._article_row", lambda article, *rest: {**row(article, *rest), "issn": article.issn})
    with Store(tmp_path / "old.db") as store:
        assert store.schema_version == len(MIGRATIONS) + 1
        assert_flagged(store)


def test_two_processes_opening_the_same_older_store_both_upgrade_it(originals, tmp_path, monkeypatch):
    version_3_store(tmp_path / "old.db", [*originals, *notices()])
    began = threading.Semaphore(0)
    connect = sqlite3.connect

    def traced(*args, **kwargs):  # tells when a store asks for the write lock
        db = connect(*args, **kwargs)
        db.set_trace_callback(lambda sql: sql.startswith("BEGIN") and began.release())
        return db

    monkeypatch.setattr("corpus.store.sqlite3.connect", traced)
    holder = connect(tmp_path / "old.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # both read version 3 and wait for the lock, as two processes may
    opened, failed = [], []

    def open_store():
        try:
            opened.append(Store(tmp_path / "old.db"))
        except Exception as exc:  # reported by the assertion below
            failed.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert began.acquire(timeout=10)
    holder.execute("ROLLBACK")
    for thread in threads:
        thread.join()
    holder.close()
    assert failed == [] and [store.schema_version for store in opened] == [len(MIGRATIONS)] * 2
    assert_flagged(opened[0])
    for store in opened:
        store.close()


def test_the_digest_warns_about_a_notice_and_never_lists_it(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=12) as (store, articles):
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        sent = {row[0] for row in store.db.execute("SELECT pmid FROM digest_items")}
        assert {RETRACTED, CORRECTED, CONCERNED} <= sent

        clock.now = MONDAY + timedelta(days=2)
        store.upsert_articles(notices())  # new records of the week, classified like any other
        save_classifications(store, [Classification(n.pmid, 0.9, "other", "", "t",
                                                    [TopicScore("ketamine", 0.8, True), TopicScore("tapering", 0.7, True)])
                                     for n in notices()])
        outcome = send_due_digest(store, params(), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path))
        assert outcome.items == 0
        text, html = parts(tmp_path / "2026-W49" / "all@example.org.eml")
        assert "Retracted: Challenges in the miRNA research." in text
        assert "Erratum published (PMID 99000011): Hfe mutations" in text
        assert "Expression of concern (PMID 99000012): Genes, Economics, and Happiness." in text
        assert "Nothing new on opioid-induced hyperalgesia" in text
        for notice in notices():
            assert notice.title not in text and notice.title not in html
