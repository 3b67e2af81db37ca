"""Faults shaped like the real host's: SOAP 1.2 ``soap:Sender``/``soap:Receiver`` with a DMP subcode."""

from __future__ import annotations

from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
XML_NS = "http://www.w3.org/XML/1998/namespace"
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"


class HostFault(Exception):
    """Raised by a handler; turned into a SOAP fault (HTTP 500 for Sender/Receiver faults)."""

    def __init__(self, subcode: str, reason: str, *, sender: bool = True) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason
        self.sender = sender


def fault_envelope(fault: HostFault, relates_to: str | None) -> bytes:
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wsa": WSA, "dmp": "urn:dmp:fault"})
    header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
    etree.SubElement(header, f"{{{WSA}}}Action").text = FAULT_ACTION
    if relates_to:
        etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
    body = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    node = etree.SubElement(body, f"{{{SOAP}}}Fault")
    code = etree.SubElement(node, f"{{{SOAP}}}Code")
    etree.SubElement(code, f"{{{SOAP}}}Value").text = "soap:Sender" if fault.sender else "soap:Receiver"
    sub = etree.SubElement(code, f"{{{SOAP}}}Subcode")
    etree.SubElement(sub, f"{{{SOAP}}}Value").text = f"dmp:{fault.subcode}"
    reason = etree.SubElement(node, f"{{{SOAP}}}Reason")
    text = etree.SubElement(reason, f"{{{SOAP}}}Text")
    text.set(f"{{{XML_NS}}}lang", "fr")
    text.text = fault.reason
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
