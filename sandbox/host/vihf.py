"""The host's VIHF checks (dmp-interface.md §4): signature, signer, attributes, consistency with TLS.

Direct mode: the TLS client certificate is a card authentication certificate, the VIHF is signed
by the same holder's *signature* certificate (signing with the authentication certificate gives
``DMPInvalidCertificate`` as on the real host), and structure + sector must be one of the card's
situations. Indirect mode: TLS and VIHF use the structure's certificates (AUTH_CLI / SIGN).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from sandbox import cards
from sandbox.host.faults import HostFault

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
HL7 = "urn:hl7-org:v3"
TEST_OIDS = {"1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"}
PURPOSES = {"normal", "bris_de_glace", "centre_15"}
MODES = {"DIRECTE", "INDIRECTE", "INDIRECTE_RENFORCEE"}
PROFESSIONS_NEEDING_SPECIALTY = {"10", "21"}
REQUIRED = (
    "VIHF_Version",
    "Authentification_mode",
    "Identifiant_Structure",
    "Secteur_Activite",
    "Ressource_URN",
)
SOFTWARE = ("LPS_Nom", "LPS_Version", "LPS_ID_HOMOLOGATION_DMP")


@dataclass
class Caller:
    """Who the checked VIHF says is acting."""

    national_id: str
    mode: str
    purpose: str
    structure_id: str
    sector: str
    patient_cx: str | None
    professions: list[str] = field(default_factory=list)
    specialties: list[str] = field(default_factory=list)
    display_name: str = ""
    software: dict[str, str] = field(default_factory=dict)

    @property
    def patient_matricule(self) -> str | None:
        return self.patient_cx.split("^", 1)[0] if self.patient_cx else None

    @property
    def patient_oid(self) -> str | None:
        if not self.patient_cx:
            return None
        parts = self.patient_cx.split("^")
        return parts[3].split("&")[1] if len(parts) > 3 and parts[3].count("&") >= 2 else None


class Trust:
    """The test PKI's issuing CAs, loaded from the rig's pki folder."""

    def __init__(self, pki_dir: Path) -> None:
        self.personnes = x509.load_pem_x509_certificate((pki_dir / "ca-personnes.pem").read_bytes())
        self.organisations = x509.load_pem_x509_certificate((pki_dir / "ca-organisations.pem").read_bytes())

    def issued_by(self, cert: x509.Certificate) -> x509.Certificate | None:
        for ca in (self.personnes, self.organisations):
            if cert.issuer == ca.subject:
                try:
                    ca.public_key().verify(  # type: ignore[union-attr, call-arg]
                        cert.signature,
                        cert.tbs_certificate_bytes,
                        padding.PKCS1v15(),  # type: ignore[arg-type]
                        cert.signature_hash_algorithm,  # type: ignore[arg-type]
                    )
                except Exception:
                    return None
                return ca
        return None


def _cn(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _is_signature_certificate(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment)
    except x509.ExtensionNotFound:
        return False


def is_client_auth(cert: x509.Certificate) -> bool:
    try:
        return (
            ExtendedKeyUsageOID.CLIENT_AUTH
            in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        )
    except x509.ExtensionNotFound:
        return False


def _attributes(assertion: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for attribute in assertion.iterfind(f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute"):
        found.setdefault(attribute.get("Name", ""), []).extend(
            attribute.iterfind(f"{{{SAML}}}AttributeValue")
        )
    return found


def _string(values: dict[str, list[etree._Element]], name: str) -> str:
    nodes = values.get(name) or []
    return (nodes[0].text or "").strip() if nodes else ""


def _signing_certificate(assertion: etree._Element) -> x509.Certificate:
    node = assertion.find(f"{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if node is None or not (node.text or "").strip():
        raise HostFault("DMPVihfInvalid", "VIHF non signé ou sans certificat de signature.")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((node.text or "").split())))
    except ValueError:
        raise HostFault("DMPVihfInvalid", "Certificat de signature du VIHF illisible.") from None


def check_vihf(header: etree._Element | None, tls_cert: x509.Certificate, trust: Trust) -> Caller:
    """Check the VIHF carried in ``header``; raise HostFault exactly as the host would refuse it."""
    assertion = header.find(f"{{{WSSE}}}Security/{{{SAML}}}Assertion") if header is not None else None
    if assertion is None:
        raise HostFault("DMPVihfInvalid", "Jeton VIHF absent de l'en-tête wsse:Security.")
    signer = _signing_certificate(assertion)
    if trust.issued_by(signer) is None:
        raise HostFault(
            "DMPInvalidCertificate", "Certificat de signature du VIHF non émis par l'IGC-Santé de test."
        )
    if not _is_signature_certificate(signer):
        raise HostFault("DMPInvalidCertificate", "Not a valid signature certificate")
    try:
        XMLVerifier().verify(
            etree.tostring(assertion),
            x509_cert=signer.public_bytes(serialization.Encoding.PEM).decode(),
            id_attribute="ID",
            expect_config=SignatureConfiguration(require_x509=True),
        )
    except (InvalidSignature, InvalidInput) as error:
        raise HostFault("DMPVihfInvalid", f"Signature du VIHF invalide ({type(error).__name__}).") from None
    issuer = (assertion.findtext(f"{{{SAML}}}Issuer") or "").strip()
    if issuer != signer.subject.rfc4514_string():
        raise HostFault(
            "DMPVihfInvalid", "L'émetteur (Issuer) du VIHF ne correspond pas au certificat signataire."
        )
    values = _attributes(assertion)
    caller = _caller(assertion, values)
    _check_values(caller, values)
    _check_consistency(caller, signer, tls_cert, trust)
    return caller


def _caller(assertion: etree._Element, values: dict[str, list[etree._Element]]) -> Caller:
    for name in REQUIRED + SOFTWARE:
        if not _string(values, name):
            raise HostFault("DMPVihfInvalid", f"Attribut VIHF obligatoire absent : {name}.")
    roles = [
        node.find(f"{{{HL7}}}Role") for node in values.get("urn:oasis:names:tc:xacml:2.0:subject:role", [])
    ]
    purposes = [
        node.find(f"{{{HL7}}}PurposeOfUse")
        for node in values.get("urn:oasis:names:tc:xspa:1.0:subject:purposeofuse", [])
    ]
    purpose = purposes[0].get("code", "") if purposes and purposes[0] is not None else ""
    sector = _string(values, "Secteur_Activite")
    return Caller(
        national_id=(assertion.findtext(f"{{{SAML}}}Subject/{{{SAML}}}NameID") or "").strip(),
        mode=_string(values, "Authentification_mode"),
        purpose=purpose,
        structure_id=_string(values, "Identifiant_Structure"),
        sector=sector.split("^")[0],
        patient_cx=_string(values, "urn:oasis:names:tc:xacml:2.0:resource:resource-id") or None,
        professions=[
            r.get("code", "") for r in roles if r is not None and r.get("codeSystem") == "1.2.250.1.71.1.2.7"
        ],
        specialties=[
            r.get("code", "") for r in roles if r is not None and r.get("codeSystem") == "1.2.250.1.71.4.2.5"
        ],
        display_name=_string(values, "urn:oasis:names:tc:xspa:1.0:subject:subject-id"),
        software={name: _string(values, name) for name in SOFTWARE},
    )


def _check_values(caller: Caller, values: dict[str, list[etree._Element]]) -> None:
    if _string(values, "VIHF_Version") != "3.0":
        raise HostFault("DMPVihfInvalid", "Version de VIHF non prise en charge (3.0 attendue).")
    if caller.mode not in MODES:
        raise HostFault("DMPVihfInvalid", f"Mode d'authentification inconnu : {caller.mode}.")
    if caller.purpose not in PURPOSES:
        raise HostFault("DMPVihfInvalid", "Mode d'accès (purposeofuse) absent ou inconnu.")
    if not _string(values, "Secteur_Activite").endswith("^1.2.250.1.71.4.2.4"):
        raise HostFault("DMPVihfInvalid", "Secteur d'activité mal formé (SAxx^1.2.250.1.71.4.2.4 attendu).")
    if _string(values, "Ressource_URN") != "urn:dmp":
        raise HostFault("DMPVihfInvalid", "Ressource_URN doit valoir urn:dmp.")
    if caller.patient_cx is not None:
        cx = caller.patient_cx
        if not cx.endswith("&ISO^NH") and "&ISO^NH^" not in cx:
            raise HostFault(
                "DMPVihfInvalid", "Identifiant patient (resource-id) mal formé : INS^^^&OID&ISO^NH attendu."
            )
        if caller.patient_oid not in TEST_OIDS:
            raise HostFault(
                "DMPVihfInvalid", "Plateforme de test : seuls les INS de test (OID .10/.11) sont acceptés."
            )


def _check_consistency(
    caller: Caller, signer: x509.Certificate, tls_cert: x509.Certificate, trust: Trust
) -> None:
    if caller.mode == "DIRECTE":
        if trust.issued_by(tls_cert) is not trust.personnes or not is_client_auth(tls_cert):
            raise HostFault(
                "DMPInvalidCertificate", "Mode direct : le certificat TLS doit être celui de la carte."
            )
        if _cn(tls_cert) != caller.national_id or _cn(signer) != caller.national_id:
            raise HostFault(
                "DMPVihfInvalid", "Le VIHF, la carte et le certificat TLS ne désignent pas la même personne."
            )
        holder = next((c for c in cards.load_cards() if c.national_id == caller.national_id), None)
        if holder is None:
            raise HostFault(
                "DMPAccessDeniedByRightsService", "Professionnel inconnu de la plateforme de test."
            )
        situation = next((s for s in holder.situations if s.structure_id == caller.structure_id), None)
        if situation is None:
            raise HostFault("DMPVihfInvalid", "Structure introuvable ou Inactive")
        if situation.sector != caller.sector:
            raise HostFault("DMPVihfInvalid", "PS et Structure non liés")
        if holder.profession and caller.professions != [holder.profession]:
            raise HostFault(
                "DMPVihfInvalid", "Profession du VIHF absente ou différente de celle de la carte."
            )
        if holder.profession in PROFESSIONS_NEEDING_SPECIALTY and not caller.specialties:
            raise HostFault(
                "DMPVihfInvalid",
                "Aucune spécialité dans le vihf. Spécialité obligatoire pour les Médecins et Pharmaciens",
            )
    else:
        if (
            trust.issued_by(tls_cert) is not trust.organisations
            or trust.issued_by(signer) is not trust.organisations
        ):
            raise HostFault(
                "DMPInvalidCertificate", "Mode indirect : certificats de structure attendus (TLS et VIHF)."
            )
        if not caller.display_name:
            raise HostFault(
                "DMPVihfInvalid", "Mode indirect : subject-id (nom de l'utilisateur) obligatoire."
            )
        finess = cards.load_structure()
        if caller.structure_id != finess.id_nat_struct:
            raise HostFault("DMPVihfInvalid", "Structure introuvable ou Inactive")
