"""Classify a card from its ATR (CPS3, CPS4, Vitale, unknown)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CardKind(StrEnum):
    CPS3 = "CPS3"
    CPS4 = "CPS4"
    VITALE = "Vitale"
    UNKNOWN = "inconnue"


@dataclass(frozen=True)
class AtrPattern:
    """An ATR pattern in hex where ``..`` matches any byte."""

    pattern: str
    kind: CardKind
    label: str

    def matches(self, atr: bytes) -> bool:
        expected = self.pattern.split()
        return len(expected) == len(atr) and all(
            e == ".." or int(e, 16) == b for e, b in zip(expected, atr, strict=True)
        )


# Vitale 2 ATRs are listed in pcsc-tools' public smartcard_list. No public CPS3/CPS4 ATR was found:
# real CPS cards are recognised by their PKCS#11 token (Cryptolib); add their ATRs here once known
# from a test card [UNSURE]. The sandbox's virtual cards carry "CPS3-SBX", "CPS4-SBX", "VITALE-S".
KNOWN_ATRS: tuple[AtrPattern, ...] = (
    AtrPattern("3B 75 13 00 00 .. 09 EA 90 00", CardKind.VITALE, "Carte Vitale 2"),
    AtrPattern("3B 88 80 01 43 50 53 33 2D 53 42 58 1E", CardKind.CPS3, "CPS3 virtuelle (bac à sable)"),
    AtrPattern("3B 88 80 01 43 50 53 34 2D 53 42 58 19", CardKind.CPS4, "CPS4 virtuelle (bac à sable)"),
    AtrPattern("3B 88 80 01 56 49 54 41 4C 45 2D 53 74", CardKind.VITALE, "Vitale virtuelle (bac à sable)"),
)


def classify_atr(atr: bytes, extra: tuple[AtrPattern, ...] = ()) -> tuple[CardKind, str]:
    """The kind of card and a French label; configured patterns are tried before the built-in ones."""
    for candidate in (*extra, *KNOWN_ATRS):
        if candidate.matches(atr):
            return candidate.kind, candidate.label
    return CardKind.UNKNOWN, "Carte inconnue"
