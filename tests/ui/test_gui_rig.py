"""The desktop application with the real card rig (pcscd + vpcd + SoftHSM CPS, Vitale card, the
rig's sandbox host): connect with the CPS card through the PIN dialog, read the Vitale card, see the
card pulled out end the session."""

from __future__ import annotations

from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.config.settings import Settings
from app.services.workspace import Workspace
from app.store.local_store import LocalStore
from app.ui.dialogs import PinDialog, SituationDialog
from app.ui.main_window import MainWindow
from app.ui.qt import QDialog, QMessageBox
from tests.rig_fixture import Rig

pytestmark = pytest.mark.device


@pytest.fixture
def rig_window(qtbot: QtBot, cards_reset: Rig, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    for name, value in cards_reset.env.items():
        monkeypatch.setenv(name, value)
    tries: list[str] = []

    def type_pin(self: PinDialog) -> int:
        tries.append(self.tries.text())
        self.code.setText("1234")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(PinDialog, "exec", type_pin)
    situations: list[int] = []

    def choose_first(self: SituationDialog) -> int:  # the GP's card has two situations: asked after the PIN
        situations.append(self.choice.count())
        self.choice.setCurrentIndex(0)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SituationDialog, "exec", choose_first)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: QMessageBox.StandardButton.Ok)
    settings = Settings.load()
    window = MainWindow(Workspace(settings, LocalStore.open(settings.store)))
    window.pin_tries = tries  # type: ignore[attr-defined]
    window.situations_asked = situations  # type: ignore[attr-defined]
    qtbot.addWidget(window)
    window.show()
    return window


def test_connect_with_the_card_read_vitale_and_pull_the_card(
    qtbot: QtBot, rig_window: MainWindow, cards_reset: Rig
) -> None:
    window = rig_window
    window.connect_card()
    qtbot.waitUntil(lambda: window.workspace.connection is not None and window.pending == 0, timeout=60_000)
    tries: Any = window.pin_tries  # type: ignore[attr-defined]
    assert len(tries) == 1 and "essais restants" in tries[0]  # asked once, tries shown
    assert window.situations_asked == [2]  # type: ignore[attr-defined]  # the card's two situations, once
    assert "CLAIRE MEDECIN-GENERALISTE" in window.who_label.text() and "carte CPS" in window.who_label.text()
    window.patient_panel.read_vitale()
    qtbot.waitUntil(lambda: window.patient_panel.patient is not None, timeout=30_000)
    assert window.patient_panel.patient is not None
    assert "carte Vitale" in window.patient_panel.patient.source and window.patient_panel.insc.text() != ""
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=60_000)
    assert "DMP" in window.dmp_panel.state.text()
    cards_reset.remove(0)
    qtbot.waitUntil(lambda: window.workspace.connection is None, timeout=10_000)
    assert window.who_label.text() == "Non connecté"
    window.close()
