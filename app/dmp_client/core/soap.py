"""SOAP 1.2 envelopes with WS-Addressing and the VIHF in wsse:Security, and tolerant response reading.

Requests (dmp-interface.md §2.2): ``MessageID``, ``To``, ``ReplyTo`` = anonymous and ``Action`` (both
mustUnderstand), then ``wsse:Security`` holding the signed assertion. Responses are read tolerantly
but never silently: a SOAP 1.2 fault, a SOAP 1.1 fault inside a SOAP 1.2 envelope, a fault sent with
HTTP 200, or an unexpected action all become typed errors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from app.dmp_client.core.errors import MalformedResponse, SoapFault
from app.dmp_client.core.ns import SOAP11, SOAP12, WSA, WSA_ANONYMOUS, WSSE, q
from app.dmp_client.core.xml import parse_xml, serialize

CONTENT_TYPE = "application/soap+xml; charset=UTF-8"


@dataclass(frozen=True)
class SoapRequest:
    """What the transport sends: the envelope's bytes, its action and its message id."""

    action: str
    message_id: str
    body: bytes

    @property
    def content_type(self) -> str:
        return f'{CONTENT_TYPE}; action="{self.action}"'


def build_envelope(
    action: str, payload: etree._Element, vihf: etree._Element | None, to: str = ""
) -> SoapRequest:
    """Wrap ``payload`` (the body's child) in a SOAP 1.2 envelope addressed with WS-Addressing."""
    message_id = f"urn:uuid:{uuid.uuid4()}"
    envelope = etree.Element(q(SOAP12, "Envelope"), nsmap={"soap": SOAP12, "wsa": WSA})
    header = etree.SubElement(envelope, q(SOAP12, "Header"))
    action_node = etree.SubElement(header, q(WSA, "Action"))
    action_node.set(q(SOAP12, "mustUnderstand"), "true")
    action_node.text = action
    etree.SubElement(header, q(WSA, "MessageID")).text = message_id
    etree.SubElement(header, q(WSA, "To")).text = to
    reply_to = etree.SubElement(header, q(WSA, "ReplyTo"))
    reply_to.set(q(SOAP12, "mustUnderstand"), "true")
    etree.SubElement(reply_to, q(WSA, "Address")).text = WSA_ANONYMOUS
    if vihf is not None:
        security = etree.SubElement(header, q(WSSE, "Security"), nsmap={"wsse": WSSE})
        security.append(vihf)
    body = etree.SubElement(envelope, q(SOAP12, "Body"))
    body.append(payload)
    return SoapRequest(action, message_id, serialize(envelope))


@dataclass(frozen=True)
class SoapResponse:
    action: str | None
    relates_to: str | None
    payload: etree._Element


def _text(element: etree._Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _fault(envelope: etree._Element) -> SoapFault | None:
    """Find a fault anywhere in the body, SOAP 1.2 or SOAP 1.1 shaped."""
    fault = envelope.find(f".//{{{SOAP12}}}Fault")
    if fault is not None:
        code = _text(fault.find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value"))
        subcode = _text(fault.find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")) or None
        reason = _text(fault.find(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")) or _text(
            fault.find(f"{{{SOAP12}}}Reason")
        )
        return SoapFault(_local(code) or "Fault", reason, subcode=_local(subcode) if subcode else None)
    fault = envelope.find(f".//{{{SOAP11}}}Fault")
    if fault is None:  # some servers drop the namespace on the fault element
        fault = envelope.find(".//Fault")
    if fault is not None:
        code = _text(fault.find("faultcode"))
        return SoapFault(_local(code) or "Fault", _text(fault.find("faultstring")))
    return None


def _local(qname: str) -> str:
    return qname.rsplit(":", 1)[-1].rsplit("}", 1)[-1]


def parse_envelope(
    data: bytes, expected_actions: tuple[str, ...], request_id: str | None = None
) -> SoapResponse:
    """Read a response envelope; raise SoapFault or MalformedResponse, never return a fault."""
    envelope = parse_xml(data)
    if envelope.tag not in (q(SOAP12, "Envelope"), q(SOAP11, "Envelope")):
        raise MalformedResponse("La réponse du DMP n'est pas une enveloppe SOAP.")
    fault = _fault(envelope)
    if fault is not None:
        raise fault
    namespace = envelope.tag[1:].split("}")[0]
    body = envelope.find(f"{{{namespace}}}Body")
    payload = (
        next((child for child in body if isinstance(child.tag, str)), None) if body is not None else None
    )
    if payload is None:
        raise MalformedResponse("La réponse du DMP ne contient pas de corps SOAP.")
    header = envelope.find(f"{{{namespace}}}Header")
    action = _text(header.find(f"{{{WSA}}}Action")) if header is not None else ""
    relates_to = _text(header.find(f"{{{WSA}}}RelatesTo")) if header is not None else ""
    if action and expected_actions and action not in expected_actions:
        raise MalformedResponse(f"Réponse inattendue du DMP (action {action}).")
    if request_id and relates_to and relates_to != request_id:
        raise MalformedResponse("La réponse du DMP ne correspond pas à la requête envoyée (RelatesTo).")
    return SoapResponse(action or None, relates_to or None, payload)
