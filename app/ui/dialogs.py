"""Dialogs: the PIN (tries left shown; never retried by the software), the card's situation
d'exercice when it has several, emergency access (stated
reason and explicit confirmation; the patient's opposition shown and respected), the patient's
express consent before creating a DMP, and manual entry of a patient's INS identity."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.dmp_client.core.context import Purpose
from app.ins import IdentityTraits, Ins, InsOid
from app.services.workspace import Patient
from app.ui.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QObject,
    QVBoxLayout,
    QWidget,
    Signal,
)

if TYPE_CHECKING:  # annotations only: the card stack (pkcs11) loads with the first card session
    from app.card.cps import PinStatus
    from app.card.identity import Situation


class PinDialog(QDialog):
    def __init__(self, status: PinStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Code porteur de la carte CPS")
        layout = QVBoxLayout(self)
        warning = " — attention" if status.tries_left == 1 else ""
        self.tries = QLabel(f"Carte CPS : {status.describe()}{warning}.")
        self.tries.setObjectName("essais")
        layout.addWidget(self.tries)
        self.code = QLineEdit()
        self.code.setEchoMode(QLineEdit.EchoMode.Password)
        self.code.setMaxLength(8)
        self.code.setPlaceholderText("4 à 8 chiffres")
        self.code.setAccessibleName("Code porteur")
        layout.addWidget(self.code)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.code.setFocus()


class _PinBridge(QObject):
    asked = Signal(object, object)  # (PinStatus, holder: list + event)


class GuiPinPrompt:
    """The card layer's ``PinPrompt`` for the GUI: called from the card's thread, it shows the
    dialog on the GUI thread and waits for the answer (None when cancelled)."""

    def __init__(self, parent: QWidget | None) -> None:
        self.parent = parent
        self._bridge = _PinBridge()
        self._bridge.asked.connect(self._ask)

    def __call__(self, status: PinStatus) -> str | None:
        if threading.current_thread() is threading.main_thread():
            return self._dialog(status)
        holder: list[str | None] = [None]
        done = threading.Event()
        self._bridge.asked.emit(status, (holder, done))
        done.wait()
        return holder[0]

    def _ask(self, status: PinStatus, reply: tuple[list[str | None], threading.Event]) -> None:
        holder, done = reply
        try:
            holder[0] = self._dialog(status)
        finally:
            done.set()

    def _dialog(self, status: PinStatus) -> str | None:
        dialog = PinDialog(status, self.parent)
        return dialog.code.text() if dialog.exec() == QDialog.DialogCode.Accepted else None


class SituationDialog(QDialog):
    """The card's situations d'exercice, after the PIN, when it has more than one: the VIHF and the
    documents carry the chosen one's structure and sector for the whole session."""

    def __init__(self, situations: tuple[Situation, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Situation d'exercice")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Votre carte CPS porte plusieurs situations d'exercice : choisissez celle de cette session."
            )
        )
        self.choice = QComboBox()
        self.choice.setAccessibleName("Situation d'exercice")
        for situation in situations:
            name = situation.structure_name or situation.structure_id
            self.choice.addItem(
                f"n° {situation.number} — {name} "
                f"(structure {situation.structure_id}, secteur {situation.sector})",
                situation.number,
            )
        layout.addWidget(self.choice)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.choice.setFocus()

    @property
    def number(self) -> int:
        return int(self.choice.currentData())


class _SituationBridge(QObject):
    asked = Signal(object, object)  # (situations, holder: list + event)


class GuiSituationChooser:
    """The card layer's ``SituationChooser`` for the GUI: called from the card's thread after the PIN;
    a card with one situation is not asked about; otherwise the dialog is shown on the GUI thread.
    Cancelling ends the connection (:class:`~app.card.errors.SituationNotChosen`)."""

    def __init__(self, parent: QWidget | None) -> None:
        self.parent = parent
        self._bridge = _SituationBridge()
        self._bridge.asked.connect(self._ask)

    def __call__(self, situations: tuple[Situation, ...]) -> int:
        if len(situations) == 1:
            return situations[0].number
        if threading.current_thread() is threading.main_thread():
            number = self._dialog(situations)
        else:
            holder: list[int | None] = [None]
            done = threading.Event()
            self._bridge.asked.emit(situations, (holder, done))
            done.wait()
            number = holder[0]
        if number is None:
            from app.card.errors import SituationNotChosen

            raise SituationNotChosen()
        return number

    def _ask(
        self, situations: tuple[Situation, ...], reply: tuple[list[int | None], threading.Event]
    ) -> None:
        holder, done = reply
        try:
            holder[0] = self._dialog(situations)
        finally:
            done.set()

    def _dialog(self, situations: tuple[Situation, ...]) -> int | None:
        dialog = SituationDialog(situations, self.parent)
        return dialog.number if dialog.exec() == QDialog.DialogCode.Accepted else None


REASONS = {
    Purpose.BREAK_GLASS: [
        "Urgence : état du patient comportant un risque immédiat pour sa santé",
        "Patient hors d'état d'exprimer sa volonté",
    ],
    Purpose.CENTRE_15: ["Régulation médicale (centre 15 / SAMU)"],
}
PURPOSE_LABELS = {
    Purpose.BREAK_GLASS: "Accès en urgence (bris de glace)",
    Purpose.CENTRE_15: "Accès centre 15",
}


class EmergencyAccessDialog(QDialog):
    """Break-glass and centre-15 access: a reason from the list and an explicit confirmation; a mode
    the patient opposed is not offered (the DMP would refuse it, and the patient said no)."""

    def __init__(self, opposed: dict[Purpose, bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Accès d'urgence au DMP")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.mode = QComboBox()
        for purpose, label in PURPOSE_LABELS.items():
            text = label + (" — le patient s'y est opposé" if opposed.get(purpose) else "")
            self.mode.addItem(text, purpose)
            if opposed.get(purpose):
                item = self.mode.model().item(self.mode.count() - 1)  # type: ignore[attr-defined]
                item.setEnabled(False)
        self.reason = QComboBox()
        form.addRow("Mode d'accès", self.mode)
        form.addRow("Motif", self.reason)
        layout.addLayout(form)
        self.confirm = QCheckBox(
            "Je confirme que la situation justifie cet accès ; il est tracé et visible par le patient."
        )
        layout.addWidget(self.confirm)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.mode.currentIndexChanged.connect(self._reasons)
        self.confirm.toggled.connect(self._update)
        first_allowed = next(
            (i for i in range(self.mode.count()) if not opposed.get(self.mode.itemData(i))), -1
        )
        self.mode.setCurrentIndex(max(first_allowed, 0))
        self._reasons()

    @property
    def purpose(self) -> Purpose:
        return Purpose(self.mode.currentData())

    def _reasons(self) -> None:
        self.reason.clear()
        self.reason.addItems(REASONS[self.purpose])
        self._update()

    def _update(self) -> None:
        item = self.mode.model().item(self.mode.currentIndex())  # type: ignore[attr-defined]
        allowed = item is not None and item.isEnabled()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(allowed and self.confirm.isChecked())


class ConsentDialog(QDialog):
    """TD1.1 (legacy host profile): the DMP is created only after the patient's express consent."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Créer le DMP du patient")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Le patient a été informé et consent expressément à la création de son DMP."))
        self.consent = QCheckBox("Le patient a donné son consentement exprès")
        layout.addWidget(self.consent)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setEnabled(False)
        self.consent.toggled.connect(self.ok.setEnabled)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


OID_LABELS = {
    InsOid.NIR: "INS-NIR",
    InsOid.NIA: "INS-NIA",
    InsOid.NIR_TEST: "INS-NIR de test",
    InsOid.NIR_DEMO: "INS-NIR de démonstration",
}


class ManualPatientDialog(QDialog):
    """A patient typed by a person: the INS and its traits are checked before the dialog closes."""

    def __init__(self, parent: QWidget | None = None, sandbox: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Saisie manuelle du patient")
        self.patient: Patient | None = None
        form = QFormLayout(self)
        self.matricule = QLineEdit()
        self.oid = QComboBox()
        for oid, label in OID_LABELS.items():
            self.oid.addItem(label, oid)
        if sandbox:
            self.oid.setCurrentIndex(list(OID_LABELS).index(InsOid.NIR_TEST))
        self.birth_name, self.first_names = QLineEdit(), QLineEdit()
        self.sex = QComboBox()
        self.sex.addItems(["F", "M"])
        self.birth_date = QLineEdit()
        self.birth_date.setPlaceholderText("JJ/MM/AAAA")
        self.birth_place = QLineEdit()
        self.birth_place.setPlaceholderText("code INSEE, 5 caractères")
        self.used_name, self.used_first_name = QLineEdit(), QLineEdit()
        self.used_name.setPlaceholderText("si différent du nom de naissance")
        # A typed identity is provisoire: its status is the lifecycle's (INSi, identity document), never
        # chosen here (identity vigilance; « Qualifier l'identité » in the patient panel).
        self.status = QLabel("provisoire — à qualifier : téléservice INSi et pièce d'identité vérifiée")
        self.status.setWordWrap(True)
        rows: list[tuple[str, QWidget]] = [
            ("Matricule INS", self.matricule),
            ("Autorité (OID)", self.oid),
            ("Nom de naissance", self.birth_name),
            ("Prénoms de naissance", self.first_names),
            ("Sexe", self.sex),
            ("Date de naissance", self.birth_date),
            ("Lieu de naissance", self.birth_place),
            ("Nom utilisé", self.used_name),
            ("Prénom utilisé", self.used_first_name),
            ("Statut de l'identité", self.status),
        ]
        for label, widget in rows:
            form.addRow(label, widget)
        self.problem = QLabel()
        self.problem.setObjectName("probleme")
        self.problem.setWordWrap(True)
        form.addRow(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _check(self) -> None:
        from app.ins import InsError

        try:
            ins = Ins.parse(self.matricule.text(), str(self.oid.currentData()))
            traits = IdentityTraits.parse(
                self.birth_name.text(),
                self.first_names.text(),
                self.sex.currentText(),
                self.birth_date.text(),
                self.birth_place.text() or None,
            )
        except InsError as error:
            self.problem.setText(f"{error.user_message} [{error.code}]")
            return
        used = self.used_name.text().strip() or None, self.used_first_name.text().strip() or None
        self.patient = Patient(ins, traits, "provisoire", "saisie manuelle", None, *used)
        self.accept()
