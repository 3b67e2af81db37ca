"""Who acts, for which patient, how, and with which software: the content of every VIHF."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.ins import Ins


class AuthMode(StrEnum):
    """VIHF ``Authentification_mode`` (dmp-interface.md §4.3)."""

    DIRECT = "DIRECTE"
    INDIRECT = "INDIRECTE"
    INDIRECT_REINFORCED = "INDIRECTE_RENFORCEE"


class Purpose(StrEnum):
    """VIHF ``purposeofuse`` codes (TRE_R248)."""

    NORMAL = "normal"
    BREAK_GLASS = "bris_de_glace"
    CENTRE_15 = "centre_15"


PURPOSE_CODE_SYSTEM = "1.2.250.1.213.1.1.4.248"
PROFESSION_CODE_SYSTEM = "1.2.250.1.71.1.2.7"  # TRE_G15
SPECIALTY_CODE_SYSTEM = "1.2.250.1.71.4.2.5"  # TRE_R01
NON_PS_ROLE_CODE_SYSTEM = "1.2.250.1.213.1.1.4.6"  # TRE_A00
SECTOR_CODE_SYSTEM = "1.2.250.1.71.4.2.4"  # TRE_R02
PS_ID_OID = "1.2.250.1.71.4.2.1"
STRUCTURE_ID_OID = "1.2.250.1.71.4.2.2"


@dataclass(frozen=True)
class Code:
    code: str
    code_system: str
    display_name: str | None = None


@dataclass(frozen=True)
class Actor:
    """The person (direct mode) or the structure's user (indirect mode) acting on the DMP."""

    national_id: str
    display_name: str
    roles: tuple[Code, ...]
    structure_id: str
    sector: str

    @property
    def sector_attribute(self) -> str:
        return f"{self.sector}^{SECTOR_CODE_SYSTEM}"


@dataclass(frozen=True)
class Software:
    """The LPS identity the VIHF carries; the homologation number comes from configuration."""

    name: str
    version: str
    homologation: str
    instance_id: str | None = None


AIR_AUTHN_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"  # [UNSURE] DMP_AIR_AUTHN_CLASSE
AIR_AUTHN_DECL = "APP_BROWSER_AUTH"  # [UNSURE] DMP_AIR_AUTHN_DECL (DRIMbox VIHF.java, the CNAM kit)


@dataclass(frozen=True)
class AirAuthn:
    """AIR (INDIRECTE_RENFORCEE): the primary authentication the VIHF declares
    (``AuthnContextClassRef`` / ``AuthnContextDecl``) and its validity (EX_AIR: 30 s, one request)."""

    class_ref: str = AIR_AUTHN_CLASS
    decl: str | None = AIR_AUTHN_DECL
    validity_seconds: float = 30.0  # DMP_AIR_VIHF_VALIDITE_S: SAML Conditions; 0 = none [UNSURE]


@dataclass(frozen=True)
class AccessContext:
    actor: Actor
    mode: AuthMode
    purpose: Purpose
    patient: Ins | None
    software: Software
    air: AirAuthn | None = None  # AIR sessions only
