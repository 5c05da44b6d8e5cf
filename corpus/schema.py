"""The corpus schema, as an ordered list of forward migrations.

``PRAGMA user_version`` holds the number of migrations applied; opening a store
applies the missing ones, all in one transaction. A migration is plain SQL, never the
store's code: that code is written for the latest schema, so an upgrade from an old version
would run it against tables a later migration has not reshaped yet. A step that needs it
(re-deriving records) runs after the last migration, in the same transaction (``Store``).
Statements are run one by one, so each ends at the end of a line. Never edit a released
migration: append a new one.
"""

from __future__ import annotations

import re

MIGRATIONS: list[str] = [
    # 1: articles, full-text index, tags, labels, harvest bookkeeping, digests.
    """
    CREATE TABLE articles (
        pmid TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        abstract TEXT NOT NULL DEFAULT '',
        authors TEXT NOT NULL DEFAULT '[]',          -- JSON list of display names
        journal TEXT NOT NULL DEFAULT '',
        journal_abbrev TEXT NOT NULL DEFAULT '',
        volume TEXT NOT NULL DEFAULT '',
        issue TEXT NOT NULL DEFAULT '',
        pages TEXT NOT NULL DEFAULT '',
        pub_date TEXT NOT NULL DEFAULT '',
        pub_date_sort TEXT NOT NULL DEFAULT '',
        year INTEGER,
        created TEXT NOT NULL DEFAULT '',
        entrez_date TEXT NOT NULL DEFAULT '',
        revised TEXT NOT NULL DEFAULT '',
        doi TEXT NOT NULL DEFAULT '',
        pmcid TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        mesh TEXT NOT NULL DEFAULT '[]',             -- JSON list of descriptor names
        keywords TEXT NOT NULL DEFAULT '[]',         -- JSON list
        publication_types TEXT NOT NULL DEFAULT '[]',-- JSON list
        status TEXT NOT NULL DEFAULT '',
        retracted INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL,                          -- the whole Article as JSON, minus raw_xml
        raw_xml TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_updated TEXT NOT NULL,
        needs_classification INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX articles_first_seen ON articles(first_seen);
    CREATE INDEX articles_year ON articles(year);
    CREATE INDEX articles_needs_classification ON articles(needs_classification);
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, abstract, mesh, keywords,
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TABLE tags (
        pmid TEXT NOT NULL REFERENCES articles(pmid) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        score REAL NOT NULL,
        assigned INTEGER NOT NULL,
        source TEXT NOT NULL,                        -- model | rule | curator
        model_version TEXT NOT NULL DEFAULT '',
        updated TEXT NOT NULL,
        PRIMARY KEY (pmid, topic)
    );
    CREATE INDEX tags_topic ON tags(topic, assigned);
    CREATE TABLE classifications (
        pmid TEXT PRIMARY KEY REFERENCES articles(pmid) ON DELETE CASCADE,
        relevance REAL NOT NULL,
        study_type TEXT NOT NULL,
        key_finding TEXT NOT NULL DEFAULT '',
        model_version TEXT NOT NULL DEFAULT '',
        classified TEXT NOT NULL
    );
    CREATE TABLE labels (
        pmid TEXT NOT NULL,
        topic TEXT NOT NULL,                         -- a topic name, or 'oih' for relevance
        value INTEGER NOT NULL,                      -- 1 = is about it, 0 = is not
        labelled TEXT NOT NULL,
        PRIMARY KEY (pmid, topic)
    );
    CREATE TABLE watermarks (
        query TEXT PRIMARY KEY,
        value TEXT NOT NULL,                         -- ISO date: every record created up to it is stored
        updated TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        step TEXT NOT NULL,                          -- harvest | sweep | classify | digest | train
        query TEXT NOT NULL DEFAULT '',
        started TEXT NOT NULL,
        finished TEXT,
        window_start TEXT NOT NULL DEFAULT '',
        window_end TEXT NOT NULL DEFAULT '',
        found INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'running',      -- running | ok | failed
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX runs_step ON runs(step, started);
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        period TEXT NOT NULL UNIQUE,                 -- e.g. '2026-W48': one digest per period
        since TEXT NOT NULL,
        until TEXT NOT NULL,
        created TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE digest_items (
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        pmid TEXT NOT NULL,
        fingerprint TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (digest_id, pmid)
    );
    CREATE TABLE deliveries (
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        recipient TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',      -- pending | sent | written
        message_id TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        sent TEXT,
        error TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (digest_id, recipient)
    );
    """,
    # 2: the standing marks (retracted, erratum, expression of concern) each digest record was
    # sent or warned with, so a later digest warns about a new mark exactly once.
    """
    CREATE TABLE digest_marks (
        pmid TEXT NOT NULL,
        mark TEXT NOT NULL,                          -- 'retracted' | 'ErratumIn:<pmid>' | ...
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        warned INTEGER NOT NULL DEFAULT 0,           -- 1 = shown as a warning, 0 = known when sent
        PRIMARY KEY (pmid, mark)
    );
    """,
    # 3: covering indexes so a search filters full-text matches by sets of rowids read from
    # narrow indexes, never from the wide article rows (benchmarks/search.py, 100,000 records:
    # p95 of filtered searches from 90-330 ms to 7-45 ms). tags_topic is superseded.
    """
    DROP INDEX tags_topic;
    CREATE INDEX tags_topic_assigned ON tags(topic, assigned, pmid);
    CREATE INDEX tags_topic_score ON tags(topic, score, pmid);
    CREATE INDEX classifications_study_type ON classifications(study_type, pmid);
    CREATE INDEX articles_retracted ON articles(retracted) WHERE retracted = 1;
    CREATE INDEX articles_journal ON articles(journal, journal_abbrev);
    """,
    # 4: what each retraction, erratum and expression-of-concern notice concerns (the link the paper
    # gets back), so the paper is flagged whichever of the two is stored first; filled from the
    # notices already stored. Flagging their originals rewrites records, which only the store's code
    # of the day can do: ``Store`` does it right after upgrading past this version (NOTICES_SCHEMA).
    """
    CREATE TABLE notices (
        original TEXT NOT NULL,                      -- PMID of the paper concerned
        kind TEXT NOT NULL,                          -- the link it gets: RetractionIn | ErratumIn | ExpressionOfConcernIn
        notice TEXT NOT NULL,                        -- PMID of the notice
        PRIMARY KEY (original, kind, notice)
    );
    CREATE INDEX notices_notice ON notices(notice);
    INSERT OR IGNORE INTO notices (original, kind, notice)
        SELECT json_extract(link.value, '$.pmid'),
               CASE json_extract(link.value, '$.kind') WHEN 'RetractionOf' THEN 'RetractionIn'
                    WHEN 'ErratumFor' THEN 'ErratumIn' ELSE 'ExpressionOfConcernIn' END,
               articles.pmid
        FROM articles, json_each(articles.data, '$.links') AS link
        WHERE articles.deleted = 0
          AND json_extract(link.value, '$.kind') IN ('RetractionOf', 'ErratumFor', 'ExpressionOfConcernFor')
          AND json_extract(link.value, '$.pmid') != '';
    """,
    # 5: deliveries may also be 'skipped' (nothing in the recipient's topics, send_empty off) or
    # 'refused' (the server refused the address for good). An older oihwatch would take both for
    # 'pending' and send or retry them, so this version number stops it; and an index for the
    # deliveries still pending, which every send now looks for across all digests.
    """
    CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(digest_id) WHERE status = 'pending';
    """,
    # 6: no table changes. The columns each row derives from its record (retracted, year, the dates,
    # the authors as shown ...) are derived again by the store's code of the day, which only ``Store``
    # can do, right after upgrading past this version (DERIVED_SCHEMA): a record stored before "retracted
    # and replaced" counted as retracted stayed in search and exports. When a rule deriving a column
    # changes again, append another migration like this one and move DERIVED_SCHEMA to it.
    """
    SELECT 1;
    """,
]

# The version from which each stored notice has flagged the paper it concerns (migration 4).
NOTICES_SCHEMA = 4
# The version from which every stored row's derived columns follow today's rules (migration 6).
DERIVED_SCHEMA = 6

# ``PRAGMA application_id`` of a corpus (the bytes 'OIHW'), set by every writable open: it tells a corpus
# from another program's SQLite file before anything is written to it. A corpus made before it was set
# has a schema version and the tables of migration 1.
APPLICATION_ID = int.from_bytes(b"OIHW", "big")
FIRST_TABLES = frozenset(re.findall(r"CREATE (?:VIRTUAL )?TABLE (\w+)", MIGRATIONS[0]))
