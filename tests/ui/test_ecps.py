"""« Se connecter avec e-CPS » in the real main window, against the in-process sandbox Pro Santé Connect
provider (CIBA, its virtual phone) and the sandbox DMP host, both over real TLS (mutual TLS with the
test PKI's structure certificate): the login approved on the phone, the exercise chosen, the code
shown, a DMP consulted in AIR (the list and a document), the outcomes refused / expired / unknown /
unreachable, « Annuler » stopping the poll, the RPPS id remembered for the workstation user, the
token expiry during a session, the logout; and the plain structure session offering no consultation.
No card rig."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.config.settings import Settings
from app.dmp_client.core.actions import Action
from app.dmp_client.core.context import AuthMode
from app.services.workspace import Workspace
from app.store.local_store import LocalStore
from app.ui.ecps_dialog import EcpsDialog
from app.ui.main_window import MainWindow
from app.ui.qt import QMessageBox
from sandbox import cards
from sandbox.host.server import DmpHost
from sandbox.psc.professionals import UNKNOWN_ID
from sandbox.psc.server import DEFAULT_CLIENT_ID, PscConfig, PscFaults, PscProvider, serve_in_thread
from tests.host_fixture import settings_for
from tests.ui.conftest import sandbox_patient

GP = cards.card("generaliste")  # two exercises: her practice and the hospital
WAIT = 30_000


@pytest.fixture
def provider(pki_dir: Path, tmp_path: Path) -> Iterator[PscProvider]:
    faults = PscFaults(interval=0, phone="approve", phone_delay=0.3)
    server = PscProvider(("127.0.0.1", 0), PscConfig(pki_dir / "pki", tmp_path / "psc", faults))
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def ecps_settings(host: DmpHost, pki_dir: Path, issuer: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The sandbox settings, Pro Santé Connect at ``issuer`` (client authenticated by the structure's
    certificate), the user's settings file in the test's own folder."""
    monkeypatch.setenv("DMP_PSC_URL", issuer)
    monkeypatch.setenv("DMP_PSC_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("DMP_PSC_AUTH_CLIENT", "mtls")
    monkeypatch.delenv("DMP_PSC_RPPS", raising=False)
    return settings_for(host, pki_dir)


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    monkeypatch.setenv("APPDATA", str(folder))
    return folder


@pytest.fixture
def workspace(
    host: DmpHost,
    pki_dir: Path,
    provider: PscProvider,
    ui_store: LocalStore,
    user_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Workspace]:
    space = Workspace(ecps_settings(host, pki_dir, provider.issuer, monkeypatch), ui_store)
    yield space
    space.close()


@pytest.fixture
def main(qtbot: QtBot, workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    boxes: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: boxes.append(self))  # error boxes, kept
    window = MainWindow(workspace, monitor_cards=False)
    window.boxes = boxes  # type: ignore[attr-defined]
    qtbot.addWidget(window)
    window.show()
    return window


def open_dialog(window: MainWindow, rpps: str = GP.national_id) -> EcpsDialog:
    assert window.ecps_action.isEnabled()
    window.ecps_action.trigger()
    dialog = window.ecps_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.rpps.setText(rpps)
    return dialog


def login_as_gp(qtbot: QtBot, window: MainWindow, situation: int = 2) -> EcpsDialog:
    dialog = open_dialog(window)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 2, timeout=WAIT)  # the exercise choice
    assert dialog.situations.count() == len(GP.situations)
    dialog.situations.setCurrentIndex(dialog.situations.findData(situation))
    dialog.choose_button.click()
    qtbot.waitUntil(lambda: window.workspace.connection is not None and window.pending == 0, timeout=WAIT)
    return dialog


def requests_of(provider: PscProvider) -> list[Any]:
    with provider.lock:
        return list(provider.requests.values())


def test_login_with_ecps_then_consult_a_dmp_in_air_and_log_out(
    qtbot: QtBot, main: MainWindow, provider: PscProvider
) -> None:
    dialog = login_as_gp(qtbot, main)
    [request] = requests_of(provider)
    assert dialog.code.text() == request.binding_message and len(request.binding_message) == 2
    assert request.channel == "MOBILE" and "téléphone" in dialog.where.text()  # the channel shown
    assert dialog.code.font().pointSize() >= 30  # shown large
    connection = main.workspace.connection
    assert connection is not None and connection.mode is AuthMode.INDIRECT_REINFORCED
    assert connection.actor_id == GP.national_id and "CH DU BAC A SABLE" in connection.situation
    who = main.who_label.text()
    assert "CLAIRE MEDECIN-GENERALISTE" in who and "e-CPS (AIR)" in who and who.count("e-CPS") == 1
    assert not main.ecps_action.isEnabled() and not main.card_action.isEnabled()
    # AIR consults: the list (TD3.1) and a document (TD3.2); it does not feed.
    assert not main.tabs.isTabEnabled(main.tabs.indexOf(main.upload))
    assert "consultation" in main.tabs.tabToolTip(main.tabs.indexOf(main.upload))
    assert not main.tabs.isTabEnabled(main.tabs.indexOf(main.batch))
    assert main.documents.table.isEnabled() and not main.documents.notice.isVisible()
    main.patient_panel.select(sandbox_patient("P01"))  # the GP is her médecin traitant
    qtbot.waitUntil(lambda: bool(main.documents.visible_documents()) and main.pending == 0, timeout=WAIT)
    documents = main.documents.visible_documents()
    main.documents.table.selectRow(0)
    assert main.documents.offered_actions() == {Action.VIEW}  # nothing but consultation is offered
    main.open_document(documents[0])
    qtbot.waitUntil(lambda: main.pending == 0, timeout=WAIT)
    assert not main.boxes, [b.text() for b in main.boxes]  # type: ignore[attr-defined]
    assert main.viewer._info is documents[0] and main.viewer.save_button.isEnabled()  # retrieved
    # « Se déconnecter »: the PSC session is ended at the provider too.
    with provider.lock:
        [session] = provider.sessions.values()
    main.disconnect_action.trigger()
    qtbot.waitUntil(lambda: not main.signing_out, timeout=WAIT)
    assert main.workspace.connection is None and main.who_label.text() == "Non connecté"
    qtbot.waitUntil(lambda: session.ended, timeout=WAIT)
    assert main.ecps_action.isEnabled() and main.tabs.isTabEnabled(main.tabs.indexOf(main.upload))


def test_refused_on_the_phone(qtbot: QtBot, main: MainWindow, provider: PscProvider) -> None:
    provider.config.faults.phone = "refuse"
    dialog = open_dialog(main)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.outcome.isVisible(), timeout=WAIT)
    assert "refusée" in dialog.outcome.text() and "[PSC-REFUS]" in dialog.outcome.text()
    assert dialog.pages.currentIndex() == 0 and dialog.isVisible()  # the form again, to retry
    assert main.workspace.connection is None


def test_expired_when_nobody_answers(qtbot: QtBot, main: MainWindow, provider: PscProvider) -> None:
    provider.config.faults.phone = "manual"
    provider.config.faults.expires_in = 2
    dialog = open_dialog(main)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1, timeout=WAIT)
    qtbot.waitUntil(lambda: dialog.left.text().startswith("Temps restant : 0:0"), timeout=WAIT)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT)
    assert "expiré" in dialog.outcome.text() and "[PSC-EXPIRE]" in dialog.outcome.text()
    assert main.workspace.connection is None


def test_unknown_professional_and_a_wrong_id(qtbot: QtBot, main: MainWindow) -> None:
    dialog = open_dialog(main, UNKNOWN_ID)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.outcome.isVisible(), timeout=WAIT)
    assert "[PSC-PRO-INCONNU]" in dialog.outcome.text()
    dialog.rpps.setText("12345")
    assert not dialog.start_button.isEnabled()  # « 8 » + 11 digits, checked before anything is sent
    dialog.rpps.setText("8" + "1" * 10 + "x")
    assert not dialog.start_button.isEnabled()


def test_provider_unreachable(
    qtbot: QtBot,
    host: DmpHost,
    pki_dir: Path,
    ui_store: LocalStore,
    user_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ecps_settings(host, pki_dir, f"https://localhost:{port}/auth/realms/x", monkeypatch)
    space = Workspace(settings, ui_store)
    try:
        window = MainWindow(space, monitor_cards=False)
        qtbot.addWidget(window)
        dialog = open_dialog(window)
        dialog.start_button.click()
        qtbot.waitUntil(lambda: not dialog.busy and dialog.outcome.isVisible(), timeout=WAIT)
        assert "injoignable" in dialog.outcome.text() and "[PSC-INJOIGNABLE]" in dialog.outcome.text()
    finally:
        space.close()


def test_cancel_stops_the_poll_and_leaves_no_session(
    qtbot: QtBot, main: MainWindow, provider: PscProvider
) -> None:
    provider.config.faults.phone = "manual"
    provider.config.faults.interval = 1
    dialog = open_dialog(main)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1, timeout=WAIT)
    [request] = requests_of(provider)
    qtbot.waitUntil(lambda: request.last_poll > request.created, timeout=WAIT)  # polling
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT)
    assert "annulée" in dialog.outcome.text() and "[PSC-ANNULE]" in dialog.outcome.text()
    polled = request.last_poll
    qtbot.wait(2500)  # more than two intervals: no poll after « Annuler »
    assert request.last_poll == polled and request.status == "pending"
    assert main.workspace.connection is None and not provider.sessions


def test_the_rpps_id_is_remembered_for_the_workstation_user(
    qtbot: QtBot,
    main: MainWindow,
    host: DmpHost,
    pki_dir: Path,
    provider: PscProvider,
    user_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main.workspace.settings.psc_rpps is None
    login_as_gp(qtbot, main, situation=1)
    assert main.workspace.settings.psc_rpps == GP.national_id
    # The next start of the application (the user's settings file) offers it.
    again = Workspace(ecps_settings(host, pki_dir, provider.issuer, monkeypatch), None)
    try:
        assert again.settings.psc_rpps == GP.national_id
        dialog = EcpsDialog(again)
        qtbot.addWidget(dialog)
        assert dialog.rpps.text() == GP.national_id and dialog.start_button.isEnabled()
    finally:
        again.close()
    assert any(user_config.rglob("*.toml"))


def test_token_refreshed_silently_then_the_session_ends_when_it_cannot_be(
    qtbot: QtBot, main: MainWindow, provider: PscProvider
) -> None:
    provider.config.faults.access_token_lifetime = 1  # every exchange refreshes (30 s margin)
    provider.config.faults.refresh_token_lifetime = 4
    login_as_gp(qtbot, main)
    main.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: bool(main.documents.visible_documents()) and main.pending == 0, timeout=WAIT)
    assert not main.boxes  # type: ignore[attr-defined]  # refreshed silently
    time.sleep(4.5)  # the refresh token is gone: the next exchange cannot renew the session
    main.refresh()
    qtbot.waitUntil(lambda: main.workspace.connection is None and not main.signing_out, timeout=WAIT)
    boxes = main.boxes  # type: ignore[attr-defined]
    assert any("expiré" in b.text() and "PSC-SESSION-EXPIREE" in b.informativeText() for b in boxes)
    assert main.who_label.text() == "Non connecté" and main.ecps_action.isEnabled()


def test_plain_structure_mode_offers_no_consultation(qtbot: QtBot, structure_workspace: Workspace) -> None:
    window = MainWindow(structure_workspace, monitor_cards=False)
    qtbot.addWidget(window)
    window.show()
    window._show_connection(structure_workspace.connection)
    assert "certificat de structure" in window.who_label.text()
    documents = window.documents
    assert not documents.table.isEnabled() and not documents.search.isEnabled()
    assert documents.notice.isVisible()
    for tip in (documents.notice.text(), documents.table.toolTip(), window.tabs.tabToolTip(0)):
        assert "carte CPS" in tip and "e-CPS" in tip
    assert not window.shortcut_actions["find_document"].isEnabled()
    assert not window.shortcut_actions["open_selected"].isEnabled()
    assert window.tabs.isTabEnabled(window.tabs.indexOf(window.upload))  # feeding stays offered
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)
    assert not documents.visible_documents()  # no search was sent
    window._show_connection(None)
    assert documents.table.isEnabled() and not documents.notice.isVisible()


def test_a_session_that_cannot_be_opened_leaves_no_psc_session_behind(
    workspace: Workspace, provider: PscProvider
) -> None:
    import dataclasses

    from app.errors import DmpClientError

    psc = workspace.open_psc()  # before the structure goes: the client authenticates with it
    login = psc.login(GP.national_id)
    workspace.settings = workspace.session.settings = dataclasses.replace(workspace.settings, structure=None)
    with pytest.raises(DmpClientError):
        workspace.connect_ecps(psc, login, 2)
    assert workspace.connection is None
    assert all(s.ended for s in provider.sessions.values()) and provider.sessions  # logged out
