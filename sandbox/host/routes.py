"""Which handler answers which SOAP action of which service (the URL path's last segment); the
server looks the request up here. Imports the service modules; none of them imports it."""

from __future__ import annotations

from sandbox.host import admin, demographics, documents, queries
from sandbox.host.reply import Handler

SERVICES: dict[str, dict[str, Handler]] = {
    "patients": {
        "urn:hl7-org:v3:PRPA_IN201307UV02": demographics.get_demographics,
        "urn:hl7-org:v3:PRPA_IN201305UV02": admin.find_candidates,
        "urn:hl7-org:v3:PRPA_IN201311UV02": admin.create_dmp,
        "urn:hl7-org:v3:PRPA_IN201314UV02": admin.revise_dmp,
    },
    "habilitations": {
        # admin.set_authorization adds the MEDECIN_TRAITANT role and defers to habilitations.py.
        "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization": admin.set_authorization,
        "urn:hl7-org:v3:setAuthorization": admin.set_authorization,
        "urn:si-dmp-habilitations:HabilitationsEndPoint:listAuthorizationByPatient": (
            admin.list_authorizations
        ),
        "urn:hl7-org:v3:listAuthorizationByPatient": admin.list_authorizations,
    },
    "patientsSpecific": {
        "urn:si-dmp-patients:PatientSpecificEndPoint:patientList": admin.patient_list,
        "": admin.patient_list,  # the WSDL's soapAction is empty
    },
    "registry": {
        queries.ACTION: queries.stored_query,
        documents.UPDATE_ACTION: documents.update_document_set,
    },
    "repository": {
        documents.PNR_ACTION: documents.provide_and_register,
        documents.RETRIEVE_ACTION: documents.retrieve,
    },
}

ALIASES = {
    "patients": "patients",
    "habilitations": "habilitations",
    "habilitation": "habilitations",
    "patientsspecific": "patientsSpecific",
    "patientspecific": "patientsSpecific",
    "registry": "registry",
    "documentregistry_service": "registry",
    "repository": "repository",
    "documentrepository_service": "repository",
}
