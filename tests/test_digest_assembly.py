"""Digest assembly, due dates and the ledger: pure units and in-memory stores."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest

from corpus.article import NOTICE_WORDS, RETRACTION_LINK, WARNING_LINKS, Article, Author, Link
from corpus.errors import ConfigError
from corpus.evidence import evidence_rank
from corpus.ledger import deliveries, digest_items, find_digest, record_digest, standing_marks
from corpus.store import Store
from corpus.tags import Classification, TopicScore, save_classifications
from digest_support import MONDAY, TOPICS, Clock, filled_store, params, parts, real_articles, words
from reports.assembly import OTHER, OTHER_LABEL, assemble_digest, for_recipient, short_authors
from reports.delivery import OutboxTransport
from reports.period import current_period, digest_due, latest_due
from reports.sending import Recipient, preview_digest, send_due_digest
from test_digest_render import visible_text

UTC = timezone.utc


def article(pmid: str, date: str = "2026-01-01", created: str = "2026-11-20", **fields) -> Article:
    """A record PubMed created in the week before ``MONDAY`` (published on ``date``)."""
    return Article(pmid=pmid, title=f"Title {pmid}", pub_date=date, pub_date_sort=date, created=created, **fields)


def classification(pmid: str, study_type: str = "rct", topics=(), relevance: float = 0.9) -> Classification:
    return Classification(pmid, relevance, study_type, f"Finding {pmid}.", "t", [TopicScore(t, 0.8, True) for t in topics])


def assemble(articles, classifications, **extra):
    return assemble_digest(articles, {c.pmid: c for c in classifications}, topics=TOPICS, threshold=0.5,
                           title="T", period="2026-W48", since="2026-11-16T12:00:00+00:00",
                           until="2026-11-23T12:00:00+00:00", zone="America/New_York", **extra)


# -- when a digest is due ---------------------------------------------------------------------

def test_latest_due_is_the_configured_weekday_and_local_time():
    due = latest_due("mon", "07:00", "America/New_York", datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    assert due.isoformat() == "2026-11-23T07:00:00-05:00"
    before = latest_due("mon", "07:00", "America/New_York", datetime(2026, 11, 23, 11, 59, tzinfo=UTC))
    assert before.isoformat() == "2026-11-16T07:00:00-05:00"  # 06:59 in New York: last week's is the latest


def test_the_hour_dst_repeats_keeps_the_week_whose_digest_fell_due():
    # 2026-11-01: New York's clocks go back at 02:00 EDT, so 01:00-02:00 comes twice; due Sunday 01:30 EDT.
    for utc_hour, utc_minute in ((5, 45), (6, 15), (6, 45)):  # 01:45 EDT, then 01:15 and 01:45 EST
        due = latest_due("sun", "01:30", "America/New_York", datetime(2026, 11, 1, utc_hour, utc_minute, tzinfo=UTC))
        assert due.isoformat() == "2026-11-01T01:30:00-04:00"


def test_digest_due_once_per_period_and_missed_weeks_collapse(tmp_path):
    with Store(":memory:", clock=Clock(MONDAY)) as store:
        three_weeks_later = MONDAY + timedelta(weeks=3)
        assert digest_due(store, "mon", "07:00", "America/New_York", three_weeks_later) == "2026-W51"
        send_due_digest(store, params(), three_weeks_later, OutboxTransport(tmp_path))
        assert digest_due(store, "mon", "07:00", "America/New_York", three_weeks_later + timedelta(days=2)) is None
        assert digest_due(store, "mon", "07:00", "America/New_York", three_weeks_later + timedelta(days=7)) == "2026-W52"
        assert current_period("mon", "07:00", "UTC", MONDAY) == "2026-W48"


# -- grouping and order -------------------------------------------------------------------------

def test_sections_follow_topic_order_and_a_record_sits_under_each_of_its_topics():
    digest = assemble(
        [article("1"), article("2"), article("3"), article("4")],
        [classification("1", topics=["ketamine", "tapering"]), classification("2", topics=["ketamine"]),
         classification("3"), classification("4", topics=["genetics"], relevance=0.1)],
    )
    assert [(s.label, [i.pmid for i in s.items]) for s in digest.sections] == [
        (TOPICS["tapering"], ["1"]), (TOPICS["ketamine"], ["2", "1"]), (OTHER_LABEL, ["3"])]
    assert [i.pmid for i in digest.items] == ["1", "2", "3"]  # counted once each


def test_strongest_evidence_first_then_newest():
    digest = assemble(
        [article("1", "2026-03-01"), article("2", "2026-05-01"), article("3", "2025-01-01"), article("4", "2026-06-01")],
        [classification("1", "rct", ["ketamine"]), classification("2", "rct", ["ketamine"]),
         classification("3", "meta_analysis", ["ketamine"]), classification("4", "case_report", ["ketamine"])],
    )
    assert [i.pmid for i in digest.sections[0].items] == ["3", "2", "1", "4"]
    assert [i.pmid for i in digest.strongest] == ["3", "2", "1"]  # a case report is never "strongest"
    assert evidence_rank("no-such-type") > evidence_rank("other")


def test_unclassified_records_are_left_out_and_counted():
    digest = assemble([article("1"), article("2")], [classification("1")])
    assert [i.pmid for i in digest.items] == ["1"] and digest.unclassified == 1


def test_a_recipient_sees_their_topics_then_the_oih_papers_no_topic_fits():
    """Most OIH papers fit no topic (19 of the 31 about OIH in the shared corpus): a topic list must not drop them."""
    digest = assemble([article("1"), article("2"), article("3")],
                      [classification("1", topics=["ketamine"]), classification("2", topics=["genetics"]), classification("3")])
    assert [s.topic for s in for_recipient(digest, ["genetics"]).sections] == ["genetics", OTHER]
    assert [i.pmid for i in for_recipient(digest, ["genetics"]).items] == ["2", "3"]
    assert for_recipient(digest, []) is digest
    assert [s.label for s in for_recipient(digest, ["tapering"]).sections] == [OTHER_LABEL]
    no_other = assemble([article("1")], [classification("1", topics=["ketamine"])])
    assert for_recipient(no_other, ["tapering"]).sections == ()


def test_item_fields():
    authors = [Author("Smith", initials="J"), Author("Lee", initials="K"), Author("Ng", initials="A"), Author("Ox", initials="B")]
    a = article("7", doi="10.1/x", authors=authors, journal="Pain")
    item = assemble([a], [classification("7", "systematic_review", ["tapering"])]).items[0]
    assert item.authors == "Smith J, Lee K, Ng A et al."
    assert item.url == "https://pubmed.ncbi.nlm.nih.gov/7/" and item.doi_url == "https://doi.org/10.1/x"
    assert item.study_label == "Systematic review" and item.tags[0].label == TOPICS["tapering"] and item.tags[0].confidence == "likely"
    assert short_authors(["A", "B"]) == "A, B"


# -- warnings and updates, through the ledger ----------------------------------------------------

def test_retraction_of_a_sent_record_is_warned_about_once(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=12) as (store, articles):
        first = send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        sent_pmid = next(iter(sorted(p for p, in store.db.execute("SELECT pmid FROM digest_items"))))
        assert first.items and not find_digest(store, "2026-W48") is None

        original = store.get_article(sent_pmid)
        retracted = dataclasses.replace(original, publication_types=[*original.publication_types, "Retracted Publication"],
                                        links=[*original.links, Link("RetractionIn", "99999999")])
        assert standing_marks(retracted) == {"retracted"}
        clock.now = MONDAY + timedelta(days=3)
        store.upsert_articles([retracted])

        next_week = MONDAY + timedelta(weeks=1)
        outcome = send_due_digest(store, params(), next_week, OutboxTransport(tmp_path))
        assert outcome.new
        text, html = parts(tmp_path / "2026-W49" / "all@example.org.eml")
        assert "retracted or corrected" in html and f"pubmed.ncbi.nlm.nih.gov/{sent_pmid}/" in html
        assert html.index("retracted or corrected") < html.index("Nothing new on")  # at the top
        assert "WARNING" in text and "Retracted:" in text

        send_due_digest(store, params(), next_week + timedelta(weeks=1), OutboxTransport(tmp_path))
        later, _ = parts(tmp_path / "2026-W50" / "all@example.org.eml")
        assert "retracted or corrected" not in later  # once


def test_an_erratum_is_warned_about_and_the_corrected_paper_is_not_listed_again(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=6) as (store, articles):
        first = send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        pmid = sorted(p for p, in store.db.execute("SELECT pmid FROM digest_items"))[0]
        original = store.get_article(pmid)
        corrected = dataclasses.replace(original, links=[*original.links, Link("ErratumIn", "123")])
        clock.now = MONDAY + timedelta(days=1)
        store.upsert_articles([corrected])
        save_classifications(store, [classification(pmid)])  # a revised record is classified again
        # a window reaching back over the first digest's: its papers, the corrected one too, are not news again
        outcome = send_due_digest(store, params(), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path), since=MONDAY.date() - timedelta(days=3))
        text, html = parts(tmp_path / "2026-W49" / "all@example.org.eml")
        assert "Erratum published (PMID 123)" in text and "Erratum published (PMID 123)" in visible_text(html)
        assert "Nothing new on opioid-induced hyperalgesia" in text and "updated since first sent" not in text
        assert outcome.items == 0 and outcome.listed_earlier == first.items


ERRATUM_CITED = "Erratum published (Pain. 2020 Mar;161(3):e1)"  # NLM links most older errata by where they were printed


def test_a_paper_listed_with_a_concern_and_an_erratum_already_says_so_beside_its_title(shared_data, tmp_path):
    """A clinician must hear of an expression of concern on a paper the digest puts before them, not only of
    one that comes later; an erratum NLM links by no PMID is named by where it was printed."""
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=6) as (store, _):
        pmid = preview_digest(store, params(), MONDAY).items[0].pmid
        original = store.get_article(pmid)
        store.upsert_articles([dataclasses.replace(original, links=[
            *original.links, Link("ErratumIn", source="Pain. 2020 Mar;161(3):e1"), Link("ExpressionOfConcernIn", "555")])])
        save_classifications(store, [classification(pmid)])  # a revised record is classified again
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path), archive_dir=tmp_path / "archive")
        text, html = parts(tmp_path / "2026-W48" / "all@example.org.eml")
        page = (tmp_path / "archive" / "2026-W48.html").read_text(encoding="utf-8")
        item = words(text).split(words(original.title)[:40])[1].split("PubMed:")[0]
        assert "[Expression of concern (PMID 555)] [" + ERRATUM_CITED + "]" in item  # the heaviest first
        for part in (visible_text(html), visible_text(page)):
            assert part.count("Expression of concern (PMID 555)") == part.count(ERRATUM_CITED) >= 1
            assert part.index("Expression of concern (PMID 555)") < part.index(ERRATUM_CITED)
        assert "WARNING" not in text  # nothing came after it was listed


def test_an_erratum_linked_by_no_pmid_is_warned_about_by_where_it_was_printed(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=6) as (store, _):
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path), archive_dir=tmp_path / "archive")
        pmid = sorted(p for p, in store.db.execute("SELECT pmid FROM digest_items"))[0]
        original = store.get_article(pmid)
        clock.now = MONDAY + timedelta(days=1)
        store.upsert_articles([dataclasses.replace(original, links=[*original.links, Link("ErratumIn", source="Pain. 2020 Mar;161(3):e1")])])
        save_classifications(store, [classification(pmid)])
        send_due_digest(store, params(), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path), archive_dir=tmp_path / "archive")
        text, html = parts(tmp_path / "2026-W49" / "all@example.org.eml")
        assert ERRATUM_CITED in words(text) and ERRATUM_CITED in visible_text(html)
        listing = (tmp_path / "archive" / "2026-W48.html").read_text(encoding="utf-8")
        assert "Erratum published since this digest" in listing and ERRATUM_CITED not in listing  # said once, as news since


@pytest.mark.parametrize("kind, words", [("CorrectedandRepublishedIn", "Corrected and republished (PMID 123)"),
                                         ("PartialRetractionIn", "Partially retracted (PMID 123)"),
                                         ("RetractedandRepublishedIn", "Retracted and replaced (PMID 123)")])
def test_a_sent_paper_republished_corrected_or_partly_retracted_is_warned_about_once(shared_data, tmp_path, kind, words):
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=6) as (store, articles):
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        pmid = sorted(p for p, in store.db.execute("SELECT pmid FROM digest_items"))[0]
        original = store.get_article(pmid)
        clock.now = MONDAY + timedelta(days=1)
        store.upsert_articles([dataclasses.replace(original, links=[*original.links, Link(kind, "123")], revised="2026-11-24")])
        send_due_digest(store, params(), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path))
        text, html = parts(tmp_path / "2026-W49" / "all@example.org.eml")
        assert "WARNING" in text and words in text and words in visible_text(html)
        send_due_digest(store, params(), MONDAY + timedelta(weeks=2), OutboxTransport(tmp_path))
        assert words not in parts(tmp_path / "2026-W50" / "all@example.org.eml")[0]  # once


def test_warnings_come_heaviest_first_retractions_then_partial_retraction_concern_republished_corrected_errata(
        shared_data, tmp_path):
    """A retraction is what changes practice: it leads, in the e-mail and on the archive page of the digest that
    listed the papers, whatever order the papers were sent or marked in."""
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=12) as (store, _):
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path), archive_dir=tmp_path / "archive")
        sent = sorted(p for p, in store.db.execute("SELECT pmid FROM digest_items"))
        kinds = ["ErratumIn", "CorrectedandRepublishedIn", "ExpressionOfConcernIn", "PartialRetractionIn", "RetractionIn"]
        clock.now = MONDAY + timedelta(days=1)
        for pmid, kind, notice in zip(sent, kinds, range(101, 106)):
            original = store.get_article(pmid)
            store.upsert_articles([dataclasses.replace(original, links=[*original.links, Link(kind, str(notice))])])
            save_classifications(store, [classification(pmid)])
        send_due_digest(store, params(), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path), archive_dir=tmp_path / "archive")
        expected = [(sent[4], "Retracted"), (sent[3], "Partially retracted (PMID 104)"), (sent[2], "Expression of concern (PMID 103)"),
                    (sent[1], "Corrected and republished (PMID 102)"), (sent[0], "Erratum published (PMID 101)")]
        text, html = parts(tmp_path / "2026-W49" / "all@example.org.eml")
        page = (tmp_path / "archive" / "2026-W48.html").read_text(encoding="utf-8")
        for part in (text, html, page):
            shown = [part.index(f"pubmed.ncbi.nlm.nih.gov/{pmid}/") for pmid, _ in expected]
            read = part if part is text else visible_text(part)  # a notice's PMID is a link there
            notices = [read.index(f"{words}:" if part is not page else f"{words} since this digest") for _, words in expected]
            assert shown == sorted(shown) and notices == sorted(notices)


def test_every_warning_link_has_words_for_readers():
    assert set(NOTICE_WORDS) == WARNING_LINKS - {RETRACTION_LINK}


def test_send_empty_off_skips_recipients_with_nothing_in_their_topics(tmp_path):
    with Store(":memory:", clock=Clock(MONDAY - timedelta(days=1))) as store:
        store.upsert_articles([article("1")])
        save_classifications(store, [classification("1", topics=["ketamine"])])
        recipients = (Recipient("k@example.org", ("ketamine",)), Recipient("g@example.org", ("genetics",)))
        outcome = send_due_digest(store, params(recipients, send_empty=False), MONDAY, OutboxTransport(tmp_path))
        assert outcome.delivered == ["k@example.org"] and outcome.skipped_empty == ["g@example.org"]
        listed = {d.recipient: d.status for d in deliveries(store, find_digest(store, "2026-W48").id)}
        assert listed == {"k@example.org": "written", "g@example.org": "skipped"}
        # The skipped recipient is done with this period: it is no longer due, nor sent again
        assert digest_due(store, "mon", "07:00", "America/New_York", MONDAY, [r.email for r in recipients]) is None
        again = send_due_digest(store, params(recipients, send_empty=False), MONDAY, OutboxTransport(tmp_path))
        assert again.already_sent and again.earlier == ["k@example.org"] and again.earlier_skipped == ["g@example.org"] and not again.added


def test_send_empty_off_still_delivers_a_warning_to_everyone(tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with Store(":memory:", clock=clock) as store:
        store.upsert_articles([article("1")])
        save_classifications(store, [classification("1", topics=["ketamine"])])
        recipients = (Recipient("all@example.org"), Recipient("k@example.org", ("ketamine",)))
        quiet = params(recipients, send_empty=False)
        assert sorted(send_due_digest(store, quiet, MONDAY, OutboxTransport(tmp_path)).delivered) == ["all@example.org", "k@example.org"]

        clock.now = MONDAY + timedelta(days=2)
        store.upsert_articles([article("1", links=[Link("RetractionIn", "2")])])  # nothing new this week, one retraction
        outcome = send_due_digest(store, quiet, MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path))
        assert sorted(outcome.delivered) == ["all@example.org", "k@example.org"] and not outcome.skipped_empty
        for recipient in recipients:
            text, _ = parts(tmp_path / "2026-W49" / f"{recipient.email}.eml")
            assert "Retracted: Title 1" in text


def test_an_empty_week_says_so_in_one_line(tmp_path):
    """'in your topics' only to a reader who chose some."""
    with Store(":memory:", clock=Clock(MONDAY)) as store:
        readers = (Recipient("all@example.org"), Recipient("k@example.org", ("ketamine",)))
        outcome = send_due_digest(store, params(readers), MONDAY, OutboxTransport(tmp_path))
        assert outcome.delivered == ["all@example.org", "k@example.org"] and outcome.items == 0
        for reader, said in (("all@example.org", "Nothing new on opioid-induced hyperalgesia this week."),
                             ("k@example.org", "Nothing new on opioid-induced hyperalgesia in your topics this week.")):
            text, html = parts(tmp_path / "2026-W48" / f"{reader}.eml")
            assert said in text and said in html
        assert "nothing new" in (tmp_path / "2026-W48" / "all@example.org.eml").read_text().splitlines()[0]


@pytest.mark.parametrize("retracted_link", [Link("RetractionIn", "5")])
def test_standing_marks(retracted_link):
    a = article("1", links=[retracted_link, Link("ErratumIn", "6"), Link("ExpressionOfConcernIn", "7"), Link("CommentIn", "8")])
    assert standing_marks(a) == {"retracted", "ErratumIn:6", "ExpressionOfConcernIn:7"}


def test_sending_without_recipients_is_a_config_error_and_records_nothing(tmp_path):
    with Store(":memory:", clock=Clock(MONDAY)) as store:
        with pytest.raises(ConfigError, match=r"\[\[recipients\]\]"):
            send_due_digest(store, params(()), MONDAY, OutboxTransport(tmp_path))
        assert find_digest(store, "2026-W48") is None


def test_a_digest_waits_while_a_record_of_its_window_is_not_classified(tmp_path):
    clock = Clock(MONDAY - timedelta(days=3))
    with Store(":memory:", clock=clock) as store:
        store.upsert_articles([article("1"), article("2"), article("3", publication_types=["Retraction of Publication"])])
        save_classifications(store, [classification("1", topics=["ketamine"])])  # "2" waits: classification failed
        clock.now = MONDAY
        held = send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        assert held.held and held.unclassified == 1 and not held.new and not held.delivered  # a notice is never listed
        assert find_digest(store, "2026-W48") is None and not list(tmp_path.iterdir())
        assert digest_due(store, "mon", "07:00", "America/New_York", MONDAY) == "2026-W48"

        clock.now = MONDAY + timedelta(hours=1)
        store.upsert_articles([article("1", date="2026-02-01")])  # revised: its tags are of the old version
        save_classifications(store, [classification("2", topics=["tapering"])])
        assert send_due_digest(store, params(), clock.now, OutboxTransport(tmp_path)).held
        save_classifications(store, [classification("1", topics=["ketamine"])])
        sent = send_due_digest(store, params(), clock.now, OutboxTransport(tmp_path))
        assert sent.items == 2 and sent.delivered == ["all@example.org"]


def test_a_record_unclassified_when_its_digest_went_out_comes_in_the_next(tmp_path):
    clock = Clock(MONDAY - timedelta(days=3))
    with Store(":memory:", clock=clock) as store:
        store.upsert_articles([article("1"), article("2")])
        save_classifications(store, [classification("1", topics=["ketamine"])])  # "2" waits: classification failed
        clock.now = MONDAY
        # recorded by a version that sent digests while records of their window waited for classify
        record_digest(store, "2026-W48", (MONDAY - timedelta(days=7)).isoformat(), MONDAY.isoformat(), "s",
                      {"1": store.get_article("1").fingerprint()}, {"all@example.org": "<m@example.org>"}, [])

        clock.now = MONDAY + timedelta(days=1)
        save_classifications(store, [classification("2", topics=["tapering"])])
        clock.now = MONDAY + timedelta(days=7)
        second = send_due_digest(store, params(), clock.now, OutboxTransport(tmp_path))
        assert second.items == 1
        assert {row[0] for row in store.db.execute("SELECT pmid FROM digest_items")} == {"1", "2"}

        clock.now = MONDAY + timedelta(days=14)
        assert send_due_digest(store, params(), clock.now, OutboxTransport(tmp_path)).items == 0  # never twice


def test_the_first_digest_after_a_backfill_lists_only_what_pubmed_created_that_week(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with Store(":memory:", clock=clock) as store:
        backfill = real_articles(shared_data, 12)  # created 1979-2018, all first seen in the week of the install
        assert max(a.created for a in backfill) < "2019"
        store.upsert_articles([*backfill, article("1"), article("csv", created="")])  # "1" created 2026-11-20
        save_classifications(store, [classification(a.pmid) for a in [*backfill, article("1"), article("csv")]])
        first = send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        assert first.items == 1 and set(digest_items(store, find_digest(store, "2026-W48").id)) == {"1"}

        clock.now = MONDAY + timedelta(days=3)  # the week's harvests
        week = [article("2", created="2026-11-25"),
                article("3", created="2026-11-18"),  # created before the first digest, indexed late: never sent, so news
                article("4", created="2025-03-01")]  # an old record the modification sweep brought in: history
        store.upsert_articles(week)
        save_classifications(store, [classification(a.pmid) for a in week])
        second = send_due_digest(store, params(), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path))
        assert set(digest_items(store, find_digest(store, "2026-W49").id)) == {"2", "3"} and second.items == 2
        assert send_due_digest(store, params(), MONDAY + timedelta(weeks=2), OutboxTransport(tmp_path)).items == 0


def test_a_far_back_since_once_does_not_make_history_news_for_later_digests(tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with Store(":memory:", clock=clock) as store:
        store.upsert_articles([article("1")])
        save_classifications(store, [classification("1")])
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        clock.now = MONDAY + timedelta(days=6)
        store.upsert_articles([article("2", created="2001-05-01")])  # history, as a baseline ingest brings it
        save_classifications(store, [classification("2")])
        week = MONDAY + timedelta(weeks=1)
        wide = send_due_digest(store, params(), week, OutboxTransport(tmp_path), since=date(2000, 1, 1))
        assert wide.items == 1 and wide.listed_earlier == 1  # asked for: everything first seen since 2000 but "1", sent before
        clock.now = week + timedelta(days=1)
        store.upsert_articles([article("3", created="2003-02-01")])
        save_classifications(store, [classification("3")])
        assert send_due_digest(store, params(), MONDAY + timedelta(weeks=2), OutboxTransport(tmp_path)).items == 0


def test_a_recipient_taken_out_of_the_config_does_not_hold_the_period_up(tmp_path):
    with Store(":memory:", clock=Clock(MONDAY)) as store:
        both = (Recipient("a@example.org"), Recipient("b@example.org"))
        transport = OutboxTransport(tmp_path)
        first = send_due_digest(store, params(both), MONDAY, transport, period="2026-W48")
        assert sorted(first.delivered) == ["a@example.org", "b@example.org"]
        record = find_digest(store, "2026-W48")
        store.db.execute("UPDATE deliveries SET status = 'pending' WHERE recipient = 'b@example.org'")  # b's send was lost
        again = send_due_digest(store, params(both[:1]), MONDAY, transport, period="2026-W48")  # and b unsubscribed
        assert again.dropped == ["b@example.org"] and not again.failed
        assert {d.recipient: d.status for d in deliveries(store, record.id)} == {"a@example.org": "written", "b@example.org": "dropped"}
        assert digest_due(store, "mon", "07:00", "America/New_York", MONDAY) is None
