"""The database the web view serves: a flat, read-only snapshot of the corpus.

Datasette serves this file, not the corpus itself, because
- it is opened *immutable*: SQLite cannot write to it, and Datasette offers no write;
  the live corpus cannot be opened that way while harvests write to it;
- it holds only what researchers should see: no run log, outbox, recipients or raw XML;
- one row per article with topics as a JSON array makes the facets (topic, study
  type, year, journal) plain column facets, fast over the whole corpus.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus.article import notice_words
from corpus.errors import StorageError
from corpus.evidence import STUDY_TYPES, evidence_rank
from corpus.exports import CURATOR, RelevanceSources, iter_records, notice_texts, record_tags
from corpus.store import Store
from oihwatch.provenance import labels_in_force
from reports.assembly import ENGLISH, LANGUAGES, UNDETERMINED

SCHEMA = """
CREATE TABLE articles (
    pmid INTEGER PRIMARY KEY,          -- a number, so that it sorts as one (and is the rowid)
    title TEXT NOT NULL,               -- 'RETRACTED: ' first when the paper is retracted
    notices TEXT NOT NULL,             -- as the CSV export says them: 'Erratum published (PMID 35767954); ...'
    authors TEXT NOT NULL,             -- 'Last, First; Last, First'
    journal TEXT NOT NULL,
    year INTEGER,
    language TEXT NOT NULL,            -- 'English', 'Chinese', ... ('; ' between several)
    study_type TEXT,                   -- the readable label, e.g. 'Randomised controlled trial'
    tags TEXT NOT NULL,                -- each assigned topic's label and confidence in a word, as the digest
                                       -- shows them: 'Non-opioid therapies (likely); Tapering and discontinuation (curated)'
    about_oih TEXT,                    -- 'likely' / 'unlikely' (relevance at the digest's threshold or not),
                                       -- 'yes (curated)' / 'no (curated)'; NULL: not classified
    pubmed TEXT NOT NULL,              -- https://pubmed.ncbi.nlm.nih.gov/PMID/
    doi TEXT NOT NULL,                 -- shown as a doi.org link (cells_plugin)
    key_finding TEXT NOT NULL,         -- after the digest's warning when the paper is retracted
    abstract TEXT NOT NULL,
    mesh TEXT NOT NULL,
    keywords TEXT NOT NULL,
    publication_types TEXT NOT NULL,
    -- For facets, filters and SQL, after what people read:
    topics TEXT NOT NULL,              -- JSON array of the assigned topics' labels
    relevance REAL,                    -- probability the article is about OIH
    relevant INTEGER,                  -- 1: relevance at the digest's threshold or above (NULL: not classified)
    retracted INTEGER NOT NULL,
    evidence_rank INTEGER,             -- 0 = strongest evidence (meta-analysis)
    notice_kinds TEXT,                 -- the notices' kinds, for a facet: 'Erratum published; Expression of concern'
    newest INTEGER                     -- 1, 2, ...: year, newest first, then PMID, highest first
);
CREATE INDEX articles_year ON articles(year);
CREATE INDEX articles_study_type ON articles(study_type);
CREATE INDEX articles_journal ON articles(journal);
CREATE INDEX articles_relevant ON articles(relevant);
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, abstract, mesh, keywords, content="articles",
    tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


# A retracted paper's marks where its title and key finding are read, on every page and in every download:
# a column of 0 and 1 far to the right left it looking like the paper that stands. The key finding's are
# the digest's words.
RETRACTED_TITLE = "RETRACTED: "
RETRACTED_FINDING = "RETRACTED — do not rely on this finding"


@dataclass(frozen=True)
class Reading:
    """How rows say what a record holds as names and words: the digest's OIH relevance threshold, the
    configured topics' labels (what readers see; a topic no longer configured keeps its name), and which
    relevances a curator decided, as the exports say it (``relevance_source``): what a person checked reads
    'curated' rather than as the model's certainty."""

    threshold: float
    labels: Mapping[str, str]  # topic name -> label
    relevance: RelevanceSources

    @classmethod
    def of(cls, store: Store, threshold: float, labels: Mapping[str, str]) -> Reading:
        """With the curated labels ``classify`` applies: the classifier's shipped ones too, not only the store's."""
        return cls(threshold, labels, RelevanceSources.from_labels(labels_in_force(store).values))

    def tags(self, record: dict) -> str:
        """'Non-opioid therapies (likely); Tapering and discontinuation (curated)', as the digest says them."""
        return "; ".join(f"{self.labels.get(topic, topic)} ({word})" for topic, word in record_tags(record))

    def about_oih(self, record: dict) -> str | None:
        """The OIH relevance in words: a curator's yes or no once ``classify`` has applied it, else likely or unlikely."""
        relevance = record["relevance"]
        if relevance is None:
            return None
        if record["relevance_source"] == CURATOR:
            return "yes (curated)" if relevance else "no (curated)"
        return "likely" if relevance >= self.threshold else "unlikely"


def language_names(codes: Sequence[str]) -> str:
    """'English', 'Chinese; English': the names the digest gives PubMed's language codes (another code as it is)."""
    names = ["English" if code.lower() in ENGLISH else LANGUAGES.get(code.lower(), code)
             for code in (code.strip() for code in codes) if code and code.lower() != UNDETERMINED]
    return "; ".join(dict.fromkeys(names))


def snapshot_row(record: dict, reading: Reading) -> dict:
    """The snapshot's columns of one record (``corpus.exports.iter_records``), by name."""
    study_type = record["study_type"]
    relevance = record["relevance"]
    retracted = record["retracted"]
    return {
        "pmid": int(record["pmid"]),
        "title": RETRACTED_TITLE + record["title"] if retracted else record["title"],
        "notices": "; ".join(notice_texts(record)),
        "authors": "; ".join(record["authors"]),
        "journal": record["journal"],
        "year": record["year"],
        "language": language_names(record["language"]),
        "study_type": STUDY_TYPES.get(study_type, study_type) if study_type else None,
        "tags": reading.tags(record),
        "about_oih": reading.about_oih(record),
        "pubmed": record["url"],
        "doi": record["doi"],
        "key_finding": retracted_finding(record["key_finding"]) if retracted else record["key_finding"],
        "abstract": record["abstract"],
        "mesh": "; ".join(record["mesh"]),
        "keywords": "; ".join(record["keywords"]),
        "publication_types": "; ".join(record["publication_types"]),
        "topics": json.dumps([reading.labels.get(topic, topic) for topic in record["topics"]]),
        "relevance": relevance,
        "relevant": None if relevance is None else int(relevance >= reading.threshold),
        "retracted": int(retracted),
        "evidence_rank": evidence_rank(study_type) if study_type else None,
        "notice_kinds": "; ".join(dict.fromkeys(notice_words(n["kind"]) for n in record["notices"])) or None,
    }


def retracted_finding(key_finding: str) -> str:
    """A retracted paper's key finding, after the warning."""
    return f"{RETRACTED_FINDING}: {key_finding}" if key_finding else RETRACTED_FINDING


def _number_newest_first(db: sqlite3.Connection) -> None:
    """The web view's order, as one unique column: Datasette pages a sort with ties (year) wrongly,
    ordering the first page without its primary key, so a download of every page lost and
    repeated the rows of the year that crossed a page boundary."""
    db.execute("UPDATE articles SET newest = ranked.n FROM (SELECT pmid, ROW_NUMBER() OVER "
               "(ORDER BY year DESC, pmid DESC) AS n FROM articles) AS ranked WHERE ranked.pmid = articles.pmid")
    db.execute("CREATE UNIQUE INDEX articles_newest ON articles(newest)")


def build_snapshot(store: Store, target: Path, threshold: float, labels: Mapping[str, str]) -> int:
    """Write the snapshot of every article that is not deleted (retracted ones marked) to ``target``;
    ``threshold`` is the OIH relevance the digest needs (``oihwatch.model_info.relevance_threshold``),
    ``labels`` the configured topics' labels by name."""
    partial = target.with_name(target.name + ".part")
    try:
        return _write(store, partial, target, Reading.of(store, threshold, labels))
    except (OSError, sqlite3.OperationalError) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StorageError(f"cannot write the web view's snapshot {target}: {reason}; serve writes it beside "
                           "the database, so that folder must be writable") from None


def _write(store: Store, partial: Path, target: Path, reading: Reading) -> int:
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.executescript(SCHEMA)
        pmids = [row[0] for row in store.db.execute("SELECT pmid FROM articles WHERE deleted = 0 ORDER BY CAST(pmid AS INTEGER)")]
        rows = (snapshot_row(r, reading) for r in iter_records(store, pmids, reading.relevance))
        with db:
            columns = [name for (name,) in db.execute("SELECT name FROM pragma_table_info('articles')") if name != "newest"]
            db.executemany(f"INSERT INTO articles ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})", rows)
            _number_newest_first(db)
            # The paper's own title is searched, as on the command line: not the mark before it.
            db.execute("INSERT INTO articles_fts (rowid, title, abstract, mesh, keywords) SELECT rowid, "
                       "iif(retracted, substr(title, :after), title), abstract, mesh, keywords FROM articles",
                       {"after": len(RETRACTED_TITLE) + 1})
        db.execute("VACUUM")
    finally:
        db.close()
    os.replace(partial, target)
    return len(pmids)
