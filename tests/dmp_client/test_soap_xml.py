"""Reading responses tolerantly but never silently: fault shapes, unexpected actions, hostile XML."""

from __future__ import annotations

import pytest
from lxml import etree

from app.dmp_client.core.errors import HostileXml, MalformedResponse, SoapFault
from app.dmp_client.core.soap import build_envelope, parse_envelope
from app.dmp_client.core.xml import parse_xml

S12 = "http://www.w3.org/2003/05/soap-envelope"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"


def envelope(body: str, header: str = "", ns: str = S12) -> bytes:
    return (
        f'<?xml version="1.0"?><s:Envelope xmlns:s="{ns}" xmlns:wsa="{WSA}">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def test_soap12_fault_with_dmp_subcode() -> None:
    body = (
        "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>dmp:DMPInvalidCertificate</s:Value>"
        "</s:Subcode></s:Code><s:Reason><s:Text xml:lang='fr'>Not a valid signature certificate</s:Text>"
        "</s:Reason></s:Fault>"
    )
    with pytest.raises(SoapFault) as caught:
        parse_envelope(envelope(body), ("x",))
    assert caught.value.subcode == "DMPInvalidCertificate" and caught.value.dmp_code == "Sender"
    assert caught.value.code == "DMP:DMPInvalidCertificate"
    assert "certificat de signature" in caught.value.user_message


def test_soap11_fault_inside_a_soap12_envelope() -> None:
    body = (
        f'<f:Fault xmlns:f="{S11}"><faultcode>f:Server</faultcode>'
        "<faultstring>Erreur interne</faultstring></f:Fault>"
    )
    with pytest.raises(SoapFault) as caught:
        parse_envelope(envelope(body), ("x",))
    assert caught.value.dmp_code == "Server" and "Erreur interne" in caught.value.user_message


def test_fault_without_namespace_and_fault_nested_deeper() -> None:
    with pytest.raises(SoapFault):
        parse_envelope(
            envelope("<Fault><faultcode>Client</faultcode><faultstring>x</faultstring></Fault>"), ()
        )
    with pytest.raises(SoapFault):
        parse_envelope(
            envelope(
                "<r xmlns='urn:x'><s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code></s:Fault></r>"
            ),
            (),
        )


def test_soap11_envelope_is_read_too() -> None:
    response = parse_envelope(envelope("<r xmlns='urn:x'/>", ns=S11), ())
    assert etree.QName(response.payload).localname == "r"


def test_unexpected_action_and_relates_to() -> None:
    header = "<wsa:Action>urn:other</wsa:Action><wsa:RelatesTo>urn:uuid:1</wsa:RelatesTo>"
    with pytest.raises(MalformedResponse, match="inattendue"):
        parse_envelope(envelope("<r xmlns='urn:x'/>", header), ("urn:expected",))
    with pytest.raises(MalformedResponse, match="RelatesTo"):
        parse_envelope(envelope("<r xmlns='urn:x'/>", header), ("urn:other",), "urn:uuid:2")
    assert (
        parse_envelope(envelope("<r xmlns='urn:x'/>", header), ("urn:other",), "urn:uuid:1").relates_to
        == "urn:uuid:1"
    )


@pytest.mark.parametrize(
    "data",
    [b"not xml", b"<a><b></a>", b'<?xml version="1.0"?><html/>', envelope(""), b""],
)
def test_malformed_responses(data: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_envelope(data, ())


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><r>&lol2;</r>',
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>',
        b"<r><![CDATA[ok]]></r><!DOCTYPE r>",
    ],
)
def test_hostile_xml_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_xml(data)


def test_entity_declared_late_is_refused_and_size_is_capped() -> None:
    with pytest.raises(HostileXml):
        parse_xml(b"<r/>" + b" " * 5000 + b"<!ENTITY x 'y'>")
    with pytest.raises(HostileXml):
        parse_xml(b"<r>" + b"a" * 2048 + b"</r>", max_bytes=1024)


def test_request_envelope_has_the_ws_addressing_headers() -> None:
    request = build_envelope("urn:test:action", etree.Element("{urn:x}payload"), None, to="https://h/x")
    root = etree.fromstring(request.body)
    assert root.findtext(f"{{{S12}}}Header/{{{WSA}}}Action") == "urn:test:action"
    assert root.findtext(f"{{{S12}}}Header/{{{WSA}}}MessageID") == request.message_id
    assert root.find(f"{{{S12}}}Header/{{{WSA}}}Action").get(f"{{{S12}}}mustUnderstand") == "true"
    assert root.findtext(f"{{{S12}}}Header/{{{WSA}}}ReplyTo/{{{WSA}}}Address").endswith("/anonymous")
    assert request.content_type == 'application/soap+xml; charset=UTF-8; action="urn:test:action"'
