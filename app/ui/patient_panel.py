"""The patient panel: where the identity comes from (the EHR's context, the Vitale card, manual
entry, the sandbox's fictitious patients), and what the DMP exchanges will use: the INS with its
status as the identity lifecycle holds it on this workstation (a badge, with what is left to do), the
strict traits with the used name beside, the INS history, and the legacy INS-C where it applies (an
identifier of old records, never the identity)."""

from __future__ import annotations

import json
from pathlib import Path

from app.card.errors import VitaleError
from app.card.patient_sources import Beneficiary, EhrContextSource
from app.errors import DmpClientError
from app.ins import IdentityTraits, InsError
from app.services.training import sandbox_insi, sandbox_patients, vitale_card
from app.services.workspace import IdentityState, Patient, Workspace
from app.ui.dialogs import ManualPatientDialog
from app.ui.errors import describe, show_error
from app.ui.identity_dialog import (
    IdentityDialog,
    guidance,
    ins_history_lines,
    make_badge,
    read_identity,
    strict_rows,
    style_badge,
)
from app.ui.qt import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.tasks import run_in_background


def patients_from_context(context: dict[str, object]) -> list[Patient]:
    """The EHR's hand-off: beneficiaries with their qualified INS and traits."""
    source = EhrContextSource(context)
    found = []
    raw = context.get("beneficiaires")
    for beneficiary, entry in zip(source.beneficiaries(), raw if isinstance(raw, list) else [], strict=False):
        found.append(_patient(beneficiary, entry if isinstance(entry, dict) else {}, "logiciel métier"))
    return [p for p in found if p is not None]


def _patient(beneficiary: Beneficiary, entry: dict[str, object], source: str) -> Patient | None:
    if beneficiary.ins is None:
        return None
    traits_data = entry.get("traits")
    traits = None
    if isinstance(traits_data, dict):
        traits = IdentityTraits.parse(
            str(traits_data.get("nom_naissance", beneficiary.surname)),
            str(traits_data.get("prenoms", beneficiary.first_name)),
            str(traits_data.get("sexe", "")),
            str(traits_data.get("naissance", "")),
            str(traits_data["lieu"]) if traits_data.get("lieu") else None,
        )
    insc = beneficiary.insc()
    return Patient(
        beneficiary.ins,
        traits,
        str(entry.get("statut_ins", "récupérée")),
        source,
        insc.value if insc else None,
        beneficiary.surname or None,
        beneficiary.first_name or None,
    )


def patients_from_vitale(sandbox: bool = True) -> list[Patient]:
    """The sandbox's virtual Vitale card, in sandbox mode only (elsewhere the EHR reads the real card and
    hands the context over). The INS itself comes from the INSi teleservice, which the sandbox stands in
    for with its own patients (matched by the beneficiary's NIR)."""
    return patients_from_beneficiaries(vitale_card(sandbox).beneficiaries())


def patients_from_beneficiaries(beneficiaries: list[Beneficiary]) -> list[Patient]:
    """Every beneficiary of the card whose INS the (sandbox) INSi finds, children included: a
    beneficiary without its own NIR is an "ayant droit", said in its source."""
    patients = []
    for beneficiary in beneficiaries:
        nir = beneficiary.own_nir.value if beneficiary.own_nir else None
        match = sandbox_insi(beneficiary.first_name, beneficiary.birth_date, nir)
        if match is None:
            continue
        insc = beneficiary.insc()
        role = "assuré" if nir else "ayant droit"
        patients.append(
            Patient(match.ins, match.traits, "récupérée", f"carte Vitale (rang {beneficiary.rank}, {role})",
                    insc.value if insc else None, beneficiary.surname or None, beneficiary.first_name or None,
                    beneficiary.rank)
        )  # fmt: skip
    return patients


TRAIT_ROWS = (
    "Nom de naissance", "1er prénom de naissance", "Prénoms de naissance", "Sexe", "Date de naissance",
    "Lieu de naissance (INSEE)", "Matricule INS", "OID",
)  # fmt: skip
INSC_LABEL = "INS-C (identifiant historique)"
LABEL_WIDTH = 112
INSC_TIP = (
    "Identifiant historique calculé depuis la carte Vitale, pour les anciens dossiers qui le portent : "
    "ce n'est pas l'identité du patient et il n'est jamais envoyé comme telle."
)


class PatientPanel(QGroupBox):
    patient_changed = Signal(object)  # Patient | None
    identity_changed = Signal(object)  # IdentityState of the shown patient, once read or changed

    def __init__(
        self, parent: QWidget | None = None, *, sandbox: bool = False, workspace: Workspace | None = None
    ) -> None:
        super().__init__("Patient", parent)
        self.sandbox = sandbox
        self.workspace = workspace
        self.patient: Patient | None = None
        self.identity: IdentityState | None = None
        self.candidates: list[Patient] = []
        self._alive = True
        self.destroyed.connect(self._gone)
        layout = QVBoxLayout(self)
        sources = QHBoxLayout()
        self.vitale = QPushButton("Carte &Vitale")
        self.manual = QPushButton("&Saisie…")
        self.vitale.setToolTip("Lire la carte Vitale du patient")
        if not sandbox:  # the EHR reads a real Vitale card (SESAM-Vitale) and hands the patient over
            self.vitale.setEnabled(False)
            self.vitale.setToolTip("La carte Vitale est lue par le logiciel métier (contexte patient)")
        sources.addWidget(self.vitale)
        sources.addWidget(self.manual)
        layout.addLayout(sources)
        self.choice = QComboBox()
        self.choice.setAccessibleName("Patient")
        layout.addWidget(self.choice)
        badge_row = QHBoxLayout()
        self.status = make_badge()  # the lifecycle's status, never the source's claim
        badge_row.addWidget(self.status)
        badge_row.addStretch(1)
        layout.addLayout(badge_row)
        todo_row = QHBoxLayout()
        self.todo = QLabel()
        self.todo.setObjectName("a-faire")
        self.todo.setWordWrap(True)
        self.todo.setStyleSheet("color: #a40000")
        self.todo.setVisible(False)
        self.qualify = QPushButton("&Qualifier l'identité…")
        self.qualify.setToolTip("Téléservice INSi, pièce d'identité vérifiée : qualifier l'identité")
        self.qualify.setEnabled(False)
        todo_row.addWidget(self.todo, 1)
        todo_row.addWidget(self.qualify)
        layout.addLayout(todo_row)
        form = QFormLayout()
        form.setVerticalSpacing(1)
        self.traits: dict[str, QLabel] = {}
        self.history, self.insc = QLabel(), QLabel()
        rows = [*((label, QLabel()) for label in TRAIT_ROWS), ("Historique INS", self.history)]
        for label, widget in [*rows, (INSC_LABEL, self.insc)]:
            if label in TRAIT_ROWS:
                self.traits[label] = widget
            widget.setWordWrap(True)
            widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            name = QLabel(label)
            name.setWordWrap(True)  # long names on two lines: the values keep the width
            name.setFixedWidth(LABEL_WIDTH)
            form.addRow(name, widget)
        self.insc.setToolTip(INSC_TIP)
        self.ins = self.traits["Matricule INS"]
        self.origin = self.choice  # where the patient comes from: said in the choice itself
        layout.addLayout(form)
        self.vitale.clicked.connect(self.read_vitale)
        self.manual.clicked.connect(self.enter_manually)
        self.qualify.clicked.connect(self.open_qualification)
        self.choice.currentIndexChanged.connect(self._chosen)
        if sandbox:
            self.set_candidates(sandbox_patients())

    def _gone(self, *_: object) -> None:
        self._alive = False

    def set_candidates(self, patients: list[Patient], select: int = -1) -> None:
        self.candidates = patients
        self.choice.blockSignals(True)
        self.choice.clear()
        self.choice.addItem("— choisir un patient —", None)
        for patient in patients:
            traits = patient.traits
            label = f"{traits.birth_name} {traits.first_name}" if traits else patient.ins.matricule.grouped()
            self.choice.addItem(f"{label} ({patient.source})", patient)
        self.choice.setCurrentIndex(select + 1 if select >= 0 else 0)
        self.choice.blockSignals(False)
        self._chosen()  # once, whatever the index was: one load per patient choice

    def open_context(self, context: dict[str, object]) -> list[Patient]:
        """The EHR's hand-off (command line or a forwarded context); its patients returned."""
        try:
            patients = patients_from_context(context)
        except (DmpClientError, InsError) as error:
            show_error(self, error, "Le contexte du logiciel métier")
            return []
        if patients:
            self.set_candidates(patients, 0)
        return patients

    def open_context_file(self, path: Path) -> None:
        try:
            context = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            error = VitaleError("Fichier de contexte patient illisible ou mal formé.")
            show_error(self, error, "Le contexte du logiciel métier")
            return
        self.open_context(context if isinstance(context, dict) else {})

    def read_vitale(self) -> None:
        self.vitale.setEnabled(False)

        def done(patients: list[Patient]) -> None:
            self.vitale.setEnabled(True)
            self.set_candidates(patients, 0 if patients else -1)

        def failed(error: BaseException) -> None:
            self.vitale.setEnabled(True)
            show_error(self, error, "La lecture de la carte Vitale")

        run_in_background(lambda: patients_from_vitale(self.sandbox), done, failed)

    def enter_manually(self) -> None:
        dialog = ManualPatientDialog(self, sandbox=self.sandbox)
        if dialog.exec() and dialog.patient is not None:
            self.set_candidates([dialog.patient, *self.candidates], 0)

    def select(self, patient: Patient) -> None:
        for index, candidate in enumerate(self.candidates):
            if candidate.ins == patient.ins:
                self.choice.setCurrentIndex(index + 1)
                return
        self.set_candidates([patient, *self.candidates], 0)

    def _chosen(self) -> None:
        patient = self.choice.currentData()
        self.patient = patient if isinstance(patient, Patient) else None
        self._show(self.patient)
        self.patient_changed.emit(self.patient)

    def _show(self, patient: Patient | None) -> None:
        self.identity = None
        self.todo.setVisible(False)
        self.qualify.setEnabled(False)
        if patient is None:
            for widget in (*self.traits.values(), self.history, self.insc):
                widget.setText("")
            self.status.setText("")
            self.status.setStyleSheet("")
            return
        for label, value in strict_rows(patient):
            self.traits[label].setText(value)
        self.history.setText("")
        self.insc.setText(patient.insc or "sans objet")
        self.refresh_identity()

    def refresh_identity(self) -> None:
        """The shown patient's identity read again (off the GUI thread) from the lifecycle."""
        patient = self.patient
        if patient is None:
            return
        style_badge(self.status, None)
        if self.workspace is None:
            return self._identity_failed(patient, None)
        read_identity(
            self.workspace,
            patient,
            lambda state: self._identity_read(patient, state),
            lambda error: self._identity_failed(patient, error),
        )

    def _identity_read(self, patient: Patient, state: IdentityState) -> None:
        if not self._alive or patient is not self.patient:
            return  # another patient was chosen meanwhile: nothing of this one is shown
        self.identity = state
        style_badge(self.status, state.status)
        self.todo.setText(guidance(state, short=True))
        self.todo.setVisible(not state.qualified)
        self.history.setText("\n".join(ins_history_lines(state)))
        self.qualify.setEnabled(patient.traits is not None)
        self.identity_changed.emit(state)

    def _identity_failed(self, patient: Patient, error: BaseException | None) -> None:
        if not self._alive or patient is not self.patient:
            return
        self.status.setText("Statut de l'identité inconnu")
        self.status.setStyleSheet("padding: 2px 8px; border: 1px solid #a40000; color: #a40000")
        said = f"{describe(error)[1]} " if error is not None else ""
        self.todo.setText(f"{said}Envoi au DMP refusé tant que l'identité n'est pas qualifiée.")
        self.todo.setVisible(True)

    def _replace(self, old: Patient, new: Patient) -> None:
        """INSi gave the identity (another INS, or its traits): it replaces the one shown, which is
        not kept on screen (identity vigilance); the DMP is then read for the INSi identity."""
        if not self._alive:
            return
        others = [c for c in self.candidates if c is not old and c.ins != new.ins]
        self.set_candidates([new, *others], 0)

    def open_qualification(self) -> IdentityDialog | None:
        """« Qualifier l'identité » for the shown patient; the badge follows each change."""
        patient = self.patient
        if patient is None or self.workspace is None:
            return None
        dialog = IdentityDialog(self.workspace, patient, self)
        dialog.changed.connect(lambda state: self._identity_read(dialog.patient, state))  # still shown?
        dialog.replaced.connect(lambda new: self._replace(patient, new))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog
