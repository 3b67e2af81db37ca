"""The professional's identity and situations d'exercice, from a CPS's certificates and data objects.

Certificates are standard X.509 (subject: CN = IdNat_PS with SN and GN in the same RDN, OU = the
profession's label). The business data objects follow the sandbox layout of docs/cards.md; the
activity tags 0x84 (organisation), 0x85 (Struct_IdNat) and 0x86 (sector) are the public ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.card.errors import CardDataError
from app.card.tlv import parse_tlv

SMARTCARD_LOGON = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")


@dataclass(frozen=True)
class Situation:
    """One situation d'exercice: the structure and sector the VIHF must carry."""

    number: int
    structure_id: str
    structure_name: str
    sector: str
    mode: str | None = None


# Asked after the PIN with the card's situations; returns the chosen one's number (the GUI's dialog).
SituationChooser = Callable[[tuple[Situation, ...]], int]


@dataclass(frozen=True)
class Professional:
    national_id: str
    surname: str
    given_name: str
    profession_code: str | None
    profession_label: str | None
    specialty_code: str | None
    role: str | None
    card_type: str | None
    card_serial: str | None

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.surname}"


def _text(value: bytes | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise CardDataError(f"Donnée de carte illisible ({what}).") from None


def _subject_attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def is_authentication_certificate(cert: x509.Certificate) -> bool:
    """EKU clientAuth (and smartcardLogon on CPS): how the ANS DMP sample picks it."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CLIENT_AUTH in usages


def is_signature_certificate(cert: x509.Certificate) -> bool:
    """KeyUsage nonRepudiation (content commitment)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return usage.content_commitment


def professional_from(
    certificate: x509.Certificate, id_card: bytes | None, name_ps: bytes | None, info_ps: bytes | None
) -> Professional:
    """Combine the certificate subject with the public data objects; they must agree."""
    national_id = _subject_attribute(certificate, NameOID.COMMON_NAME)
    if not national_id:
        raise CardDataError("Le certificat de la carte ne porte pas d'identifiant national (CN).")
    names = parse_tlv(name_ps) if name_ps else {}
    if names.get(0x80) and _text(names[0x80], "CPS_NAME_PS") != national_id:
        raise CardDataError("L'identifiant de la carte ne correspond pas à celui de son certificat.")
    info = parse_tlv(info_ps) if info_ps else {}
    card = parse_tlv(id_card) if id_card else {}
    return Professional(
        national_id=national_id,
        surname=_text(names.get(0x81), "nom") or _subject_attribute(certificate, NameOID.SURNAME) or "",
        given_name=_text(names.get(0x82), "prénom")
        or _subject_attribute(certificate, NameOID.GIVEN_NAME)
        or "",
        profession_code=_text(info.get(0x80), "profession"),
        profession_label=_text(info.get(0x81), "profession")
        or _subject_attribute(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME),
        specialty_code=_text(info.get(0x83), "spécialité"),
        role=_text(info.get(0x82), "rôle"),
        card_type=_text(card.get(0x80), "type de carte"),
        card_serial=_text(card.get(0x81), "numéro de carte"),
    )


def situation_from(label: str, value: bytes) -> Situation:
    """Parse one ``CPS_ACTIVITY_xx_PS`` object; the structure id and sector are mandatory."""
    fields = parse_tlv(value)
    structure_id = _text(fields.get(0x85), label)
    sector = _text(fields.get(0x86), label)
    if not structure_id or not sector:
        raise CardDataError(f"Situation d'exercice incomplète sur la carte ({label}).")
    number_field = fields.get(0x80)
    number = number_field[0] if number_field else int(label.split("_")[2])
    return Situation(
        number=number,
        structure_id=structure_id,
        structure_name=_text(fields.get(0x84), label) or "",
        sector=sector,
        mode=_text(fields.get(0x87), label),
    )
