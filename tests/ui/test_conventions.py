"""The interface's conventions (issue 14, item 9): Qt's own dialogs in French, plurals agreed,
messages wrapped, actions offered only when they apply, keyboard first (shortcuts, mnemonics, tab
order, the help box), the type picker (grouped, searchable, by profession), settings with proper
controls, and no card or disk work on the GUI thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.card.identity import Professional
from app.config.layers import Config
from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.hl7v3 import DmpState, DmpStatus
from app.services.workspace import Connection, DmpOverview, Workspace
from app.store.queue import State
from app.store.sender import DrainReport
from app.ui.application import MISSING_QT_FR, install_translations
from app.ui.dialogs import ManualPatientDialog
from app.ui.dmp_panel import DmpPanel
from app.ui.main_window import MainWindow
from app.ui.qt import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QKeySequence,
    QLabel,
    QMessageBox,
    QPushButton,
    QtCore,
)
from app.ui.queue_panel import counts_text
from app.ui.settings_dialog import SettingsDialog
from app.ui.texts import count, drain_summary, state_counts
from app.ui.upload_panel import TypeCombo, UploadPanel, offered_groups, parse_reserved
from app.ui.window_actions import SHORTCUTS
from tests.ui.conftest import sandbox_patient

WAIT = 60_000
UI = Path(__file__).resolve().parents[2] / "app" / "ui"


# -- Qt's own dialogs in French -------------------------------------------------------------------


@pytest.fixture
def french(qapp: QApplication) -> Iterator[None]:
    """The application's translations in the test's QApplication, removed afterwards."""
    locale = QtCore.QLocale()
    installed = install_translations(qapp)
    yield
    for translator in installed:
        qapp.removeTranslator(translator)
    QtCore.QLocale.setDefault(locale)


def test_qt_translations_ship_with_the_bindings() -> None:
    folder = Path(QtCore.QLibraryInfo.path(QtCore.QLibraryInfo.LibraryPath.TranslationsPath))
    assert (folder / "qtbase_fr.qm").is_file(), folder


def test_the_non_native_file_dialog_is_in_french(qtbot: QtBot, french: None) -> None:
    dialog = QFileDialog(None, "Choisir le document à envoyer")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    qtbot.addWidget(dialog)
    labels = {label.objectName(): label.text() for label in dialog.findChildren(QLabel)}
    assert labels["lookInLabel"].startswith("&Voir dans"), labels
    assert labels["fileTypeLabel"].startswith("Fichiers de &type"), labels
    assert labels["fileNameLabel"].startswith("&Nom de fichier"), labels
    # what qtbase_fr itself lacks is what the completion supplies, nothing more
    for (context, source), french_text in MISSING_QT_FR.items():
        assert QApplication.translate(context, source) == french_text


def test_qt_s_standard_buttons_are_in_french(qtbot: QtBot, french: None) -> None:
    box = QMessageBox(QMessageBox.Icon.Question, "Titre", "Texte")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    qtbot.addWidget(box)
    assert {b.text() for b in box.buttons()} == {"&Oui", "&Non"}


# -- plurals --------------------------------------------------------------------------------------


def test_counts_agree_in_french() -> None:
    assert count(0, "envoyé") == "0 envoyé" and count(1, "envoyé") == "1 envoyé"
    assert count(2, "envoyé") == "2 envoyés" and count(2047, "document") == "2\u00a0047 documents"
    counts = {State.QUEUED: 3, State.SENT: 2, State.FAILED: 2, State.CANCELLED: 1, State.SENDING: 0}
    assert state_counts(counts) == "3 en attente, 2 envoyés, 2 actions requises, 1 annulé"
    assert counts_text(counts) == state_counts(counts)  # the queue panel's summary
    assert counts_text({}) == "file vide"
    report = DrainReport(sent=[1, 2], confirmed=[3], waiting=[], failed=[4])
    assert drain_summary(report) == "3 envoyés (dont 1 déjà reçu par le DMP), 0 en attente, 1 en échec"


def test_no_ad_hoc_plural_is_left_in_the_interface() -> None:
    """« (s) » is never shown: every count goes through app.ui.texts."""
    for path in UI.glob("*.py"):
        if path.name == "texts.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert "(s)" not in line or "lambda s" in line, f"{path.name}:{number}: {line.strip()}"


# -- messages never clipped ------------------------------------------------------------------------


def test_the_manual_entry_error_wraps_and_is_shown_whole(qtbot: QtBot) -> None:
    dialog = ManualPatientDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog._check()  # nothing typed: the INS's refusal, a long French message with its code
    qtbot.waitUntil(lambda: bool(dialog.problem.text()))
    QApplication.processEvents()
    problem = dialog.problem
    assert problem.wordWrap()
    assert problem.height() >= problem.heightForWidth(problem.width()) > 0
    assert problem.geometry().right() <= dialog.width()


def test_the_busy_text_is_beside_the_bar_not_under_it(qtbot: QtBot, window: MainWindow) -> None:
    release = threading.Event()
    window.run("La recherche des documents des deux dernières années", lambda: release.wait(10))
    try:
        QApplication.processEvents()
        assert window.statusBar().currentMessage() == ""  # no temporary message under the widgets
        label = window.busy_label
        assert label.isVisible() and label.text().startswith("La recherche des documents")
        assert not label.geometry().intersects(window.busy.geometry())
        assert not label.geometry().intersects(window.cancel_button.geometry())
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.pending == 0, timeout=WAIT)
    assert not window.busy_label.isVisible()


# -- actions offered only when they apply ---------------------------------------------------------


def test_connecting_is_not_offered_while_connected(qtbot: QtBot, window: MainWindow) -> None:
    assert not window.card_action.isEnabled() and not window.structure_action.isEnabled()
    assert window.disconnect_action.isEnabled()
    window._show_connection(None)
    assert window.card_action.isEnabled() and window.structure_action.isEnabled()


def _connection(mode: AuthMode) -> Connection:
    return Connection(mode, Purpose.NORMAL, "899900038839", "Claire MEDECIN", "cabinet", "n° 1 — cabinet")


def test_emergency_access_is_offered_only_where_it_can_apply(qtbot: QtBot) -> None:
    panel = DmpPanel()
    qtbot.addWidget(panel)
    panel.show()
    not_authorized = DmpStatus(DmpState.ACTIVE, None, False)
    direct, structure = _connection(AuthMode.DIRECT), _connection(AuthMode.INDIRECT)
    panel.show_overview(DmpOverview(not_authorized, True, False), direct)
    assert panel.emergency.isVisible()  # centre 15 remains
    panel.show_overview(DmpOverview(not_authorized, True, True), direct)
    assert not panel.emergency.isVisible()  # both modes opposed: nothing to offer
    panel.show_overview(DmpOverview(not_authorized, False, False), structure)
    assert not panel.emergency.isVisible()  # a secretariat on the structure's certificate
    urgent = dataclasses.replace(direct, purpose=Purpose.BREAK_GLASS)
    panel.show_overview(DmpOverview(not_authorized, True, True), urgent)
    assert panel.emergency.isVisible() and "normal" in panel.emergency.text()  # the way back


def test_p07_who_opposed_both_modes_is_offered_no_emergency_access(qtbot: QtBot, window: MainWindow) -> None:
    window.patient_panel.select(sandbox_patient("P07"))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)
    assert window.overview is not None
    assert window.overview.opposition_break_glass and window.overview.opposition_centre_15
    assert not window.dmp_panel.emergency.isVisible()


# -- keyboard first -------------------------------------------------------------------------------


def test_every_daily_action_has_a_shortcut_listed_in_the_help_box(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [QKeySequence(key) for key, _, _ in SHORTCUTS]
    assert len({k.toString() for k in keys}) == len(keys)  # no key twice
    for needed in ("connect_card", "find_patient", "refresh", "open_selected", "upload_file",
                   "send_upload", "show_queue", "about"):  # fmt: skip
        action = window.shortcut_actions[needed]
        assert not action.shortcut().isEmpty(), needed
        assert action in window.actions() or action in window.findChildren(type(action)), needed
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", lambda _parent, _title, text: shown.append(text))
    window.shortcut_actions["about"].trigger()  # F1
    assert shown and all(label in shown[0] for _, label, _ in SHORTCUTS)
    assert window.shortcut_actions["about"].shortcut() == QKeySequence("F1")


def test_shortcuts_reach_their_panels(qtbot: QtBot, window: MainWindow, monkeypatch: Any) -> None:
    window.shortcut_actions["show_queue"].trigger()
    assert window.tabs.currentWidget() is window.queue
    chosen: list[bool] = []
    monkeypatch.setattr(window.upload, "choose_file", lambda: chosen.append(True))
    window.shortcut_actions["upload_file"].trigger()
    assert window.tabs.currentWidget() is window.upload and chosen
    sent: list[bool] = []
    monkeypatch.setattr(window.upload, "send", lambda: sent.append(True))
    window.shortcut_actions["send_upload"].trigger()
    assert sent
    window.shortcut_actions["tab_1"].trigger()
    window.shortcut_actions["send_upload"].trigger()  # not on the Déposer tab: nothing is sent
    assert len(sent) == 1


def test_buttons_carry_mnemonics(qtbot: QtBot, window: MainWindow) -> None:
    buttons = [
        window.patient_panel.vitale, window.patient_panel.manual, window.upload.choose_button,
        window.upload.send_button, window.queue.retry_button, window.queue.cancel_button,
        window.queue.history_button, window.queue.drain_button, *window.dmp_panel.buttons,
    ]  # fmt: skip
    for button in buttons:
        assert "&" in button.text(), button.text()
    # the left column (always on screen) and the Déposer tab share no Alt+letter
    left = [*window.dmp_panel.buttons, window.patient_panel.vitale, window.patient_panel.manual]
    upload = [b for b in window.upload.findChildren(QPushButton) if "&" in b.text()]

    def letters(widgets: list[QPushButton]) -> list[str]:
        return [b.text().split("&")[1][0].lower() for b in widgets if "&" in b.text()]

    assert len(set(letters(left))) == len(letters(left))
    assert not set(letters(left)) & set(letters(upload))


def test_the_upload_form_is_walked_in_order_with_tab(qtbot: QtBot, gp_workspace: Workspace) -> None:
    panel = UploadPanel(gp_workspace, lambda: sandbox_patient("P03"))
    qtbot.addWidget(panel)
    wanted = [panel.choose_button, panel.type_search, panel.types, panel.title, panel.start,
              panel.has_stop, panel.stop, *panel.flags.values(), panel.send_button]  # fmt: skip
    order, widget = [], panel.choose_button
    for _ in range(200):
        if widget in wanted and widget not in order:
            order.append(widget)
        widget = widget.nextInFocusChain()
        if widget is panel.choose_button:
            break
    assert order == wanted


# -- the type picker ------------------------------------------------------------------------------


def _codes(groups: list[Any]) -> set[str]:
    return {c.code for _, types in groups for c in types}


def test_patient_only_and_reserved_types_are_not_offered_to_a_gp() -> None:
    reserved = parse_reserved("43=21;60=")
    gp, pharmacist, structure = (offered_groups(p, reserved) for p in ("10", "21", None))
    for groups in (gp, pharmacist, structure):
        codes = _codes(groups)
        assert not {c for c in codes if c.startswith(("DOCPAT", "EXPPAT"))}  # the patient's own
        assert "74465-6" not in codes and "REMB" not in codes  # class 90; reimbursement data
        assert {"11488-4", "34874-8", "60591-5"} <= codes
        assert "90" not in {k.code for k, _ in groups}
    assert "60593-1" not in _codes(gp) and "60593-1" in _codes(pharmacist)  # dispensation
    assert parse_reserved("43=21, 50 ; bad ;=x;11=") == {"43": frozenset({"21", "50"}), "11": frozenset()}


def test_the_type_picker_searches_and_follows_the_profession(qtbot: QtBot, gp_workspace: Workspace) -> None:
    professional = Professional(
        "899900038839", "MEDECIN", "CLAIRE", "10", "Médecin", "SM54", None, None, None
    )
    connection = gp_workspace.connection
    assert connection is not None
    gp_workspace.connection = dataclasses.replace(connection, professional=professional)
    panel = UploadPanel(gp_workspace, lambda: sandbox_patient("P03"))
    qtbot.addWidget(panel)
    panel.refresh_preview()
    offered = set(panel.types.offered())
    assert "DOCPAT01" not in offered and "60593-1" not in offered and "11488-4" in offered
    panel.type_search.setText("operatoire")  # accents and case ignored; one match: chosen
    assert panel.types.current() == "34874-8"
    assert panel.title.text() == "CR opératoire"
    panel.type_search.setText("prescription")
    headers = [panel.types.itemText(i) for i in range(panel.types.count()) if panel.types.itemData(i) is None]
    assert headers[-1] == "PRESCRIPTION" and "COMPTE RENDU" in headers  # the chosen type stays, grouped
    texts = [panel.types.itemText(i) for i in range(panel.types.count()) if panel.types.itemData(i)]
    assert texts and all("Prescription" in t or "opératoire" in t for t in texts)
    panel.type_search.clear()
    assert len(panel.types.offered()) == len(offered)
    combo = TypeCombo(profession="21")
    qtbot.addWidget(combo)
    assert "60593-1" in combo.offered()


# -- settings -------------------------------------------------------------------------------------


def test_settings_use_lists_and_spin_boxes(qtbot: QtBot, tmp_path: Path) -> None:
    user, policy = tmp_path / "reglages.toml", tmp_path / "politique.toml"
    policy.write_text("", encoding="utf-8")
    config = Config.load(environ={}, policy_file=policy, user_file=user, registry=None)
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    profile, mode = dialog.fields["DMP_PROFIL_HOTE"], dialog.fields["DMP_MODE_AUTH"]
    assert isinstance(profile, QComboBox) and isinstance(mode, QComboBox)
    assert [profile.itemData(i) for i in range(profile.count())] == ["current", "legacy"]
    assert profile.currentData() == "current"
    delay = dialog.fields["DMP_DELAI_RECHERCHE_S"]
    assert isinstance(delay, QDoubleSpinBox) and delay.value() == 600 and delay.suffix() == " s"
    assert isinstance(dialog.fields["DMP_CACHE_PURGE_FIN_SESSION"], QCheckBox)
    assert dialog.changes() == {}  # nothing changed: nothing saved (600 is "600", not "600.0")
    profile.setCurrentIndex(profile.findData("legacy"))
    delay.setValue(120)
    assert dialog.changes() == {"DMP_PROFIL_HOTE": "legacy", "DMP_DELAI_RECHERCHE_S": "120"}
    dialog.save()
    again = Config.load(environ={}, policy_file=policy, user_file=user, registry=None)
    assert again.get("DMP_PROFIL_HOTE") == "legacy" and again.get("DMP_DELAI_RECHERCHE_S") == "120"


# -- no card or disk work on the GUI thread -------------------------------------------------------


def test_sign_out_closes_the_card_and_purges_off_the_gui_thread(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    close = window.workspace.disconnect

    def disconnect() -> None:
        threads.append(threading.current_thread())
        close()

    monkeypatch.setattr(window.workspace, "disconnect", disconnect)
    window.sign_out()
    assert window.who_label.text() == "Non connecté"  # the screen is cleared at once
    assert not window.card_action.isEnabled()  # not before the session is closed
    qtbot.waitUntil(lambda: bool(threads) and window.workspace.connection is None, timeout=WAIT)
    qtbot.waitUntil(lambda: window.card_action.isEnabled(), timeout=WAIT)
    assert threads[0] is not threading.main_thread()


def test_ctrl_f_from_the_documents_list_reaches_the_search(qtbot: QtBot, window: MainWindow) -> None:
    """The documents panel had its own Ctrl+F beside the window's: with the focus in the list the key
    was ambiguous and did nothing."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window.activateWindow()
    window.tabs.setCurrentIndex(0)
    window.documents.table.setFocus()
    qtbot.waitUntil(lambda: window.documents.table.hasFocus())
    QTest.keyClick(window.documents.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.documents.search.hasFocus())
