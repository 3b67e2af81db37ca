"""The main window: status bar (card and reader, practitioner and situation, host and connection,
queue), the patient and DMP panels, and the tabs (documents, upload, queue, secretariat, hot folder). Every
card, network and disk operation runs off the GUI thread; errors are shown in French with their code.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from app.config.settings import Settings
from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.errors import ConsultationNeedsStrongAuth, OtherPatientAnswer
from app.dmp_client.core.iti18 import DocumentInfo
from app.dmp_client.core.rights import allows
from app.errors import USER_FACING_ERRORS
from app.services.training import sandbox_patient
from app.services.workspace import Connection, DmpOverview, Patient, Workspace
from app.ui.batch_panel import BatchPanel
from app.ui.dialogs import GuiPinPrompt, GuiSituationChooser
from app.ui.dmp_panel import DmpPanel
from app.ui.documents_panel import DocumentsPanel
from app.ui.ecps_dialog import EcpsDialog, EcpsLogin
from app.ui.errors import describe, show_error
from app.ui.hotfolder_panel import HotFolderPanel
from app.ui.patient_panel import PatientPanel
from app.ui.qt import (
    QAction,
    QApplication,
    QLabel,
    QMessageBox,
    QObject,
    QProgressBar,
    QPushButton,
    QSize,
    QSizePolicy,
    QSplitter,
    Qt,
    QTabWidget,
    QTimer,
    QToolBar,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.queue_panel import QueuePanel
from app.ui.settings_dialog import SettingsDialog
from app.ui.tasks import Cancel, run_in_background
from app.ui.upload_panel import UploadPanel
from app.ui.viewer import DocumentViewer
from app.ui.window_actions import DmpActions

if TYPE_CHECKING:  # pyscard is imported when the reader monitor starts, behind the shown window
    from app.card.pcsc import ReaderMonitor
    from app.dmp_client.documents import HistoryBatch

DEFAULT_SIZE = QSize(1360, 820)  # on a large screen; within the available geometry on a small one
MINIMUM_BODY = QSize(900, 420)
RECENT_DAYS = 730  # "les deux dernières années": the first search of the integration rules
MODE_TEXT = {
    AuthMode.DIRECT: "carte CPS",
    AuthMode.INDIRECT: "certificat de structure",
    AuthMode.INDIRECT_REINFORCED: "e-CPS (AIR)",
}
AIR_FEEDING = (
    "Une session e-CPS (AIR) ne permet que la consultation : pour déposer, connectez-vous avec la carte "
    "CPS ou le certificat de la structure."
)


class StatusLabel(QLabel):
    """A status-bar label that gives way (clipped, its whole text in its tooltip) instead of widening
    the window when its text is long."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(48)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)


class _CardEvents(QObject):
    changed = Signal(str, str)  # reader, event (from the monitor's thread, delivered on the GUI's)


class _HistoryRelay(QObject):
    batch = Signal(object, object, object)  # Cancel token, Patient, HistoryBatch (worker → GUI thread)


def _number(n: int) -> str:
    return f"{n:,}".replace(",", "\u00a0")


class MainWindow(DmpActions):
    busy_changed = Signal(int)

    def __init__(
        self, workspace: Workspace, *, legacy_profile: bool | None = None, monitor_cards: bool = True
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.settings: Settings = workspace.settings
        self.overview: DmpOverview | None = None
        self.pending = 0
        self.setWindowTitle("Client DMP")
        self._fit_to_screen()
        self._toolbar()
        self.patient_panel = PatientPanel(sandbox=self.settings.is_sandbox, workspace=workspace)
        if legacy_profile is None:  # DMP_PROFIL_HOTE through every layer (docs/configuration.md)
            legacy_profile = self.settings.host_profile == "legacy"
        self.dmp_panel = DmpPanel(legacy_profile=legacy_profile)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.patient_panel)
        column.addWidget(self.dmp_panel, 1)
        side.setMinimumWidth(330)
        side.setMaximumWidth(420)
        self.documents = DocumentsPanel()
        self.viewer = DocumentViewer()
        documents_tab = QSplitter(Qt.Orientation.Horizontal)
        documents_tab.addWidget(self.documents)
        documents_tab.addWidget(self.viewer)
        self.documents_tab = documents_tab
        self._sized = False
        self.upload = UploadPanel(workspace, lambda: self.patient_panel.patient)
        self.queue = QueuePanel(workspace)
        self.batch = BatchPanel(workspace, lambda: self.patient_panel.candidates)  # + its directory
        self.tabs = QTabWidget()
        self.tabs.addTab(documents_tab, "Documents")
        self.tabs.addTab(self.upload, "Déposer")
        self.tabs.addTab(self.queue, "File d'envoi")
        self.tabs.addTab(self.batch, "Secrétariat")
        self.hot_folder = HotFolderPanel(workspace)
        self.hot_folder.queued.connect(self.queue.refresh)
        self.tabs.addTab(self.hot_folder, "Dossier de dépôt")
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(side)
        body.addWidget(self.tabs)
        body.setStretchFactor(1, 1)
        body.setChildrenCollapsible(False)
        # A guard: whatever a panel asks for, the window never widens itself beyond a laptop's screen.
        body.setMinimumSize(MINIMUM_BODY)
        self.setCentralWidget(body)
        self._status_bar()
        self._connect_signals()
        # One relay for the whole window (a QObject and a connection per load would leak, tasks.py).
        self.history_relay = _HistoryRelay()
        self.history_relay.batch.connect(self._history_batch)
        self.history_token: Cancel | None = None
        self.listing_warnings: tuple[str, ...] = ()
        self.card_events = _CardEvents()
        self.card_events.changed.connect(self._card_event)
        self.monitor: ReaderMonitor | None = None
        if monitor_cards:  # once the window is shown (PC/SC's first poll is not the window's)
            QTimer.singleShot(0, self, self._start_monitor)
        self._show_connection(None)
        self._check_for_update()

    # -- layout -------------------------------------------------------------------------------------

    def _fit_to_screen(self) -> None:
        """Open within the screen's available geometry (1366x768 laptops: the taskbar and the title
        bar included), at most :data:`DEFAULT_SIZE`."""
        screen = self.screen() or QApplication.primaryScreen()
        available = screen.availableGeometry().size() if screen is not None else DEFAULT_SIZE
        frame = QSize(16, 40)  # the window manager's border and title bar, not known before showing
        self.resize(DEFAULT_SIZE.boundedTo(available - frame).expandedTo(QSize(640, 480)))

    def _toolbar(self) -> None:
        bar = QToolBar("Connexion")
        bar.setObjectName("barre-connexion")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.card_action = QAction("Se connecter avec la carte CPS", self)
        self.card_action.setShortcut("Ctrl+K")
        self.structure_action = QAction("Certificat de la structure", self)
        self.ecps_action = QAction("Se connecter avec e-CPS", self)
        self.ecps_dialog: EcpsDialog | None = None
        self.disconnect_action = QAction("Se déconnecter", self)
        self.refresh_action = QAction("Actualiser", self)
        self.refresh_action.setShortcut("F5")
        self.settings_action = QAction("Réglages…", self)
        self.about_action = QAction("À propos", self)
        # DMP_MODE_AUTH: the default connection comes first, in bold (the other one stays offered).
        connect = (self.card_action, self.structure_action)
        if self.settings.auth_mode == "structure":
            connect = connect[::-1]
        self.default_connect_action = connect[0]
        font = self.default_connect_action.font()
        font.setBold(True)
        self.default_connect_action.setFont(font)
        for action in (
            *connect, self.ecps_action, self.disconnect_action, self.refresh_action, self.settings_action,
            self.about_action,
        ):  # fmt: skip
            bar.addAction(action)
        self._keyboard()  # shortcuts (window_actions.SHORTCUTS), listed by the help box (F1)

    def _status_bar(self) -> None:
        self.card_label, self.who_label, self.host_label, self.queue_label = (StatusLabel() for _ in range(4))
        for label in (self.card_label, self.who_label, self.host_label, self.queue_label):
            self.statusBar().addPermanentWidget(label)
        host = urlparse(self.settings.host_url).netloc or self.settings.host_url
        self.host_name = f"{host}{' (bac à sable)' if self.settings.is_sandbox else ''}"
        self.host_label.setText(f"DMP : {self.host_name}")
        self.card_label.setText("Carte : —")
        self.queue_label.setText("File : —")
        # Work in flight: a busy bar and "Annuler", which stops waiting for it (a request already
        # sent cannot be taken back; its answer is then ignored, and the queue never sends twice).
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.cancel_button = QPushButton("Annuler")
        self.cancel_button.clicked.connect(self.cancel_pending)
        # What is running, in its own label beside the bar (a temporary status message would be
        # drawn under the bar); wrapped when the window is narrow, never cut.
        self.busy_label = QLabel()
        self.busy_label.setWordWrap(True)
        self.busy_label.setObjectName("travail-en-cours")
        self.busy_label.setMinimumWidth(80)
        self.statusBar().addWidget(self.busy_label, 1)
        for widget in (self.busy_label, self.busy, self.cancel_button):
            if widget is not self.busy_label:
                self.statusBar().addWidget(widget)
            widget.hide()
        self.generation = 0
        self.host_down = False  # the last exchange failed for want of the host

    def _connect_signals(self) -> None:
        self.card_action.triggered.connect(self.connect_card)
        self.structure_action.triggered.connect(self.connect_structure)
        self.ecps_action.triggered.connect(self.connect_ecps)
        self.disconnect_action.triggered.connect(self.sign_out)
        self.refresh_action.triggered.connect(self.refresh)
        self.about_action.triggered.connect(self.about)
        self.settings_action.triggered.connect(self.open_settings)
        self.patient_panel.patient_changed.connect(self._patient_changed)
        self.dmp_panel.authorize_requested.connect(self.authorize)
        self.dmp_panel.treating_doctor_requested.connect(self.declare_treating_doctor)
        self.dmp_panel.emergency_requested.connect(self.emergency_access)
        self.dmp_panel.create_requested.connect(self.create_dmp)
        self.documents.open_requested.connect(self.open_document)
        self.documents.action_requested.connect(self.document_action)
        self.queue.counts_changed.connect(self._queue_counts)
        self.upload.sent.connect(self._exchanged)  # the list shows what was just sent
        self.documents.history_stop_requested.connect(self.stop_history)

    # -- background work --------------------------------------------------------------------------

    def run(self, what: str, fn: Any, done: Any = None) -> None:
        """Run ``fn`` off the GUI thread; show its error in French; count what is in flight."""
        self.pending += 1
        generation = self.generation
        self._busy(what)

        def finished(result: Any) -> None:
            if generation != self.generation:
                return  # cancelled: the answer came too late to matter
            self._finished()
            self._host_answered()
            if done is not None:
                done(result)

        def failed(error: BaseException) -> None:
            if generation != self.generation:
                return
            self._finished()
            code, message = describe(error)
            if code == OtherPatientAnswer.code:  # identity vigilance: nothing of it stays on screen
                self.documents.show_refusal(code, message)
                self.viewer.clear()
            if code in ("DMP-INJOIGNABLE", "DMP-DELAI", "DMP-TLS"):
                self.host_down = True
                self.host_label.setText(f"DMP : {self.host_name} — injoignable [{code}]")
            connection = self.workspace.connection
            air = connection is not None and connection.mode is AuthMode.INDIRECT_REINFORCED
            if code == "PSC-SESSION-EXPIREE" and air:
                self.sign_out()  # e-CPS tokens not renewable: the session ends, said in the box below
            show_error(self, error, what)

        run_in_background(fn, finished, failed)

    def cancel_pending(self) -> None:
        self.stop_history()
        self.generation += 1
        self.pending = 0
        self._finished(0)
        self.statusBar().showMessage("Opération annulée.", 5000)

    def _busy(self, what: str) -> None:
        self.busy_changed.emit(self.pending)
        self.statusBar().clearMessage()
        self.busy_label.setText(f"{what}…")
        self.busy_label.setToolTip(f"{what}…")
        self.busy_label.show()
        self.busy.show()
        self.cancel_button.show()

    def _finished(self, step: int = 1) -> None:
        self.pending -= step
        self.busy_changed.emit(self.pending)
        if not self.pending:
            self.statusBar().clearMessage()
            self.busy_label.hide()
            self.busy.hide()
            self.cancel_button.hide()

    # -- connection ---------------------------------------------------------------------------------

    def connect_card(self) -> None:
        prompt, situation = GuiPinPrompt(self), GuiSituationChooser(self)  # situation asked after the PIN
        self.run(
            "La connexion avec la carte CPS",
            lambda: self.workspace.connect_card(prompt, situation),
            self._connected,
        )

    def connect_structure(self) -> None:
        self.run("La connexion avec le certificat de la structure", self.workspace.connect_structure,
                 self._connected)  # fmt: skip

    def connect_ecps(self) -> None:
        """« Se connecter avec e-CPS »: the dialog (RPPS id, code, wait, exercise), then the AIR
        session opened off the GUI thread."""
        if self.ecps_dialog is not None and self.ecps_dialog.isVisible():
            self.ecps_dialog.raise_()
            return
        dialog = EcpsDialog(self.workspace, self)
        dialog.logged_in.connect(self._ecps_logged_in)
        self.ecps_dialog = dialog
        dialog.open()

    def _ecps_logged_in(self, login: EcpsLogin) -> None:
        self.run("La connexion e-CPS (AIR)",
                 lambda: self.workspace.connect_ecps(login.psc, login.session, login.situation),
                 self._connected)  # fmt: skip

    def _connected(self, connection: Connection) -> None:
        self._show_connection(connection)
        self.refresh()

    def _show_connection(self, connection: Connection | None) -> None:
        for action in (self.card_action, self.structure_action, self.ecps_action):  # not while connected
            action.setEnabled(connection is None and not self.signing_out)
        self._offer_by_mode(connection)
        if connection is None:
            self.who_label.setText("Non connecté")
            self.disconnect_action.setEnabled(False)
            return
        mode = MODE_TEXT[connection.mode]
        urgent = {Purpose.BREAK_GLASS: " — ACCÈS D'URGENCE", Purpose.CENTRE_15: " — CENTRE 15"}
        where = connection.situation if mode in connection.situation else f"{connection.situation} ({mode})"
        self.who_label.setText(f"{connection.display_name} — {where}{urgent.get(connection.purpose, '')}")
        self.who_label.setStyleSheet(
            "color: #b00020; font-weight: bold;" if connection.purpose in urgent else ""
        )
        if connection.card_reader:
            self.card_label.setText(f"Carte : {connection.card_reader}")
        self.disconnect_action.setEnabled(True)

    def _offer_by_mode(self, connection: Connection | None) -> None:
        """What the mode may do (app/dmp_client/core/rights.py): the structure's certificate alone does
        not consult (the list disabled, its tooltip naming the card and e-CPS); an e-CPS (AIR) session
        only consults unless DMP_AIR_TRANSACTIONS names TD2.1 (the upload and secretariat tabs
        disabled, their tooltip saying why), as the exchange layer refuses it."""
        indirect = connection is not None and connection.mode is AuthMode.INDIRECT
        air_allowed = self.workspace.settings.air_transactions
        no_feeding = connection is not None and not allows(connection.mode, "TD2.1", air_allowed)  # AIR
        refusal = ConsultationNeedsStrongAuth.user_message if indirect else None
        self.documents.set_consultation(refusal)
        for method in ("find_document", "open_selected"):
            self.shortcut_actions[method].setEnabled(not indirect)
        self.tabs.setTabToolTip(0, refusal or "")
        for panel in (self.upload, self.batch):
            index = self.tabs.indexOf(panel)
            self.tabs.setTabEnabled(index, not no_feeding)
            self.tabs.setTabToolTip(index, AIR_FEEDING if no_feeding else "")
        if no_feeding and self.tabs.currentWidget() in (self.upload, self.batch):
            self.tabs.setCurrentIndex(0)

    def keyPressEvent(self, event: Any) -> None:
        """Enter, while not connected and no field has the focus (or the default connection's button
        has it), opens the default connection (DMP_MODE_AUTH); everywhere else Enter keeps its meaning."""
        focus = QApplication.focusWidget()
        bar = self.findChild(QToolBar, "barre-connexion")
        default_button = bar.widgetForAction(self.default_connect_action) if bar else None
        idle = focus is None or focus is self or focus is default_button
        disconnected = self.workspace.connection is None and self.default_connect_action.isEnabled()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and idle and disconnected:
            self.default_connect_action.trigger()
            return
        super().keyPressEvent(event)

    def _start_monitor(self) -> None:
        from app.card.pcsc import ReaderMonitor

        try:
            self.monitor = ReaderMonitor(
                lambda reader, event, atr: self.card_events.changed.emit(reader, event)
            )
            self.monitor.start()
            if self.monitor.error is not None:
                raise self.monitor.error
        except USER_FACING_ERRORS:
            self.card_label.setText("Carte : aucun lecteur")
            self.monitor = None

    def _card_event(self, reader: str, event: str) -> None:
        from app.card.pcsc import CardEvent

        self.card_label.setText(f"Carte {event} ({reader})")
        connection = self.workspace.connection
        if event == CardEvent.REMOVED and connection is not None and connection.card_reader == reader:
            self.sign_out()
            QMessageBox.information(
                self, "Carte retirée", "La carte CPS a été retirée : la session est fermée."
            )

    # -- the patient's DMP --------------------------------------------------------------------------

    @property
    def patient(self) -> Patient | None:
        return self.patient_panel.patient

    def _patient_changed(self, patient: Patient | None) -> None:
        """Nothing of the previous patient stays on screen: list, viewer, state, upload target."""
        if patient is not None:
            self.batch.directory.opened(patient)  # known to the secretariat's batch from now on
        self.overview = None
        self.stop_history()  # the previous patient's history: no further batch asked for
        self.documents.set_documents([], lambda _: frozenset())
        self.viewer.clear()
        self.upload.set_replaces(None, "")
        self.upload.close_preview()  # a structured document's preview was the previous patient's
        connection = self.workspace.connection
        if connection is not None and connection.purpose is not Purpose.NORMAL:
            # Emergency access was granted for the previous patient: it ends with that patient.
            self.workspace.with_purpose(Purpose.NORMAL, GuiPinPrompt(self))
            self._show_connection(self.workspace.connection)
        self.dmp_panel.show_overview(None, self.workspace.connection)
        self.refresh()

    def refresh(self) -> None:
        patient, connection = self.patient, None if self.signing_out else self.workspace.connection
        if patient is None or connection is None:
            self.dmp_panel.show_overview(None, connection)
            return
        self.run("La lecture de l'état du DMP", lambda: self.workspace.overview(patient),
                 lambda overview: self._overview(patient, overview))  # fmt: skip

    def _overview(self, patient: Patient, overview: DmpOverview) -> None:
        if patient is not self.patient:
            return  # another patient was opened meanwhile
        self.overview = overview
        self.dmp_panel.show_overview(overview, self.workspace.connection)
        connection = self.workspace.connection
        status = overview.status
        allowed = status.authorized or status.treating_doctor
        consult = (
            status.exists
            and connection is not None
            and connection.mode is not AuthMode.INDIRECT  # the card or e-CPS (AIR): core/rights.py
            and (allowed or connection.purpose is not Purpose.NORMAL)
        )
        if not consult:
            self.stop_history()
            self.documents.set_documents([], lambda _: frozenset())
            return
        # The integration rule's first search: the last two years, shown at once; the rest of the
        # history then loads behind (busy bar, count and "Annuler" in the status bar).
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=RECENT_DAYS)
        recent = lambda: self.workspace.documents(patient, since)  # noqa: E731
        self.run("La recherche des documents des deux dernières années", recent,
                 lambda d: self._recent(patient, d))  # fmt: skip

    def _recent(self, patient: Patient, documents: list[DocumentInfo]) -> None:
        if patient is not self.patient:
            return
        self._documents(documents)
        self._registry_warnings(documents)
        self._load_history(patient, documents)

    def _load_history(self, patient: Patient, shown: list[DocumentInfo]) -> None:
        """The rest of the history behind the first search: only the entries not shown yet, in
        concurrent batches merged into the list as each arrives (selection, sort and filters kept),
        with « N documents sur M chargés » and a stop button; stopping sends no further batch."""
        self.stop_history()
        token = Cancel()
        self.history_token = token
        generation = self.generation
        self.documents.show_history("Recherche de l'historique complet…", loading=True)
        relay = self.history_relay

        def on_batch(step: HistoryBatch) -> None:  # on the worker thread: handed to the GUI's
            relay.batch.emit(token, patient, step)

        def finished(done: HistoryBatch) -> None:
            if self.history_token is token:
                self.history_token = None
            if patient is not self.patient or generation != self.generation:
                return
            total = f"{_number(done.loaded)} documents sur {_number(done.total)}"
            if done.stopped:
                self.documents.show_history(f"Chargement de l'historique arrêté : {total} chargés.",
                                            loading=False)  # fmt: skip
            else:
                self.documents.show_history("", loading=False)
                self.statusBar().showMessage(f"Historique complet chargé : {total}.", 8000)
            self._registry_warnings(done)

        self.run("Le chargement de l'historique complet",
                 lambda: self.workspace.older_documents(patient, shown, on_batch, token.event),
                 finished)  # fmt: skip

    def _history_batch(self, token: Cancel, patient: Patient, step: HistoryBatch) -> None:
        if token is not self.history_token or token.requested or patient is not self.patient:
            return  # stopped, or another patient opened meanwhile: nothing of it is shown
        self.documents.add_documents(list(step.documents))
        self.documents.show_history(
            f"{_number(step.loaded)} documents sur {_number(step.total)} chargés", loading=True
        )

    def stop_history(self) -> None:
        """Stop the history's loading: no further batch is asked for (those in flight are dropped)."""
        token, self.history_token = self.history_token, None
        if token is not None:
            token.request()
            text = self.documents.history.text()
            if text and "chargés" in text and "arrêté" not in text:
                self.documents.show_history(f"Chargement de l'historique arrêté : {text}.", loading=False)
            else:
                self.documents.show_history("", loading=False)

    def _registry_warnings(self, answer: object) -> None:
        """Warning-severity RegistryErrors (and partial successes) of a listing's answers: said to
        the user in a non-blocking box, never dropped (the list is shown as the DMP gave it)."""
        warnings = tuple(dict.fromkeys(w.said() for w in getattr(answer, "warnings", ())))
        if not warnings:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Avertissement du DMP",
            "La liste des documents a été obtenue, avec un avertissement du DMP (elle peut être "
            "incomplète) :\n" + "\n".join(warnings),
            parent=self,
        )
        box.setObjectName("avertissement-liste")
        box.open()
        self.listing_warnings = warnings

    def _documents(self, documents: list[DocumentInfo]) -> None:
        treating = self.overview.status.treating_doctor if self.overview else False
        self.documents.set_documents(documents, lambda d: self.workspace.actions(d, treating))

    def _exchanged(self, _entry: object = None) -> None:
        """A send succeeded elsewhere (upload panel, queue): the host answered, the list is stale."""
        self._host_answered()
        self.refresh()

    def _host_answered(self) -> None:
        """The host answered: said in the status bar; if it had been unreachable, the queue is sent
        in the background with the open session (no PIN asked: entries needing another card or no
        session wait, the store's back-off and exactly-once rules apply)."""
        self.host_label.setText(f"DMP : {self.host_name} — joignable")
        if self.host_down:
            self.host_down = False
            if self.workspace.connection is not None:
                self.queue.drain_now()

    def _queue_counts(self, counts: dict[Any, int]) -> None:
        waiting = sum(n for state, n in counts.items() if str(state) in ("queued", "sending"))
        failed = sum(n for state, n in counts.items() if str(state) == "failed")
        self.queue_label.setText(f"File : {waiting} en attente, {failed} à traiter")

    def _check_for_update(self) -> None:
        """Notify only (app/services/updates.py): a newer version announced by the vendor is said in the
        status bar; a failed check never interrupts the work."""
        url = self.settings.config.get("DMP_MAJ_URL")
        if not url:
            return
        from app.services.updates import check

        self.update_label = StatusLabel()
        self.statusBar().addPermanentWidget(self.update_label)

        def found(update: Any) -> None:
            self.update_label.setText(update.describe() if update else "")

        def failed(error: BaseException) -> None:
            self.update_label.setText(f"Mises à jour : {describe(error)[1]}")

        run_in_background(lambda: check(url, proxy=self.settings.proxy), found, failed)

    def open_settings(self) -> None:
        SettingsDialog(self.settings.config, self).exec()

    def open_context(self, message: dict[str, Any]) -> None:
        """The EHR's hand-off (at start, or forwarded by a second ``dmp-gui``): open that patient."""
        context = message.get("contexte")
        if isinstance(context, dict):
            self.batch.directory.context(self.patient_panel.open_context(context))
            self.upload.set_context(context)  # its structured documents (VSM, vaccinations), if any
        wanted = message.get("patient")
        if isinstance(wanted, str) and self.settings.is_sandbox and (found := sandbox_patient(wanted)):
            self.patient_panel.select(found)
        if message.get("activer"):
            self.show()
            self.raise_()
            self.activateWindow()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._sized:  # once laid out: the list and the document share the width
            self._sized = True
            width = max(self.documents_tab.width(), 800)
            self.documents_tab.setSizes([int(width * 0.45), int(width * 0.55)])

    def closeEvent(self, event: Any) -> None:
        if self.monitor is not None:
            self.monitor.stop()
        self.workspace.close()
        super().closeEvent(event)
