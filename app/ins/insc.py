"""The legacy computed INS (INS-C), exactly as ins-and-cards.md §1.2 specifies it.

seed = first name (A–Z only, cut or right-padded to 10) + birth date AAMMJJ as read from the card
(lunar dates kept: day 00, 31 February…) + the beneficiary's own NIR (13 characters, Corsican
letters kept); INS-C = first 64 bits of SHA-256(seed) in decimal on 20 digits + key 97 − (n mod 97).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from app.ins.codes import InsOid
from app.ins.errors import InsError, InsErrorCode
from app.ins.nir import CERTIFIED_SEX_DIGITS, Nir
from app.ins.text import letters_only_upper

FIRST_NAME_WIDTH = 10
INSC_LENGTH = 22
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class InsC:
    """A 22-digit INS-C whose key has been checked. Read-only: never sent to the DMP."""

    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.value) != INSC_LENGTH or not set(self.value) <= _DIGITS:
            raise InsError(
                InsErrorCode.INSC_SYNTAX,
                f"Un INS-C comporte exactement 22 chiffres ; {len(self.value)} caractères lus.",
            )
        if _key(int(self.value[:20])) != self.value[20:]:
            raise InsError(InsErrorCode.INSC_KEY_MISMATCH, "La clé de l'INS-C ne correspond pas au numéro.")

    oid = InsOid.INS_C

    @classmethod
    def parse(cls, text: str) -> InsC:
        """Parse an INS-C read from a DMP response or typed with spaces."""
        return cls("".join(text.split()))


def normalize_first_name(first_name: str) -> str:
    """The 10-character first-name part of the seed: accents removed, A–Z only, padded."""
    letters = letters_only_upper(first_name)
    if not letters:
        raise InsError(
            InsErrorCode.INSC_FIRST_NAME,
            "Le prénom ne contient aucune lettre : l'INS-C ne peut pas être calculé.",
        )
    return letters[:FIRST_NAME_WIDTH].ljust(FIRST_NAME_WIDTH)


def check_card_birth_date(aammjj: str) -> str:
    """Accept the birth date exactly as on the card (AAMMJJ); lunar dates are not corrected."""
    if len(aammjj) != 6 or not set(aammjj) <= _DIGITS:
        raise InsError(
            InsErrorCode.INSC_BIRTH_DATE,
            "La date de naissance doit être saisie telle que lue sur la carte, "
            "au format AAMMJJ (6 chiffres) ou JJ/MM/AAAA.",
        )
    return aammjj


def card_birth_date(text: str) -> str:
    """Turn ``AAMMJJ`` or ``JJ/MM/AAAA`` into AAMMJJ by slicing, never through a date type."""
    text = text.strip()
    parts = text.split("/")
    if len(parts) == 3 and [len(p) for p in parts] == [2, 2, 4]:
        day, month, year = parts
        text = year[2:] + month + day
    return check_card_birth_date(text)


def compute_insc(first_name: str, birth_date_aammjj: str, nir: Nir | str) -> InsC:
    """Compute the INS-C of a beneficiary from his own NIR (with or without its key)."""
    own_nir = nir if isinstance(nir, Nir) else Nir.parse(nir)
    if own_nir.sex_digit not in CERTIFIED_SEX_DIGITS:
        raise InsError(
            InsErrorCode.INSC_NIR_NOT_OWN,
            "Un numéro provisoire ne permet pas de calculer d'INS-C : "
            "il faut le NIR certifié du bénéficiaire.",
        )
    seed = normalize_first_name(first_name) + check_card_birth_date(birth_date_aammjj) + own_nir.body
    return InsC(_from_seed(seed))


def _from_seed(seed: str) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode("ascii")).digest()[:8], "big")
    return f"{number:020d}{_key(number)}"


def _key(number: int) -> str:
    return f"{97 - number % 97:02d}"
