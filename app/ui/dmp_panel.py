"""The patient's DMP at a glance: exists, closed, authorised, médecin traitant, oppositions; and
the actions that fit (authorise myself, declare myself médecin traitant, emergency access, and in
the legacy host profile, create the DMP after recording the patient's consent)."""

from __future__ import annotations

from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.hl7v3 import DmpState
from app.services.workspace import Connection, DmpOverview
from app.ui.qt import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget, Signal

PURPOSE_TEXT = {
    Purpose.NORMAL: "accès normal",
    Purpose.BREAK_GLASS: "ACCÈS EN URGENCE (bris de glace)",
    Purpose.CENTRE_15: "ACCÈS CENTRE 15",
}


class DmpPanel(QGroupBox):
    authorize_requested = Signal(bool)  # add?
    treating_doctor_requested = Signal(bool)  # declare?
    emergency_requested = Signal()
    create_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, legacy_profile: bool = False) -> None:
        super().__init__("DMP", parent)
        self.legacy_profile = legacy_profile
        self.overview: DmpOverview | None = None
        layout = QVBoxLayout(self)
        self.state = QLabel("Aucun patient ouvert.")
        self.state.setObjectName("etat-dmp")
        self.state.setWordWrap(True)
        self.access = QLabel()
        self.access.setObjectName("mode-acces")
        self.oppositions = QLabel()
        self.oppositions.setWordWrap(True)
        layout.addWidget(self.state)
        layout.addWidget(self.access)
        layout.addWidget(self.oppositions)
        self.authorize = QPushButton("M'&autoriser sur ce DMP")
        self.withdraw = QPushButton("&Retirer mon autorisation")
        self.declare = QPushButton("Me déclarer médecin &traitant DMP")
        self.undeclare = QPushButton("Ne &plus être médecin traitant DMP")
        self.emergency = QPushButton("Accès d'&urgence…")
        self.create_dmp = QPushButton("&Créer le DMP (consentement du patient)…")
        self.buttons = (
            self.authorize, self.withdraw, self.declare, self.undeclare, self.emergency, self.create_dmp,
        )  # fmt: skip
        for button in self.buttons:
            layout.addWidget(button)
            button.hide()
        layout.addStretch(1)
        self.authorize.clicked.connect(lambda: self.authorize_requested.emit(True))
        self.withdraw.clicked.connect(lambda: self.authorize_requested.emit(False))
        self.declare.clicked.connect(lambda: self.treating_doctor_requested.emit(True))
        self.undeclare.clicked.connect(lambda: self.treating_doctor_requested.emit(False))
        self.emergency.clicked.connect(self.emergency_requested.emit)
        self.create_dmp.clicked.connect(self.create_requested.emit)

    def show_overview(self, overview: DmpOverview | None, connection: Connection | None) -> None:
        self.overview = overview
        for button in self.buttons:
            button.hide()
        self.access.setText(PURPOSE_TEXT[connection.purpose] if connection else "")
        if overview is None:
            self.state.setText("Aucun patient ouvert." if connection else "Non connecté.")
            self.oppositions.setText("")
            return
        status = overview.status
        if status.state is DmpState.NONE:
            self.state.setText("Ce patient n'a pas de DMP.")
            self.create_dmp.setVisible(self.legacy_profile and connection is not None)
        elif status.state is DmpState.CLOSED:
            self.state.setText(f"DMP fermé{_closed_on(status.closed_on)}.")
        else:
            lines = [
                "DMP actif.",
                "Vous êtes autorisé." if status.authorized else "Vous n'êtes pas autorisé sur ce DMP.",
                "Vous êtes son médecin traitant DMP." if status.treating_doctor else "",
            ]
            self.state.setText(" ".join(line for line in lines if line))
        opposed = [
            text
            for flag, text in (
                (overview.opposition_break_glass, "au bris de glace"),
                (overview.opposition_centre_15, "à l'accès centre 15"),
            )
            if flag
        ]
        self.oppositions.setText(
            f"Le patient s'est opposé {' et '.join(opposed)}." if opposed else "Aucune opposition du patient."
        )
        direct_normal = (
            connection is not None
            and connection.mode is AuthMode.DIRECT
            and connection.purpose is Purpose.NORMAL
        )
        if status.state is DmpState.ACTIVE and direct_normal:
            self.authorize.setVisible(not status.authorized)
            self.withdraw.setVisible(status.authorized)
            physician = connection is not None and connection.physician
            self.declare.setVisible(physician and status.authorized and not status.treating_doctor)
            self.undeclare.setVisible(status.treating_doctor)
        if status.state is DmpState.ACTIVE and connection is not None:
            # Offered only when it can apply: a professional's card (not a secretariat on the
            # structure's certificate [UNSURE: the rights matrix lets a structure in régulation
            # use TD0.5; this client does not offer it]), and a mode the patient did not oppose.
            both_opposed = overview.opposition_break_glass and overview.opposition_centre_15
            possible = connection.mode is AuthMode.DIRECT and not status.authorized and not both_opposed
            self.emergency.setVisible(possible or connection.purpose is not Purpose.NORMAL)
            if connection.purpose is not Purpose.NORMAL:
                self.emergency.setText("Revenir à l'accès &normal")
            else:
                self.emergency.setText("Accès d'&urgence…")


def _closed_on(value: str | None) -> str:
    return f" le {value[6:8]}/{value[4:6]}/{value[:4]}" if value and len(value) >= 8 else ""
