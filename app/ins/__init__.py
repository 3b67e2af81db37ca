"""Patient identity core: NIR/NIA, INS, INS-C and INS traits.

Pure Python (standard library only), fully typed; nothing here does I/O or imports anything else
from ``app``. Every refusal is an :class:`InsError` with a stable code and a French message.
"""

from __future__ import annotations

from app.ins.codes import FICTITIOUS_OIDS, MATRICULE_OIDS, InsOid
from app.ins.errors import InsError, InsErrorCode
from app.ins.ins import Ins, PatientIdentifier, parse_cx, parse_hl7v3_id, parse_oid
from app.ins.insc import InsC, card_birth_date, compute_insc, normalize_first_name
from app.ins.nir import Nir, Sex, nir_key
from app.ins.traits import BirthDate, IdentityTraits, Trait, normalize_name, parse_birth_place

__all__ = [
    "FICTITIOUS_OIDS",
    "MATRICULE_OIDS",
    "BirthDate",
    "IdentityTraits",
    "Ins",
    "InsC",
    "InsError",
    "InsErrorCode",
    "InsOid",
    "Nir",
    "PatientIdentifier",
    "Sex",
    "Trait",
    "card_birth_date",
    "compute_insc",
    "nir_key",
    "normalize_first_name",
    "normalize_name",
    "parse_birth_place",
    "parse_cx",
    "parse_hl7v3_id",
    "parse_oid",
]
