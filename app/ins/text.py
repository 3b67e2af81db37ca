"""Character-level normalisation shared by the INS-C seed and the INS trait comparison."""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose but that French civil status writes as two letters
# (INS referential: ligatures are written out). Applied before diacritics are removed.
_SPELLED_OUT = str.maketrans(
    {
        "Œ": "OE",
        "œ": "oe",
        "Æ": "AE",
        "æ": "ae",
        "ß": "ss",
        "ẞ": "SS",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ł": "L",
        "ł": "l",
    }
)

_NOT_A_TO_Z = re.compile(r"[^A-Z]+")


def strip_diacritics(text: str) -> str:
    """Return ``text`` with accents removed and ligatures spelled out (é→e, Œ→OE)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPELLED_OUT))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def letters_only_upper(text: str) -> str:
    """Uppercase A–Z letters of ``text``, everything else (spaces, hyphens, apostrophes) dropped."""
    return _NOT_A_TO_Z.sub("", strip_diacritics(text).upper())


def squeeze_spaces(text: str) -> str:
    """Collapse every run of white space (including no-break spaces) into one ASCII space."""
    return " ".join(text.split())
