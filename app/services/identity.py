"""The patient identity's lifecycle (RNIV), in one place of the service layer (issue 17 item 3).

Four exclusive statuses: **provisoire** (no INSi answer, no identity document checked),
**récupérée** (INSi answered), **validée** (a document checked), **qualifiée** (both). Transitions:

- an INSi answer that confirms the INS and the traits: provisoire → récupérée, validée → qualifiée;
- an INSi answer that does not (other INS, other traits): the INSi proof is withdrawn,
  récupérée → provisoire, qualifiée → validée, with the reason;
- an identity document checked: provisoire → validée, récupérée → qualifiée;
- a trait changed: both proofs concerned the old traits, back to provisoire, with the reason.

Only a qualifiée identity may feed the DMP (:meth:`IdentityRegistry.require_qualified`, called by
every feeding path). Each change is stored in the encrypted base with its history and journalled
under the patient's pseudonym. The INSi client (another module) hands an :class:`InsiAnswer` over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.ins import IdentityTraits, Ins
from app.store.database import Database
from app.store.identities import IdentityEvent, IdentityRegistry, IdentityStatus, StoredIdentity

__all__ = [
    "DocumentCheck",
    "DocumentType",
    "IdentityLifecycle",
    "IdentityStatus",
    "InsiAnswer",
    "StoredIdentity",
]


class DocumentType(StrEnum):
    """Identity documents of high trust (RNIV): the checked document's type is kept."""

    CNI = "carte nationale d'identité"
    PASSEPORT = "passeport"
    TITRE_SEJOUR = "titre de séjour"
    LIVRET_FAMILLE = "livret de famille (mineur)"
    ACTE_NAISSANCE = "extrait d'acte de naissance (mineur)"


@dataclass(frozen=True)
class InsiAnswer:
    """What the INSi teleservice answered (CR 00: one identity): the INS and traits it returned,
    the answer's reference and when. The INSi client builds it; its repr shows no identity."""

    ins: Ins = dataclasses.field(repr=False)
    traits: IdentityTraits = dataclasses.field(repr=False)
    answer_id: str
    at: dt.datetime
    history: tuple[Ins, ...] = dataclasses.field(default=(), repr=False)  # INSHISTO, kept with the proof


@dataclass(frozen=True)
class DocumentCheck:
    """An identity document the professional (or the secretariat) checked against the patient."""

    document: DocumentType
    checked_by: str
    at: dt.datetime


def _as_json(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


class IdentityLifecycle:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.registry = IdentityRegistry(db, clock)

    # -- reading --------------------------------------------------------------------------------

    def get(self, ins: Ins) -> StoredIdentity | None:
        return self.registry.get(ins)

    def status(self, ins: Ins) -> IdentityStatus:
        """The identity's status here; one never recorded is provisoire."""
        stored = self.registry.get(ins)
        return stored.status if stored is not None else IdentityStatus.PROVISOIRE

    def history(self, ins: Ins) -> list[IdentityEvent]:
        return self.registry.history(ins)

    def require_qualified(self, ins: Ins, traits: IdentityTraits) -> None:
        self.registry.require_qualified(ins, traits)

    # -- transitions ----------------------------------------------------------------------------

    def record_insi(self, ins: Ins, traits: IdentityTraits, answer: InsiAnswer, by: str) -> StoredIdentity:
        """An INSi answer about the identity ``ins`` with ``traits``: a confirmation, or a mismatch."""
        current = self._current(ins, traits, by)
        how: dict[str, Any] = {"etape": "INSI", "reponse": answer.answer_id, "le": _as_json(answer.at)}
        differences = answer.traits.differences(traits)
        if answer.ins != ins or differences:
            what = "un autre INS" if answer.ins != ins else "d'autres traits (" + ", ".join(differences) + ")"
            reason = f"Réponse INSi {answer.answer_id} discordante : {what}."
            status = {
                IdentityStatus.QUALIFIEE: IdentityStatus.VALIDEE,
                IdentityStatus.RECUPEREE: IdentityStatus.PROVISOIRE,
            }.get(current.status, current.status)
            how["etape"] = "INSI-DISCORDANCE"
            return self._put(current, status, by, how, reason, insi=None)
        status = {
            IdentityStatus.PROVISOIRE: IdentityStatus.RECUPEREE,
            IdentityStatus.VALIDEE: IdentityStatus.QUALIFIEE,
        }.get(current.status, current.status)
        proof: dict[str, Any] = {"reponse": answer.answer_id, "le": _as_json(answer.at)}
        if answer.history:  # INSHISTO kept (issue 17), inside the encrypted base only
            proof["historique"] = [[h.matricule.value, h.oid.value] for h in answer.history]
        return self._put(current, status, by, how, None, insi=proof)

    def check_document(self, ins: Ins, traits: IdentityTraits, check: DocumentCheck) -> StoredIdentity:
        current = self._current(ins, traits, check.checked_by)
        status = {
            IdentityStatus.PROVISOIRE: IdentityStatus.VALIDEE,
            IdentityStatus.RECUPEREE: IdentityStatus.QUALIFIEE,
        }.get(current.status, current.status)
        proof = {"piece": check.document.value, "par": check.checked_by, "le": _as_json(check.at)}
        how = {"etape": "PIECE", **proof}
        return self._put(current, status, check.checked_by, how, None, document=proof)

    def change_traits(self, ins: Ins, traits: IdentityTraits, by: str, reason: str) -> StoredIdentity:
        """A trait changed (typed, received from the EHR…): both proofs are withdrawn."""
        stored = self.registry.get(ins)
        if stored is not None and not stored.traits.differences(traits):
            return stored
        return self._reset(ins, traits, by, f"Traits modifiés : {reason}")

    # -- internals ------------------------------------------------------------------------------

    def _current(self, ins: Ins, traits: IdentityTraits, by: str) -> StoredIdentity:
        """The stored identity, reset to provisoire first when ``traits`` differ from its own."""
        stored = self.registry.get(ins)
        if stored is None:
            return StoredIdentity(ins, traits, IdentityStatus.PROVISOIRE, None, None, by, self.clock(), None)
        differences = stored.traits.differences(traits)
        if differences:
            return self._reset(ins, traits, by, "Traits modifiés : " + ", ".join(differences) + ".")
        return stored

    def _reset(self, ins: Ins, traits: IdentityTraits, by: str, reason: str) -> StoredIdentity:
        new = StoredIdentity(ins, traits, IdentityStatus.PROVISOIRE, None, None, by, self.clock(), reason)
        self.registry.put(new, {"etape": "TRAITS"})
        return new

    def _put(
        self,
        current: StoredIdentity,
        status: IdentityStatus,
        by: str,
        how: dict[str, Any],
        reason: str | None,
        *,
        insi: dict[str, Any] | bool | None = True,
        document: dict[str, Any] | bool | None = True,
    ) -> StoredIdentity:
        """The new state; a proof given replaces the current one (``True``: kept as it is)."""
        new = StoredIdentity(
            current.ins,
            current.traits,
            status,
            current.insi if insi is True else insi or None,
            current.document if document is True else document or None,
            by,
            self.clock(),
            reason,
        )
        self.registry.put(new, how)
        return new
