"""The card situation chosen in the GUI when the card has several (it was always n° 1): a French
dialog after the PIN, asked from the card's thread and shown on the GUI thread; the choice is the
connection's (VIHF structure and sector, status bar) for the whole session."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from app.card.errors import SituationNotChosen, SituationUnknown
from app.card.identity import Professional, Situation
from app.dmp_client import factory
from app.dmp_client.core.context import Actor
from app.services.workspace import Workspace
from app.ui.dialogs import GuiSituationChooser, SituationDialog
from app.ui.qt import QDialog

SITUATIONS = (
    Situation(1, "1990000017", "CABINET DU BAC A SABLE", "SA07"),
    Situation(2, "1990000025", "CENTRE DE SANTE DU BAC", "SA05"),
)
WHO = Professional("899900012342", "MEDECIN", "JEAN", "10", "Médecin", "SM54", None, "CPS", "8000000101")


def _answer(monkeypatch: pytest.MonkeyPatch, index: int | None, asked: list[str]) -> None:
    def exec_(self: SituationDialog) -> int:
        asked.append(self.windowTitle())
        asked.extend(self.choice.itemText(i) for i in range(self.choice.count()))
        if index is None:
            return QDialog.DialogCode.Rejected
        self.choice.setCurrentIndex(index)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SituationDialog, "exec", exec_)


def test_a_card_with_one_situation_is_not_asked_about(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    _answer(monkeypatch, 0, asked)
    assert GuiSituationChooser(None)(SITUATIONS[1:]) == 2
    assert asked == []


def test_the_choice_is_asked_on_the_gui_thread_from_the_card_thread(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    _answer(monkeypatch, 1, asked)
    chooser = GuiSituationChooser(None)
    result: list[object] = []
    gui = threading.current_thread()
    on_gui: list[bool] = []
    original = chooser._dialog

    def dialog(situations: tuple[Situation, ...]) -> int | None:
        on_gui.append(threading.current_thread() is gui)
        return original(situations)

    chooser._dialog = dialog  # type: ignore[method-assign]
    worker = threading.Thread(target=lambda: result.append(chooser(SITUATIONS)), name="carte")
    worker.start()
    qtbot.waitUntil(lambda: bool(result), timeout=5000)
    worker.join()
    assert result == [2] and on_gui == [True]
    assert asked[0] == "Situation d'exercice"
    assert asked[1].startswith("n° 1 — CABINET DU BAC A SABLE") and "secteur SA05" in asked[2]


def test_cancelling_the_choice_cancels_the_connection(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch, None, [])
    with pytest.raises(SituationNotChosen) as cancelled:
        GuiSituationChooser(None)(SITUATIONS)
    assert cancelled.value.code == "CARTE-SITUATION-ANNULEE"


class _Card:
    reader = "Lecteur 1"

    def login(self, prompt: Any) -> None:
        pass

    def professional(self) -> Professional:
        return WHO

    def situations(self) -> tuple[Situation, ...]:
        return SITUATIONS

    def close(self, wait: bool = False) -> None:
        pass


class _Reached(Exception):
    pass


def test_the_card_client_uses_the_chooser_s_situation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chooser is asked after the PIN with the card's situations, and its number is the one used
    (n° 2 passes the check and the client goes on to the card's keys; n° 3 is refused)."""
    monkeypatch.setattr(factory, "CardSession", lambda module, **kwargs: _Card())
    monkeypatch.setattr(factory.pkcs11_module, "discover", lambda configured: "module.so")

    def signer(card: Any) -> None:
        raise _Reached

    monkeypatch.setattr(factory, "CardSigner", signer)
    settings = SimpleNamespace(pkcs11_module=None, is_sandbox=False)
    seen: list[tuple[Situation, ...]] = []

    def choose(situations: tuple[Situation, ...]) -> int:
        seen.append(situations)
        return 2

    with pytest.raises(_Reached):
        factory.card_client(settings, lambda status: "1234", choose)  # type: ignore[arg-type]
    assert seen == [SITUATIONS]
    with pytest.raises(SituationUnknown, match="n° 3"):
        factory.card_client(settings, lambda status: "1234", lambda situations: 3)  # type: ignore[arg-type]


def test_the_workspace_shows_the_chosen_situation(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from app.config.settings import Settings
    from tests.test_config import load

    def card_client(settings: Any, prompt: Any, situation: Any, purpose: Any) -> tuple[Any, _Card]:
        chosen = next(s for s in SITUATIONS if s.number == situation(SITUATIONS))
        actor = Actor(WHO.national_id, WHO.display_name, (), chosen.structure_id, chosen.sector)
        client = SimpleNamespace(session=SimpleNamespace(actor=actor), journal=None, close=lambda: None)
        return client, _Card()

    monkeypatch.setattr(factory, "card_client", card_client)
    workspace = Workspace(Settings.load(load(tmp_path)), None)
    try:
        connection = workspace.connect_card(lambda status: "1234", lambda situations: 2)
        assert connection.situation == "n° 2 — CENTRE DE SANTE DU BAC"
    finally:
        workspace.close()


def test_the_main_window_offers_the_choice_when_connecting_with_the_card(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from app.config.settings import Settings
    from app.ui.main_window import MainWindow
    from tests.test_config import load

    workspace = Workspace(Settings.load(load(tmp_path)), None)
    used: list[object] = []
    monkeypatch.setattr(workspace, "connect_card", lambda prompt, situation: used.append(situation))
    window = MainWindow(workspace, monitor_cards=False)
    qtbot.addWidget(window)
    window.connect_card()
    qtbot.waitUntil(lambda: bool(used), timeout=5000)
    assert isinstance(used[0], GuiSituationChooser)
    qtbot.waitUntil(lambda: window.pending == 0, timeout=5000)
