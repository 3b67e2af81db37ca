"""The GUI's service layer against the sandbox host (no Qt)."""

from __future__ import annotations

from app.dmp_client.core.actions import Action
from app.services.workspace import Workspace
from app.store.queue import State
from app.store.request import UploadRequest
from tests.ui.conftest import sandbox_patient


def test_gp_sees_the_state_and_the_documents_of_p01(gp_workspace: Workspace) -> None:
    patient = sandbox_patient("P01")
    overview = gp_workspace.overview(patient)
    assert overview.status.exists and overview.status.treating_doctor
    documents = gp_workspace.documents(patient)
    assert len(documents) > 1000
    first = documents[0]
    assert Action.VIEW in gp_workspace.actions(first, treating_doctor=True)
    retrieved = gp_workspace.retrieve(patient, first)
    assert retrieved.cda.stat().st_size > 0 and retrieved.body.exists()


def test_structure_queues_and_drains(structure_workspace: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    patient = sandbox_patient("P01")
    mode, professional = structure_workspace.send_mode()
    report = tmp_path / "cr.txt"
    report.write_text("Compte rendu\n", encoding="utf-8")
    assert patient.traits is not None
    request = UploadRequest(
        patient.ins, patient.traits, "text/plain", "11488-4", "CR GUI", mode, professional
    )
    entry = structure_workspace.enqueue(request, report)
    drained = structure_workspace.drain()
    assert drained.sent == [entry.id]
    assert structure_workspace.store is not None
    assert structure_workspace.store.queue.get(entry.id).state is State.SENT
