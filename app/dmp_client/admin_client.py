"""The administrative DMP transactions of the facade, as a mixin of :class:`DmpClient`.

Each method builds its message with :mod:`app.dmp_client.core.admin`, sends it with the client's
``_exchange`` (VIHF, envelope, transport, response checks) and returns typed results; the DMP's
refusals come back as :class:`~app.dmp_client.core.errors.RemoteError` with the DMP's code.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from app.dmp_client.core.admin import (
    ACTION_ADD_PATIENT,
    ACTION_ADD_PATIENT_RESPONSE,
    ACTION_FIND_CANDIDATES,
    ACTION_FIND_CANDIDATES_RESPONSE,
    ACTION_LIST_AUTHORIZATIONS,
    ACTION_LIST_AUTHORIZATIONS_RESPONSE,
    ACTION_PATIENT_LIST,
    ACTION_PATIENT_LIST_RESPONSE,
    ACTION_REVISE_PATIENT,
    ACTION_REVISE_PATIENT_RESPONSE,
    AdminReason,
    AdminResult,
    AuthorizationMode,
    Candidate,
    ClosingReason,
    ConsentRequired,
    DateType,
    DemographicQuery,
    DmpPatient,
    PatientListEntry,
    ProfessionalAuthorization,
    RegulationOnly,
    build_create_dmp,
    build_find_candidates,
    build_list_authorizations,
    build_patient_list,
    build_revise_dmp,
    build_set_treating_doctor,
    parse_create_dmp_response,
    parse_find_candidates_response,
    parse_list_authorizations_response,
    parse_patient_list_response,
    parse_revise_dmp_response,
)
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.habilitations import (
    ACTION_SET_AUTHORIZATION,
    ACTION_SET_AUTHORIZATION_RESPONSE,
    AuthorizationAction,
    AuthorizationResult,
    parse_set_authorization_response,
)
from app.dmp_client.exchange import ClientBase, journaled
from app.ins import Ins

SERVICE_PATIENTS = "patients"
SERVICE_PATIENTS_SPECIFIC = "patientsSpecific"
SERVICE_PDQ = "patients"  # [UNSURE] the PDQ path is not documented (dmp-interface.md §2.1)
SERVICE_HABILITATIONS = "habilitations"


class AdminTransactions(ClientBase):
    """TD0.3 (médecin traitant), TD0.4, TD0.5, TD1.1, TD1.2, TD1.3b, TD1.4 and TD1.6.

    Part of ``DmpClient``; the exchange itself is ``ClientBase``'s.
    """

    @journaled("TD0.4")
    def list_patients(
        self, since: dt.datetime, date_type: DateType = DateType.LAST_AUTHORIZATION
    ) -> list[PatientListEntry]:
        """TD0.4: the DMPs I am authorised on since ``since`` (or with new documents, LASTDOC)."""
        response = self._exchange(
            SERVICE_PATIENTS_SPECIFIC,
            ACTION_PATIENT_LIST,
            ACTION_PATIENT_LIST_RESPONSE,
            build_patient_list(since, date_type),
            None,
            self.transport.timeouts.query,
            idempotent=True,
        )
        return parse_patient_list_response(response.payload)

    @journaled("TD0.5")
    def find_patients(self, query: DemographicQuery) -> list[Candidate]:
        """TD0.5: find a patient without INS; only in régulation mode (purpose centre_15)."""
        if self.session.purpose is not Purpose.CENTRE_15:
            raise RegulationOnly()
        response = self._exchange(
            SERVICE_PDQ,
            ACTION_FIND_CANDIDATES,
            ACTION_FIND_CANDIDATES_RESPONSE,
            build_find_candidates(query, self.session.sender_oid),
            None,
            self.transport.timeouts.query,
            idempotent=True,
        )
        return parse_find_candidates_response(response.payload)

    @journaled("TD1.1")
    def create_dmp(self, patient: DmpPatient, *, consent: bool) -> AdminResult:
        """TD1.1: create the patient's DMP, with the patient's express consent (refused without)."""
        if not consent:
            raise ConsentRequired()
        payload = build_create_dmp(patient, self.session.actor, self.session.sender_oid, consent=True)
        return self._registration(ACTION_ADD_PATIENT, ACTION_ADD_PATIENT_RESPONSE, payload, patient.ins)

    @journaled("TD1.2")
    def reactivate_dmp(self, ins: Ins) -> AdminResult:
        """TD1.2: reactivate a closed DMP (REAC) [UNSURE: message shape inferred from TD1.4]."""
        payload = build_revise_dmp(AdminReason.REACTIVATE, ins, self.session.actor, self.session.sender_oid)
        return self._registration(ACTION_REVISE_PATIENT, ACTION_REVISE_PATIENT_RESPONSE, payload, ins)

    @journaled("TD1.3b")
    def update_admin_data(self, patient: DmpPatient) -> AdminResult:
        """TD1.3b: modify the DMP's administrative data (contact data, oppositions)."""
        payload = build_revise_dmp(
            AdminReason.MODIFY, patient.ins, self.session.actor, self.session.sender_oid, data=patient
        )
        return self._registration(ACTION_REVISE_PATIENT, ACTION_REVISE_PATIENT_RESPONSE, payload, patient.ins)

    @journaled("TD1.4")
    def close_dmp(self, ins: Ins, reason: ClosingReason = ClosingReason.PATIENT_REQUEST) -> AdminResult:
        """TD1.4: close the DMP (statusCode terminated, closing reason)."""
        payload = build_revise_dmp(
            AdminReason.CLOSE, ins, self.session.actor, self.session.sender_oid, closing_reason=reason
        )
        return self._registration(ACTION_REVISE_PATIENT, ACTION_REVISE_PATIENT_RESPONSE, payload, ins)

    def _registration(self, action: str, expected: str, payload: etree._Element, ins: Ins) -> AdminResult:
        response = self._exchange(
            SERVICE_PATIENTS, action, expected, payload, ins, self.transport.timeouts.query, idempotent=False
        )
        if action == ACTION_ADD_PATIENT:
            return parse_create_dmp_response(response.payload)
        return parse_revise_dmp_response(response.payload)

    @journaled("TD1.6")
    def list_authorizations(
        self, ins: Ins, mode: AuthorizationMode = AuthorizationMode.ALL
    ) -> list[ProfessionalAuthorization]:
        """TD1.6: the professionals authorised on (or blocked from) the patient's DMP."""
        response = self._exchange(
            SERVICE_HABILITATIONS,
            ACTION_LIST_AUTHORIZATIONS,
            ACTION_LIST_AUTHORIZATIONS_RESPONSE,
            build_list_authorizations(mode),
            ins,
            self.transport.timeouts.query,
            idempotent=True,
        )
        return parse_list_authorizations_response(response.payload)

    @journaled("TD0.3")
    def set_treating_doctor(self, ins: Ins, declare: bool = True) -> AuthorizationResult:
        """TD0.3 with role MEDECIN_TRAITANT: declare myself the patient's médecin traitant DMP, or stop."""
        payload = build_set_treating_doctor(
            AuthorizationAction.ADD if declare else AuthorizationAction.REMOVE
        )
        response = self._exchange(
            SERVICE_HABILITATIONS,
            ACTION_SET_AUTHORIZATION,
            ACTION_SET_AUTHORIZATION_RESPONSE,
            payload,
            ins,
            self.transport.timeouts.query,
            idempotent=False,
        )
        return parse_set_authorization_response(response.payload)
