"""Schema migrations of the local database, oldest first: ``MIGRATIONS[n]`` takes a base from
``PRAGMA user_version`` n to n + 1. Never edit a released step; append a new one."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: upload queue (with the document's bytes until the host acknowledges it), cache, journal.
    (
        """CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)""",
        """CREATE TABLE queue_entry (
            id INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
            mode TEXT NOT NULL CHECK (mode IN ('card', 'structure')),
            professional TEXT,
            patient TEXT NOT NULL,
            request TEXT NOT NULL,
            unique_id TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            source_digest TEXT UNIQUE,
            source_name TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            uncertain INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            reason_code TEXT,
            reason TEXT,
            sent_at REAL,
            host_entry_id TEXT
        )""",
        "CREATE INDEX queue_entry_due ON queue_entry (state, next_attempt_at)",
        """CREATE TABLE queue_content (
            entry_id INTEGER NOT NULL REFERENCES queue_entry (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (entry_id, seq)
        )""",
        """CREATE TABLE queue_event (
            id INTEGER PRIMARY KEY,
            entry_id INTEGER NOT NULL REFERENCES queue_entry (id) ON DELETE CASCADE,
            at REAL NOT NULL,
            state TEXT NOT NULL,
            code TEXT
        )""",
        """CREATE TABLE cache_list (
            patient TEXT PRIMARY KEY,
            stored_at REAL NOT NULL,
            payload BLOB NOT NULL
        )""",
        """CREATE TABLE cache_document (
            unique_id TEXT PRIMARY KEY,
            patient TEXT NOT NULL,
            stored_at REAL NOT NULL,
            used_at REAL NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        )""",
        """CREATE TABLE cache_chunk (
            unique_id TEXT NOT NULL REFERENCES cache_document (unique_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (unique_id, seq)
        )""",
        """CREATE TABLE journal (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            structure TEXT NOT NULL,
            mode TEXT NOT NULL,
            purpose TEXT NOT NULL,
            transaction_name TEXT NOT NULL,
            patient TEXT,
            result TEXT NOT NULL,
            duration_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX journal_at ON journal (at)",
    ),
    # 2: the document's bytes are staged under a token in short transactions before the entry exists
    # (reading a slow network share must not hold the base's write lock), then the entry points at
    # them: no copy. Existing bytes move under a token per entry.
    (
        """CREATE TABLE queue_blob (
            token TEXT NOT NULL,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            stored_at REAL NOT NULL,
            PRIMARY KEY (token, seq)
        )""",
        "ALTER TABLE queue_entry ADD COLUMN content_token TEXT",
        "UPDATE queue_entry SET content_token = 'entree-' || id",
        """INSERT INTO queue_blob (token, seq, data, stored_at)
            SELECT 'entree-' || entry_id, seq, data, 0 FROM queue_content""",
        "DROP TABLE queue_content",
        "CREATE INDEX queue_entry_token ON queue_entry (content_token)",
    ),
    # 3: the patient identities' lifecycle (RNIV status, how and by whom it was set) and its history;
    # keyed by the patient's pseudonym, the INS and traits inside the encrypted base only.
    (
        """CREATE TABLE identity (
            patient TEXT PRIMARY KEY,
            ins TEXT NOT NULL,
            traits TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('provisoire', 'récupérée', 'validée', 'qualifiée')),
            insi TEXT,
            document TEXT,
            set_by TEXT NOT NULL,
            set_at REAL NOT NULL,
            reason TEXT
        )""",
        """CREATE TABLE identity_event (
            id INTEGER PRIMARY KEY,
            patient TEXT NOT NULL,
            at REAL NOT NULL,
            status TEXT NOT NULL,
            set_by TEXT NOT NULL,
            how TEXT NOT NULL,
            reason TEXT
        )""",
        "CREATE INDEX identity_event_patient ON identity_event (patient, id)",
    ),
]
