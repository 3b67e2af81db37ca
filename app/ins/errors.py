"""Typed errors of the identity core.

Every error carries a stable ``code`` (for support and logs) and a French ``user_message``.
Neither ever contains the identifier or the traits that were refused: only positions,
lengths and expected shapes, so an error can be logged without leaking patient data.
"""

from __future__ import annotations

from enum import StrEnum


class InsErrorCode(StrEnum):
    """Stable codes of the identity core; documented in docs/errors.md."""

    NIR_EMPTY = "INS-NIR-VIDE"
    NIR_LENGTH = "INS-NIR-LONGUEUR"
    NIR_CHARACTER = "INS-NIR-CARACTERE"
    NIR_SEX = "INS-NIR-SEXE"
    NIR_KEY_MISSING = "INS-NIR-CLE-ABSENTE"
    NIR_KEY_RANGE = "INS-NIR-CLE-HORS-PLAGE"
    NIR_KEY_MISMATCH = "INS-NIR-CLE-FAUSSE"
    OID_UNKNOWN = "INS-OID-INCONNU"
    OID_LEGACY = "INS-OID-INSC-INTERDIT"
    CX_SYNTAX = "INS-CX-SYNTAXE"
    HL7V3_SYNTAX = "INS-HL7V3-SYNTAXE"
    INSC_FIRST_NAME = "INS-C-PRENOM"
    INSC_BIRTH_DATE = "INS-C-DATE"
    INSC_NIR_NOT_OWN = "INS-C-NIR-NON-CERTIFIE"
    INSC_SYNTAX = "INS-C-SYNTAXE"
    INSC_KEY_MISMATCH = "INS-C-CLE-FAUSSE"
    TRAIT_NAME = "INS-TRAIT-NOM"
    TRAIT_SEX = "INS-TRAIT-SEXE"
    TRAIT_BIRTH_DATE = "INS-TRAIT-DATE"
    TRAIT_BIRTH_PLACE = "INS-TRAIT-LIEU"


class InsError(ValueError):
    """A refused identifier or identity trait: safe to show to the user and to log."""

    def __init__(self, code: InsErrorCode, user_message: str) -> None:
        super().__init__(user_message)
        self.code = code
        self.user_message = user_message

    def __str__(self) -> str:
        return f"{self.user_message} [{self.code}]"

    def __repr__(self) -> str:
        return f"InsError({self.code.name})"
