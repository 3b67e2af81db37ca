"""NIR and NIA: the 13-character number plus its 2-digit key (ins-and-cards.md §2.1, §2.2).

Layout (1-based positions): sex (1), year (2–3), month (4–5), birth place (6–10: département
2 characters, ``2A``/``2B`` for Corsica, or ``99`` for people born abroad, then 3 digits), order
number (11–13), key (14–15). Key = 97 − (number mod 97), with ``2A`` read as 19 and ``2B`` as 18.
A NIA is built exactly like a NIR; only the OID tells them apart (see :mod:`app.ins.ins`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.ins.errors import InsError, InsErrorCode

BODY_LENGTH = 13
FULL_LENGTH = 15

# Sex digit: 1 and 2 are certified registrations; 3, 4, 7 and 8 are provisional or special
# registrations (numéros provisoires). 0, 5, 6 and 9 never start a NIR or a NIA.
CERTIFIED_SEX_DIGITS = frozenset("12")
PROVISIONAL_SEX_DIGITS = frozenset("3478")
_CORSICA = {"2A": "19", "2B": "18"}
_DIGITS = frozenset("0123456789")


class Sex(StrEnum):
    """Administrative sex as the INS traits write it."""

    MALE = "M"
    FEMALE = "F"


def nir_key(body: str) -> str:
    """Return the 2-digit key of a valid 13-character NIR/NIA body (Corsican letters allowed)."""
    return f"{97 - _numeric(body) % 97:02d}"


def _numeric(body: str) -> int:
    department = body[5:7]
    if department in _CORSICA:
        body = body[:5] + _CORSICA[department] + body[7:]
    return int(body)


@dataclass(frozen=True, slots=True)
class Nir:
    """A NIR or NIA whose shape and key have been checked. Its repr never shows the number."""

    body: str = field(repr=False)
    key: str = field(repr=False)

    def __post_init__(self) -> None:
        _check_body(self.body)
        _check_key(self.body, self.key)

    @classmethod
    def parse(cls, text: str, *, require_key: bool = False) -> Nir:
        """Parse a NIR typed or read by a person: spaces allowed, key optional unless required."""
        compact = "".join(text.split()).upper()
        if not compact:
            raise InsError(InsErrorCode.NIR_EMPTY, "Le NIR est vide.")
        if len(compact) == BODY_LENGTH:
            if require_key:
                raise InsError(
                    InsErrorCode.NIR_KEY_MISSING,
                    "La clé du NIR est absente : saisissez les 15 caractères (13 + clé).",
                )
            _check_body(compact)
            return cls(compact, nir_key(compact))
        if len(compact) != FULL_LENGTH:
            raise InsError(
                InsErrorCode.NIR_LENGTH,
                f"Le NIR doit comporter 13 caractères, ou 15 avec la clé ; {len(compact)} saisis.",
            )
        return cls(compact[:BODY_LENGTH], compact[BODY_LENGTH:])

    @property
    def value(self) -> str:
        """The 15-character matricule, key included, as sent to the DMP."""
        return self.body + self.key

    @property
    def sex_digit(self) -> str:
        return self.body[0]

    @property
    def is_provisional(self) -> bool:
        """True for provisional or special registrations (sex digit 3, 4, 7 or 8)."""
        return self.sex_digit in PROVISIONAL_SEX_DIGITS

    @property
    def sex(self) -> Sex | None:
        """The sex the number encodes, or None for provisional numbers."""
        return {"1": Sex.MALE, "2": Sex.FEMALE}.get(self.sex_digit)

    @property
    def birth_year(self) -> str:
        """The 2-digit birth year as encoded (the century is not in the number)."""
        return self.body[1:3]

    @property
    def birth_month(self) -> str:
        """The encoded month: 01–12, or a pseudo-month (20, 30–42, 50+) when it was unknown."""
        return self.body[3:5]

    @property
    def birth_month_known(self) -> bool:
        return "01" <= self.birth_month <= "12"

    @property
    def birth_place(self) -> str:
        """The 5-character place code: département + commune, or 99 + INSEE country code."""
        return self.body[5:10]

    @property
    def born_abroad(self) -> bool:
        return self.body[5:7] == "99"

    @property
    def order_number(self) -> str:
        return self.body[10:13]

    def grouped(self) -> str:
        """The usual printed form, e.g. ``1 50 08 15 051 040 18``."""
        b = self.body
        return f"{b[0]} {b[1:3]} {b[3:5]} {b[5:7]} {b[7:10]} {b[10:13]} {self.key}"


def _check_body(body: str) -> None:
    if len(body) != BODY_LENGTH:
        raise InsError(
            InsErrorCode.NIR_LENGTH,
            f"Le NIR doit comporter 13 caractères, ou 15 avec la clé ; {len(body)} saisis.",
        )
    sex = body[0]
    if sex not in CERTIFIED_SEX_DIGITS and sex not in PROVISIONAL_SEX_DIGITS:
        raise InsError(
            InsErrorCode.NIR_SEX,
            "Le premier chiffre du NIR (sexe) doit être 1 ou 2 "
            f"(3, 4, 7 ou 8 pour un numéro provisoire) ; « {_shown(sex)} » lu.",
        )
    if body.isascii() and body.isdigit():
        return
    for position, char in enumerate(body, start=1):
        if char in _DIGITS:
            continue
        if position in (6, 7) and body[5:7] in _CORSICA:
            continue
        hint = " (Corse : 2A ou 2B aux positions 6 et 7)" if position in (6, 7) else ""
        raise InsError(
            InsErrorCode.NIR_CHARACTER,
            f"Caractère non autorisé en position {position} du NIR : un chiffre est attendu{hint}.",
        )


def _check_key(body: str, key: str) -> None:
    if len(key) != 2 or not set(key) <= _DIGITS:
        raise InsError(
            InsErrorCode.NIR_CHARACTER,
            "La clé du NIR (positions 14 et 15) doit comporter deux chiffres.",
        )
    if not 1 <= int(key) <= 97:
        raise InsError(
            InsErrorCode.NIR_KEY_RANGE,
            "La clé du NIR doit être comprise entre 01 et 97 : le numéro est mal saisi.",
        )
    if nir_key(body) != key:
        raise InsError(
            InsErrorCode.NIR_KEY_MISMATCH,
            "La clé du NIR ne correspond pas au numéro : un chiffre est probablement mal saisi.",
        )


def _shown(char: str) -> str:
    """A single offending character is not patient data; show it only if it is printable."""
    return char if char.isprintable() else "?"
