"""Protocol constants checked against the documents shipped in resources/spec/ (issue 13, items 2, 3, 6).

The XDS actions come from the IHE WSDLs in resources/spec/wsdl/ (wsam:Action of each operation); the
DMP's proprietary and HL7v3 services have no WSDL in the reference material, so they are not listed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.core import iti18, iti41, iti43, iti57
from app.dmp_client.core.errors import MalformedResponse, SoapFault, UncertainOutcome
from app.dmp_client.core.registry import RegistryFailure, check_status
from app.dmp_client.core.soap import build_envelope, parse_envelope, uncertain_outcome
from sandbox.host import documents as host_documents
from sandbox.host import queries as host_queries

WSDL_DIR = Path(__file__).resolve().parents[2] / "resources" / "spec" / "wsdl"
WSAM = "http://www.w3.org/2007/05/addressing/metadata"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
S12 = "http://www.w3.org/2003/05/soap-envelope"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"


def wsdl_actions(name: str) -> tuple[str, str]:
    """(input action, output action) of the single operation of resources/spec/wsdl/<name>."""
    root = etree.parse(str(WSDL_DIR / name)).getroot()
    operation = root.find(f"{{{WSDL}}}portType/{{{WSDL}}}operation")
    assert operation is not None
    return (
        operation.find(f"{{{WSDL}}}input").get(f"{{{WSAM}}}Action"),
        operation.find(f"{{{WSDL}}}output").get(f"{{{WSAM}}}Action"),
    )


@pytest.mark.parametrize(
    ("wsdl", "request_action", "response_action"),
    [
        ("iti18.wsdl", iti18.ACTION, iti18.ACTION_RESPONSE),
        ("iti41.wsdl", iti41.ACTION, iti41.ACTION_RESPONSE),
        ("iti43.wsdl", iti43.ACTION, iti43.ACTION_RESPONSE),
        ("iti57.wsdl", iti57.ACTION, iti57.ACTION_RESPONSE),
        ("iti18.wsdl", host_queries.ACTION, host_queries.RESPONSE),
        ("iti41.wsdl", host_documents.PNR_ACTION, host_documents.PNR_RESPONSE),
        ("iti43.wsdl", host_documents.RETRIEVE_ACTION, host_documents.RETRIEVE_RESPONSE),
        ("iti57.wsdl", host_documents.UPDATE_ACTION, host_documents.UPDATE_RESPONSE),
    ],
)
def test_xds_actions_are_the_wsdls(wsdl: str, request_action: str, response_action: str) -> None:
    assert wsdl_actions(wsdl) == (request_action, response_action)


def test_iti57_accepts_the_wsdl_spelling_and_the_dmp_examples_one() -> None:
    assert iti57.ACCEPTED_RESPONSES[0] == wsdl_actions("iti57.wsdl")[1]
    assert "urn:ihe:iti:2010:UpdateDocumentSet-Response" in iti57.ACCEPTED_RESPONSES


def envelope(body: str, ns: str = S12) -> bytes:
    return f'<s:Envelope xmlns:s="{ns}"><s:Header/><s:Body>{body}</s:Body></s:Envelope>'.encode()


@pytest.mark.parametrize(
    ("body", "ns", "code", "text"),
    [
        # SOAP 1.2 Fault element with SOAP 1.1 children, as sent with HTTP 200 (xds-landscape.md §5)
        (
            "<s:Fault><faultcode>s:Server</faultcode><faultstring>Panne A</faultstring></s:Fault>",
            S12,
            "Server",
            "Panne A",
        ),
        # pure SOAP 1.1
        (
            "<s:Fault><faultcode>s:Client</faultcode><faultstring>Panne B</faultstring></s:Fault>",
            S11,
            "Client",
            "Panne B",
        ),
        # mixed: SOAP 1.2 Code, SOAP 1.1 faultstring
        (
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
            "<faultstring>Panne C</faultstring></s:Fault>",
            S12,
            "Receiver",
            "Panne C",
        ),
        # SOAP 1.2 Reason in several languages: the French one
        (
            "<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang='en'>E</s:Text>"
            "<s:Text xml:lang='fr'>Panne D</s:Text></s:Reason></s:Fault>",
            S12,
            "Sender",
            "Panne D",
        ),
    ],
)
def test_every_fault_shape_keeps_code_and_text(body: str, ns: str, code: str, text: str) -> None:
    with pytest.raises(SoapFault) as caught:
        parse_envelope(envelope(body, ns), ("x",))
    assert caught.value.dmp_code == code and text in str(caught.value)


def registry(status: str, severity: str | None) -> etree._Element:
    sev = f' severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:{severity}"' if severity else ""
    return etree.fromstring(
        f'<rs:RegistryResponse xmlns:rs="{RS}" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:'
        f'{status}"><rs:RegistryErrorList>'
        f'<rs:RegistryError errorCode="XDSRegistryBusy" codeContext="c"{sev}/></rs:RegistryErrorList>'
        "</rs:RegistryResponse>"
    )


def test_error_under_success_is_a_failure_and_warnings_are_returned() -> None:
    with pytest.raises(RegistryFailure) as caught:
        check_status(registry("Success", "Error"))
    assert caught.value.code == "DMP:XDSRegistryBusy"
    with pytest.raises(RegistryFailure):  # rs.xsd: severity defaults to Error
        check_status(registry("Success", None))
    warnings = check_status(registry("Success", "Warning"))
    assert [w.code for w in warnings] == ["XDSRegistryBusy"]


def test_unreadable_answer_to_a_change_is_an_uncertain_outcome() -> None:
    with pytest.raises(UncertainOutcome) as caught, uncertain_outcome():
        parse_envelope(
            envelope("<x/>").replace(
                b"<s:Header/>",
                f'<s:Header><a:Action xmlns:a="{WSA}">urn:other</a:Action></s:Header>'.encode(),
            ),
            ("y",),
        )
    assert (
        caught.value.code == "DMP-ISSUE-INCERTAINE" and "peut-être été appliquée" in caught.value.user_message
    )
    assert isinstance(caught.value, MalformedResponse)
    with pytest.raises(SoapFault), uncertain_outcome():  # a fault is a definite answer
        parse_envelope(envelope("<s:Fault><faultcode>c</faultcode></s:Fault>"), ())


def test_wsa_to_is_the_endpoint_url() -> None:
    request = build_envelope(iti18.ACTION, etree.Element("{urn:x}p"), None, to="https://h/registry")
    assert etree.fromstring(request.body).findtext(f"{{{S12}}}Header/{{{WSA}}}To") == "https://h/registry"
