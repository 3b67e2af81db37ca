"""The host's data: SQLite in WAL mode, one connection per thread, safe under concurrent requests."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from sandbox import cards
from sandbox.patients import load_patients

SCHEMA = """
CREATE TABLE IF NOT EXISTS patient (
    matricule TEXT PRIMARY KEY, oid TEXT NOT NULL, state TEXT NOT NULL,
    closed_on TEXT, closing_reason TEXT, minor INTEGER NOT NULL DEFAULT 0,
    opposition_bris_de_glace INTEGER NOT NULL DEFAULT 0,
    opposition_centre_15 INTEGER NOT NULL DEFAULT 0,
    birth_name TEXT, first_names TEXT, sex TEXT, birth_date TEXT
);
CREATE TABLE IF NOT EXISTS authorization (
    matricule TEXT NOT NULL, ps_id TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (matricule, ps_id)
);
CREATE TABLE IF NOT EXISTS treating_doctor (matricule TEXT PRIMARY KEY, ps_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS legal_representative (minor TEXT NOT NULL, representative TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notification (
    at TEXT NOT NULL, matricule TEXT NOT NULL, ps_id TEXT NOT NULL, text TEXT
);
CREATE TABLE IF NOT EXISTS journal (
    at TEXT NOT NULL, actor TEXT NOT NULL, mode TEXT, purpose TEXT, transaction_name TEXT NOT NULL,
    matricule TEXT, result TEXT NOT NULL
);
"""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    def seed(self) -> int:
        """(Re)create the sandbox patients, their DMP states and médecin traitant links."""
        text = resources.files("sandbox").joinpath("data/dmp.json").read_text(encoding="utf-8")
        states: dict[str, Any] = json.loads(text)
        patients = {p.id: p for p in load_patients()}
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in (
                "patient",
                "authorization",
                "treating_doctor",
                "legal_representative",
                "notification",
            ):
                db.execute(f"DELETE FROM {table}")
            for pid, patient in patients.items():
                state = states.get(pid, {"state": "none"})
                db.execute(
                    "INSERT INTO patient VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        patient.matricule,
                        patient.oid,
                        state["state"],
                        state.get("closed_on"),
                        state.get("closing_reason"),
                        int(state.get("minor", False)),
                        int(state.get("opposition_bris_de_glace", False)),
                        int(state.get("opposition_centre_15", False)),
                        patient.birth_name,
                        patient.first_names,
                        patient.sex,
                        patient.birth_date,
                    ),
                )
                for minor in state.get("legal_representative_of", []):
                    db.execute(
                        "INSERT INTO legal_representative VALUES (?,?)",
                        (patients[minor].matricule, patient.matricule),
                    )
            for card in cards.load_cards():
                for pid in card.treating_doctor_of:
                    matricule = patients[pid].matricule
                    db.execute("INSERT INTO treating_doctor VALUES (?,?)", (matricule, card.national_id))
                    db.execute(
                        "INSERT OR IGNORE INTO authorization VALUES (?,?,?)",
                        (matricule, card.national_id, now()),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(patients)

    def patient(self, matricule: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = (
            self.connect().execute("SELECT * FROM patient WHERE matricule = ?", (matricule,)).fetchone()
        )
        return row

    def is_authorized(self, matricule: str, ps_id: str) -> bool:
        row = (
            self.connect()
            .execute("SELECT 1 FROM authorization WHERE matricule = ? AND ps_id = ?", (matricule, ps_id))
            .fetchone()
        )
        return row is not None

    def treating_doctor(self, matricule: str) -> str | None:
        row = (
            self.connect()
            .execute("SELECT ps_id FROM treating_doctor WHERE matricule = ?", (matricule,))
            .fetchone()
        )
        return str(row[0]) if row else None

    def set_authorization(self, matricule: str, ps_id: str, present: bool) -> bool:
        """Add or remove; returns whether anything changed."""
        db = self.connect()
        if present:
            cursor = db.execute(
                "INSERT OR IGNORE INTO authorization VALUES (?,?,?)", (matricule, ps_id, now())
            )
        else:
            cursor = db.execute(
                "DELETE FROM authorization WHERE matricule = ? AND ps_id = ?", (matricule, ps_id)
            )
        return cursor.rowcount > 0

    def record_first_access(self, matricule: str, ps_id: str) -> None:
        """The patient is told the first time a professional accesses the DMP."""
        db = self.connect()
        seen = db.execute(
            "SELECT 1 FROM notification WHERE matricule = ? AND ps_id = ?", (matricule, ps_id)
        ).fetchone()
        if seen is None:
            db.execute(
                "INSERT INTO notification VALUES (?,?,?,?)",
                (now(), matricule, ps_id, "Premier accès d'un professionnel de santé à votre DMP"),
            )

    def journal(
        self, actor: str, mode: str, purpose: str, transaction: str, matricule: str | None, result: str
    ) -> None:
        self.connect().execute(
            "INSERT INTO journal VALUES (?,?,?,?,?,?,?)",
            (now(), actor, mode, purpose, transaction, matricule, result),
        )

    def journal_rows(self, limit: int = 100) -> list[sqlite3.Row]:
        return list(self.connect().execute("SELECT * FROM journal ORDER BY rowid DESC LIMIT ?", (limit,)))

    def notifications(self, matricule: str) -> list[sqlite3.Row]:
        return list(self.connect().execute("SELECT * FROM notification WHERE matricule = ?", (matricule,)))
