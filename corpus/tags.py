"""What the classifier concluded about each record, and the curated labels that overrule it.

The classifier writes ``Classification`` objects; digests, search and exports read
them. Curated labels (``oihwatch label``) are kept apart and always win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from corpus.store import Store, in_chunks

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


def set_label(store: Store, pmid: str, topic: str, value: bool) -> None:
    """Record a curator's judgement; it overrides weak labels and the model, and marks the record for re-classification."""
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO labels (pmid, topic, value, labelled) VALUES (?, ?, ?, ?)",
            (pmid, topic, int(value), store.now()),
        )
        db.execute("UPDATE articles SET needs_classification = 1 WHERE pmid = ?", (pmid,))


def load_labels(store: Store) -> dict[str, dict[str, bool]]:
    """Curated labels: PMID -> {topic or 'oih': True/False}."""
    labels: dict[str, dict[str, bool]] = {}
    for row in store.db.execute("SELECT pmid, topic, value FROM labels ORDER BY pmid"):
        labels.setdefault(row["pmid"], {})[row["topic"]] = bool(row["value"])
    return labels
