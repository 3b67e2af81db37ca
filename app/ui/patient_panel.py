"""The patient panel: where the identity comes from (the EHR's context, the Vitale card, manual
entry, the sandbox's fictitious patients), and what the DMP exchanges will use: the INS with its
status, the traits, and the legacy INS-C where it applies."""

from __future__ import annotations

import json
from pathlib import Path

from app.card.errors import VitaleError
from app.card.patient_sources import Beneficiary, EhrContextSource
from app.errors import DmpClientError
from app.ins import IdentityTraits, InsError
from app.services.training import sandbox_insi, sandbox_patients, vitale_card
from app.services.workspace import Patient
from app.ui.dialogs import OID_LABELS, ManualPatientDialog
from app.ui.errors import show_error
from app.ui.qt import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
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
                    insc.value if insc else None)
        )  # fmt: skip
    return patients


class PatientPanel(QGroupBox):
    patient_changed = Signal(object)  # Patient | None

    def __init__(self, parent: QWidget | None = None, *, sandbox: bool = False) -> None:
        super().__init__("Patient", parent)
        self.sandbox = sandbox
        self.patient: Patient | None = None
        self.candidates: list[Patient] = []
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
        form = QFormLayout()
        self.name, self.birth, self.ins, self.status, self.insc, self.origin = (QLabel() for _ in range(6))
        for label, widget in (
            ("Nom", self.name), ("Naissance", self.birth), ("INS", self.ins), ("Statut INS", self.status),
            ("INS-C", self.insc), ("Source", self.origin),
        ):  # fmt: skip
            widget.setWordWrap(True)
            form.addRow(label, widget)
        layout.addLayout(form)
        self.vitale.clicked.connect(self.read_vitale)
        self.manual.clicked.connect(self.enter_manually)
        self.choice.currentIndexChanged.connect(self._chosen)
        if sandbox:
            self.set_candidates(sandbox_patients())

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
        if patient is None:
            for widget in (self.name, self.birth, self.ins, self.status, self.insc, self.origin):
                widget.setText("")
            return
        traits = patient.traits
        self.name.setText(
            f"{traits.birth_name} {' '.join(traits.first_names)} ({traits.sex})" if traits else "?"
        )
        self.birth.setText(
            f"{traits.birth_date.to_french()}, lieu {traits.birth_place or '?'}"
            if traits
            else "traits à compléter"
        )
        self.ins.setText(
            f"{patient.ins.matricule.grouped()} — {OID_LABELS.get(patient.ins.oid, patient.ins.oid)}"
        )
        self.status.setText(patient.ins_status)
        self.insc.setText(patient.insc or "sans objet")
        self.origin.setText(patient.source)
