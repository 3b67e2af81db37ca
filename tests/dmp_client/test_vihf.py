"""The VIHF: documented attributes, enveloped RSA-SHA256 exc-c14n signature, SAML schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from signxml.verifier import XMLVerifier

from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.ns import DS, HL7V3, SAML2
from app.dmp_client.core.signing import SignxmlKey
from app.dmp_client.core.vihf import build_assertion, build_signed_vihf
from tests.dmp_client.helpers import doctor_context, envelope_schema, structure_signer


def attributes(assertion: etree._Element) -> dict[str, list[etree._Element]]:
    out: dict[str, list[etree._Element]] = {}
    for node in assertion.iter(f"{{{SAML2}}}Attribute"):
        out[node.get("Name", "")] = list(node.iter(f"{{{SAML2}}}AttributeValue"))
    return out


def test_signed_vihf_verifies_and_validates(pki_dir: Path) -> None:
    signer = structure_signer(pki_dir)
    assertion = build_signed_vihf(doctor_context(AuthMode.INDIRECT), signer)
    data = etree.tostring(assertion)
    cert = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
    verified = XMLVerifier().verify(data, x509_cert=cert, id_attribute="ID")
    assert verified.signed_xml is not None
    schema = envelope_schema()
    assert schema.validate(etree.fromstring(data)), schema.error_log
    signature = assertion.find(f"{{{DS}}}Signature")
    assert assertion.index(signature) == 1  # right after the Issuer, as the SAML schema requires
    assert signature.find(f".//{{{DS}}}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    assert signature.find(f".//{{{DS}}}CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )


def test_tampering_breaks_the_signature(pki_dir: Path) -> None:
    signer = structure_signer(pki_dir)
    assertion = build_signed_vihf(doctor_context(AuthMode.INDIRECT), signer)
    assertion.find(f"{{{SAML2}}}Subject/{{{SAML2}}}NameID").text = "899900099999"
    cert = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(Exception, match=r"(?i)digest|signature"):
        XMLVerifier().verify(etree.tostring(assertion), x509_cert=cert, id_attribute="ID")


def test_documented_attributes_direct_mode() -> None:
    now = dt.datetime(2026, 11, 22, 8, 30, 0, 123000, tzinfo=dt.UTC)
    assertion = build_assertion(
        doctor_context(purpose=Purpose.BREAK_GLASS), "CN=x", now=now, assertion_id="_a1"
    )
    assert assertion.get("IssueInstant") == "2026-11-22T08:30:00.123Z" and assertion.get("Version") == "2.0"
    values = attributes(assertion)
    text = {name: nodes[0].text for name, nodes in values.items() if nodes and nodes[0].text}
    assert text["VIHF_Version"] == "3.0"
    assert text["Authentification_mode"] == "DIRECTE"
    assert text["Identifiant_Structure"] == "499900012341001"
    assert text["Secteur_Activite"] == "SA07^1.2.250.1.71.4.2.4"
    assert (
        text["urn:oasis:names:tc:xacml:2.0:resource:resource-id"]
        == "207058575627097^^^&1.2.250.1.213.1.4.10&ISO^NH"
    )
    assert text["Ressource_URN"] == "urn:dmp"
    assert (text["LPS_Nom"], text["LPS_Version"], text["LPS_ID_HOMOLOGATION_DMP"]) == (
        "Client DMP",
        "0.1.0",
        "BAC-A-SABLE",
    )
    assert "urn:oasis:names:tc:xspa:1.0:subject:subject-id" not in values  # direct mode: none
    roles = [v.find(f"{{{HL7V3}}}Role") for v in values["urn:oasis:names:tc:xacml:2.0:subject:role"]]
    assert [(r.get("code"), r.get("codeSystem")) for r in roles] == [
        ("10", "1.2.250.1.71.1.2.7"),
        ("SM54", "1.2.250.1.71.4.2.5"),
    ]
    purpose = values["urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"][0].find(f"{{{HL7V3}}}PurposeOfUse")
    assert (purpose.get("code"), purpose.get("codeSystem")) == ("bris_de_glace", "1.2.250.1.213.1.1.4.248")


def test_indirect_mode_names_the_user() -> None:
    values = attributes(build_assertion(doctor_context(AuthMode.INDIRECT), "CN=x"))
    assert values["urn:oasis:names:tc:xspa:1.0:subject:subject-id"][0].text == "CLAIRE MEDECIN-GENERALISTE"


def test_direct_mode_without_role_is_a_local_error() -> None:
    context = doctor_context()
    bare = replace(context, actor=replace(context.actor, roles=()))
    with pytest.raises(LocalProtocolError):
        build_assertion(bare, "CN=x")


def test_signxml_adapter_refuses_other_algorithms(pki_dir: Path) -> None:
    adapter = SignxmlKey(structure_signer(pki_dir))
    with pytest.raises(LocalProtocolError):
        adapter.sign(b"x", padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(LocalProtocolError):
        adapter.sign(b"x", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert len(adapter.sign(b"x", padding.PKCS1v15(), hashes.SHA256())) == 256
