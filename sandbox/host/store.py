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
from sandbox.host import docstore
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
CREATE TABLE IF NOT EXISTS dmp_admin (
    matricule TEXT PRIMARY KEY, mes_attached INTEGER NOT NULL DEFAULT 1, created_by TEXT, created_at TEXT,
    consent_at TEXT, telecom TEXT, address TEXT, updated_at TEXT
);
CREATE TRIGGER IF NOT EXISTS dmp_admin_reset AFTER DELETE ON patient BEGIN
    DELETE FROM dmp_admin WHERE matricule = old.matricule;
END;
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
            docstore.create(db)

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
                *docstore.TABLES,
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
            docstore.seed(
                db,
                [
                    (
                        patients[pid].matricule,
                        patients[pid].oid,
                        int(state.get("documents", docstore.DEFAULT_COUNT)),
                        patients[pid].birth_name,
                        patients[pid].first_names,
                        patients[pid].sex,
                        patients[pid].birth_date,
                    )
                    for pid, state in states.items()
                    if pid in patients and state.get("state") in ("active", "terminated")
                ],
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

    # --- administrative transactions (sandbox/host/admin.py) ---------------------------------------

    profile: str = "current"  # HostConfig.profile: "current" (Mon espace santé rules) or "legacy"

    def mes_attached(self, matricule: str) -> bool:
        """Seeded DMPs are attached to Mon espace santé; those a professional created (legacy) are not."""
        row = self.connect().execute("SELECT mes_attached FROM dmp_admin WHERE matricule = ?", (matricule,))
        found = row.fetchone()
        return True if found is None else bool(found[0])

    def create_dmp(
        self,
        matricule: str,
        oid: str,
        traits: tuple[str, str, str, str],
        ps_id: str,
        oppositions: tuple[bool, bool],
        contact: tuple[str, str],
    ) -> bool:
        """Open a DMP (not attached to MES); False when one already exists (active or closed)."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT state FROM patient WHERE matricule = ?", (matricule,)).fetchone()
            if row is not None and row[0] != "none":
                db.execute("ROLLBACK")
                return False
            if row is None:
                db.execute(
                    "INSERT INTO patient (matricule, oid, state) VALUES (?,?,'none')", (matricule, oid)
                )
            db.execute(
                "UPDATE patient SET state = 'active', closed_on = NULL, closing_reason = NULL,"
                " birth_name = ?, first_names = ?, sex = ?, birth_date = ?, opposition_bris_de_glace = ?,"
                " opposition_centre_15 = ? WHERE matricule = ?",
                (*traits, int(oppositions[0]), int(oppositions[1]), matricule),
            )
            stamp = now()
            db.execute(
                "INSERT OR REPLACE INTO dmp_admin VALUES (?,0,?,?,?,?,?,?)",
                (matricule, ps_id, stamp, stamp, contact[0], contact[1], stamp),
            )
            db.execute("INSERT OR IGNORE INTO authorization VALUES (?,?,?)", (matricule, ps_id, stamp))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return True

    def set_dmp_state(self, matricule: str, state: str, reason: str | None = None) -> bool:
        """Close (``terminated``, with its reason) or reactivate (``active``); False if nothing changed."""
        db = self.connect()
        if state == "terminated":
            cursor = db.execute(
                "UPDATE patient SET state = 'terminated', closed_on = ?, closing_reason = ?"
                " WHERE matricule = ? AND state = 'active'",
                (now(), reason, matricule),
            )
        else:
            cursor = db.execute(
                "UPDATE patient SET state = 'active', closed_on = NULL, closing_reason = NULL"
                " WHERE matricule = ? AND state = 'terminated'",
                (matricule,),
            )
        return cursor.rowcount > 0

    def update_admin_data(
        self, matricule: str, oppositions: tuple[bool, bool], contact: tuple[str, str]
    ) -> None:
        db = self.connect()
        db.execute(
            "UPDATE patient SET opposition_bris_de_glace = ?, opposition_centre_15 = ? WHERE matricule = ?",
            (int(oppositions[0]), int(oppositions[1]), matricule),
        )
        db.execute(
            "INSERT INTO dmp_admin (matricule, telecom, address, updated_at) VALUES (?,?,?,?)"
            " ON CONFLICT(matricule) DO UPDATE SET telecom = excluded.telecom, address = excluded.address,"
            " updated_at = excluded.updated_at",
            (matricule, contact[0], contact[1], now()),
        )

    def admin_data(self, matricule: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = (
            self.connect().execute("SELECT * FROM dmp_admin WHERE matricule = ?", (matricule,)).fetchone()
        )
        return row

    def set_treating_doctor(self, matricule: str, ps_id: str) -> None:
        """The declaring physician becomes the médecin traitant DMP (replacing any other), authorised."""
        db = self.connect()
        db.execute("INSERT OR REPLACE INTO treating_doctor VALUES (?,?)", (matricule, ps_id))
        db.execute("INSERT OR IGNORE INTO authorization VALUES (?,?,?)", (matricule, ps_id, now()))

    def clear_treating_doctor(self, matricule: str, ps_id: str) -> bool:
        cursor = self.connect().execute(
            "DELETE FROM treating_doctor WHERE matricule = ? AND ps_id = ?", (matricule, ps_id)
        )
        return cursor.rowcount > 0

    def authorized_dmps(self, ps_ids: list[str], since: str | None) -> list[sqlite3.Row]:
        """Authorisations of these professionals on existing DMPs (granted since ``since`` if given)."""
        if not ps_ids:
            return []
        marks = ",".join("?" * len(ps_ids))
        query = (
            "SELECT a.ps_id, a.since, p.* FROM authorization a JOIN patient p ON p.matricule = a.matricule"
            f" WHERE a.ps_id IN ({marks}) AND p.state != 'none'"
        )
        parameters: list[str] = list(ps_ids)
        if since is not None:
            query += " AND a.since >= ?"
            parameters.append(since)
        return list(self.connect().execute(query + " ORDER BY a.since, p.matricule", parameters))

    def patient_authorizations(self, matricule: str) -> list[sqlite3.Row]:
        return list(
            self.connect().execute(
                "SELECT * FROM authorization WHERE matricule = ? ORDER BY since, ps_id", (matricule,)
            )
        )

    def dmp_patients(self) -> list[sqlite3.Row]:
        return list(self.connect().execute("SELECT * FROM patient WHERE state != 'none' ORDER BY matricule"))

    def last_access(self, matricule: str, ps_id: str) -> str | None:
        row = (
            self.connect()
            .execute(
                "SELECT MAX(at) FROM journal WHERE matricule = ? AND actor = ? AND result = 'OK'",
                (matricule, ps_id),
            )
            .fetchone()
        )
        return str(row[0]) if row and row[0] else None

    def last_action(self, matricule: str, ps_id: str) -> str | None:
        return self.last_access(matricule, ps_id)

    def last_submission(self, matricule: str) -> str | None:
        """Date of the last document submission, when the document tables exist (sandbox/host/docstore)."""
        db = self.connect()
        table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'xds_submission_set'"
        ).fetchone()
        if table is None:
            return None
        row = db.execute(
            "SELECT MAX(submission_time) FROM xds_submission_set WHERE matricule = ?", (matricule,)
        ).fetchone()
        return str(row[0]) if row and row[0] else None
