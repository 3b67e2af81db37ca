"""Shared builders for protocol tests: a structure signer from the test PKI and access contexts."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree

from app.dmp_client.core.context import (
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    AccessContext,
    Actor,
    AuthMode,
    Code,
    Purpose,
    Software,
)
from app.dmp_client.core.signing import SoftwareKeySigner
from app.ins import Ins

ROOT = Path(__file__).resolve().parents[2]
TEST_INS = Ins.parse("207058575627097", "1.2.250.1.213.1.4.10")
SOFTWARE = Software("Client DMP", "0.1.0", "BAC-A-SABLE")


def structure_signer(pki_dir: Path, which: str = "sign") -> SoftwareKeySigner:
    folder = pki_dir / "pki"
    key = load_pem_private_key((folder / f"structure-{which}.key").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SoftwareKeySigner(
        key, x509.load_pem_x509_certificate((folder / f"structure-{which}.pem").read_bytes())
    )


def doctor_context(mode: AuthMode = AuthMode.DIRECT, purpose: Purpose = Purpose.NORMAL) -> AccessContext:
    roles = (Code("10", PROFESSION_CODE_SYSTEM, "Médecin"), Code("SM54", SPECIALTY_CODE_SYSTEM))
    actor = Actor("899900012341", "CLAIRE MEDECIN-GENERALISTE", roles, "499900012341001", "SA07")
    return AccessContext(actor, mode, purpose, TEST_INS, SOFTWARE)


def envelope_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(ROOT / "tests" / "data" / "conformance" / "envelope-driver.xsd")))
