"""Settings the GUI used to ignore: DMP_MODE_AUTH decides the default connection (first and in bold
in the toolbar), DMP_PROFIL_HOTE comes through every layer (user file, locked policy), not from the
environment only; and the sandbox's Vitale card is offered in sandbox mode only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config.layers import InvalidValue
from app.config.settings import Settings
from app.store.local_store import LocalStore
from app.ui import application
from app.ui.qt import QToolBar
from tests.test_config import load


def _window(qtbot: Any, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    monkeypatch.setattr(LocalStore, "open", lambda _settings: None)  # no base needed here
    from app.ui import main_window

    monkeypatch.setattr(main_window.MainWindow, "_start_monitor", lambda self: None)
    window = application.open_main_window(settings=settings)
    qtbot.addWidget(window)
    return window


def _toolbar_order(window: Any) -> list[Any]:
    actions = window.findChild(QToolBar, "barre-connexion").actions()
    return [a for a in actions if a in (window.card_action, window.structure_action)]


@pytest.mark.parametrize(("mode", "first"), [("carte", "card_action"), ("structure", "structure_action")])
def test_the_configured_mode_is_the_default_connection(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str, first: str
) -> None:
    settings = Settings.load(load(tmp_path, user_text=f'DMP_MODE_AUTH = "{mode}"\n'))
    window = _window(qtbot, monkeypatch, settings)
    default = getattr(window, first)
    assert window.default_connect_action is default
    assert _toolbar_order(window)[0] is default
    assert default.font().bold()
    other = window.structure_action if default is window.card_action else window.card_action
    assert not other.font().bold() and other.isEnabled()  # the other connection is still offered


def test_the_host_profile_comes_from_the_user_file(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DMP_PROFIL_HOTE", raising=False)
    settings = Settings.load(load(tmp_path, user_text='DMP_PROFIL_HOTE = "legacy"\n'))
    assert _window(qtbot, monkeypatch, settings).dmp_panel.legacy_profile is True


def test_a_locked_host_profile_beats_the_environment(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DMP_PROFIL_HOTE", "legacy")
    config = load(
        tmp_path, {"DMP_PROFIL_HOTE": "legacy"}, policy_text='[verrouilles]\nDMP_PROFIL_HOTE = "current"\n'
    )
    assert _window(qtbot, monkeypatch, Settings.load(config)).dmp_panel.legacy_profile is False


def test_the_command_line_option_still_overrides_the_profile(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(LocalStore, "open", lambda _settings: None)
    from app.ui import main_window

    monkeypatch.setattr(main_window.MainWindow, "_start_monitor", lambda self: None)
    window = application.open_main_window("legacy", Settings.load(load(tmp_path)))
    qtbot.addWidget(window)
    assert window.dmp_panel.legacy_profile is True


def test_an_unknown_host_profile_is_a_configuration_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="DMP_PROFIL_HOTE"):
        Settings.load(load(tmp_path, {"DMP_PROFIL_HOTE": "ancien"}))


def test_the_vitale_button_is_disabled_outside_sandbox_mode(qtbot: Any) -> None:
    from app.ui.patient_panel import PatientPanel

    production, training_mode = PatientPanel(sandbox=False), PatientPanel(sandbox=True)
    qtbot.addWidget(production)
    qtbot.addWidget(training_mode)
    assert not production.vitale.isEnabled() and "logiciel métier" in production.vitale.toolTip()
    assert training_mode.vitale.isEnabled()


@pytest.mark.parametrize("mode", ["carte", "structure"])
def test_enter_opens_the_default_connection_when_nothing_has_the_focus(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str
) -> None:
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication, Qt

    called: list[str] = []
    monkeypatch.setattr(MainWindow, "connect_card", lambda self: called.append("carte"))
    monkeypatch.setattr(MainWindow, "connect_structure", lambda self: called.append("structure"))
    settings = Settings.load(load(tmp_path, user_text=f'DMP_MODE_AUTH = "{mode}"\n'))
    window = _window(qtbot, monkeypatch, settings)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert called == [mode]
    window.documents.search.setFocus()  # typing in a field: Enter is the field's
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.documents.search, timeout=2000)
    qtbot.keyClick(window.documents.search, Qt.Key.Key_Return)
    assert called == [mode]
    window.close()
