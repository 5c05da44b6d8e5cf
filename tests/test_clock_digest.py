"""Digests while the machine's clock is or was wrong, and the morning a week without a digest ends.

The store's clock stamps what is stored and recorded; the digest is sent at the ``now`` handed in:
both are set by each test, as a clock that ran ahead, was set back, or was right.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from corpus.ledger import digest_items, find_digest
from corpus.store import Store
from corpus.tags import save_classifications
from digest_support import MONDAY, Clock, classify, created_on, params, real_articles
from reports.delivery import OutboxTransport
from reports.period import digest_due
from reports.sending import preview_digest, send_digests

EVERYONE = params()
DUE = ("mon", "07:00", "America/New_York")


@pytest.fixture
def papers(shared_data):
    return real_articles(shared_data, 24)


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def store(clock):
    with Store(":memory:", clock=clock) as store:
        yield store


def stored(store, clock, articles, at: datetime, created: date | None = None) -> set[str]:
    """``articles`` first seen ``at`` by the machine's clock, created by PubMed on ``created`` (that day by default),
    and classified as about OIH."""
    clock.now = at
    chosen = created_on(articles, created or at.date())
    store.upsert_articles(chosen)
    save_classifications(store, [classify(a, i, relevance=0.9) for i, a in enumerate(chosen)])
    return {a.pmid for a in chosen}


def send(store, clock, at: datetime, outbox):
    """What a run's digest step does at ``at``: the last outcome is that of the period due."""
    clock.now = at
    return send_digests(store, EVERYONE, at, OutboxTransport(outbox))[-1]


def listed(store, period: str) -> set[str]:
    return set(digest_items(store, find_digest(store, period).id))


def test_a_digest_recorded_while_the_clock_ran_ahead_costs_no_paper_once_it_is_right(store, clock, papers, tmp_path):
    """One run on Tuesday with the clock seven weeks ahead recorded a digest ending in 2027. The next window
    started there: every paper first seen until then was in no digest, and the digests ran backwards."""
    first = stored(store, clock, papers[:6], MONDAY - timedelta(days=1))
    assert send(store, clock, MONDAY, tmp_path).period == "2026-W48"
    before_it = stored(store, clock, papers[20:22], MONDAY + timedelta(hours=6))
    tuesday, ahead = MONDAY + timedelta(days=1), MONDAY + timedelta(weeks=7)
    by_the_run_ahead = stored(store, clock, papers[6:12], ahead, created=tuesday.date())
    assert send(store, clock, ahead + timedelta(minutes=1), tmp_path).period == "2027-W02"
    after_it = stored(store, clock, papers[12:15], ahead + timedelta(minutes=2), created=tuesday.date())  # a harvest alone
    right_again = stored(store, clock, papers[15:20], MONDAY + timedelta(days=2))

    w49 = send(store, clock, MONDAY + timedelta(weeks=1), tmp_path)
    assert w49.period == "2026-W49" and listed(store, "2026-W49") == right_again | after_it
    assert w49.listed_earlier == len(before_it) and w49.clock == (
        "the clock looks wrong: the 2027-W02 digest is recorded up to 2027-01-11 09:01 EST, after now "
        "(2026-11-30 09:00 EST); so the next digest's window starts at 2026-11-23 09:00 EST instead, "
        "and it leaves out what earlier digests listed")
    record = find_digest(store, "2026-W49")
    assert record.since == "2026-11-23T14:00:00+00:00" < record.until == "2026-11-30T14:00:00+00:00"
    assert listed(store, "2026-W48") == first and listed(store, "2027-W02") == before_it | by_the_run_ahead

    later = stored(store, clock, papers[22:24], MONDAY + timedelta(days=8))
    w50 = send(store, clock, MONDAY + timedelta(weeks=2), tmp_path)
    assert listed(store, "2026-W50") == later and not w50.clock and not w50.listed_earlier


def test_a_clock_set_back_sends_no_digest_for_a_past_week(store, clock, papers, tmp_path):
    """Six weeks back, a week without a digest (before the install) was due again, with a window from the last
    digest's end back to the wrong now. PubMed's create dates tell that the clock is behind."""
    stored(store, clock, papers[:6], MONDAY - timedelta(days=1))
    send(store, clock, MONDAY, tmp_path)
    back = MONDAY + timedelta(days=1) - timedelta(weeks=6)
    held = send(store, clock, back, tmp_path)
    assert held.held == ("the 2026-W42 digest is not recorded or sent: the clock looks wrong: by this machine's clock "
                         "it is 2026-10-13, but PubMed created records stored here on 2026-11-22; set the clock right "
                         "(NTP), then send again")
    assert find_digest(store, "2026-W42") is None and not (tmp_path / "2026-W42").exists()


def test_a_pass_before_the_digest_hour_sends_the_overdue_week_as_that_mornings_only_digest(store, clock, papers, tmp_path):
    """A fresh install's first pass at 02:30 on a Monday sent last week's digest, and the run after 07:00 a
    second one holding the 4 1/2 hours between them."""
    night, morning = datetime(2026, 11, 23, 7, 30, tzinfo=timezone.utc), datetime(2026, 11, 23, 12, 5, tzinfo=timezone.utc)
    week = stored(store, clock, papers[:6], night - timedelta(days=2))
    assert digest_due(store, *DUE, night, ["all@example.org"]) == "2026-W48"  # not 2026-W47, due a week ago
    sent = send(store, clock, night, tmp_path)
    assert (sent.period, sent.items) == ("2026-W48", len(week))
    since_then = stored(store, clock, papers[6:9], night + timedelta(hours=1))
    assert digest_due(store, *DUE, morning, ["all@example.org"]) is None
    assert send(store, clock, morning, tmp_path).already_sent
    send(store, clock, morning + timedelta(weeks=1), tmp_path)
    assert listed(store, "2026-W49") == since_then
    assert sorted(path.parent.name for path in tmp_path.glob("*/*.eml")) == ["2026-W48", "2026-W49"]
    # the 02:30 pass of a Monday whose week's digest went out sends nothing early
    assert digest_due(store, *DUE, night + timedelta(weeks=2), ["all@example.org"]) is None


def test_a_week_missed_while_the_machine_was_off_is_caught_up_once_that_morning(store, clock, papers, tmp_path):
    stored(store, clock, papers[:4], MONDAY - timedelta(weeks=2, days=1))
    send(store, clock, MONDAY - timedelta(weeks=2), tmp_path)  # 2026-W46; then off until Monday 02:30, two weeks on
    missed = stored(store, clock, papers[4:10], datetime(2026, 11, 23, 7, 30, tzinfo=timezone.utc))
    caught_up = send(store, clock, datetime(2026, 11, 23, 7, 31, tzinfo=timezone.utc), tmp_path)
    assert caught_up.period == "2026-W48" and listed(store, "2026-W48") == missed
    assert send(store, clock, datetime(2026, 11, 23, 12, 5, tzinfo=timezone.utc), tmp_path).already_sent
    assert find_digest(store, "2026-W47") is None


def test_papers_stored_in_the_window_of_a_digest_recorded_a_day_ahead_go_out_with_the_next(store, clock, papers, tmp_path):
    """Monday's digest, recorded by a clock one day ahead, ends on Tuesday afternoon; the night's harvest, the
    clock right again, stamps its papers inside that window, and the next window starts after them."""
    stored(store, clock, papers[:6], MONDAY - timedelta(days=1))
    send(store, clock, MONDAY + timedelta(days=1), tmp_path)
    overnight = stored(store, clock, papers[6:12], MONDAY + timedelta(hours=17))
    assert not send(store, clock, MONDAY + timedelta(days=1, hours=1), tmp_path).new
    send(store, clock, MONDAY + timedelta(weeks=1), tmp_path)
    assert listed(store, "2026-W49") == overnight


def test_a_paper_two_recorded_windows_hold_is_listed_once(store, clock, papers, tmp_path):
    """A digest sent with --since reaching back into the one before it (or after a clock that ran ahead)
    makes windows overlap; a paper first seen in both, judged about OIH only later, is one paper."""
    stored(store, clock, papers[:6], MONDAY - timedelta(days=3))
    clock.now = MONDAY - timedelta(days=1)
    [late] = created_on(papers[15:16], clock.now.date())
    store.upsert_articles([late])
    save_classifications(store, [classify(late, 0, relevance=0.2)])  # not about OIH, by the model
    send(store, clock, MONDAY, tmp_path)
    clock.now = MONDAY + timedelta(weeks=1)
    send_digests(store, EVERYONE, clock.now, OutboxTransport(tmp_path), since=(MONDAY - timedelta(days=2)).date())
    clock.now = MONDAY + timedelta(days=8)
    save_classifications(store, [classify(late, 0, relevance=0.95)])  # a curator: about OIH after all
    clock.now = MONDAY + timedelta(weeks=2)
    sections = preview_digest(store, EVERYONE, clock.now).sections
    assert sections and all([item.pmid for item in section.items] == [late.pmid] for section in sections)
