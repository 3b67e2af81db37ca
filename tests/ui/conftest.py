"""Qt tests: offscreen, a session QApplication (pytest-qt's ``qapp``/``qtbot``), and workspaces
connected to an in-process sandbox host over real mutual TLS, their local base keyed from the real
Secret Service.

- ``gp_workspace``: the sandbox GP in direct mode (the test PKI's card-shaped software keys: the
  same certificates and VIHF as the card, without the rig), médecin traitant of P01/P03/P04;
- ``structure_workspace``: the hospital's secretariat (structure certificate, indirect mode).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.dmp_client.core.context import AuthMode, Purpose
from app.services.training import sandbox_patient as workspace_sandbox_patient
from app.services.workspace import Connection, Patient, Workspace
from app.store.local_store import LocalStore, StoreSettings
from sandbox import cards
from sandbox.host.server import DmpHost
from tests.host_fixture import DirectClient, settings_for
from tests.keyring_fixture import SystemKeyring


def sandbox_patient(pid: str) -> Patient:
    patient = workspace_sandbox_patient(pid)
    assert patient is not None, pid
    return patient


@pytest.fixture
def ui_store(system_keyring: SystemKeyring, tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore.open(StoreSettings(tmp_path / "store"))
    yield store
    store.close()


@pytest.fixture
def gp_workspace(
    host: DmpHost, pki_dir: Path, direct_client: DirectClient, ui_store: LocalStore
) -> Iterator[Workspace]:
    workspace = Workspace(settings_for(host, pki_dir), ui_store)
    profile = cards.card("generaliste")
    situation = profile.situations[0]
    workspace.attach(
        direct_client(host, "generaliste"),
        Connection(
            AuthMode.DIRECT,
            Purpose.NORMAL,
            profile.national_id,
            f"{profile.given_name} {profile.surname}",
            situation.name,
            f"n° 1 — {situation.name}",
            "Lecteur virtuel (clés logicielles de test)",
        ),
    )
    yield workspace
    workspace.close()


@pytest.fixture
def structure_workspace(host: DmpHost, pki_dir: Path, ui_store: LocalStore) -> Iterator[Workspace]:
    workspace = Workspace(settings_for(host, pki_dir), ui_store)
    workspace.connect_structure()
    yield workspace
    workspace.close()


@pytest.fixture
def window(qtbot: Any, gp_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real main window connected as the sandbox GP (direct mode), confirmations answered yes."""
    from app.ui.main_window import MainWindow
    from app.ui.qt import QMessageBox

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    main = MainWindow(gp_workspace, monitor_cards=False)
    qtbot.addWidget(main)
    main.show()
    main._show_connection(gp_workspace.connection)
    return main
