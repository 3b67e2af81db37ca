"""TD0.3 ``setAuthorization`` (service ``habilitations``): add or remove one's own authorisation.

The patient and the professional are not in the body: they come from the VIHF (resource-id and
NameID). Action URI as in the official examples; the WSDL's ``urn:hl7-org:v3:setAuthorization``
differs [UNSURE]. The client always sends the examples' URI (not configurable today); the sandbox
host accepts both (sandbox/host/routes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from app.dmp_client.core.errors import MalformedResponse, RemoteError
from app.dmp_client.core.ns import HABILITATIONS, q

ACTION_SET_AUTHORIZATION = "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization"
ACTION_SET_AUTHORIZATION_RESPONSE = "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorizationResponse"
OK = "DMPOk"


class AuthorizationAction(StrEnum):
    ADD = "AJOUT"
    REMOVE = "SUPPRESSION"


def build_set_authorization(action: AuthorizationAction) -> etree._Element:
    root = etree.Element(q(HABILITATIONS, "setAuthorization"), nsmap={None: HABILITATIONS})
    etree.SubElement(root, q(HABILITATIONS, "action")).text = action.value
    return root


@dataclass(frozen=True)
class AuthorizationResult:
    status: str
    context: str


def parse_set_authorization_response(payload: etree._Element) -> AuthorizationResult:
    if etree.QName(payload).localname != "setAuthorizationResponse":
        raise MalformedResponse("Réponse inattendue à la demande d'autorisation.")
    status = payload.find(f".//{{{HABILITATIONS}}}status")
    if status is None:
        status = payload.find(".//status")
    context = payload.find(f".//{{{HABILITATIONS}}}context")
    if context is None:
        context = payload.find(".//context")
    if status is None or not (status.text or "").strip():
        raise MalformedResponse("Réponse d'autorisation sans statut.")
    result = AuthorizationResult(
        (status.text or "").strip(), (context.text or "").strip() if context is not None else ""
    )
    if result.status != OK:
        raise RemoteError(result.status, result.context)
    return result
