"""The patient identity on screen (issue 17): the status badge (colour *and* text), what is left to do
when the identity is not qualifiée, the strict traits, and the « Qualifier l'identité » dialog (the
INSi calls: verification of the INS held, search by traits with the 01/02 guidance, search with the
Vitale card for the chosen beneficiary; the identity document checked, by whom). Everything is read
and changed through the workspace (``app.services.workspace``: the lifecycle of
``app.services.identity`` and the flows of ``app.services.qualification``) off the GUI thread; the
status shown is the lifecycle's, never the one a source claims."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.ins import IdentityTraits, Ins
from app.services.identity import DocumentType, IdentityStatus
from app.services.workspace import IdentityState, Patient, Workspace
from app.ui import qt
from app.ui.dialogs import OID_LABELS
from app.ui.errors import describe
from app.ui.tasks import run_in_background

if TYPE_CHECKING:
    from app.services.qualification import InsiOutcome, StrictTraits

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
    """The INS history INSi returned (INSHISTO: earlier INS of the person), kept with the INSi proof."""
    insi = state.stored.insi if state.stored is not None and not state.differs else None
    if not insi:
        return ["INSi non interrogé"]
    if not state.history:
        return ["aucun INS antérieur (INSi)"]
    return [f"{ins.matricule.grouped()} (ancien INS)" for ins in state.history]


def lunar_french(date: str) -> str:
    """INSi's DateLunaire AAAA-MM-JJ as JJ/MM/AAAA (00 kept)."""
    return f"{date[8:10]}/{date[5:7]}/{date[0:4]}" if len(date) == 10 else date


def insi_rows(strict: StrictTraits, patient: Patient) -> list[tuple[str, str]]:
    """The strict traits as INSi returned them (verbatim), the used name beside."""
    used_name = f"   · nom utilisé : {patient.used_name}" if patient.used_name else ""
    used_first = f"   · prénom utilisé : {patient.used_first_name}" if patient.used_first_name else ""
    ins = Ins.parse(strict.matricule, strict.oid)
    return [
        ("Nom de naissance", strict.birth_name + used_name),
        ("1er prénom de naissance", strict.first_name + used_first),
        ("Prénoms de naissance", strict.first_names),
        ("Sexe", strict.sex),
        ("Date de naissance", lunar_french(strict.birth_date)),
        ("Lieu de naissance (INSEE)", strict.birth_place or "non renseigné"),
        ("Matricule INS", ins.matricule.grouped()),
        ("OID", oid_text(ins)),
    ]


def outcome_text(outcome: InsiOutcome) -> str:
    """What INSi said, what was recorded, and what to do next (01/02: the prescribed next step)."""
    lines = [outcome.message]
    lines += outcome.warnings
    if outcome.next_step and outcome.next_step not in outcome.message:
        lines.append(f"Étape suivante : {outcome.next_step}")
    return "\n".join(lines)


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
    replaced = qt.Signal(object)  # Patient: INSi gave another INS or other traits, which make the identity

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

        insi = qt.QGroupBox("Téléservice INSi")
        insi_layout = qt.QVBoxLayout(insi)
        buttons_row = qt.QHBoxLayout()
        self.verify_button = qt.QPushButton("&Vérifier l'INS auprès d'INSi")
        self.verify_button.setToolTip("L'INS et les traits connus, vérifiés par le téléservice INSi")
        self.search_button = qt.QPushButton("Rechercher par les &traits")
        self.search_button.setToolTip(
            "Saisie manuelle : recherche par nom, premier prénom, sexe et date de naissance ; si INSi "
            "trouve plusieurs identités (02), les autres prénoms puis le lieu de naissance sont ajoutés"
        )
        self.vitale_button = qt.QPushButton("Avec la carte V&itale")
        rank = patient.vitale_rank
        self.vitale_button.setToolTip(
            f"Lire la carte Vitale et interroger INSi pour le bénéficiaire de rang {rank}"
            if rank is not None
            else "Patient non lu sur une carte Vitale : vérifiez l'INS ou recherchez par les traits"
        )
        for widget in (self.verify_button, self.search_button, self.vitale_button):
            buttons_row.addWidget(widget)
        insi_layout.addLayout(buttons_row)
        self.insi_result = qt.QLabel("INSi non interrogé depuis cette fenêtre.")
        self.insi_result.setObjectName("resultat-insi")
        self.insi_result.setWordWrap(True)
        insi_layout.addWidget(self.insi_result)
        layout.addWidget(insi)

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
        self.verify_button.clicked.connect(lambda: self.call_insi("verify"))
        self.search_button.clicked.connect(lambda: self.call_insi("search"))
        self.vitale_button.clicked.connect(lambda: self.call_insi("vitale"))
        self.resize(620, 640)
        self._alive = True
        self._insi_busy = False
        self.destroyed.connect(self._gone)
        self.refresh()

    def _gone(self, *_: object) -> None:
        self._alive = False

    # -- reading --------------------------------------------------------------------------------

    def refresh(self, announce: bool = False) -> None:
        """Read the identity again; ``announce``: tell ``changed`` once read (after an INSi call)."""
        style_badge(self.badge, None)

        def read(state: IdentityState) -> None:
            self.show_state(state)
            if announce:
                self.changed.emit(state)

        read_identity(self.workspace, self.patient, self._guard(read), self._guard(self._failed))

    def _guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        return lambda *args: fn(*args) if self._alive else None

    def show_state(self, state: IdentityState) -> None:
        self.state = state
        style_badge(self.badge, state.status)
        self.todo.setText(guidance(state))
        self.todo.setVisible(not state.qualified)
        insi = state.stored.insi if state.stored is not None and not state.differs else None
        self.traits_source.setText(
            f"Traits confirmés par le téléservice INSi (réponse « {insi.get('reponse', '')} »)."
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
        has_traits = self.patient.traits is not None and self._insi_busy is False
        self.verify_button.setEnabled(has_traits)
        self.search_button.setEnabled(has_traits)
        sandbox = self.workspace.settings.is_sandbox  # a real Vitale card is read by the EHR
        self.vitale_button.setEnabled(has_traits and sandbox and self.patient.vitale_rank is not None)

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

    def call_insi(self, how: str) -> None:
        """One INSi flow off the GUI thread: ``verify`` (the INS held), ``search`` (by traits, 01/02
        steps), ``vitale`` (the Vitale card, for this beneficiary). The answer is recorded by the
        flow; the badge, the strict traits and the patient follow."""
        patient, workspace, traits = self.patient, self.workspace, self.patient.traits
        if traits is None:
            return
        from app.services import identity_desk as desk  # the INSi stack: loaded at the first call

        work = {
            "verify": lambda: desk.insi_verify(workspace, patient),
            "search": lambda: desk.insi_search(workspace, traits),
            "vitale": lambda: desk.insi_vitale(workspace, patient.vitale_rank),
        }[how]
        self._insi_busy = True
        self._enable()
        self.insi_result.setStyleSheet("")
        self.insi_result.setText("Interrogation du téléservice INSi…")

        def done(outcome: InsiOutcome) -> None:
            self._insi_busy = False
            found = outcome.ins is not None and outcome.stored is not None
            self.insi_result.setText(outcome_text(outcome))
            self.insi_result.setStyleSheet("" if found else "color: #a40000")
            if outcome.strict is not None and found:
                for name, value in insi_rows(outcome.strict, patient):
                    self.trait_labels[name].setText(value)
            stored = outcome.stored
            if found and stored is not None and outcome.ins is not None:
                differs = patient.traits is None or bool(stored.traits.differences(patient.traits))
                if outcome.ins != patient.ins or differs:  # INSi's identity is the one used from now on
                    self.patient = dataclasses.replace(
                        patient, ins=outcome.ins, traits=stored.traits, ins_status=outcome.status.value,
                        source=f"{patient.source} → INSi",
                    )  # fmt: skip
                    self.replaced.emit(self.patient)
            self.refresh(announce=True)

        def failed(error: BaseException) -> None:
            self._insi_busy = False
            code, message = describe(error)
            self.insi_result.setText(f"{message} [{code}]")
            self.insi_result.setStyleSheet("color: #a40000")
            self._enable()

        run_in_background(work, self._guard(done), self._guard(failed))
