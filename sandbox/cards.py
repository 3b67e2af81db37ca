"""Virtual CPS/CPE cards: the profiles, and their data objects in the sandbox layout.

The real layout of the CPS business data objects ("ASIP_CPS3_Données-métier") is not public. The
sandbox writes them as flat BER-TLV with the tags documented in docs/cards.md; only the activity
tags 0x84 (organisation name), 0x85 (Struct_IdNat) and 0x86 (sector) come from public material.
This encoder is independent of the client's parser on purpose: each checks the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# CKA_IDs (ins-and-cards.md §3.3): CPS3 ends 10 02 (authentication) / 10 01 (signature);
# CPS4 ends 20 (authentication) / 10 (signature).
CPS3_ID_PREFIX = bytes.fromhex("E828BD080F8025000001FF00")
CPS3_AUTH_ID = CPS3_ID_PREFIX + bytes.fromhex("1002")
CPS3_SIGN_ID = CPS3_ID_PREFIX + bytes.fromhex("1001")
CPS4_AUTH_ID = CPS3_ID_PREFIX + bytes.fromhex("0020")
CPS4_SIGN_ID = CPS3_ID_PREFIX + bytes.fromhex("0010")

AUTH_CERT_LABEL = "Certificat d'Authentification CPS"
SIGN_CERT_LABEL = "Certificat de Signature CPS"
AUTH_KEY_LABEL = "CPS_PRIV_AUT"
SIGN_KEY_LABEL = "CPS_PRIV_SIG"

CARD_PIN = "1234"
CARD_PUK = "12345678"


@dataclass(frozen=True)
class Situation:
    structure_id: str
    name: str
    sector: str
    mode: str


@dataclass(frozen=True)
class CardProfile:
    key: str
    card_type: str
    serial: str
    national_id: str
    surname: str
    given_name: str
    profession: str | None
    profession_label: str
    specialty: str | None
    situations: tuple[Situation, ...]
    chip: str = "CPS3"
    role: str | None = None
    treating_doctor_of: tuple[str, ...] = field(default=())

    @property
    def token_label(self) -> str:
        return f"CPS {self.serial}"

    @property
    def auth_id(self) -> bytes:
        return CPS4_AUTH_ID if self.chip == "CPS4" else CPS3_AUTH_ID

    @property
    def sign_id(self) -> bytes:
        return CPS4_SIGN_ID if self.chip == "CPS4" else CPS3_SIGN_ID


@dataclass(frozen=True)
class StructureProfile:
    finess: str
    id_nat_struct: str
    name: str
    sector: str


def _load() -> dict[str, Any]:
    text = resources.files("sandbox").joinpath("data/cards.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_cards() -> list[CardProfile]:
    cards = []
    for raw in _load()["cards"]:
        situations = tuple(Situation(**s) for s in raw.pop("situations"))
        treating = tuple(raw.pop("treating_doctor_of", ()))
        cards.append(CardProfile(situations=situations, treating_doctor_of=treating, **raw))
    return cards


def card(key: str) -> CardProfile:
    for profile in load_cards():
        if profile.key == key:
            return profile
    raise KeyError(f"no sandbox card {key!r}")


def load_structure() -> StructureProfile:
    return StructureProfile(**_load()["structure"])


# -- sandbox BER-TLV layout ---------------------------------------------------------------------


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV with a single-byte tag and a definite length (short or long form)."""
    length = len(value)
    if length < 0x80:
        encoded = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + encoded + value


def id_card_object(profile: CardProfile) -> bytes:
    return (
        tlv(0x80, profile.card_type.encode())
        + tlv(0x81, profile.serial.encode())
        + tlv(0x82, b"20250101")
        + tlv(0x83, b"20281231")
    )


def name_object(profile: CardProfile) -> bytes:
    return (
        tlv(0x80, profile.national_id.encode())
        + tlv(0x81, profile.surname.encode("utf-8"))
        + tlv(0x82, profile.given_name.encode("utf-8"))
    )


def info_object(profile: CardProfile) -> bytes:
    out = b""
    if profile.profession:
        out += tlv(0x80, profile.profession.encode())
    out += tlv(0x81, profile.profession_label.encode("utf-8"))
    if profile.role:
        out += tlv(0x82, profile.role.encode())
    if profile.specialty:  # last, so that "specialty = last characters" readers also work
        out += tlv(0x83, profile.specialty.encode())
    return out


def activity_object(number: int, situation: Situation) -> bytes:
    return (
        tlv(0x80, bytes([number]))
        + tlv(0x84, situation.name.encode("utf-8"))
        + tlv(0x85, situation.structure_id.encode())
        + tlv(0x86, situation.sector.encode())
        + tlv(0x87, situation.mode.encode())
    )


def data_objects(profile: CardProfile) -> list[tuple[str, bytes, bool]]:
    """(label, value, private) for every CKO_DATA object of the card."""
    objects = [
        ("CPS_ID_CARD", id_card_object(profile), False),
        ("CPS_NAME_PS", name_object(profile), False),
        ("CPS_INFO_PS", info_object(profile), False),
    ]
    for number, situation in enumerate(profile.situations, start=1):
        objects.append((f"CPS_ACTIVITY_{number:02d}_PS", activity_object(number, situation), True))
    return objects
