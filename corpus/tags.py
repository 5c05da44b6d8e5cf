"""What the classifier concluded about each record, and the curated labels that overrule it.

The classifier writes ``Classification`` objects; digests, search and exports read
them. Curated labels (``oihwatch label``) are kept apart and always win.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from corpus.store import Store, in_chunks, iso_utc

RELEVANCE = "oih"  # the label name for "is about opioid-induced hyperalgesia"


@dataclass(frozen=True)
class TopicScore:
    topic: str
    score: float  # calibrated probability
    assigned: bool  # score above the topic's threshold, or set by a rule or curator
    source: str = "model"  # model | rule | curator


@dataclass
class Classification:
    pmid: str
    relevance: float
    study_type: str
    key_finding: str = ""
    model_version: str = ""
    topics: list[TopicScore] = field(default_factory=list)

    @property
    def assigned_topics(self) -> list[str]:
        return [t.topic for t in self.topics if t.assigned]

    @property
    def scores(self) -> dict[str, float]:
        return {t.topic: t.score for t in self.topics}


def save_classifications(store: Store, items: Iterable[Classification]) -> int:
    """Replace the stored tags of each record and clear its re-classification mark."""
    saved = 0
    now = store.now()
    with store.transaction() as db:
        for item in items:
            db.execute("DELETE FROM tags WHERE pmid = ?", (item.pmid,))
            db.executemany(
                "INSERT INTO tags (pmid, topic, score, assigned, source, model_version, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(item.pmid, t.topic, t.score, int(t.assigned), t.source, item.model_version, now) for t in item.topics],
            )
            db.execute(
                "INSERT OR REPLACE INTO classifications (pmid, relevance, study_type, key_finding, model_version, classified) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item.pmid, item.relevance, item.study_type, item.key_finding, item.model_version, now),
            )
            db.execute("UPDATE articles SET needs_classification = 0 WHERE pmid = ?", (item.pmid,))
            saved += 1
    return saved


def load_classifications(store: Store, pmids: Iterable[str] | None = None) -> dict[str, Classification]:
    """Stored classifications by PMID (all, or those of ``pmids``)."""
    if pmids is None:
        rows = store.db.execute("SELECT * FROM classifications").fetchall()
        tag_rows = store.db.execute("SELECT * FROM tags ORDER BY pmid, topic").fetchall()
    else:
        rows, tag_rows = [], []
        for marks, chunk in in_chunks(pmids):
            rows += store.db.execute(f"SELECT * FROM classifications WHERE pmid IN ({marks})", chunk).fetchall()
            tag_rows += store.db.execute(f"SELECT * FROM tags WHERE pmid IN ({marks}) ORDER BY pmid, topic", chunk).fetchall()
    result = {
        r["pmid"]: Classification(r["pmid"], r["relevance"], r["study_type"], r["key_finding"], r["model_version"])
        for r in rows
    }
    for t in tag_rows:
        if t["pmid"] in result:
            result[t["pmid"]].topics.append(TopicScore(t["topic"], t["score"], bool(t["assigned"]), t["source"]))
    return result


_TO_CLASSIFY = "deleted = 0 AND needs_classification = 1"  # new, revised or newly labelled


def pmids_to_classify(store: Store, everything: bool = False) -> list[str]:
    """New or revised records (or every record) that are not deleted."""
    where = "deleted = 0" if everything else _TO_CLASSIFY
    return [r[0] for r in store.db.execute(f"SELECT pmid FROM articles WHERE {where} ORDER BY CAST(pmid AS INTEGER)")]


def mark_all_to_classify(store: Store) -> None:
    """A new model: every record's tags came from the old one, so the next ``classify`` redoes them all."""
    with store.transaction() as db:
        db.execute("UPDATE articles SET needs_classification = 1 WHERE deleted = 0 AND needs_classification = 0")


def count_to_classify(store: Store) -> int:
    """How many records wait for ``classify``."""
    return store.db.execute(f"SELECT COUNT(*) FROM articles WHERE {_TO_CLASSIFY}").fetchone()[0]


def awaiting_classification(store: Store, pmids: Iterable[str]) -> list[str]:
    """Those of ``pmids`` that wait for ``classify``: never classified, or changed (or relabelled,
    or a new model trained) since their tags were made."""
    waiting = []
    for marks, chunk in in_chunks(pmids):
        waiting += [r[0] for r in store.db.execute(
            f"SELECT pmid FROM articles a WHERE pmid IN ({marks}) AND deleted = 0 AND (needs_classification = 1 "
            "OR NOT EXISTS (SELECT 1 FROM classifications c WHERE c.pmid = a.pmid))", chunk)]
    return waiting


@dataclass(frozen=True)
class Label:
    """A curator's judgement as the store keeps it (``oihwatch label``), and as ``oihwatch labels --jsonl``
    writes it, one a line: ``{"pmid": "38011560", "topic": "ketamine", "value": false, "labelled": "..."}``.
    One label a line, not the shipped set's record a line (``classifier/labels/curated.jsonl``), where a
    topic left out means 'not about it': a label recorded here says nothing of the other topics."""

    pmid: str
    topic: str  # a topic name, or 'oih' for relevance
    value: bool  # about it, or not (a curated negative)
    labelled: str  # when it was recorded: ISO, UTC, seconds (``Store.now``)

    def line(self) -> str:
        return json.dumps({"pmid": self.pmid, "topic": self.topic, "value": self.value, "labelled": self.labelled}, ensure_ascii=False)

    @classmethod
    def from_line(cls, line: str) -> Label:
        """The label ``line`` writes; ``ValueError`` says what is wrong with one that is none."""
        try:
            row = json.loads(line)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(row, dict):
            raise ValueError("not a JSON object")
        if missing := [key for key in ("pmid", "topic", "value", "labelled") if key not in row]:
            raise ValueError(f"no {', '.join(map(json.dumps, missing))}")
        pmid, topic, value, labelled = row["pmid"], row["topic"], row["value"], row["labelled"]
        if not (isinstance(pmid, str) and pmid.isascii() and pmid.isdigit()):
            raise ValueError(f'"pmid" is {json.dumps(pmid)}, not a PMID in quotes ("38011560")')
        if not (isinstance(topic, str) and topic.strip()):
            raise ValueError(f'"topic" is {json.dumps(topic)}, not a topic name')
        if not isinstance(value, bool):
            raise ValueError(f'"value" is {json.dumps(value)}, not true or false')
        return cls(pmid, topic.strip(), value, _utc_time(labelled))


def _utc_time(text) -> str:
    """``text``, an ISO time with its UTC offset, as the store writes times: the store compares times as
    text (the labels recorded since the model was trained), where one in another zone or form would sort
    out of its place."""
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f'"labelled" is {json.dumps(text)}, not an ISO time with its offset ("2026-11-27T09:30:00+00:00")')
    return iso_utc(moment)


def set_label(store: Store, pmid: str, topic: str, value: bool) -> None:
    """Record a curator's judgement; it overrides weak labels and the model, and marks the record for re-classification."""
    record_labels(store, [Label(pmid, topic, value, store.now())])


def record_labels(store: Store, labels: Iterable[Label]) -> int:
    """Record ``labels`` in one transaction, each replacing one of the same record and topic (the last
    given wins), and mark their records for re-classification. Returns how many were recorded. The
    record need not be stored: the label applies once it is."""
    recorded = 0
    with store.transaction() as db:
        for label in labels:
            db.execute("INSERT OR REPLACE INTO labels (pmid, topic, value, labelled) VALUES (?, ?, ?, ?)",
                       (label.pmid, label.topic, int(label.value), label.labelled))
            db.execute("UPDATE articles SET needs_classification = 1 WHERE pmid = ?", (label.pmid,))
            recorded += 1
    return recorded


def clear_label(store: Store, pmid: str, topic: str) -> bool:
    """Remove a curator's label, so the tag is the model's and the rules' again (or the shipped label
    set's), and mark the record for re-classification. False when there was no such label."""
    with store.transaction() as db:
        if not db.execute("DELETE FROM labels WHERE pmid = ? AND topic = ?", (pmid, topic)).rowcount:
            return False
        db.execute("UPDATE articles SET needs_classification = 1 WHERE pmid = ?", (pmid,))
    return True


def listed_labels(store: Store) -> list[tuple[Label, str | None]]:
    """Every label recorded, oldest first, with the title of its record (None when it is not stored)."""
    rows = store.db.execute(
        "SELECT l.pmid, l.topic, l.value, l.labelled, a.title FROM labels l LEFT JOIN articles a ON a.pmid = l.pmid "
        "ORDER BY l.labelled, CAST(l.pmid AS INTEGER), l.topic")
    return [(Label(row["pmid"], row["topic"], bool(row["value"]), row["labelled"]), row["title"]) for row in rows]


def load_labels(store: Store) -> dict[str, dict[str, bool]]:
    """Curated labels: PMID -> {topic or 'oih': True/False}."""
    labels: dict[str, dict[str, bool]] = {}
    for row in store.db.execute("SELECT pmid, topic, value FROM labels ORDER BY pmid"):
        labels.setdefault(row["pmid"], {})[row["topic"]] = bool(row["value"])
    return labels
