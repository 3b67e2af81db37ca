"""The main window's DMP and document actions (kept apart so each module reads in one sitting): the
authorisation, the médecin traitant declaration, emergency access, creating a DMP after consent,
opening a document and the document actions the rights allow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app import __version__
from app.dmp_client.core.actions import Action
from app.dmp_client.core.admin import DmpPatient, Gender
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.iti18 import DocumentInfo
from app.ui.dialogs import ConsentDialog, EmergencyAccessDialog, GuiPinPrompt
from app.ui.errors import show_error
from app.ui.qt import QAction, QKeySequence, QMainWindow, QMessageBox, QTabWidget
from app.ui.tasks import run_in_background

if TYPE_CHECKING:
    from app.services.workspace import Connection, DmpOverview, Patient, Workspace
    from app.ui.dmp_panel import DmpPanel
    from app.ui.documents_panel import DocumentsPanel
    from app.ui.patient_panel import PatientPanel
    from app.ui.queue_panel import QueuePanel
    from app.ui.upload_panel import UploadPanel
    from app.ui.viewer import DocumentViewer

# Keyboard first: every daily action has a shortcut, listed in the help box (F1). Keys avoid the
# line editors' own (Ctrl+D, Ctrl+U, Ctrl+E… edit text on Linux); (key, French label, method).
SHORTCUTS = (
    ("Ctrl+K", "Se connecter avec la carte CPS", "connect_card"),
    ("Ctrl+Shift+K", "Se connecter avec le certificat de la structure", "connect_structure"),
    ("Ctrl+Shift+E", "Se connecter avec e-CPS (Pro Santé Connect)", "connect_ecps"),
    ("Ctrl+Shift+P", "Chercher un patient (liste des patients)", "find_patient"),
    ("Ctrl+Shift+V", "Lire la carte Vitale", "read_vitale"),
    ("F5", "Actualiser l'état du DMP et la liste des documents", "refresh"),
    ("Ctrl+F", "Rechercher dans la liste des documents", "find_document"),
    ("Ctrl+O", "Ouvrir le document sélectionné", "open_selected"),
    ("Ctrl+Shift+D", "Déposer un document (choisir le fichier)", "upload_file"),
    ("Ctrl+Return", "Envoyer le document préparé (onglet Déposer)", "send_upload"),
    ("Ctrl+Shift+F", "Afficher la file d'envoi", "show_queue"),
    ("Ctrl+Shift+Return", "Envoyer maintenant la file d'envoi", "drain_queue"),
    ("Ctrl+1", "Onglet Documents", "tab_1"),
    ("Ctrl+2", "Onglet Déposer", "tab_2"),
    ("Ctrl+3", "Onglet File d'envoi", "tab_3"),
    ("Ctrl+4", "Onglet Secrétariat", "tab_4"),
    ("Ctrl+,", "Réglages", "open_settings"),
    ("F1", "Aide : raccourcis clavier et à propos", "about"),
)


class DmpActions(QMainWindow):
    """The base of :class:`~app.ui.main_window.MainWindow`, which provides what is declared here."""

    workspace: Workspace
    overview: DmpOverview | None
    upload: UploadPanel
    tabs: QTabWidget
    viewer: DocumentViewer
    documents: DocumentsPanel
    patient_panel: PatientPanel
    queue: QueuePanel
    card_action: QAction
    structure_action: QAction
    ecps_action: QAction
    disconnect_action: QAction
    refresh_action: QAction
    settings_action: QAction
    about_action: QAction
    dmp_panel: DmpPanel
    signing_out: bool = False
    generation: int
    pending: int

    @property
    def patient(self) -> Patient | None:
        raise NotImplementedError

    def run(self, what: str, fn: Any, done: Any = None) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def _connected(self, connection: Connection) -> None:
        raise NotImplementedError

    def _show_connection(self, connection: Connection | None) -> None:
        raise NotImplementedError

    def _finished(self, step: int = 1) -> None:
        raise NotImplementedError

    def connect_card(self) -> None:
        raise NotImplementedError

    def connect_structure(self) -> None:
        raise NotImplementedError

    def connect_ecps(self) -> None:
        raise NotImplementedError

    def open_settings(self) -> None:
        raise NotImplementedError

    # -- the keyboard -------------------------------------------------------------------------------

    def _keyboard(self) -> None:
        """The shortcuts of :data:`SHORTCUTS`: the toolbar's actions get theirs, the others become
        window actions (active whatever has the focus); each tooltip says its key."""
        toolbar = {
            "connect_card": self.card_action, "connect_structure": self.structure_action,
            "connect_ecps": self.ecps_action,
            "refresh": self.refresh_action, "open_settings": self.settings_action, "about": self.about_action,
        }  # fmt: skip
        self.shortcut_actions: dict[str, QAction] = {}
        for key, label, method in SHORTCUTS:
            action = toolbar.get(method)
            if action is None:
                action = QAction(label, self)
                action.triggered.connect(lambda _checked=False, m=method: getattr(self, m)())
                self.addAction(action)
            sequence = QKeySequence(key)
            action.setShortcut(sequence)
            action.setToolTip(f"{label} ({sequence.toString(QKeySequence.SequenceFormat.NativeText)})")
            self.shortcut_actions[method] = action

    def find_patient(self) -> None:
        self.patient_panel.choice.setFocus()
        self.patient_panel.choice.showPopup()

    def read_vitale(self) -> None:
        if self.patient_panel.vitale.isEnabled():
            self.patient_panel.read_vitale()

    def find_document(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.documents.search.setFocus()
        self.documents.search.selectAll()

    def open_selected(self) -> None:
        document = self.documents.selected_document()
        if document is not None:
            self.open_document(document)

    def upload_file(self) -> None:
        self.tabs.setCurrentWidget(self.upload)
        if self.upload.choose_button.isEnabled():
            self.upload.choose_file()

    def send_upload(self) -> None:
        if self.tabs.currentWidget() is self.upload and self.upload.send_button.isEnabled():
            self.upload.send()

    def show_queue(self) -> None:
        self.tabs.setCurrentWidget(self.queue)

    def drain_queue(self) -> None:
        self.tabs.setCurrentWidget(self.queue)
        if self.queue.drain_button.isEnabled():
            self.queue.drain_now()

    def tab_1(self) -> None:
        self.tabs.setCurrentIndex(0)

    def tab_2(self) -> None:
        self.tabs.setCurrentIndex(1)

    def tab_3(self) -> None:
        self.tabs.setCurrentIndex(2)

    def tab_4(self) -> None:
        self.tabs.setCurrentIndex(3)

    def help_text(self) -> str:
        """The About box: the version and every keyboard shortcut (F1)."""
        rows = "".join(
            f"<tr><td><b>{QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)}</b></td>"
            f"<td>{label}</td></tr>"
            for key, label, _ in SHORTCUTS
        )
        return (
            f"<p>Client DMP {__version__}<br>Logiciel compatible DMP (bac à sable).</p>"
            f"<p><b>Raccourcis clavier</b> (Alt + la lettre soulignée active aussi chaque bouton)</p>"
            f"<table cellspacing='4'>{rows}</table>"
        )

    def about(self) -> None:
        QMessageBox.about(self, "Aide et à propos", self.help_text())

    # -- the session ----------------------------------------------------------------------------

    def sign_out(self) -> None:
        """Close the session: the screen is cleared at once; the card's session, the client and the
        cache purge (disk) run off the GUI thread. Connecting again waits for the end of it."""
        self.signing_out = True
        self._show_connection(None)
        self.dmp_panel.show_overview(None, None)
        self.documents.set_documents([], lambda _: frozenset())
        self.viewer.clear()
        for action in (self.card_action, self.structure_action, self.ecps_action):
            action.setEnabled(False)

        self.generation += 1  # answers still due for the closed session are ignored
        self.pending = 0
        self._finished(0)
        self.statusBar().showMessage("Fermeture de la session…")

        def closed(_result: object = None) -> None:
            self.signing_out = False
            self.statusBar().showMessage("Session fermée.", 5000)
            self._show_connection(self.workspace.connection)

        def failed(error: BaseException) -> None:
            closed()
            show_error(self, error, "La fermeture de la session")

        run_in_background(self.workspace.disconnect, closed, failed)

    def authorize(self, add: bool) -> None:
        patient = self.patient
        if patient is not None and add:
            answer = QMessageBox.question(
                self,
                "Autorisation d'accès",
                "Le patient est-il d'accord pour que vous accédiez à son DMP ?\n"
                "L'autorisation n'est enregistrée qu'avec son accord.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        if patient is not None:
            self.run(
                "L'autorisation", lambda: self.workspace.authorize(patient, add), lambda _: self.refresh()
            )

    def declare_treating_doctor(self, declare: bool) -> None:
        patient = self.patient
        if patient is not None:
            declared = lambda: self.workspace.declare_treating_doctor(patient, declare)  # noqa: E731
            self.run("La déclaration de médecin traitant", declared, lambda _: self.refresh())

    def emergency_access(self) -> None:
        connection, overview = self.workspace.connection, self.overview
        if connection is None or overview is None:
            return
        prompt = GuiPinPrompt(self)
        if connection.purpose is not Purpose.NORMAL:
            back = lambda: self.workspace.with_purpose(Purpose.NORMAL, prompt)  # noqa: E731
            self.run("Le retour à l'accès normal", back, self._connected)
            return
        opposed = {
            Purpose.BREAK_GLASS: overview.opposition_break_glass,
            Purpose.CENTRE_15: overview.opposition_centre_15,
        }
        dialog = EmergencyAccessDialog(opposed, self)
        if dialog.exec():
            purpose = dialog.purpose
            self.run(
                "L'accès d'urgence", lambda: self.workspace.with_purpose(purpose, prompt), self._connected
            )

    def create_dmp(self) -> None:
        patient, client = self.patient, self.workspace.client
        if patient is None or patient.traits is None or client is None:
            return
        dialog = ConsentDialog(self)
        if not dialog.exec():
            return
        t = patient.traits
        data = DmpPatient(patient.ins, t.birth_name, t.first_name, Gender(str(t.sex)), t.birth_date.to_hl7())
        self.run(
            "La création du DMP", lambda: client.create_dmp(data, consent=True), lambda _: self.refresh()
        )

    def open_document(self, document: DocumentInfo) -> None:
        patient = self.patient
        if patient is not None:
            self.run("La récupération du document", lambda: self.workspace.retrieve(patient, document),
                     lambda retrieved: self.viewer.show_document(retrieved, document))  # fmt: skip

    def document_action(self, document: DocumentInfo, action: Action) -> None:
        patient = self.patient
        if patient is None:
            return
        if action is Action.VIEW:
            self.open_document(document)
            return
        if action is Action.REPLACE:
            self.upload.set_replaces(document.unique_id, document.title, document.confidentiality_codes)
            self.tabs.setCurrentWidget(self.upload)
            return
        if action is Action.DELETE:
            answer = QMessageBox.question(
                self,
                "Supprimer le document",
                f"Supprimer « {document.title} » du DMP ? Cette action est définitive.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return

        def done(warnings: tuple[str, ...]) -> None:
            self.refresh()
            if warnings:  # Warning-severity RegistryErrors of a success: said (not a failure), kept on screen
                box = QMessageBox(
                    QMessageBox.Icon.Warning,
                    "Avertissement du DMP",
                    f"L'action « {action} » a été effectuée, avec un avertissement du DMP :\n"
                    + "\n".join(warnings),
                    parent=self,
                )
                box.setObjectName("avertissement")
                box.open()  # window-modal, not blocking: the list refreshes behind

        self.run(f"L'action « {action} »", lambda: self.workspace.apply(patient, document, action), done)
