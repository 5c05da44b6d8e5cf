"""Read from the store what a digest needs, and hand it to the pure assembly.

A new digest takes the records first seen in its window that PubMed created since the first
digest's window began. The rest of what is first seen is history, not news: the backfill of a
fresh install (``harvest.start``, years back), an ingested file, an old record the modification
sweep brings in; search and the web view hold it. A record PubMed created during the watch is
news whenever it is first seen, however late (an outage, slow indexing), so none is lost.
A record without a create date (CSV, RIS, JSON Lines) cannot tell, and is left out.

A record an earlier digest listed is never listed again (a ``--since`` reaching back into an
earlier digest's window would send it again as new); a warning says when it is retracted or
corrected. A record of the window still waiting for classify is not shown, and counted: the
digest must not go out without it (``reports.sending``).

A digest already recorded (a retry after a crash or a refused recipient) is rebuilt from its
recorded items and warnings, so the recipients still missing it get the same papers and the
same warnings as everyone else; and with what later digests warned about its papers, marked
beside them (``later_notices``), for its archive page and a late delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from corpus.ledger import (
    RETRACTED,
    DigestRecord,
    classified_after_their_digest,
    digest_history,
    digest_items,
    known_marks,
    sent_before,
    sent_with_marks,
    standing_marks,
    warned_in,
    watch_start,
)
from corpus.store import Store
from corpus.tags import awaiting_classification, load_classifications
from reports.assembly import Digest, Later, TrendPoint, assemble_digest, build_warning, dates_text, day_text, mark_weight


# How far back a digest looks for records an earlier digest missed because they were not yet
# classified; beyond four weeks they are no longer news, and search still finds them.
CATCH_UP_DAYS = 28


@dataclass(frozen=True)
class DigestContent:
    """What to show (the digest) and what to record with it before sending."""

    digest: Digest
    items: dict[str, str]  # PMID -> fingerprint of every record shown
    marks: list[tuple[str, str, bool]]  # (PMID, mark, warned) to remember


def first_seen_between(store: Store, since: str, until: str | None, created_from: str) -> list[str]:
    """Records first seen in [since, until) (no end: None) that PubMed created on or after the day ``created_from``."""
    rows = store.db.execute(
        "SELECT pmid FROM articles WHERE first_seen >= ? AND first_seen < ? AND created >= ? AND deleted = 0 "
        "ORDER BY CAST(pmid AS INTEGER)",
        (since, until or "9999", created_from),
    )
    return [r[0] for r in rows]


def gather_new_digest(
    store: Store, *, period: str, since: str, until: str, title: str, topics: Mapping[str, str], threshold: float,
    zone: str,
) -> DigestContent:
    """The digest of the records new in [since, until) that no earlier digest listed, and of those
    an earlier digest missed because they were not classified yet, or stored after it while its clock ran
    ahead (up to ``CATCH_UP_DAYS`` back), or first seen after ``until`` by a clock that ran ahead,
    with warnings not given before, naming the days of the time zone ``zone``. Records still waiting for classify
    are left out and counted (``Digest.unclassified``), as are those an earlier digest listed (``Digest.listed_earlier``)."""
    horizon = (datetime.fromisoformat(since) - timedelta(days=CATCH_UP_DAYS)).isoformat(timespec="seconds")
    created_from = min(since, watch_start(store) or since)[:10]  # PubMed's create dates are days
    sent = sent_before(store)
    window = first_seen_between(store, since, until, created_from)
    listed_earlier = [pmid for pmid in window if pmid in sent]
    # First seen after the window's end (now) by a clock that ran ahead: news now, where the digest whose window
    # holds that moment would send it weeks late, or never if its window starts after it.
    stamped_ahead = [pmid for pmid in first_seen_between(store, until, None, created_from) if pmid not in sent]
    candidates = ([pmid for pmid in window if pmid not in sent] + stamped_ahead
                  + classified_after_their_digest(store, since, horizon, created_from, relevant_from=threshold))
    waiting = {article.pmid for article in store.iter_articles(awaiting_classification(store, candidates))
               if not article.is_notice}  # a notice is never listed: its tags change nothing
    pmids = [pmid for pmid in candidates if pmid not in waiting]
    marked = sent_with_marks(store)
    known = known_marks(store, marked)
    warnings, marks = [], []
    for article in store.iter_articles(pmid for pmid in sent if pmid in marked):
        new_marks = standing_marks(article) - known.get(article.pmid, set())
        if new_marks:
            warnings.append(build_warning(article, new_marks))
            marks += [(article.pmid, mark, True) for mark in sorted(new_marks)]
    digest = _assemble(store, pmids, sent, warnings, None, period, since, until, title, topics, threshold, zone)
    digest = replace(digest, unclassified=len(waiting), listed_earlier=len(listed_earlier))
    shown = {item.pmid for item in digest.items}
    items = {}
    for article in store.iter_articles(sorted(shown)):
        items[article.pmid] = article.fingerprint()
        marks += [(article.pmid, mark, False) for mark in sorted(standing_marks(article))]
    return DigestContent(digest, items, marks)


def gather_recorded_digest(store: Store, record: DigestRecord, *, title: str, topics: Mapping[str, str],
                           zone: str) -> Digest:
    """A recorded digest rebuilt from its items and warnings, for the recipients still missing it and its
    archive page. Every item it recorded was shown: today's relevance (a retrain, another cut-off)
    takes none of them back."""
    warned = warned_in(store, record.id)
    warnings = [build_warning(article, warned[article.pmid]) for article in store.iter_articles(sorted(warned))]
    sent = sent_before(store, record.id)
    pmids = list(digest_items(store, record.id))
    return _assemble(store, pmids, sent, warnings, record.id, record.period, record.since, record.until, title, topics,
                     0.0, zone, later_notices(store, record.id, zone))


# The warnings later digests gave about the papers a digest listed: each mark is recorded once, by the
# digest that listed the paper (known when sent) or by the one that warned of it.
_LATER = ("SELECT {columns} FROM digest_items i JOIN digests listing ON listing.id = i.digest_id "
          "JOIN digest_marks m ON m.pmid = i.pmid AND m.warned = 1 AND m.digest_id > i.digest_id "
          "JOIN digests d ON d.id = m.digest_id ")


def later_notices(store: Store, digest_id: int, zone: str) -> dict[str, list[Later]]:
    """PMID -> what later digests warned about that paper of this digest, oldest first, the heaviest first
    (``mark_weight``), each naming its digest by the days of ``zone``, as that digest's subject does."""
    rows = store.db.execute(_LATER.format(columns="d.id, m.pmid, m.mark, d.period, d.since, d.until") + "WHERE i.digest_id = ?",
                            (digest_id,))
    later: dict[str, list[Later]] = {}
    for _, pmid, mark, period, since, until in sorted(rows, key=lambda row: (row[0], mark_weight(row[2]), row[2])):
        later.setdefault(pmid, []).append(Later(mark, period, dates_text(since, until, zone)))
    return later


# What the archive index says of a paper by the kind of the heaviest notice it received since (``mark_weight``):
# an expression of concern is graver than a correction and is not one.
CHANGED_WORDS = {RETRACTED: "retracted", "RetractedandRepublishedIn": "retracted", "PartialRetractionIn": "partly retracted",
                 "ExpressionOfConcernIn": "under an expression of concern", "CorrectedandRepublishedIn": "corrected",
                 "ErratumIn": "corrected"}


def changed_since(store: Store) -> dict[str, dict[str, int]]:
    """Period -> how many papers it listed are, since, retracted, partly retracted, under an expression of
    concern or corrected (each paper by its heaviest notice, the heaviest first): for the archive index."""
    heaviest: dict[str, dict[str, str]] = {}  # period -> PMID -> its heaviest mark
    for period, pmid, mark in store.db.execute(_LATER.format(columns="listing.period, m.pmid, m.mark")):
        papers = heaviest.setdefault(period, {})
        papers[pmid] = min(papers.get(pmid, mark), mark, key=mark_weight)
    changed: dict[str, dict[str, int]] = {}
    for period, papers in heaviest.items():
        counts = changed.setdefault(period, {})
        for mark in sorted(papers.values(), key=mark_weight):
            words = CHANGED_WORDS.get(mark.partition(":")[0], "corrected")
            counts[words] = counts.get(words, 0) + 1
    return changed


def listed_in(store: Store, pmids: Iterable[str], before: str) -> list[DigestRecord]:
    """The digests before the period ``before`` that listed any of ``pmids``, oldest first."""
    wanted = sorted(set(pmids))
    rows = store.db.execute(
        f"SELECT DISTINCT d.* FROM digests d JOIN digest_items i ON i.digest_id = d.id "
        f"WHERE i.pmid IN ({', '.join('?' * len(wanted))}) AND d.id < (SELECT id FROM digests WHERE period = ?) "
        "ORDER BY d.id", (*wanted, before))
    return [DigestRecord(**dict(row)) for row in rows]


def _assemble(store, pmids, sent, warnings, digest_id, period, since, until, title, topics, threshold, zone,
              later=None) -> Digest:
    history = [TrendPoint(day_text(record.until, zone), count) for record, count in digest_history(store, digest_id)]
    return assemble_digest(
        store.iter_articles(pmids),
        load_classifications(store, pmids),
        topics=topics,
        threshold=threshold,
        title=title,
        period=period,
        since=since,
        until=until,
        zone=zone,
        sent_fingerprints=sent,
        warnings=warnings,
        history=history,
        later=later,
    )
