"""OIDs of the patient identifiers (ins-and-cards.md §2.3, dmp-interface.md §10)."""

from __future__ import annotations

from enum import StrEnum


class InsOid(StrEnum):
    """Assigning authorities of a patient identifier."""

    NIR = "1.2.250.1.213.1.4.8"
    """INS-NIR, production."""
    NIA = "1.2.250.1.213.1.4.9"
    """INS-NIA, production (identity being certified)."""
    NIR_TEST = "1.2.250.1.213.1.4.10"
    """INS-NIR of fictitious test patients (every DMP test-environment example)."""
    NIR_DEMO = "1.2.250.1.213.1.4.11"
    """INS-NIR of demonstration patients."""
    INS_C = "1.2.250.1.213.1.4.2"
    """Legacy computed INS (INS-C): accepted when read, never sent."""

    @property
    def label(self) -> str:
        """French label shown next to an identifier."""
        return _LABELS[self]


_LABELS = {
    InsOid.NIR: "INS-NIR",
    InsOid.NIA: "INS-NIA",
    InsOid.NIR_TEST: "INS-NIR [TEST]",
    InsOid.NIR_DEMO: "INS-NIR [DÉMO]",
    InsOid.INS_C: "INS-C (ancien)",
}

MATRICULE_OIDS = frozenset({InsOid.NIR, InsOid.NIA, InsOid.NIR_TEST, InsOid.NIR_DEMO})
FICTITIOUS_OIDS = frozenset({InsOid.NIR_TEST, InsOid.NIR_DEMO})

HL7_UNIVERSAL_ID_TYPE = "ISO"
HL7_IDENTIFIER_TYPE = "NH"
