"""The digest ledger: which digest went out, with which records, to whom, and with what warnings.

Exactly-once delivery rests on this order: a digest, its items and one 'pending' delivery per
recipient are recorded in one transaction *before* anything is sent; each recipient is marked
'sent' (or 'written' to the outbox) only after the server accepted the message. A rerun therefore
finds what is missing and nothing else. The Message-ID is fixed when the delivery is recorded, so
a message retried after an ambiguous failure carries the same ID and a mail client can fold it.

``digest_marks`` remembers each record's standing marks (retracted, partially retracted, erratum,
corrected and republished, expression of concern) as they were when it was sent or warned about,
so a new mark is warned about in one digest only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from corpus.article import RETRACTION_LINK, WARNING_LINKS, Article
from corpus.store import Store, in_chunks

RETRACTED = "retracted"


@dataclass(frozen=True)
class DigestRecord:
    id: int
    period: str  # e.g. '2026-W48': one digest per period
    since: str  # ISO UTC: records first seen from here ...
    until: str  # ... up to (not including) here
    created: str
    subject: str


@dataclass(frozen=True)
class Delivery:
    digest_id: int
    recipient: str
    # pending | sent | written (to the outbox) | dropped (no longer a recipient) | skipped (nothing in
    # their topics with send_empty off) | refused (the server refused the address for good: 5xx)
    status: str
    message_id: str
    attempts: int
    sent: str | None
    error: str

    @property
    def done(self) -> bool:
        """Nothing more to try: delivered, or never to be."""
        return self.status != "pending"

    @property
    def delivered(self) -> bool:
        return self.status in ("sent", "written")


def standing_marks(article: Article) -> set[str]:
    """What a reader must be warned about: 'retracted', and by PMID each partial retraction, erratum,
    version republished (corrected, or in place of the retracted one) and expression of concern
    (``WARNING_LINKS``)."""
    marks = {RETRACTED} if article.retracted else set()
    marks |= {f"{link.kind}:{link.pmid}" for link in article.links if link.kind in WARNING_LINKS - {RETRACTION_LINK}}
    return marks


def find_digest(store: Store, period: str) -> DigestRecord | None:
    row = store.db.execute("SELECT * FROM digests WHERE period = ?", (period,)).fetchone()
    return DigestRecord(**dict(row)) if row else None


def owing_digests(store: Store, excluding: str = "") -> list[DigestRecord]:
    """Recorded digests some recipient still lacks (a pending delivery), oldest first, but ``excluding``."""
    rows = store.db.execute(
        "SELECT * FROM digests WHERE period != ? AND id IN (SELECT digest_id FROM deliveries WHERE status = 'pending') "
        "ORDER BY id", (excluding,),
    )
    return [DigestRecord(**dict(row)) for row in rows]


def last_digest(store: Store, ending_by: str | None = None) -> DigestRecord | None:
    """The digest recorded last, or the last one whose window ends by ``ending_by`` (ISO UTC): the next one
    starts where it ended. Recorded last, not ending last: a digest recorded while the clock ran ahead
    ends in the future, and the digests recorded after it, once the clock was right, are the later ones."""
    row = store.db.execute("SELECT * FROM digests WHERE until <= ? ORDER BY id DESC LIMIT 1",
                           (ending_by or "9999",)).fetchone()
    return DigestRecord(**dict(row)) if row else None


def watch_start(store: Store) -> str | None:
    """Where the first digest's window began (None before any): what PubMed created earlier is the backfill.

    The first digest, not the earliest window: a later ``digest --since`` reaching far back
    must not turn the whole history into news for every digest after it."""
    row = store.db.execute("SELECT since FROM digests ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else None


def digest_history(store: Store, before_id: int | None = None, limit: int = 7) -> list[tuple[DigestRecord, int]]:
    """The latest ``limit`` digests before ``before_id`` (all when None), oldest first, with their item counts."""
    rows = store.db.execute(
        "SELECT d.*, (SELECT COUNT(*) FROM digest_items i WHERE i.digest_id = d.id) AS items FROM digests d "
        "WHERE d.id < ? ORDER BY d.id DESC LIMIT ?",
        (before_id if before_id is not None else 2**62, limit),
    ).fetchall()
    result = []
    for row in reversed(rows):
        data = dict(row)
        items = data.pop("items")
        result.append((DigestRecord(**data), items))
    return result


def record_digest(
    store: Store,
    period: str,
    since: str,
    until: str,
    subject: str,
    items: Mapping[str, str],
    deliveries: Mapping[str, str],
    marks: Iterable[tuple[str, str, bool]],
    skipped: Iterable[str] = (),
) -> DigestRecord:
    """Record a digest before sending it: items (PMID -> fingerprint), deliveries (recipient -> Message-ID),
    marks ((PMID, mark, warned)) and the recipients it skips (nothing for them), all or nothing."""
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO digests (period, since, until, created, subject) VALUES (?, ?, ?, ?, ?)",
            (period, since, until, store.now(), subject),
        )
        digest_id = cursor.lastrowid
        db.executemany(
            "INSERT INTO digest_items (digest_id, pmid, fingerprint) VALUES (?, ?, ?)",
            [(digest_id, pmid, fingerprint) for pmid, fingerprint in items.items()],
        )
        _insert_deliveries(db, digest_id, deliveries, skipped)
        db.executemany(
            "INSERT OR IGNORE INTO digest_marks (pmid, mark, digest_id, warned) VALUES (?, ?, ?, ?)",
            [(pmid, mark, digest_id, int(warned)) for pmid, mark, warned in marks],
        )
    record = find_digest(store, period)
    assert record is not None
    return record


def mailbox_key(address: str) -> str:
    """An address as deliveries and the config's recipients are matched: letter case aside, and a quoted local
    part by what it quotes, so '"john..doe"@example.org' is the 'john..doe@example.org' that versions which
    dropped the quotes recorded (a reader they served is not a newcomer to send the week's digest again)."""
    local, at, domain = address.rpartition("@")
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = re.sub(r"\\(.)", r"\1", local[1:-1])
    return f"{local}{at}{domain}".casefold()


def unlisted(listed: Iterable[Delivery], addresses: Iterable[str]) -> list[str]:
    """The ``addresses`` a digest has no delivery for (``mailbox_key``)."""
    known = {mailbox_key(d.recipient) for d in listed}
    return [a for a in addresses if mailbox_key(a) not in known]


def add_deliveries(store: Store, digest_id: int, deliveries: Mapping[str, str], skipped: Iterable[str] = ()) -> None:
    """Deliveries (recipient -> Message-ID) for recipients added after the digest was recorded."""
    with store.transaction() as db:
        _insert_deliveries(db, digest_id, deliveries, skipped)


def _insert_deliveries(db, digest_id: int, deliveries: Mapping[str, str], skipped: Iterable[str]) -> None:
    """Pending deliveries, and 'skipped' ones, so a recipient with nothing to get counts as done."""
    db.executemany(
        "INSERT OR IGNORE INTO deliveries (digest_id, recipient, message_id, status) VALUES (?, ?, ?, ?)",
        [(digest_id, recipient, message_id, "pending") for recipient, message_id in deliveries.items()]
        + [(digest_id, recipient, "", "skipped") for recipient in skipped],
    )


def digest_items(store: Store, digest_id: int) -> dict[str, str]:
    """PMID -> fingerprint of the records a digest holds."""
    rows = store.db.execute("SELECT pmid, fingerprint FROM digest_items WHERE digest_id = ? ORDER BY pmid", (digest_id,))
    return {r["pmid"]: r["fingerprint"] for r in rows}


def sent_before(store: Store, before_id: int | None = None) -> dict[str, str]:
    """PMID -> fingerprint as first sent, over the digests before ``before_id`` (all when None)."""
    rows = store.db.execute(
        "SELECT pmid, fingerprint FROM digest_items WHERE digest_id < ? ORDER BY digest_id DESC",
        (before_id if before_id is not None else 2**62,),
    )
    return {r["pmid"]: r["fingerprint"] for r in rows}  # oldest digest wins: rows come newest first


def known_marks(store: Store, pmids: Iterable[str]) -> dict[str, set[str]]:
    """The marks already sent or warned about, by PMID."""
    known: dict[str, set[str]] = {}
    for marks, chunk in in_chunks(pmids):
        for row in store.db.execute(f"SELECT pmid, mark FROM digest_marks WHERE pmid IN ({marks})", chunk):
            known.setdefault(row["pmid"], set()).add(row["mark"])
    return known


def sent_with_marks(store: Store) -> set[str]:
    """The papers a digest listed whose stored record may carry a standing mark: retracted, or with a
    warning link (``standing_marks``). Told in SQL, so that a digest reads whole, and compares with the
    marks known, these few rather than every paper ever sent (20,800 in ten years: 1.6 s a digest)."""
    kinds = sorted(WARNING_LINKS)
    rows = store.db.execute(
        "SELECT pmid FROM articles a WHERE deleted = 0 AND pmid IN (SELECT pmid FROM digest_items) AND (retracted = 1 "
        "OR EXISTS (SELECT 1 FROM json_each(a.data, '$.links') link "
        f"WHERE json_extract(link.value, '$.kind') IN ({', '.join('?' * len(kinds))})))",
        kinds,
    )
    return {r[0] for r in rows}


def warned_in(store: Store, digest_id: int) -> dict[str, set[str]]:
    """The marks a digest warned about, by PMID (so a retried delivery shows the same warnings)."""
    warned: dict[str, set[str]] = {}
    for row in store.db.execute("SELECT pmid, mark FROM digest_marks WHERE digest_id = ? AND warned = 1", (digest_id,)):
        warned.setdefault(row["pmid"], set()).add(row["mark"])
    return warned


def deliveries(store: Store, digest_id: int) -> list[Delivery]:
    rows = store.db.execute("SELECT * FROM deliveries WHERE digest_id = ? ORDER BY recipient", (digest_id,))
    return [Delivery(**dict(r)) for r in rows]


def mark_delivered(store: Store, digest_id: int, recipient: str, status: str) -> None:
    """Call only after the server (or the outbox file system) accepted the message."""
    with store.transaction() as db:
        db.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, sent = ?, error = '' "
            "WHERE digest_id = ? AND recipient = ?",
            (status, store.now(), digest_id, recipient),
        )


def mark_refused(store: Store, digest_id: int, recipient: str, error: str) -> None:
    """The server refused the address for good (5xx): never retried, so it cannot hold later digests up."""
    with store.transaction() as db:
        db.execute(
            "UPDATE deliveries SET status = 'refused', attempts = attempts + 1, error = ? WHERE digest_id = ? AND recipient = ?",
            (error, digest_id, recipient),
        )


def mark_failed(store: Store, digest_id: int, recipient: str, error: str) -> None:
    """Keep the delivery pending for the next run, with what went wrong."""
    with store.transaction() as db:
        db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, error = ? WHERE digest_id = ? AND recipient = ?",
            (error, digest_id, recipient),
        )


def classified_after_their_digest(store: Store, before: str, horizon: str, created_from: str,
                                  relevant_from: float | None = None) -> list[str]:
    """Records first seen in an earlier digest's window (from ``horizon`` to ``before``) but
    classified only after that digest was recorded, and never sent, each once however many windows
    hold it: a digest that went out while classification was failing must not lose them for good.
    Only those PubMed created from ``created_from`` on, as for the records of the window itself.
    With ``relevant_from``, also those whose relevance reaches it, whenever classified: a digest
    recorded by a clock that ran ahead ends, and says it was recorded, after records stored later,
    once the clock was right, were first seen, so they fall in its window without being in it.
    Nothing the clock can set tells those from papers that were there below the cut-off, so a cut-off
    lowered (or a paper labelled about OIH) sends those of the last weeks too (docs/operations.md).

    Each digest's window, cut to [``horizon``, ``before``), is a range of the first_seen index: left
    to itself SQLite scanned every record for the four weeks asked (268 ms at 100,000 records, 3 ms so)."""
    rows = store.db.execute(
        "SELECT DISTINCT a.pmid FROM digests d "
        "CROSS JOIN articles a INDEXED BY articles_first_seen "
        "ON a.first_seen >= max(d.since, :horizon) AND a.first_seen < min(d.until, :before) "
        "JOIN classifications c ON c.pmid = a.pmid AND (c.classified > d.created OR c.relevance >= :relevant) "
        "WHERE a.deleted = 0 AND a.created >= :created_from AND a.pmid NOT IN (SELECT pmid FROM digest_items) "
        "ORDER BY CAST(a.pmid AS INTEGER)",
        {"horizon": horizon, "before": before, "created_from": created_from, "relevant": relevant_from},  # None: NULL, never
    )
    return [r[0] for r in rows]
