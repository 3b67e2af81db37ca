"""The QApplication (French translations of Qt's own texts), the single-instance hand-off, and the
main window wired to the workspace."""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.config.settings import Settings
from app.services.workspace import Workspace
from app.store.errors import StoreError
from app.store.local_store import LocalStore
from app.ui.qt import QApplication, QMessageBox, QtCore
from app.ui.single_instance import InstanceServer, forward


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

    The encrypted base opens on its own thread while the main window's modules load (its key comes
    from the system keyring: D-Bus round trips on Linux), and is open before the window is built."""
    settings = settings or Settings.load()
    opening = _StoreOpening(settings)
    from app.ui.main_window import MainWindow

    store = None
    try:
        store = opening.result()
    except StoreError as error:
        QMessageBox.warning(
            None,
            "Base locale indisponible",
            f"{error.user_message}\n\nLa consultation reste possible ; la file d'envoi et le journal "
            f"local sont désactivés. [{error.code}]",
        )
    profile = host_profile or settings.host_profile
    window = MainWindow(
        Workspace(settings, store), legacy_profile=profile == "legacy", monitor_cards=monitor_cards
    )
    return window


class _StoreOpening:
    """``LocalStore.open`` on a thread of its own; :meth:`result` waits for it on the GUI thread and
    raises what it raised there (a :class:`StoreError` is shown, anything else is a bug)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: LocalStore | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, name="ouverture-base", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            self._store = LocalStore.open(self._settings.store)
        except BaseException as error:  # handed over to the GUI thread
            self._error = error

    def result(self) -> LocalStore | None:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._store
