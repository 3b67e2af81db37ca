"""The sandbox's virtual Vitale card, read over real PC/SC with the sandbox's own APDU layout
(docs/cards.md). Training mode only: the product reaches it through app.services.training; a real
Vitale card is read by the EHR's SESAM-Vitale components and handed over as the patient context."""

from __future__ import annotations

from app.card.atr import CardKind, classify_atr
from app.card.errors import RealVitaleCard, VitaleAbsent, VitaleError
from app.card.patient_sources import Beneficiary
from app.card.pcsc import list_readers, transmit
from app.card.tlv import parse_tlv
from app.ins import InsError, Nir, card_birth_date

SANDBOX_VITALE_AID = b"\xf0SBXVITALE"
SW_OK = 0x9000
SW_RECORD_NOT_FOUND = 0x6A83
MAX_BENEFICIARIES = 12


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

    def holder(self) -> Nir | None:
        """The card holder's NIR (the "ouvrant droit", tag 0x92 of the application header read by
        READ BINARY, sandbox/vicc.py): the INSi search with the card names a beneficiary without his
        own NIR (a child) through it. None when the header does not carry it."""
        reader = self._find_reader()
        select = bytes([0x00, 0xA4, 0x04, 0x00, len(SANDBOX_VITALE_AID)]) + SANDBOX_VITALE_AID
        answers = transmit(reader, [select, bytes([0x00, 0xB0, 0x00, 0x00, 0x00])])
        return self._holder(answers)

    @staticmethod
    def _holder(answers: list[tuple[bytes, int]]) -> Nir | None:
        if any(status != SW_OK for _, status in answers[:2]) or len(answers) < 2:
            raise VitaleError("Lecture de l'en-tête de la carte Vitale virtuelle impossible.")
        value = parse_tlv(answers[1][0]).get(0x92)
        if value is None:
            return None
        try:
            return Nir.parse(value.decode("ascii"))
        except (InsError, UnicodeDecodeError):
            raise VitaleError("Carte Vitale : numéro de l'assuré (ouvrant droit) invalide.") from None

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
