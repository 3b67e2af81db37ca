"""The local journal of DMP actions: when, who, which transaction, which patient (pseudonymised),
the result. It never holds document content, names or the INS itself; the structure exports it
for audit (CSV or JSON lines)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from app.ins import Ins
from app.store.database import Database
from app.store.pseudonym import pseudonym

if TYPE_CHECKING:  # the client's exchanges (httpx, the signature) load with the first connection
    from app.dmp_client.exchange import JournalEvent

FIELDS = (
    "horodatage",
    "acteur",
    "structure",
    "mode",
    "finalite",
    "transaction",
    "patient",
    "resultat",
    "duree_ms",
)


@dataclass(frozen=True)
class JournalRow:
    at: float
    actor: str
    structure: str
    mode: str
    purpose: str
    transaction: str
    patient: str | None
    result: str
    duration_ms: int

    def values(self) -> tuple[str, ...]:
        when = dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(timespec="milliseconds")
        return (
            when,
            self.actor,
            self.structure,
            self.mode,
            self.purpose,
            self.transaction,
            self.patient or "",
            self.result,
            str(self.duration_ms),
        )


class LocalJournal:
    """Implements the facade's ``Journal`` protocol; one row per transaction, committed at once."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def record(self, event: JournalEvent) -> None:
        patient = pseudonym(self.db, event.patient) if event.patient is not None else None
        with self.db.write() as cx:
            cx.execute(
                "INSERT INTO journal (at, actor, structure, mode, purpose, transaction_name, patient, "
                "result, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.clock(),
                    event.actor_id,
                    event.structure_id,
                    str(event.mode),
                    str(event.purpose),
                    event.transaction,
                    patient,
                    event.result,
                    int(event.duration * 1000),
                ),
            )

    def rows(
        self, since: float | None = None, until: float | None = None, patient: Ins | None = None
    ) -> Iterator[JournalRow]:
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("at < ?")
            params.append(until)
        if patient is not None:
            clauses.append("patient = ?")
            params.append(pseudonym(self.db, patient))
        last = 0
        while True:  # in pages: an export of years of activity stays in bounded memory
            page = self.db.execute(
                "SELECT id, at, actor, structure, mode, purpose, transaction_name, patient, result, "
                f"duration_ms FROM journal WHERE {' AND '.join(clauses)} AND id > ? ORDER BY id LIMIT 500",
                (*params, last),
            )
            if not page:
                return
            for row in page:
                yield JournalRow(*row[1:])
            last = page[-1][0]

    def export(self, out: TextIO, fmt: str = "csv", **filters: object) -> int:
        count = 0
        writer = csv.writer(out, delimiter=";", lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(FIELDS)
        for row in self.rows(**filters):  # type: ignore[arg-type]
            if writer is not None:
                writer.writerow(row.values())
            else:
                out.write(json.dumps(dict(zip(FIELDS, row.values(), strict=True)), ensure_ascii=False) + "\n")
            count += 1
        return count
