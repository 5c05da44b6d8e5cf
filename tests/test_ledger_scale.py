"""What a digest reads from the ledger stays bounded as the corpus and its history grow: the same
answers, from indexes and from the few records concerned rather than from every one."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from corpus.article import Article, Link
from corpus.ledger import classified_after_their_digest, record_digest
from corpus.store import Store
from corpus.tags import Classification, save_classifications
from digest_support import MONDAY, Clock, filled_store, params
from reports.delivery import OutboxTransport
from reports.sending import preview_digest, send_due_digest


def at(clock: Clock, days: float) -> str:
    """Set the clock ``days`` from MONDAY (negative: before); returns that moment as the store writes it."""
    clock.now = MONDAY + timedelta(days=days)
    return clock.now.isoformat(timespec="seconds")


def seen(store: Store, clock: Clock, days: float, *pmids: str, created: str = "2026-11-01") -> None:
    at(clock, days)
    store.upsert_articles([Article(pmid=pmid, title=f"Title {pmid}", created=created) for pmid in pmids])


def classified(store: Store, clock: Clock, days: float, *pmids: str) -> None:
    at(clock, days)
    save_classifications(store, [Classification(pmid, 0.9, "rct", "", "t", []) for pmid in pmids])


def digest(store: Store, clock: Clock, period: str, since: float, until: float, recorded: float, items=()) -> None:
    window = (MONDAY + timedelta(days=since)).isoformat(timespec="seconds"), (MONDAY + timedelta(days=until)).isoformat(timespec="seconds")
    at(clock, recorded)
    record_digest(store, period, *window, "s", {pmid: "" for pmid in items}, {}, [])


@pytest.fixture
def late_classified_store() -> Iterator[Store]:
    """Digests whose windows hold records classified before and after each was recorded; two windows overlap."""
    clock = Clock(MONDAY)
    with Store(":memory:", clock=clock) as store:
        seen(store, clock, -40, "7")  # before the horizon
        digest(store, clock, "2026-W43", -42, -35, -34.9)
        seen(store, clock, -20, "1")
        classified(store, clock, -19, "1")  # before its digest: it went out in it
        seen(store, clock, -18, "2")
        seen(store, clock, -13.5, "10", "9", "6")
        seen(store, clock, -12, "4", created="2001-01-01")  # history, not news
        seen(store, clock, -11, "5")
        store.mark_deleted(["5"])
        digest(store, clock, "2026-W46", -21, -14, -13.9)
        classified(store, clock, -13, "2", "7")
        seen(store, clock, -9, "3")
        digest(store, clock, "2026-W47", -14, -7, -6.9, items=["6"])
        digest(store, clock, "2026-W47b", -10, -7, -6.8)  # a --since reaching back: "3" is in both windows
        classified(store, clock, -6, "3", "4", "5", "6", "9", "10")
        yield store


def late_classified(store: Store) -> list[str]:
    return classified_after_their_digest(store, MONDAY.isoformat(timespec="seconds"),
                                         (MONDAY - timedelta(days=28)).isoformat(timespec="seconds"), "2026-01-01")


def test_records_classified_after_their_digest_are_found_once_however_many_digests_missed_them(late_classified_store):
    """Pins the answer, which the query plan must not change (it passes with the slow plan too): '3' is in the
    windows of two digests, and one paper, listed once."""
    assert late_classified(late_classified_store) == ["2", "3", "9", "10"]


def test_records_classified_after_their_digest_are_found_through_the_first_seen_index(late_classified_store):
    """A four-week window reads the records first seen in it, not every record of the corpus."""
    store = late_classified_store
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    late_classified(store)
    store.db.set_trace_callback(None)
    [query] = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    plan = [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {query}")]
    assert any(step.startswith("SEARCH a USING INDEX articles_first_seen (first_seen>? AND first_seen<?)") for step in plan), plan
    assert not any(step.startswith("SCAN a") or "AUTOMATIC" in step for step in plan), plan


def test_a_digest_reads_only_the_sent_papers_that_carry_a_mark(shared_data, tmp_path):
    """Of the papers earlier digests sent, the next one reads whole only those retracted or linked to a
    notice, not every one (a cost that grew with every digest sent); and still warns about them."""
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=12) as (store, _):
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        sent = {pmid for pmid, in store.db.execute("SELECT pmid FROM digest_items")}
        retracted, corrected = (store.get_article(pmid) for pmid in sorted(sent)[:2])
        clock.now = MONDAY + timedelta(days=3)
        store.upsert_articles([dataclasses.replace(retracted, publication_types=["Retracted Publication"]),
                               dataclasses.replace(corrected, links=[Link("CommentIn", "1"), Link("ErratumIn", "2")])])
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        digest = preview_digest(store, params(), MONDAY + timedelta(weeks=1))
        store.db.set_trace_callback(None)
        read = {pmid for sql in statements for pmid in re.findall(r"FROM articles WHERE pmid = '(\d+)'", sql)}
        assert len(sent) > 2 and read & sent == {retracted.pmid, corrected.pmid}
        assert [(w.pmid, w.notices) for w in digest.warnings] == [(retracted.pmid, ("Retracted",)),
                                                                   (corrected.pmid, ("Erratum published (PMID 2)",))]
