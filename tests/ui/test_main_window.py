"""The consulting-room workflows through the main window, offscreen, against the sandbox host over
real mutual TLS (direct mode with the GP's card-shaped software keys)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from app.card.cps import PinStatus
from app.dmp_client.core.actions import Action
from app.dmp_client.core.context import Purpose
from app.services.workspace import Workspace
from app.ui.dialogs import ConsentDialog, EmergencyAccessDialog, GuiPinPrompt, PinDialog
from app.ui.main_window import MainWindow
from app.ui.qt import QDialog, QDialogButtonBox
from tests.ui.conftest import sandbox_patient


def open_patient(qtbot: QtBot, window: MainWindow, pid: str) -> None:
    window.patient_panel.select(sandbox_patient(pid))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)


def test_status_bar_and_patient_panel(qtbot: QtBot, window: MainWindow) -> None:
    assert "CLAIRE MEDECIN-GENERALISTE" in window.who_label.text()
    assert "bac à sable" in window.host_label.text()
    open_patient(qtbot, window, "P01")
    assert window.patient_panel.ins.text() == "2 07 05 85 756 270 97"
    assert "INS-NIR de test" in window.patient_panel.traits["OID"].text()
    qtbot.waitUntil(lambda: window.patient_panel.identity is not None, timeout=60_000)
    assert window.patient_panel.status.text() == "✔ Identité qualifiée"  # the lifecycle, not the claim
    assert (
        "DMP actif" in window.dmp_panel.state.text() and "médecin traitant" in window.dmp_panel.state.text()
    )
    assert "joignable" in window.host_label.text()


def test_documents_listed_opened_and_masked(qtbot: QtBot, window: MainWindow) -> None:
    open_patient(qtbot, window, "P01")
    qtbot.waitUntil(lambda: len(window.documents.visible_documents()) > 0, timeout=60_000)
    documents = window.documents.visible_documents()
    pdf = documents[0]
    with qtbot.waitSignal(window.viewer.shown, timeout=60_000):
        window.open_document(pdf)
    own = next(
        d for d in documents
        if Action.MASK in window.workspace.actions(d, treating_doctor=True) and d.status.endswith("Approved")
    )  # fmt: skip
    window.document_action(own, Action.MASK)
    qtbot.waitUntil(lambda: window.pending == 0, timeout=60_000)
    assert window.workspace.client is not None
    masked = window.workspace.client.document_by_unique_id(sandbox_patient("P01").ins, own.unique_id)
    assert "MASQUE_PS" in masked.confidentiality_codes


def test_authorise_then_withdraw_from_the_dmp_panel(qtbot: QtBot, window: MainWindow) -> None:
    open_patient(qtbot, window, "P07")
    assert window.dmp_panel.authorize.isVisible()
    window.dmp_panel.authorize.click()
    qtbot.waitUntil(lambda: window.pending == 0 and window.dmp_panel.withdraw.isVisible(), timeout=60_000)
    assert "Vous êtes autorisé" in window.dmp_panel.state.text()
    window.dmp_panel.withdraw.click()
    qtbot.waitUntil(lambda: window.pending == 0 and window.dmp_panel.authorize.isVisible(), timeout=60_000)


def test_emergency_access_needs_a_reason_and_a_confirmation_and_respects_oppositions(
    qtbot: QtBot, window: MainWindow
) -> None:
    open_patient(qtbot, window, "P07")
    overview = window.overview
    assert overview is not None and overview.opposition_break_glass
    assert "opposé au bris de glace" in window.dmp_panel.oppositions.text()
    opposed = {Purpose.BREAK_GLASS: True, Purpose.CENTRE_15: False}
    dialog = EmergencyAccessDialog(opposed)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.purpose is Purpose.CENTRE_15  # break-glass is not offered: the patient opposed it
    assert not ok.isEnabled()
    dialog.confirm.setChecked(True)
    assert ok.isEnabled() and dialog.reason.count() >= 1
    both = {
        Purpose.BREAK_GLASS: overview.opposition_break_glass,
        Purpose.CENTRE_15: overview.opposition_centre_15,
    }
    refused = EmergencyAccessDialog(both)  # P07 as the DMP says: whatever is opposed is never enabled
    qtbot.addWidget(refused)
    refused.confirm.setChecked(True)
    allowed = not (both[Purpose.BREAK_GLASS] and both[Purpose.CENTRE_15])
    assert refused.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled() is allowed


def test_pin_prompt_from_the_card_thread_shows_the_tries_left(qtbot: QtBot, monkeypatch: Any) -> None:
    shown: list[str] = []

    def answer(self: PinDialog) -> int:
        shown.append(self.tries.text())
        self.code.setText("1234")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(PinDialog, "exec", answer)
    prompt = GuiPinPrompt(None)
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(prompt(PinStatus(1, False, False))))
    worker.start()
    qtbot.waitUntil(lambda: bool(result), timeout=10_000)
    worker.join()
    assert result == ["1234"] and "dernier essai" in shown[0]


def test_consent_is_required_before_creating_a_dmp(qtbot: QtBot) -> None:
    dialog = ConsentDialog()
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled()
    dialog.consent.setChecked(True)
    assert dialog.ok.isEnabled()


def test_the_ehr_context_opens_the_patient(qtbot: QtBot, window: MainWindow) -> None:
    window.open_context({"patient": "P03", "activer": True})
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    assert window.patient_panel.patient is not None
    assert window.patient_panel.patient.ins == sandbox_patient("P03").ins


def test_a_second_instance_forwards_its_context(qtbot: QtBot, tmp_path: Path) -> None:
    """The EHR starts ``dmp-gui`` again with a patient: it hands the context over and exits."""
    import os
    import subprocess
    import sys

    from app.ui.application import forward_or_serve

    name = f"dmp-test-{os.getpid()}-{tmp_path.name[-12:]}"
    server = forward_or_serve({}, name)
    assert server is not None
    received: list[dict[str, Any]] = []
    server.received.connect(received.append)
    env = dict(os.environ, DMP_GUI_INSTANCE=name, QT_QPA_PLATFORM="offscreen")
    second = subprocess.Popen([sys.executable, "-m", "app.ui.main", "--patient", "P04"], env=env)
    qtbot.waitUntil(lambda: bool(received), timeout=30_000)
    assert second.wait(timeout=30) == 0  # forwarded: no second window
    assert received[0]["patient"] == "P04" and received[0]["activer"]
    server.close()


def test_nothing_of_the_previous_patient_stays_on_screen(qtbot: QtBot, window: MainWindow) -> None:
    open_patient(qtbot, window, "P01")
    qtbot.waitUntil(lambda: len(window.documents.visible_documents()) > 0, timeout=60_000)
    with qtbot.waitSignal(window.viewer.shown, timeout=60_000):
        window.open_document(window.documents.visible_documents()[0])
    window.patient_panel.select(sandbox_patient("P07"))
    assert window.documents.visible_documents() == []
    assert window.viewer.save_button.isEnabled() is False  # the viewer was cleared at once
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    assert window.documents.visible_documents() == []  # not authorised on P07: nothing listed


def test_legacy_profile_creates_a_dmp_after_the_patient_s_consent(
    qtbot: QtBot, pki_dir: Path, tmp_path: Path, direct_client: Any, ui_store: Any, monkeypatch: Any
) -> None:
    from app.ui import window_actions
    from sandbox import cards
    from sandbox.host.server import DmpHost, HostConfig, serve_in_thread
    from tests.host_fixture import settings_for

    legacy = DmpHost(("127.0.0.1", 0), HostConfig(pki_dir / "pki", tmp_path / "legacy", profile="legacy"))
    serve_in_thread(legacy)
    try:
        workspace = Workspace(settings_for(legacy, pki_dir), ui_store)
        profile = cards.card("generaliste")
        from app.dmp_client.core.context import AuthMode
        from app.services.workspace import Connection

        workspace.attach(
            direct_client(legacy, "generaliste"),
            Connection(
                AuthMode.DIRECT, Purpose.NORMAL, profile.national_id, "Dr", "Cabinet", "n° 1", "lecteur"
            ),
        )
        main = MainWindow(workspace, legacy_profile=True, monitor_cards=False)
        qtbot.addWidget(main)
        open_patient(qtbot, main, "P02")
        assert "n'a pas de DMP" in main.dmp_panel.state.text()
        main.show()
        assert main.dmp_panel.create_dmp.isVisible()

        def consent(self: ConsentDialog) -> int:
            self.consent.setChecked(True)
            return QDialog.DialogCode.Accepted

        monkeypatch.setattr(window_actions.ConsentDialog, "exec", consent)
        main.dmp_panel.create_dmp.click()
        qtbot.waitUntil(
            lambda: main.pending == 0 and "DMP actif" in main.dmp_panel.state.text(), timeout=60_000
        )
        main.close()
    finally:
        legacy.shutdown()
        legacy.server_close()


def test_cancel_stops_waiting_and_ignores_the_late_answer(qtbot: QtBot, window: MainWindow) -> None:
    import time as clock

    results: list[str] = []
    window.run("Une attente", lambda: clock.sleep(0.5) or "tard", results.append)
    assert window.busy.isVisible() and window.cancel_button.isVisible()
    window.cancel_button.click()
    assert not window.busy.isVisible() and window.pending == 0
    qtbot.wait(800)
    assert results == []  # the answer came after the cancel: ignored
