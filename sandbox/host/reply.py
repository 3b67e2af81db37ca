"""What a transaction handler answers, and the handler's shape (used by every service module and by
the server; it imports none of them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from sandbox.host.faults import HostFault
from sandbox.host.store import Store
from sandbox.host.vihf import Caller


@dataclass(frozen=True)
class Reply:
    action: str
    payload: etree._Element
    transaction: str
    matricule: str | None


Handler = Callable[[etree._Element, Caller, Store], Reply]


def vihf_patient(caller: Caller, requested: str | None) -> str:
    """The patient of the request must be the VIHF's resource-id (the host checks both agree)."""
    if caller.patient_matricule is None:
        raise HostFault("DMPVihfInvalid", "Identifiant du patient (resource-id) absent du VIHF.")
    if requested is not None and requested != caller.patient_matricule:
        raise HostFault("XDSPatientIdDoesNotMatch", "Le patient de la requête n'est pas celui du VIHF.")
    return caller.patient_matricule
