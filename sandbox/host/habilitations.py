"""TD0.3 setAuthorization without a role: the professional's own authorisation on the patient's DMP
(admin.set_authorization handles the MEDECIN_TRAITANT role and defers here otherwise)."""

from __future__ import annotations

from lxml import etree

from sandbox.host.faults import HostFault
from sandbox.host.reply import Reply, vihf_patient
from sandbox.host.store import Store
from sandbox.host.vihf import Caller

HAB = "urn:si-dmp-habilitations"


def set_authorization(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    """TD0.3: normal mode, direct authentication only (FI-526); the patient comes from the VIHF."""
    action = (payload.findtext(f"{{{HAB}}}action") or payload.findtext("action") or "").strip()
    if action not in ("AJOUT", "SUPPRESSION"):
        raise HostFault("DMPInvalidRequest", "Action d'autorisation inconnue (AJOUT ou SUPPRESSION).")
    if caller.mode != "DIRECTE" or caller.purpose != "normal":
        raise HostFault(
            "DMPAccessDeniedByRightsService", "Autorisation : mode normal et authentification directe requis."
        )
    matricule = vihf_patient(caller, None)
    row = store.patient(matricule)
    if row is None or row["state"] == "none":
        raise HostFault("DMPNotFound", "Ce patient n'a pas de DMP.")
    if row["state"] == "terminated":
        raise HostFault("DMPClosed", "Le DMP de ce patient est fermé.")
    changed = store.set_authorization(matricule, caller.national_id, action == "AJOUT")
    context = (
        ""
        if changed
        else ("Autorisation déjà présente" if action == "AJOUT" else "Aucune autorisation à supprimer")
    )
    response = etree.Element(f"{{{HAB}}}setAuthorizationResponse", nsmap={None: HAB})
    output = etree.SubElement(response, f"{{{HAB}}}output")
    etree.SubElement(output, f"{{{HAB}}}status").text = "DMPOk"
    etree.SubElement(output, f"{{{HAB}}}context").text = context
    return Reply(
        "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorizationResponse",
        response,
        "TD0.3",
        matricule,
    )
