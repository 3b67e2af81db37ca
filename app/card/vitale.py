"""Patient identity sources behind one interface: EHR context, manual entry, sandbox Vitale card.

In practice the host EHR has already read the Vitale card through the licensed SESAM-Vitale
components and hands the beneficiaries over (JSON); a person may type them; and in the sandbox a
virtual Vitale card is read over real PC/SC with the sandbox's own APDU layout (docs/cards.md: the
real Vitale layout is proprietary and is never read with these APDUs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.card.atr import CardKind, classify_atr
from app.card.errors import RealVitaleCard, VitaleAbsent, VitaleError
from app.card.pcsc import list_readers, transmit
from app.card.tlv import parse_tlv
from app.ins import Ins, InsC, InsError, Nir, card_birth_date, compute_insc

SANDBOX_VITALE_AID = b"\xf0SBXVITALE"
SW_OK = 0x9000
SW_RECORD_NOT_FOUND = 0x6A83
MAX_BENEFICIARIES = 12


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


def _text(fields: dict[int, bytes], tag: int) -> str:
    try:
        return fields[tag].decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        raise VitaleError("Carte Vitale virtuelle : enregistrement incomplet ou illisible.") from None


class SandboxVitaleCard:
    """The sandbox's virtual Vitale card, read over PC/SC (sandbox APDU layout)."""

    label = "carte Vitale (bac à sable)"

    def __init__(self, reader: str | None = None) -> None:
        self._reader = reader

    def _find_reader(self) -> str:
        vitale = [r for r in list_readers() if r.atr is not None and r.kind is CardKind.VITALE]
        if self._reader:
            vitale = [r for r in vitale if r.name == self._reader]
        if not vitale:
            raise VitaleAbsent()
        return vitale[0].name

    def beneficiaries(self) -> list[Beneficiary]:
        reader = self._find_reader()
        select = bytes([0x00, 0xA4, 0x04, 0x00, len(SANDBOX_VITALE_AID)]) + SANDBOX_VITALE_AID
        reads = [bytes([0x00, 0xB2, n, 0x04, 0x00]) for n in range(1, MAX_BENEFICIARIES + 1)]
        answers = transmit(reader, [select, *reads])
        if answers[0][1] != SW_OK:
            atr = next(r.atr for r in list_readers() if r.name == reader)
            label = classify_atr(atr or b"")[1]
            raise RealVitaleCard(
                f"{label} : cette carte se lit par les composants SESAM-Vitale, "
                "pas par le lecteur du bac à sable."
            )
        out = []
        for data, status in answers[1:]:
            if status == SW_RECORD_NOT_FOUND:
                break
            if status != SW_OK:
                raise VitaleError(f"Lecture de la carte Vitale interrompue (statut {status:04X}).")
            out.append(self._record(data))
        return out

    @staticmethod
    def _record(data: bytes) -> Beneficiary:
        fields = parse_tlv(data)
        rank = fields.get(0x80, b"\x00")[0]
        nir = fields.get(0x84)
        try:
            own = Nir.parse(nir.decode("ascii")) if nir else None
            birth = card_birth_date(_text(fields, 0x83))
        except (InsError, UnicodeDecodeError):
            raise VitaleError(f"Carte Vitale : données du bénéficiaire de rang {rank} invalides.") from None
        return Beneficiary(rank, _text(fields, 0x81), _text(fields, 0x82), birth, own)
