"""The GUI refuses to feed a patient whose identity is not qualifiée (issue 17): the upload panel
says what to do and queues nothing; the secretariat's batch blocks the row at « Vérifier », before
queueing. The other GUI tests feed qualified sandbox patients (tests/ui/conftest.py's ui_store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.errors import IdentityNotQualified
from app.services.identity import IdentityLifecycle, IdentityStatus, InsiAnswer
from app.services.workspace import Patient, Workspace
from app.ui.batch_panel import CHECK, BatchPanel
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient
from tests.ui.test_batch import PDF, hosted, sidecar, text
from tests.ui.test_upload import panel_for, ready, report

WAIT = 20_000
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def demoted(workspace: Workspace, pid: str) -> Patient:
    """The patient's identity after an INSi answer naming another INS: back to validée."""
    patient, other = sandbox_patient(pid), sandbox_patient("P05")
    assert workspace.store is not None and patient.traits is not None
    life = IdentityLifecycle(workspace.store.db)
    life.record_insi(
        patient.ins, patient.traits, InsiAnswer(other.ins, patient.traits, "INSI-X", NOW), "test"
    )
    assert life.status(patient.ins) is IdentityStatus.VALIDEE
    return patient


def sidecar_lot(qtbot: QtBot, workspace: Workspace, tmp_path: Path) -> BatchPanel:
    """The batch over a folder of one report and its sidecar (naming P01), its row made."""
    folder = tmp_path / "lot"
    folder.mkdir()
    (folder / "cr-sortie.pdf").write_bytes(PDF)
    (folder / "cr-sortie.pdf.dmp.json").write_bytes(sidecar())
    panel = BatchPanel(workspace, lambda: [sandbox_patient(f"P0{n}") for n in range(1, 8)])
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 1, timeout=WAIT)
    return panel


def verified(qtbot: QtBot, panel: BatchPanel) -> None:
    """« Vérifier », waited for."""
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)


def test_the_upload_panel_refuses_a_non_qualified_identity(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    patient = demoted(gp_workspace, "P03")
    panel = panel_for(qtbot, gp_workspace, patient)
    ready(qtbot, panel, report(tmp_path), "CR identité non qualifiée")
    panel.send_button.click()
    qtbot.waitUntil(lambda: "IDENTITE-NON-QUALIFIEE" in panel.message.text(), timeout=WAIT)
    said = panel.message.text()
    assert "téléservice INSi" in said and "Statut de l'identité : validée" in said
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []
    assert hosted(host, "CR identité non qualifiée") == 0
    assert panel.file is not None  # kept: the same document can go once the identity is qualified


def test_the_batch_blocks_a_non_qualified_row_before_queueing(
    qtbot: QtBot, structure_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    demoted(structure_workspace, "P01")  # the sidecar's patient
    panel = sidecar_lot(qtbot, structure_workspace, tmp_path)
    verified(qtbot, panel)
    assert "[IDENTITE-NON-QUALIFIEE]" in text(panel, "cr-sortie.pdf", CHECK)
    assert panel.rows[0].request is None
    panel.queue_rows()
    assert "« Vérifier » d'abord" in panel.message.text()
    assert structure_workspace.store is not None and structure_workspace.store.queue.entries() == []
    assert hosted(host, "CR lot — accompagnement") == 0


def test_consultation_is_allowed_unless_the_unsure_setting_asks_for_a_qualified_identity(
    gp_workspace: Workspace,
) -> None:
    """[UNSURE] DMP_IDENTITE_CONSULTATION_QUALIFIEE: the sources forbid feeding only; 0 by default."""
    patient = demoted(gp_workspace, "P03")
    assert not gp_workspace.settings.consultation_needs_qualified
    gp_workspace.documents(patient)  # allowed by default
    gp_workspace.settings = dataclasses.replace(gp_workspace.settings, consultation_needs_qualified=True)
    with pytest.raises(IdentityNotQualified):
        gp_workspace.documents(patient)
    gp_workspace.documents(sandbox_patient("P04"))  # qualifiée: read


def test_a_batch_row_whose_identity_stepped_back_after_verifier_is_blocked_at_queueing(
    qtbot: QtBot, structure_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    panel = sidecar_lot(qtbot, structure_workspace, tmp_path)
    verified(qtbot, panel)
    assert panel.rows[0].request is not None  # qualifiée at « Vérifier »
    demoted(structure_workspace, "P01")
    panel.queue_rows()
    qtbot.waitUntil(lambda: "[IDENTITE-NON-QUALIFIEE]" in text(panel, "cr-sortie.pdf", CHECK), timeout=WAIT)
    assert panel.rows[0].entry is None and panel.rows[0].request is None
    assert structure_workspace.store is not None and structure_workspace.store.queue.entries() == []
    qtbot.waitUntil(lambda: panel._job is None, timeout=WAIT)
    assert "identité non qualifiée" in panel.message.text()
    assert hosted(host, "CR lot — accompagnement") == 0
