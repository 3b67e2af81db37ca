"""The VIHF: a SAML 2.0 assertion saying who acts, for which patient, how, with which software.

Shape and attribute names from dmp-interface.md §4 (official examples): Issuer = the RFC 2253 subject
of the signing certificate; NameID = the actor's national id; SmartcardPKI authentication context;
an enveloped XML-DSig (RSA-SHA256, exclusive C14N) placed right after the Issuer, as the SAML schema
requires. The assertion is signed once and then embedded as is: never re-serialised in between.
"""

from __future__ import annotations

import datetime as dt
import uuid

from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import methods
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from app.dmp_client.core.context import PURPOSE_CODE_SYSTEM, AccessContext, AirAuthn, AuthMode
from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.ns import DS, EXC_C14N, HL7V3, NSMAP_ASSERTION, SAML2, XSI, q
from app.dmp_client.core.signing import Signer, SignxmlKey

VIHF_VERSION = "3.0"
AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"
ISSUER_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
ATTR_SUBJECT_ID = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
ATTR_ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
ATTR_RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
ATTR_PURPOSE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
RESOURCE_URN = "urn:dmp"


def _instant(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _string_attribute(parent: etree._Element, name: str, value: str) -> None:
    attribute = etree.SubElement(parent, q(SAML2, "Attribute"), Name=name)
    node = etree.SubElement(attribute, q(SAML2, "AttributeValue"))
    node.set(q(XSI, "type"), "xs:string")
    node.text = value


def _coded_attribute(parent: etree._Element, name: str, tag: str, codes: list[dict[str, str]]) -> None:
    attribute = etree.SubElement(parent, q(SAML2, "Attribute"), Name=name)
    for code in codes:
        value = etree.SubElement(attribute, q(SAML2, "AttributeValue"))
        coded = etree.SubElement(value, q(HL7V3, tag), nsmap={None: HL7V3})
        coded.set(q(XSI, "type"), "CE")
        for key, text in code.items():
            coded.set(key, text)


def build_assertion(
    context: AccessContext, issuer_dn: str, *, now: dt.datetime | None = None, assertion_id: str | None = None
) -> etree._Element:
    """The unsigned assertion, with a signature placeholder after the Issuer."""
    if context.mode is not AuthMode.INDIRECT and len(context.actor.roles) == 0:
        raise LocalProtocolError("VIHF sans rôle : la profession du professionnel est obligatoire.")
    now = now or dt.datetime.now(dt.UTC)
    assertion = etree.Element(
        q(SAML2, "Assertion"),
        nsmap=NSMAP_ASSERTION,
        ID=assertion_id or f"_{uuid.uuid4()}",
        IssueInstant=_instant(now),
        Version="2.0",
    )
    issuer = etree.SubElement(assertion, q(SAML2, "Issuer"), Format=ISSUER_FORMAT)
    issuer.text = issuer_dn
    etree.SubElement(assertion, q(DS, "Signature"), Id="placeholder", nsmap={"ds": DS})
    subject = etree.SubElement(assertion, q(SAML2, "Subject"))
    etree.SubElement(subject, q(SAML2, "NameID")).text = context.actor.national_id
    air = (context.air or AirAuthn()) if context.mode is AuthMode.INDIRECT_REINFORCED else None
    if air is not None and air.validity_seconds > 0:  # AIR: one VIHF, 30 s (EX_AIR) [UNSURE: as Conditions]
        until = now + dt.timedelta(seconds=air.validity_seconds)
        etree.SubElement(
            assertion, q(SAML2, "Conditions"), NotBefore=_instant(now), NotOnOrAfter=_instant(until)
        )
    authn = etree.SubElement(assertion, q(SAML2, "AuthnStatement"), AuthnInstant=_instant(now))
    authn_context = etree.SubElement(authn, q(SAML2, "AuthnContext"))
    class_ref = air.class_ref if air is not None else AUTHN_CONTEXT
    etree.SubElement(authn_context, q(SAML2, "AuthnContextClassRef")).text = class_ref
    if air is not None and air.decl:  # DRIMbox VIHF.java: "Only in AIR mode", APP_BROWSER_AUTH
        etree.SubElement(authn_context, q(SAML2, "AuthnContextDecl")).text = air.decl
    _attributes(etree.SubElement(assertion, q(SAML2, "AttributeStatement")), context)
    return assertion


def _attributes(statement: etree._Element, context: AccessContext) -> None:
    actor, software = context.actor, context.software
    _string_attribute(statement, "VIHF_Version", VIHF_VERSION)
    _string_attribute(statement, "Authentification_mode", context.mode.value)
    _string_attribute(statement, "Identifiant_Structure", actor.structure_id)
    _string_attribute(statement, "Secteur_Activite", actor.sector_attribute)
    if context.mode is not AuthMode.DIRECT:
        _string_attribute(statement, ATTR_SUBJECT_ID, actor.display_name)
    roles = [
        {
            "code": r.code,
            "codeSystem": r.code_system,
            **({"displayName": r.display_name} if r.display_name else {}),
        }
        for r in actor.roles
    ]
    if roles:
        _coded_attribute(statement, ATTR_ROLE, "Role", roles)
    if context.patient is not None:
        _string_attribute(statement, ATTR_RESOURCE_ID, context.patient.to_cx())
    _string_attribute(statement, "Ressource_URN", RESOURCE_URN)
    purpose = {
        "code": context.purpose.value,
        "codeSystem": PURPOSE_CODE_SYSTEM,
        "codeSystemName": "mode acces VIHF 2.0",
    }
    _coded_attribute(statement, ATTR_PURPOSE, "PurposeOfUse", [purpose])
    if software.instance_id:
        _string_attribute(statement, "LPS_ID", software.instance_id)
    _string_attribute(statement, "LPS_Nom", software.name)
    _string_attribute(statement, "LPS_Version", software.version)
    _string_attribute(statement, "LPS_ID_HOMOLOGATION_DMP", software.homologation)


def issuer_dn(signer: Signer) -> str:
    """The signing certificate's subject as an RFC 2253 string (the host compares it strictly)."""
    return signer.certificate.subject.rfc4514_string()


def sign_assertion(assertion: etree._Element, signer: Signer) -> etree._Element:
    """Enveloped signature (RSA-SHA256, SHA-256, exclusive C14N) with the certificate in KeyInfo."""
    xml_signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=EXC_C14N,
    )
    xml_signer.namespaces = {"ds": DS}
    cert_pem = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
    signed: etree._Element = xml_signer.sign(
        assertion,
        key=SignxmlKey(signer),  # type: ignore[arg-type]
        cert=[cert_pem],
        reference_uri=f"#{assertion.get('ID')}",
        id_attribute="ID",
        always_add_key_value=False,
    )
    return signed


def build_signed_vihf(
    context: AccessContext, signer: Signer, *, now: dt.datetime | None = None
) -> etree._Element:
    return sign_assertion(build_assertion(context, issuer_dn(signer), now=now), signer)
