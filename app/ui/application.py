"""The QApplication (French translations of Qt's own texts), the single-instance hand-off, and the
main window wired to the workspace."""

from __future__ import annotations

import logging
from typing import Any

from app.config.settings import Settings
from app.services.workspace import Workspace
from app.store.local_store import StoreOpening
from app.ui.qt import QApplication, QMessageBox, QtCore
from app.ui.single_instance import InstanceServer, forward
from app.ui.tasks import run_in_background


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv or ["dmp-gui"])
    app.setApplicationName("Client DMP")
    app.setOrganizationName("dmp-client")
    install_translations(app)  # before any widget exists: widgets translate their texts when built
    return app


# Qt's own texts that qtbase_fr.qm (6.11) lacks: their source strings gained a mnemonic ("&Look
# in:", "Files of &type:") and the French catalogue still has the old ones, so the non-native file
# dialog (Linux, DontUseNativeDialog) showed them in English. (context, source) -> French.
MISSING_QT_FR = {
    ("QFileDialog", "&Look in:"): "&Voir dans\u00a0:",
    ("QFileDialog", "Files of &type:"): "Fichiers de &type\u00a0:",
    ("QPrintSettingsOutput", "Page &Set:"): "Pages à impri&mer\u00a0:",
}


class _MissingQtTexts(QtCore.QTranslator):
    """Consulted before qtbase_fr (the last translator installed is asked first)."""

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        return MISSING_QT_FR.get((context, source))

    def isEmpty(self) -> bool:
        return False


def install_translations(app: QtCore.QCoreApplication) -> list[QtCore.QTranslator]:
    """French for Qt's own dialogs (file, print, message boxes, context menus): qtbase_fr from
    Qt's translations folder (in the PySide6 wheel, or the frozen bundle's), completed by
    :data:`MISSING_QT_FR`; dates and numbers in French. The translators installed, in order."""
    QtCore.QLocale.setDefault(QtCore.QLocale(QtCore.QLocale.Language.French, QtCore.QLocale.Country.France))
    installed: list[QtCore.QTranslator] = []
    path = QtCore.QLibraryInfo.path(QtCore.QLibraryInfo.LibraryPath.TranslationsPath)
    base = QtCore.QTranslator(app)
    if base.load("qtbase_fr", path):
        app.installTranslator(base)
        installed.append(base)
    else:
        logging.getLogger(__name__).warning(
            "Traductions de Qt introuvables (%s) : dialogues de Qt en anglais", path
        )
    missing = _MissingQtTexts(app)
    app.installTranslator(missing)
    installed.append(missing)
    return installed


def forward_or_serve(message: dict[str, Any], name: str | None = None) -> InstanceServer | None:
    """None when a running instance took the message; else the server for later hand-offs."""
    if forward({**message, "activer": True}, name):
        return None
    server = InstanceServer(name)
    server.listen()
    return server


def open_main_window(
    host_profile: str | None = None, settings: Settings | None = None, *, monitor_cards: bool = True
) -> Any:
    """The main window; ``host_profile`` (``--profil-hote``) overrides the layered DMP_PROFIL_HOTE.

    The encrypted base opens behind the shown window, off the GUI thread (its key comes from the
    system keyring: keyring's imports and D-Bus round trips on Linux, ~50 ms): its opening starts
    once the event loop runs; whoever reads the base first waits for it (the queue panel's first read
    does, on a worker). A base that cannot be opened is said in a message over the window."""
    from app.ui.main_window import MainWindow

    settings = settings or Settings.load()
    opening = StoreOpening(settings.store)
    workspace = Workspace(settings, opening=opening)
    profile = host_profile or settings.host_profile
    window = MainWindow(workspace, legacy_profile=profile == "legacy", monitor_cards=monitor_cards)

    def opened(result: object) -> None:
        if workspace.store is None and workspace.store_error is not None:
            error = workspace.store_error
            QMessageBox.warning(
                window,
                "Base locale indisponible",
                f"{error.user_message}\n\nLa consultation reste possible ; la file d'envoi et le journal "
                f"local sont désactivés. [{error.code}]",
            )

    def start() -> None:
        opening.start()
        run_in_background(lambda: workspace.store, opened, opened)

    QtCore.QTimer.singleShot(0, window, start)
    return window
