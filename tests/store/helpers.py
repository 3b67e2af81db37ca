"""Upload requests for fictitious sandbox patients (test INS OID only)."""

from __future__ import annotations

from app.ins import IdentityTraits, Ins
from app.store.request import SendMode, UploadRequest
from sandbox.patients import load_patients


def request_for(
    patient: str = "P03", title: str = "Compte rendu", mode: SendMode = SendMode.STRUCTURE, **extra: object
) -> UploadRequest:
    found = next(p for p in load_patients() if p.id == patient)
    traits = IdentityTraits.parse(
        found.birth_name, found.first_names, found.sex, found.birth_date, found.birth_place
    )
    return UploadRequest(
        Ins.parse(found.matricule, found.oid),
        traits,
        "text/plain",
        "11488-4",
        title,
        mode,
        **extra,  # type: ignore[arg-type]
    )
