"""The secretariat's batch shows each row's identity status (the lifecycle's) and blocks a row whose
identity is not qualifiée before queueing, saying so in the row with the way to qualify it
(« Qualifier… », the identity dialog); once qualified, the row is checked again and sent."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.services.identity import IdentityStatus
from app.services.workspace import Workspace
from app.store.queue import State
from app.ui.batch_panel import CHECK, IDENTITY, BatchPanel
from app.ui.identity_dialog import IdentityDialog
from app.ui.qt import QLabel, QPushButton
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient
from tests.ui.test_batch import PDF, hosted, row, text
from tests.ui.test_identity_feeding import sidecar_lot
from tests.ui.test_identity_panel import put_status

WAIT = 20_000


def identity_cell(panel: BatchPanel, name: str) -> tuple[str, QPushButton | None]:
    cell = panel.table.cellWidget(row(panel, name)[0], IDENTITY)
    assert cell is not None
    return cell.findChild(QLabel).text(), cell.findChild(QPushButton)


def checked(qtbot: QtBot, panel: BatchPanel) -> None:
    panel.message.say("")
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)


def test_a_row_blocked_for_its_identity_is_qualified_from_the_row_then_checked_and_sent(
    qtbot: QtBot, structure_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    put_status(structure_workspace, sandbox_patient("P01"), IdentityStatus.RECUPEREE)  # the sidecar's
    panel = sidecar_lot(qtbot, structure_workspace, tmp_path)
    qtbot.waitUntil(lambda: panel.rows[0].identity is not None, timeout=WAIT)
    said, qualify = identity_cell(panel, "cr-sortie.pdf")
    assert said == "◐ Identité récupérée" and qualify is not None  # shown before « Vérifier »

    checked(qtbot, panel)
    blocked = text(panel, "cr-sortie.pdf", CHECK)
    assert "[IDENTITE-NON-QUALIFIEE]" in blocked and "Statut de l'identité : récupérée" in blocked
    assert "« Qualifier… » (colonne « Identité »)" in blocked  # the way out, in the row
    panel.queue_rows()
    assert "« Vérifier » d'abord" in panel.message.text()
    assert structure_workspace.store is not None and structure_workspace.store.queue.entries() == []

    said, qualify = identity_cell(panel, "cr-sortie.pdf")  # shown again with « Vérifier »'s reading
    assert said == "◐ Identité récupérée" and qualify is not None
    qualify.click()
    dialog = panel.findChild(IdentityDialog)
    assert isinstance(dialog, IdentityDialog)
    qtbot.waitUntil(lambda: dialog.state is not None, timeout=WAIT)
    assert dialog.trait_labels["Nom de naissance"].text() == "DURAND"  # the sidecar's identity
    assert dialog.checked_by.text() == ""  # structure certificate: the secretary says who saw it
    dialog.checked_by.setText("Mme Secrétaire (accueil)")
    dialog.confirm.setChecked(True)
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: identity_cell(panel, "cr-sortie.pdf")[1] is None, timeout=WAIT)
    assert identity_cell(panel, "cr-sortie.pdf")[0] == "✔ Identité qualifiée"
    assert text(panel, "cr-sortie.pdf", CHECK) == "à vérifier"  # unblocked: to be checked again
    assert "Vérifier" in panel.message.text()

    checked(qtbot, panel)
    assert text(panel, "cr-sortie.pdf", CHECK).startswith("prêt à mettre en file")
    panel.queue_rows()
    qtbot.waitUntil(
        lambda: panel.rows[0].entry is not None and panel.rows[0].entry.state is State.SENT, timeout=WAIT
    )
    assert hosted(host, "CR lot — accompagnement") == 1


def test_rows_show_their_patient_s_status_and_a_patient_to_choose(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    put_status(structure_workspace, sandbox_patient("P03"), IdentityStatus.PROVISOIRE)
    folder = tmp_path / "lot"
    folder.mkdir()
    for name in ("cr-285127505612353.pdf", "cr-150081505104018.pdf", "scan.pdf"):  # P04, P03, none
        (folder / name).write_bytes(PDF)
    panel = BatchPanel(structure_workspace, lambda: [sandbox_patient(f"P0{n}") for n in range(1, 8)])
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 3 and panel.rows[0].identity is not None, timeout=WAIT)
    p03 = row(panel, "cr-150081505104018.pdf")[0]
    qtbot.waitUntil(lambda: panel.table.cellWidget(p03, IDENTITY) is not None, timeout=WAIT)
    assert identity_cell(panel, "cr-285127505612353.pdf") == ("✔ Identité qualifiée", None)
    said, qualify = identity_cell(panel, "cr-150081505104018.pdf")
    assert said == "✖ Identité provisoire" and qualify is not None
    assert text(panel, "scan.pdf", IDENTITY) == "— (patient à choisir)"
    panel.set_patient(row(panel, "scan.pdf")[1], sandbox_patient("P03"))  # chosen: its status follows
    scan = row(panel, "scan.pdf")[0]
    qtbot.waitUntil(lambda: panel.table.cellWidget(scan, IDENTITY) is not None, timeout=WAIT)
    assert identity_cell(panel, "scan.pdf")[0] == "✖ Identité provisoire"
