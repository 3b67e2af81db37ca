"""The main window's DMP and document actions (kept apart so each module reads in one sitting): the
authorisation, the médecin traitant declaration, emergency access, creating a DMP after consent,
opening a document and the document actions the rights allow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.dmp_client.core.actions import Action
from app.dmp_client.core.admin import DmpPatient, Gender
from app.dmp_client.core.context import Purpose
from app.dmp_client.core.iti18 import DocumentInfo
from app.ui.dialogs import ConsentDialog, EmergencyAccessDialog, GuiPinPrompt
from app.ui.qt import QMainWindow, QMessageBox, QTabWidget

if TYPE_CHECKING:
    from app.ui.upload_panel import UploadPanel
    from app.ui.viewer import DocumentViewer
    from app.workspace import Connection, DmpOverview, Patient, Workspace


class DmpActions(QMainWindow):
    """The base of :class:`~app.ui.main_window.MainWindow`, which provides what is declared here."""

    workspace: Workspace
    overview: DmpOverview | None
    upload: UploadPanel
    tabs: QTabWidget
    viewer: DocumentViewer

    @property
    def patient(self) -> Patient | None:
        raise NotImplementedError

    def run(self, what: str, fn: Any, done: Any = None) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def _connected(self, connection: Connection) -> None:
        raise NotImplementedError

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
        self.run(f"L'action « {action} »", lambda: self.workspace.apply(patient, document, action),
                 lambda _: self.refresh())  # fmt: skip
