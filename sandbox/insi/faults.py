"""SOAP 1.2 faults of the sandbox INSi host, shaped like the teleservice's published ones.

The public example (padoa/tlsi-ins, src/fixtures/persons/de-vinci-ruth.fixture.ts, a recorded answer
of the qualification platform): ``S:Code/S:Value`` = ``S:Receiver``, ``S:Subcode/S:Value`` =
``S:siram_40``, a French ``S:Reason/S:Text``, and ``S:Detail/siram:Erreur`` with the attributes
``severite`` and ``code`` (``insi_102``) (the element: xsd/schema_faultSOAP_V01_01.xsd). Only that
fault (service unavailable) is documented publicly; the subcodes and codes of the sandbox's other
refusals are its own ([UNSURE], named ``*_sandbox_*`` so nobody takes them for real ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from sandbox import soap_fault
from sandbox.insi.schemas import SIRAM
from sandbox.soap_fault import FAULT_ACTION as FAULT_ACTION
from sandbox.soap_fault import SOAP as SOAP
from sandbox.soap_fault import WSA as WSA
from sandbox.soap_fault import XML_NS as XML_NS


@dataclass(frozen=True)
class Refusal:
    """One kind of fault: SOAP code, subcode, siram:Erreur code and severity, French reason."""

    sender: bool
    subcode: str
    code: str
    severity: str  # the XSD's values: information, avertissement, erreur, fatale
    reason: str


# The one documented fault (the real platform writes severite="fatal", outside the XSD's
# enumeration; the sandbox writes the XSD's "fatale" so its answers validate).
UNAVAILABLE = Refusal(
    False,
    "siram_40",
    "insi_102",
    "fatale",
    "Le service est temporairement inaccessible. Veuillez renouveler votre demande ultérieurement. "
    "Si le problème persiste, contactez l'éditeur du progiciel ou votre responsable informatique.",
)
# [UNSURE] the sandbox's own refusals (real subcodes and codes not public).
MALFORMED = Refusal(True, "siram_sandbox_requete", "insi_sandbox_requete", "erreur", "Message SOAP invalide.")
INVALID = Refusal(
    True, "siram_sandbox_schema", "insi_sandbox_schema", "erreur", "Requête non conforme au schéma."
)
HEADER = Refusal(True, "siram_sandbox_entete", "insi_sandbox_entete", "erreur", "En-tête SOAP invalide.")
ACTION = Refusal(True, "siram_sandbox_action", "insi_sandbox_action", "erreur", "Opération inconnue.")
UNAUTHORISED = Refusal(
    True,
    "siram_sandbox_authentification",
    "insi_sandbox_authentification",
    "erreur",
    "Appelant non autorisé.",
)
CRITERIA = Refusal(
    True, "siram_sandbox_criteres", "insi_sandbox_criteres", "erreur", "Critères de recherche incomplets."
)


class InsiFault(Exception):
    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal
        self.detail = detail


def fault_envelope(fault: InsiFault, relates_to: str | None, *, addressing: bool) -> bytes:
    refusal = fault.refusal
    envelope, node = soap_fault.fault_envelope(
        {"S": SOAP},
        sender=refusal.sender,
        subcode=f"S:{refusal.subcode}",
        reason=refusal.reason,
        relates_to=relates_to,
        addressing=addressing,
    )
    detail = etree.SubElement(node, f"{{{SOAP}}}Detail")
    error = etree.SubElement(detail, f"{{{SIRAM}}}Erreur", nsmap={"siram": SIRAM})
    error.set("severite", refusal.severity)
    error.set("code", refusal.code)
    if relates_to:
        error.set("messageID", relates_to)
    error.text = fault.detail or refusal.reason
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
