"""The professional's assertion for INSi's wsse:Security (core/insi.py professional_assertion), in
the shape of the public tlsi-ins client [UNSURE whether INSi accepts it]: valid SAML 2.0, signed
like the VIHF, carried in the request's header."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml.verifier import XMLVerifier

from app.dmp_client.core import insi
from app.dmp_client.core.errors import InsiRequestInvalid
from app.dmp_client.core.ns import DS, SAML2, WSSE
from app.ins import IdentityTraits
from tests.dmp_client.helpers import envelope_schema, structure_signer

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
WHO = insi.ProfessionalAssertion("899900012342", "1.2.250.1.71.4.2.1", "1990000017", "01", "SA01")
CONTEXT = insi.InsiContext(
    insi.LpsIdentity("BAC-A-SABLE", "1.0.0", "ClientDMP", "3f0c7a52-5d2e-4c1b-9a43-2f6f1b0d9e11"),
    "899900012342",
)


def test_the_assertion_is_valid_saml_signed_and_carried_in_the_security_header(pki_dir: Path) -> None:
    signer = structure_signer(pki_dir, "auth")
    assertion = insi.professional_assertion(WHO, signer, NOW)
    data = etree.tostring(assertion)
    cert = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
    assert XMLVerifier().verify(data, x509_cert=cert, id_attribute="ID").signed_xml is not None
    schema = envelope_schema()
    assert schema.validate(etree.fromstring(data)), schema.error_log
    assert assertion.index(assertion.find(f"{{{DS}}}Signature")) == 1  # after Issuer (SAML schema)
    issuer = assertion.find(f"{{{SAML2}}}Issuer")
    assert issuer.get("Format") == "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
    assert issuer.text == signer.certificate.subject.rfc4514_string()
    names = {
        a.get("Name"): a.findtext(f"{{{SAML2}}}AttributeValue")
        for a in assertion.iter(f"{{{SAML2}}}Attribute")
    }
    assert names == {
        "identifiantFacturation": "1990000017",
        "codeSpecialiteAMO": "01",
        "secteurActivite": "SA01",
    }
    search = insi.TraitsSearch.first_step(IdentityTraits.parse("ECETINSI", "PIERRE", "M", "2009-07-14"))
    request = insi.search_by_traits(search, CONTEXT, NOW, security=assertion)
    security = etree.fromstring(request.body).find(f".//{{{WSSE}}}Security")
    assert security is not None and security[0].tag == f"{{{SAML2}}}Assertion"
    assert schema.validate(etree.fromstring(etree.tostring(security))), schema.error_log
    # still verifiable once inside the envelope
    inside = etree.tostring(security[0])
    assert XMLVerifier().verify(inside, x509_cert=cert, id_attribute="ID").signed_xml is not None


def test_an_incomplete_assertion_is_refused(pki_dir: Path) -> None:
    with pytest.raises(InsiRequestInvalid):
        insi.professional_assertion(
            insi.ProfessionalAssertion("x", "y", "", "01", "SA01"), structure_signer(pki_dir, "auth"), NOW
        )
