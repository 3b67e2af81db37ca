"""The patient identities' lifecycle as stored: one row per patient identity (keyed by its pseudonym;
the INS and traits live only inside the encrypted base) with its RNIV status and how, when and by
whom it was set, every change in ``identity_event``, and one pseudonymised journal row per change.

The rules that decide a change are in :mod:`app.services.identity`; this module keeps the rows and
holds the gate every feeding path goes through (:meth:`IdentityRegistry.require_qualified`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.errors import IdentityNotQualified
from app.ins import IdentityTraits, Ins
from app.store.database import Database
from app.store.pseudonym import pseudonym


class IdentityStatus(StrEnum):
    """The four exclusive statuses of the RNIV (issue 17, ``ins-and-cards.md`` §2)."""

    PROVISOIRE = "provisoire"  # no INSi answer, no identity document checked
    RECUPEREE = "récupérée"  # INSi answered, no document checked
    VALIDEE = "validée"  # a document checked, no INSi answer
    QUALIFIEE = "qualifiée"  # both: the only status that may feed the DMP


_ADVICE = {
    IdentityStatus.RECUPEREE: "Il reste à vérifier une pièce d'identité du patient.",
    IdentityStatus.VALIDEE: "Il reste à interroger le téléservice INSi.",
}


def not_qualified(status: IdentityStatus | None, detail: str = "") -> IdentityNotQualified:
    """The refusal, saying the status and what is left to do (no patient data in it)."""
    said = status.value if status is not None else "inconnu (identité jamais qualifiée sur ce poste)"
    advice = _ADVICE.get(status, "") if status is not None else ""
    text = f"{IdentityNotQualified.user_message} Statut de l'identité : {said}. {detail}{advice}".strip()
    return IdentityNotQualified(text)


def traits_json(traits: IdentityTraits) -> str:
    return json.dumps(
        {
            "nom": traits.birth_name,
            "prenoms": " ".join(traits.first_names),
            "sexe": str(traits.sex),
            "naissance": traits.birth_date.to_french(),
            "lieu": traits.birth_place,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def traits_from_json(text: str) -> IdentityTraits:
    t = json.loads(text)
    return IdentityTraits.parse(t["nom"], t["prenoms"], t["sexe"], t["naissance"], t["lieu"])


@dataclass(frozen=True)
class StoredIdentity:
    """One identity as stored. ``insi`` and ``document`` are the proofs in force (JSON objects)."""

    ins: Ins
    traits: IdentityTraits
    status: IdentityStatus
    insi: dict[str, Any] | None
    document: dict[str, Any] | None
    set_by: str
    set_at: float
    reason: str | None

    def __repr__(self) -> str:
        return f"StoredIdentity(status={self.status.value!r})"


@dataclass(frozen=True)
class IdentityEvent:
    at: float
    status: IdentityStatus
    set_by: str
    how: dict[str, Any]
    reason: str | None


class IdentityRegistry:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def get(self, ins: Ins) -> StoredIdentity | None:
        rows = self.db.execute(
            "SELECT ins, traits, status, insi, document, set_by, set_at, reason FROM identity "
            "WHERE patient = ?",
            (pseudonym(self.db, ins),),
        )
        if not rows:
            return None
        cx, traits, status, insi, document, set_by, set_at, reason = rows[0]
        matricule, oid = json.loads(cx)
        return StoredIdentity(
            Ins.parse(matricule, oid),
            traits_from_json(traits),
            IdentityStatus(status),
            json.loads(insi) if insi else None,
            json.loads(document) if document else None,
            set_by,
            set_at,
            reason,
        )

    def put(self, identity: StoredIdentity, how: dict[str, Any]) -> None:
        """Store the identity's new state, its history row and a pseudonymised journal row at once."""
        patient = pseudonym(self.db, identity.ins)
        ins = json.dumps([identity.ins.matricule.value, str(identity.ins.oid)])
        with self.db.write() as cx:
            cx.execute(
                "INSERT OR REPLACE INTO identity (patient, ins, traits, status, insi, document, set_by, "
                "set_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    patient,
                    ins,
                    traits_json(identity.traits),
                    identity.status.value,
                    json.dumps(identity.insi, ensure_ascii=False) if identity.insi else None,
                    json.dumps(identity.document, ensure_ascii=False) if identity.document else None,
                    identity.set_by,
                    identity.set_at,
                    identity.reason,
                ),
            )
            cx.execute(
                "INSERT INTO identity_event (patient, at, status, set_by, how, reason) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    patient,
                    identity.set_at,
                    identity.status.value,
                    identity.set_by,
                    json.dumps(how, ensure_ascii=False, sort_keys=True),
                    identity.reason,
                ),
            )
            cx.execute(  # the journal: who, when, the pseudonym and the new status; no name, no INS
                "INSERT INTO journal (at, actor, structure, mode, purpose, transaction_name, patient, "
                "result, duration_ms) VALUES (?, ?, '', 'identite', 'normal', ?, ?, ?, 0)",
                (
                    identity.set_at,
                    identity.set_by,
                    f"IDENTITE-{how.get('etape', '?')}",
                    patient,
                    identity.status.value,
                ),
            )

    def history(self, ins: Ins) -> list[IdentityEvent]:
        rows = self.db.execute(
            "SELECT at, status, set_by, how, reason FROM identity_event WHERE patient = ? ORDER BY id",
            (pseudonym(self.db, ins),),
        )
        return [
            IdentityEvent(at, IdentityStatus(s), by, json.loads(how), reason)
            for at, s, by, how, reason in rows
        ]

    def require_qualified(self, ins: Ins, traits: IdentityTraits) -> None:
        """Raise :class:`IdentityNotQualified` unless this INS is qualifiée *with these traits*."""
        stored = self.get(ins)
        if stored is None or stored.status is not IdentityStatus.QUALIFIEE:
            raise not_qualified(stored.status if stored else None)
        if stored.traits.differences(traits):
            raise not_qualified(
                IdentityStatus.PROVISOIRE,
                "Les traits d'identité du document diffèrent de ceux de l'identité qualifiée. ",
            )
