"""SOAP 1.2 envelopes with WS-Addressing and the VIHF in wsse:Security, and tolerant response reading.

Requests (dmp-interface.md §2.2): ``MessageID``, ``To``, ``ReplyTo`` = anonymous and ``Action`` (both
mustUnderstand), then ``wsse:Security`` holding the signed assertion. Responses are read tolerantly
but never silently: a SOAP 1.2 fault, a SOAP 1.1 fault inside a SOAP 1.2 envelope, a fault sent with
HTTP 200, or an unexpected action all become typed errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lxml import etree

from app.dmp_client.core.errors import MalformedResponse, SoapFault, UncertainOutcome
from app.dmp_client.core.ns import SOAP11, SOAP12, WSA, WSA_ANONYMOUS, WSSE, q
from app.dmp_client.core.xml import parse_xml, serialize

CONTENT_TYPE = "application/soap+xml; charset=UTF-8"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


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


_FAULT_NAMESPACES = (SOAP12, SOAP11, "")
_FAULT_TAGS = tuple(f"{{{ns}}}Fault" if ns else "Fault" for ns in _FAULT_NAMESPACES)
_MAX_REASON = 1000  # characters of the host's text kept in the error


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    """Child elements called ``name`` in any namespace (SOAP 1.2, SOAP 1.1 or none): hosts mix them."""
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _child(element: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        if element is None:
            return None
        found = _children(element, name)
        element = found[0] if found else None
    return element


def _reason(fault: etree._Element) -> str:
    reason = _child(fault, "Reason")
    if reason is not None:
        texts = _children(reason, "Text")
        french = [t for t in texts if (t.get(XML_LANG) or "").lower().startswith("fr")]
        text = _text((french or texts)[0]) if texts else _text(reason)
        if text:
            return text
    text = _text(_child(fault, "faultstring"))
    if not text:  # neither shape: the detail's text rather than nothing
        text = _text(_child(fault, "Detail")) or _text(_child(fault, "detail"))
    return text[:_MAX_REASON]


def _fault(envelope: etree._Element) -> SoapFault | None:
    """Find a fault in the body whatever its shape: SOAP 1.2 ``Code``/``Reason``, SOAP 1.1
    ``faultcode``/``faultstring`` (inside a SOAP 1.1 or a SOAP 1.2 envelope, HTTP 200 or 500), a mix of
    both, or a ``Fault`` element without namespace; the code and the host's text are always kept."""
    body = _child(envelope, "Body")
    scope = body if body is not None else envelope
    # lxml's own tag filter (one walk in C, document order), not a QName per element in Python.
    fault = next(scope.iter(*_FAULT_TAGS), None)
    if fault is None:
        return None
    code = _text(_child(fault, "Code", "Value")) or _text(_child(fault, "faultcode"))
    subcode = _text(_child(fault, "Code", "Subcode", "Value")) or None
    return SoapFault(
        _local(code) or "Fault", _reason(fault)[:_MAX_REASON], subcode=_local(subcode) if subcode else None
    )


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


@contextmanager
def uncertain_outcome() -> Iterator[None]:
    """Around the reading of the answer to a non-idempotent request (ITI-41, ITI-57): an unexpected
    or unreadable answer becomes :class:`UncertainOutcome` (the change may have been applied). Faults
    and registry failures are definite answers and pass unchanged."""
    try:
        yield
    except UncertainOutcome:
        raise
    except MalformedResponse as error:
        raise UncertainOutcome() from error
