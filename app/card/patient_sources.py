"""Patient identity sources behind one interface: the EHR's context and manual entry.

In practice the host EHR has already read the Vitale card through the licensed SESAM-Vitale
components and hands the beneficiaries over (JSON); a person may type them. The sandbox's virtual
Vitale card (training mode only) is read by ``sandbox.training.vitale``, reached through
app.services.training (the real Vitale layout is proprietary and never read by this client).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.card.errors import VitaleError
from app.ins import Ins, InsC, InsError, Nir, card_birth_date, compute_insc


@dataclass(frozen=True)
class Beneficiary:
    """One beneficiary as the card (or the EHR) gives it. Its repr shows only the rank."""

    rank: int
    surname: str
    first_name: str
    birth_date: str  # AAMMJJ as on the card, lunar dates kept
    own_nir: Nir | None
    ins: Ins | None = None

    def __repr__(self) -> str:
        return f"Beneficiary(rank={self.rank})"

    def insc(self) -> InsC | None:
        """The INS-C, or None when the beneficiary's own NIR is not known (see insc_unavailable)."""
        if self.own_nir is None:
            return None
        return compute_insc(self.first_name, self.birth_date, self.own_nir)

    @property
    def insc_unavailable(self) -> str | None:
        if self.own_nir is None:
            return "le NIR propre du bénéficiaire n'est pas sur la carte : pas d'INS-C"
        return None


class IdentitySource(Protocol):
    """Where the patient's identity comes from."""

    label: str

    def beneficiaries(self) -> list[Beneficiary]: ...


def _beneficiary(raw: dict[str, Any], index: int) -> Beneficiary:
    try:
        nir = raw.get("nir")
        ins = raw.get("ins")
        return Beneficiary(
            rank=int(raw.get("rang", index)),
            surname=str(raw["nom"]),
            first_name=str(raw["prenom"]),
            birth_date=card_birth_date(str(raw["naissance"])),
            own_nir=Nir.parse(nir) if nir else None,
            ins=Ins.parse(ins["matricule"], ins["oid"]) if ins else None,
        )
    except KeyError as missing:
        raise VitaleError(
            f"Contexte patient incomplet : champ {missing} absent (bénéficiaire {index})."
        ) from None
    except InsError as error:
        raise VitaleError(
            f"Contexte patient invalide (bénéficiaire {index}) : {error}", code=error.code
        ) from None


class EhrContextSource:
    """The EHR's hand-off (JSON).

    ``{"beneficiaires": [{"nom", "prenom", "naissance", "nir"?, "rang"?, "ins"?}]}``; ``ins`` is
    ``{"matricule", "oid"}`` when the EHR has a qualified INS.
    """

    label = "logiciel métier"

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context

    @classmethod
    def from_file(cls, path: Path) -> EhrContextSource:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise VitaleError(f"Fichier de contexte patient illisible : {error.strerror}.") from None
        except (ValueError, UnicodeDecodeError):
            raise VitaleError("Fichier de contexte patient mal formé (JSON UTF-8 attendu).") from None
        if not isinstance(data, dict):
            raise VitaleError("Fichier de contexte patient mal formé (objet JSON attendu).")
        return cls(data)

    def beneficiaries(self) -> list[Beneficiary]:
        raw = self._context.get("beneficiaires")
        if not isinstance(raw, list) or not raw:
            raise VitaleError("Le contexte patient ne contient aucun bénéficiaire.")
        return [_beneficiary(entry, i) for i, entry in enumerate(raw, start=1)]


class ManualEntrySource:
    """A beneficiary typed by a person, validated like any other source."""

    label = "saisie manuelle"

    def __init__(self, surname: str, first_name: str, birth_date: str, nir: str | None = None) -> None:
        self._entry = {"nom": surname, "prenom": first_name, "naissance": birth_date, "nir": nir, "rang": 1}
        if not surname.strip() or not first_name.strip():
            raise VitaleError("Nom et prénom sont obligatoires.")
        self._beneficiary = _beneficiary(self._entry, 1)

    def beneficiaries(self) -> list[Beneficiary]:
        return [self._beneficiary]
