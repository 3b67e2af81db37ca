"""Faults shaped like the real host's: SOAP 1.2 ``soap:Sender``/``soap:Receiver`` with a DMP subcode."""

from __future__ import annotations

from lxml import etree

from sandbox import soap_fault
from sandbox.soap_fault import FAULT_ACTION as FAULT_ACTION
from sandbox.soap_fault import SOAP as SOAP
from sandbox.soap_fault import WSA as WSA
from sandbox.soap_fault import XML_NS as XML_NS


class HostFault(Exception):
    """Raised by a handler; turned into a SOAP fault (HTTP 500 for Sender/Receiver faults)."""

    def __init__(self, subcode: str, reason: str, *, sender: bool = True) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason
        self.sender = sender


def fault_envelope(fault: HostFault, relates_to: str | None) -> bytes:
    envelope, _ = soap_fault.fault_envelope(
        {"soap": SOAP, "dmp": "urn:dmp:fault"},
        sender=fault.sender,
        subcode=f"dmp:{fault.subcode}",
        reason=fault.reason,
        relates_to=relates_to,
    )
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
