"""The patient identity on screen (issue 17): the status badge (colour *and* text), what is left to do
when the identity is not qualifiée, the strict traits, and the « Qualifier l'identité » dialog (the
identity document checked, by whom; the INSi calls). Everything is read and changed through the
workspace (``app.services.workspace``: the lifecycle of ``app.services.identity``) off the GUI thread;
the status shown is the lifecycle's, never the one a source claims."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from app.ins import IdentityTraits, Ins
from app.services.identity import DocumentType, IdentityStatus
from app.services.workspace import IdentityState, Patient, Workspace
from app.ui import qt
from app.ui.dialogs import OID_LABELS
from app.ui.errors import describe
from app.ui.tasks import run_in_background

# The badge: a symbol, the status word and a colour; the text alone says it all (never colour alone).
BADGES = {
    IdentityStatus.QUALIFIEE: ("✔", "#ffffff", "#1b6e2d"),
    IdentityStatus.VALIDEE: ("◑", "#ffffff", "#9a4d00"),
    IdentityStatus.RECUPEREE: ("◐", "#ffffff", "#9a4d00"),
    IdentityStatus.PROVISOIRE: ("✖", "#ffffff", "#a40000"),
}
TODO = {
    IdentityStatus.PROVISOIRE: (
        "interrogez le téléservice INSi (carte Vitale ou traits) et vérifiez une pièce d'identité du patient"
    ),
    IdentityStatus.RECUPEREE: "INSi a répondu : vérifiez une pièce d'identité du patient",
    IdentityStatus.VALIDEE: "la pièce d'identité est vérifiée : interrogez le téléservice INSi",
}
SHORT_TODO = {
    IdentityStatus.PROVISOIRE: "interroger INSi et vérifier une pièce d'identité",
    IdentityStatus.RECUPEREE: "vérifier une pièce d'identité",
    IdentityStatus.VALIDEE: "interroger INSi",
}
REFUSED = "Envoi au DMP refusé tant que l'identité n'est pas qualifiée."
DOCUMENTS = {
    DocumentType.CNI: "Carte nationale d'identité",
    DocumentType.PASSEPORT: "Passeport",
    DocumentType.TITRE_SEJOUR: "Titre de séjour",
    DocumentType.LIVRET_FAMILLE: "Livret de famille (patient mineur)",
    DocumentType.ACTE_NAISSANCE: "Extrait d'acte de naissance (patient mineur)",
}
STEPS = {
    "INSI": "réponse INSi",
    "INSI-DISCORDANCE": "réponse INSi discordante",
    "PIECE": "pièce d'identité vérifiée",
    "TRAITS": "traits modifiés",
}


def badge_text(status: IdentityStatus) -> str:
    return f"{BADGES[status][0]} Identité {status.value}"


def style_badge(label: qt.QLabel, status: IdentityStatus | None) -> None:
    """The badge's text and colours (``None``: being read)."""
    if status is None:
        label.setText("… lecture du statut")
        label.setStyleSheet("padding: 2px 8px; border: 1px solid #888; border-radius: 4px; color: #444")
        label.setAccessibleName("Statut de l'identité : lecture en cours")
        return
    _, fore, back = BADGES[status]
    label.setText(badge_text(status))
    label.setStyleSheet(
        f"padding: 2px 8px; border-radius: 4px; font-weight: bold; color: {fore}; background: {back}"
    )
    label.setAccessibleName(f"Statut de l'identité : {status.value}")


def make_badge() -> qt.QLabel:
    label = qt.QLabel()
    label.setObjectName("badge-identite")
    label.setSizePolicy(qt.QSizePolicy.Policy.Maximum, qt.QSizePolicy.Policy.Fixed)
    style_badge(label, None)
    return label


def guidance(state: IdentityState, short: bool = False) -> str:
    """What to do when the identity is not qualifiée (empty when it is); ``short``: for the panel."""
    if state.qualified:
        return ""
    if short:
        changed = "Traits modifiés. " if state.differs and state.stored is not None else ""
        return f"{changed}À faire : {SHORT_TODO[state.status]}. Envoi au DMP refusé."
    if state.differs and state.stored is not None:
        what = ", ".join(state.differs)
        return (
            f"Les traits du patient diffèrent de ceux de l'identité enregistrée ({what}) : ses preuves ne "
            f"valent pas pour eux. À faire : {TODO[IdentityStatus.PROVISOIRE]}. {REFUSED}"
        )
    return f"À faire : {TODO[state.status]}. {REFUSED}"


def when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%d/%m/%Y %H:%M")


def event_lines(state: IdentityState) -> list[str]:
    """The lifecycle's history, newest first (who, when, how; the reason of a step back)."""
    lines = []
    for event in reversed(state.events):
        step = STEPS.get(str(event.how.get("etape", "")), str(event.how.get("etape", "")))
        detail = f" ({event.how['piece']})" if "piece" in event.how else ""
        why = f" — {event.reason}" if event.reason else ""
        lines.append(f"{when(event.at)} · {event.status.value} · {step}{detail} · par {event.set_by}{why}")
    return lines


def ins_history_lines(state: IdentityState) -> list[str]:
    """The INS history INSi returned (INSHISTO: earlier INS of the person, kept with their dates)."""
    insi = state.stored.insi if state.stored is not None and not state.differs else None
    if not insi:
        return ["INSi non interrogé"]
    entries = insi.get("historique")
    if not isinstance(entries, list) or not entries:
        return ["aucun INS antérieur (INSi)"]
    lines = []
    for entry in entries:
        if isinstance(entry, dict):
            dates = " – ".join(str(entry[k]) for k in ("debut", "fin") if entry.get(k))
            said = f"{entry.get('matricule', '?')} ({entry.get('oid', '?')})"
            lines.append(f"{said}, {dates}" if dates else said)
    return lines


def oid_text(ins: Ins) -> str:
    return f"{ins.oid} ({OID_LABELS.get(ins.oid, 'autorité inconnue')})"


def strict_rows(patient: Patient) -> list[tuple[str, str]]:
    """The strict traits (birth name, first birth first name, birth first names, sex, birth date,
    birthplace, INS matricule and OID), the used name and first name beside."""
    t: IdentityTraits | None = patient.traits
    used_name = f"   · nom utilisé : {patient.used_name}" if patient.used_name else ""
    used_first = f"   · prénom utilisé : {patient.used_first_name}" if patient.used_first_name else ""
    missing = "à compléter"
    return [
        ("Nom de naissance", (t.birth_name if t else missing) + used_name),
        ("1er prénom de naissance", (t.first_name if t else missing) + used_first),
        ("Prénoms de naissance", " ".join(t.first_names) if t else missing),
        ("Sexe", str(t.sex) if t else missing),
        ("Date de naissance", t.birth_date.to_french() if t else missing),
        ("Lieu de naissance (INSEE)", (t.birth_place or "non renseigné") if t else missing),
        ("Matricule INS", patient.ins.matricule.grouped()),
        ("OID", oid_text(patient.ins)),
    ]


def read_identity(
    workspace: Workspace,
    patient: Patient,
    done: Callable[[IdentityState], None],
    failed: Callable[[BaseException], None],
) -> None:
    """The patient's identity state, read off the GUI thread."""
    run_in_background(lambda: workspace.identity(patient.ins, patient.traits), done, failed)


class IdentityDialog(qt.QDialog):
    """« Qualifier l'identité » : the strict traits, the status and its history, the identity document
    checked (type, by whom: the connected professional by default) and confirmed → validée or
    qualifiée; the badge follows (``changed``)."""

    changed = qt.Signal(object)  # IdentityState, after each change

    def __init__(self, workspace: Workspace, patient: Patient, parent: qt.QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace, self.patient = workspace, patient
        self.state: IdentityState | None = None
        self.setWindowTitle("Qualifier l'identité du patient")
        layout = qt.QVBoxLayout(self)
        head = qt.QHBoxLayout()
        self.badge = make_badge()
        head.addWidget(self.badge)
        head.addStretch(1)
        layout.addLayout(head)
        self.todo = qt.QLabel()
        self.todo.setObjectName("a-faire")
        self.todo.setWordWrap(True)
        layout.addWidget(self.todo)

        traits = qt.QGroupBox("Traits stricts de l'identité")
        form = qt.QFormLayout(traits)
        self.traits_source = qt.QLabel()
        self.traits_source.setWordWrap(True)
        self.traits_source.setStyleSheet("color: #444")
        form.addRow(self.traits_source)
        self.trait_labels: dict[str, qt.QLabel] = {}
        for name, value in strict_rows(patient):
            label = qt.QLabel(value)
            label.setTextInteractionFlags(qt.Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.trait_labels[name] = label
            form.addRow(name, label)
        layout.addWidget(traits)

        document = qt.QGroupBox("Pièce d'identité vérifiée")
        doc_form = qt.QFormLayout(document)
        self.document_type = qt.QComboBox()
        self.document_type.setAccessibleName("Type de pièce d'identité")
        for kind, text in DOCUMENTS.items():
            self.document_type.addItem(text, kind)
        self.checked_by = qt.QLineEdit(workspace.checker())
        self.checked_by.setAccessibleName("Vérifiée par")
        self.checked_by.setPlaceholderText("nom de la personne qui a vu la pièce")
        self.confirm = qt.QCheckBox(
            "J'ai vu l'original de la pièce : ses nom, prénoms, sexe et date de naissance sont ceux "
            "affichés ci-dessus."
        )
        self.confirm_button = qt.QPushButton("&Confirmer la vérification de la pièce")
        self.confirm_button.setEnabled(False)
        self.document_now = qt.QLabel()
        self.document_now.setWordWrap(True)
        doc_form.addRow(self.document_now)
        doc_form.addRow("Type de pièce", self.document_type)
        doc_form.addRow("Vérifiée par", self.checked_by)
        doc_form.addRow(self.confirm)
        doc_form.addRow(self.confirm_button)
        layout.addWidget(document)

        history = qt.QGroupBox("Historique de l'identité sur ce poste")
        self.history = qt.QListWidget()
        self.history.setAccessibleName("Historique de l'identité")
        self.history.setMaximumHeight(90)
        qt.QVBoxLayout(history).addWidget(self.history)
        layout.addWidget(history)

        self.message = qt.QLabel()
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = qt.QDialogButtonBox(qt.QDialogButtonBox.StandardButton.Close)
        buttons.button(qt.QDialogButtonBox.StandardButton.Close).setText("&Fermer")
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        self.confirm.toggled.connect(self._enable)
        self.checked_by.textChanged.connect(self._enable)
        self.confirm_button.clicked.connect(self.check_document)
        self.resize(620, 640)
        self._alive = True
        self.destroyed.connect(self._gone)
        self.refresh()

    def _gone(self, *_: object) -> None:
        self._alive = False

    # -- reading --------------------------------------------------------------------------------

    def refresh(self) -> None:
        style_badge(self.badge, None)
        read_identity(self.workspace, self.patient, self._guard(self.show_state), self._guard(self._failed))

    def _guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        return lambda *args: fn(*args) if self._alive else None

    def show_state(self, state: IdentityState) -> None:
        self.state = state
        style_badge(self.badge, state.status)
        self.todo.setText(guidance(state))
        self.todo.setVisible(not state.qualified)
        insi = state.stored.insi if state.stored is not None and not state.differs else None
        self.traits_source.setText(
            f"Traits confirmés par la réponse INSi {insi.get('reponse', '')} du {insi.get('le', '')[:10]}."
            if insi
            else "Traits de la source du patient, non confirmés par le téléservice INSi sur ce poste."
        )
        piece = state.stored.document if state.stored is not None and not state.differs else None
        self.document_now.setText(
            f"Pièce en vigueur : {piece.get('piece', '')}, vérifiée par {piece.get('par', '')} "
            f"le {piece.get('le', '')[:10]}."
            if piece
            else "Aucune pièce d'identité vérifiée pour ces traits."
        )
        self.history.clear()
        self.history.addItems(event_lines(state) or ["aucun changement enregistré sur ce poste"])
        self._enable()

    def _failed(self, error: BaseException) -> None:
        code, message = describe(error)
        self.message.setText(f"{message} [{code}]")
        self.message.setStyleSheet("color: #a40000")

    def _enable(self) -> None:
        ready = (
            self.patient.traits is not None
            and self.state is not None
            and self.confirm.isChecked()
            and bool(self.checked_by.text().strip())
        )
        self.confirm_button.setEnabled(ready)

    # -- changing -------------------------------------------------------------------------------

    def check_document(self) -> None:
        """The identity document checked, recorded off the GUI thread; the badge follows."""
        traits = self.patient.traits
        if traits is None or not self.confirm.isChecked():
            return
        kind = DocumentType(self.document_type.currentData())
        by, ins, workspace = self.checked_by.text().strip(), self.patient.ins, self.workspace
        self.confirm_button.setEnabled(False)
        self.message.setStyleSheet("")
        self.message.setText("Enregistrement de la vérification…")

        def done(state: IdentityState) -> None:
            self.confirm.setChecked(False)
            self.message.setText(f"Pièce d'identité enregistrée : identité {state.status.value}.")
            self.show_state(state)
            self.changed.emit(state)

        def failed(error: BaseException) -> None:
            self._failed(error)
            self._enable()

        run_in_background(
            lambda: workspace.check_identity_document(ins, traits, kind, by),
            self._guard(done),
            self._guard(failed),
        )
