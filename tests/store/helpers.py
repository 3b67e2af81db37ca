"""Upload requests for fictitious sandbox patients (test INS OID only)."""

from __future__ import annotations

from app.services.training import sandbox_patient
from app.store.request import SendMode, UploadRequest


def request_for(
    patient: str = "P03", title: str = "Compte rendu", mode: SendMode = SendMode.STRUCTURE, **extra: object
) -> UploadRequest:
    found = sandbox_patient(patient)
    assert found is not None and found.traits is not None
    return UploadRequest(
        found.ins,
        found.traits,
        "text/plain",
        "11488-4",
        title,
        mode,
        **extra,  # type: ignore[arg-type]
    )
