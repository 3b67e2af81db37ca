"""The QApplication (French translations of Qt's own texts), the single-instance hand-off, and the
main window wired to the workspace."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from app.store.errors import StoreError
from app.store.local import LocalStore
from app.ui.qt import QApplication, QMessageBox, QtCore
from app.ui.single_instance import InstanceServer, forward
from app.workspace import Workspace


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv or ["dmp-gui"])
    app.setApplicationName("Client DMP")
    app.setOrganizationName("dmp-client")
    translator = QtCore.QTranslator(app)
    path = QtCore.QLibraryInfo.path(QtCore.QLibraryInfo.LibraryPath.TranslationsPath)
    if translator.load("qtbase_fr", path):
        app.installTranslator(translator)
    return app


def forward_or_serve(message: dict[str, Any], name: str | None = None) -> InstanceServer | None:
    """None when a running instance took the message; else the server for later hand-offs."""
    if forward({**message, "activer": True}, name):
        return None
    server = InstanceServer(name)
    server.listen()
    return server


def open_main_window(host_profile: str = "current", settings: Settings | None = None) -> Any:
    from app.ui.main_window import MainWindow

    settings = settings or Settings.from_env()
    store = None
    try:
        store = LocalStore.open(settings.store)
    except StoreError as error:
        QMessageBox.warning(
            None,
            "Base locale indisponible",
            f"{error.user_message}\n\nLa consultation reste possible ; la file d'envoi et le journal "
            f"local sont désactivés. [{error.code}]",
        )
    window = MainWindow(Workspace(settings, store), legacy_profile=host_profile == "legacy")
    return window
