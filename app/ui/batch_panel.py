"""The secretariat's batch upload: reports matched to a patient and an author (``.dmp.json`` sidecar,
else a known INS matricule in the file name, else a choice in the row), checked row by row (the queue's
checks, the sidecar's rules, the identity qualifiée), then only checked rows queued and drained off the GUI
thread. Each row shows its patient's identity status (the lifecycle's, read off the GUI thread) and, when
it is not qualifiée, the way to qualify it (« Qualifier… », the identity dialog)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.dmp_client.core.context import AuthMode
from app.dmp_client.core.hl7v3 import DmpState
from app.dmp_client.core.valuesets import value_sets
from app.errors import USER_FACING_ERRORS, IdentityNotQualified
from app.ins import IdentityTraits, Ins, InsError
from app.services.identity import IdentityStatus
from app.services.patients import KnownPatient, PatientDirectory, find_ins, search
from app.services.training import sandbox_patients
from app.services.workspace import IdentityState, Patient, Workspace
from app.store.hotfolder import IGNORED_NAMES, IGNORED_SUFFIXES, SIDECAR
from app.store.queue import STATE_LABELS, Entry, State
from app.store.request import IncompleteRequest, UploadRequest
from app.store.sidecar import MAX_SIDECAR, Problem, check_sidecar, problem
from app.ui import qt
from app.ui.identity_dialog import BADGES, IdentityDialog, badge_text
from app.ui.queue_panel import (
    FINAL,
    Guard,
    Notice,
    busy_bar,
    button,
    drain_entries,
    error_text,
    format_size,
    hbox,
    patient_text,
    queue_of,
    reason_text,
    settled,
    table,
    vbox,
)
from app.ui.tasks import Cancel, run_in_background
from app.ui.texts import count
from app.ui.upload_panel import TypeCombo

COLUMNS = (
    "Fichier", "Patient", "Identifié par", "Type", "Titre", "Vérification", "État", "Auteur", "Taille",
    "Identité",
)  # fmt: skip
FILE, PATIENT, SOURCE, TYPE, TITLE, CHECK, STATE, AUTHOR, SIZE, IDENTITY = range(len(COLUMNS))
WIDTHS = {FILE: 170, PATIENT: 280, TYPE: 190, TITLE: 170, CHECK: 240, STATE: 130, AUTHOR: 230, IDENTITY: 150}
SOURCES = {"sidecar": "fichier d'accompagnement", "name": "INS dans le nom", "manual": "choix manuel"}
KEPT = (
    "Envoi interrompu : les documents déjà en file d'envoi ({}) y restent et partiront au prochain envoi "
    "(onglet « File d'envoi ») ; les autres lignes n'ont pas été mises en file."
)

# The check column once a row is queued: it follows the queue (text, error colour).
ROW_STATES = {
    State.QUEUED: ("en file", False),
    State.SENDING: ("en file (envoi en cours)", False),
    State.SENT: ("envoyé", False),
    State.FAILED: ("refusé", True),  # with the host's reason and NEXT_STEP (_show_entries)
    State.CANCELLED: ("annulé : rien n'a été envoyé", True),
}

# An INS matricule (NIR-shaped: sex, year, month, department incl. 2A/2B, commune, order, key) in a
# file name, not part of a longer number.
INS_IN_NAME = re.compile(r"(?<![0-9])[1-8][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}(?![0-9])")
QUALIFY_HINT = " → « Qualifier… » (colonne « Identité »), puis « Vérifier »."
NEXT_STEP = "corrigez le document puis relancez-le depuis l'onglet « File d'envoi »"
OTHER_INS = (
    "DEPOT-INS-DIFFERENT",
    "{where} porte un autre INS ({others}) que celui du patient {chosen} ({ins}) : ligne bloquée. Choisissez "
    "le bon patient, renommez le fichier, ou confirmez le patient (bouton « Confirmer… » de la ligne).",
)
WHERE = {"name": "Le nom du fichier", "sidecar": "Le fichier d'accompagnement"}
CONFIRM = (
    "{where} porte l'INS {others}, le patient {chosen} a l'INS {ins}.\n\nConfirmez-vous que ce document "
    "concerne bien le patient {chosen} ?\n\nSinon, choisissez l'autre patient ou renommez le fichier."
)

# -- rows, matched and checked (no Qt) -------------------------------------------------------------


@dataclass
class Found:  # a report as read off the GUI thread, with its sidecar's bytes (None: no sidecar)
    path: Path
    size: int
    sidecar: bytes | None


@dataclass
class Row:
    found: Found
    source: str  # a key of SOURCES
    patient: Patient | None = None  # from the file name, or chosen (not for sidecar rows)
    confirmed: tuple[str, frozenset[str]] | None = None  # (chosen INS, other INS) the secretary confirmed
    notes: list[str] = field(default_factory=list)  # the host check's remarks (not blocking)
    request: UploadRequest | None = None  # set once the row passed "Vérifier"
    problems: list[Problem] = field(default_factory=list)
    entry: Entry | None = None
    editors: dict[int, Any] = field(default_factory=dict)  # column -> the row's editor (GUI side)
    identity: IdentityState | None = None  # the identity status of the row's patient, as last read


Identity = tuple[Ins, IdentityTraits]


def sidecar_identity(sidecar: bytes | None) -> Identity | None:
    """The sidecar's INS and traits, read tolerantly (a bad sidecar is refused by the check)."""
    try:
        data = json.loads(sidecar) if sidecar is not None else None
        if not isinstance(data, dict):
            return None
        ins = Ins.parse(str(data["ins"]).strip(), str(data.get("oid", "")).strip())
        traits = IdentityTraits.parse(
            str(data["nom"]), str(data["prenoms"]), str(data["sexe"]), str(data["naissance"]),
            str(data["lieu"]) if data.get("lieu") else None,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, InsError):
        return None
    return ins, traits


def row_identity(row: Row) -> Identity | None:
    """Whose identity the row would feed: its sidecar's, else its patient's (with traits)."""
    if row.source == "sidecar":
        return sidecar_identity(row.found.sidecar)
    if row.patient is not None and row.patient.traits is not None:
        return row.patient.ins, row.patient.traits
    return None


def identities(workspace: Workspace, targets: list[tuple[Row, Identity | None]]) -> list[tuple[Row, Any]]:
    """Each row's identity state (off the GUI thread): an IdentityState, None (no identity yet), or
    the error that kept it from being read."""
    found: list[tuple[Row, Any]] = []
    for row, target in targets:
        try:
            found.append((row, workspace.identity(*target) if target is not None else None))
        except USER_FACING_ERRORS as error:
            found.append((row, error))
    return found


Checked = tuple[UploadRequest | None, list[Problem]]


def scan(paths: list[Path]) -> list[Found]:
    """The reports among ``paths`` (a folder: its files, not its subfolders), with their sidecars."""
    files = [c for p in paths for c in (sorted(p.iterdir()) if p.is_dir() else [p]) if c.is_file()]
    found = []
    for path in files:
        lower = path.name.lower()
        skipped = lower.endswith((SIDECAR, *IGNORED_SUFFIXES)) or lower.startswith((".", "~$"))
        if skipped or lower in IGNORED_NAMES:
            continue
        side = path.with_name(path.name + SIDECAR)
        found.append(Found(path, path.stat().st_size, _head(side) if side.is_file() else None))
    return found


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_SIDECAR + 1)  # a longer sidecar is refused (DEPOT-JSON)


def known_patients(
    directory: PatientDirectory, opened: list[Patient], workspace: Workspace
) -> list[KnownPatient]:
    """The patients a row can be matched to (``app.services.patients``): opened in the session (and
    on the left), the EHR's context, the queue's, and in the sandbox its fictitious patients. Reads
    the queue: off the GUI thread."""
    store = workspace.store
    entries = store.queue.entries() if store is not None else []
    sandbox = sandbox_patients() if workspace.settings.is_sandbox else []
    return directory.known(entries, sandbox, extra=opened)


def known_statuses(workspace: Workspace, known: list[KnownPatient]) -> dict[str, IdentityStatus]:
    """The identity status here of each known patient (off the GUI thread; none without a base)."""
    statuses: dict[str, IdentityStatus] = {}
    for k in known:
        ins, traits = k.patient.ins, k.patient.traits
        try:
            statuses[ins.matricule.value] = workspace.identity(ins, traits).status
        except USER_FACING_ERRORS:
            break  # no local base: nothing is said rather than a guess
    return statuses


def names_in(name: str) -> set[str]:
    """The INS matricules a file name carries."""
    return set(INS_IN_NAME.findall(name.upper()))


def sidecar_ins(sidecar: bytes | None) -> str | None:
    """The sidecar's ``ins``, read tolerantly (a sidecar that is not JSON is refused by the check)."""
    try:
        data = json.loads(sidecar) if sidecar is not None else None
    except ValueError:
        return None
    value = data.get("ins") if isinstance(data, dict) else None
    return value.strip().upper() if isinstance(value, str) else None


def match(found: Found, known: list[KnownPatient]) -> Row:
    """Sidecar first, then a known INS matricule in the file name, else a person chooses."""
    if found.sidecar is not None:
        return Row(found, "sidecar")
    hits = [k for ins in sorted(names_in(found.path.name)) if (k := find_ins(known, ins))]
    return Row(found, "name", hits[0].patient) if len(hits) == 1 else Row(found, "manual")


def conflict(row: Row, chosen: str) -> tuple[str, set[str]] | None:
    """``(where, other INS)`` when the file name names another INS than ``chosen`` (the row's
    patient, or its sidecar's), unless the secretary confirmed that very choice."""
    others = names_in(row.found.path.name) - {chosen}
    if not others or row.confirmed == (chosen, frozenset(others)):
        return None
    return "name", others


OTHER_TRAITS = (
    "DEPOT-TRAITS-DIFFERENTS",
    "Les traits d'identité du fichier d'accompagnement (nom, prénoms, sexe, date ou lieu de naissance) "
    "diffèrent de ceux du patient connu pour cet INS ({provenance}) : vérifiez l'identité "
    "(identitovigilance) et corrigez le fichier d'accompagnement.",
)


def same_person(a: IdentityTraits, b: IdentityTraits) -> bool:
    """The traits that identify (birth place only when both give it)."""
    place = a.birth_place is None or b.birth_place is None or a.birth_place == b.birth_place
    same = (a.birth_name, a.first_names, a.sex, a.birth_date) == (
        b.birth_name,
        b.first_names,
        b.sex,
        b.birth_date,
    )
    return same and place


def check(
    row: Row, typed: tuple[str, str, str], sender: dict[str, Any], known: list[KnownPatient] | None = None
) -> Checked:
    """The row's request or all its problems (files read again; the sidecar's rules for every row;
    a sidecar's identity against the known patient of its INS, when there is one)."""
    try:
        found = scan([row.found.path])[0]
    except (OSError, IndexError):
        return None, [("DMP-FICHIER", "Le fichier est introuvable ou illisible.")]
    if row.source == "sidecar" and found.sidecar is None:
        return None, [problem("DEPOT-ORPHELIN", what="fichier d'accompagnement")]
    problems = [problem("DEPOT-VIDE")] if found.size == 0 else []
    sidecar = found.sidecar if row.source == "sidecar" else None
    chosen = row.patient.ins.matricule.value if row.patient and sidecar is None else sidecar_ins(sidecar)
    if chosen and (clash := conflict(row, chosen)) is not None:  # blocked until the secretary resolves it
        problems.append(conflict_problem(row, chosen, clash[1]))
    if sidecar is None:
        (type_code, title, author), patient = typed, row.patient
        traits = patient.traits if patient else None
        if patient is None or traits is None or traits.birth_place is None:
            what = (
                "choisissez son patient" if patient is None else "lieu de naissance (INSEE) ou traits absents"
            )
            return None, [*problems, (IncompleteRequest.code, f"Patient : {what}.")]
        if not type_code:
            return None, [*problems, ("DEPOT-TYPE", "Choisissez le type du document.")]
        data = {"ins": patient.ins.matricule.value, "oid": str(patient.ins.oid), "nom": traits.birth_name,
                "prenoms": " ".join(traits.first_names), "sexe": str(traits.sex),
                "naissance": traits.birth_date.to_french(), "lieu": traits.birth_place, "type": type_code,
                "titre": title, **({"auteur": author} if author else {})}  # fmt: skip
        sidecar = json.dumps(data).encode()
    request, more = check_sidecar(found.path.name, sidecar, **sender)
    problems += more
    if request is not None and row.source == "sidecar" and known:
        same = find_ins(known, request.ins.matricule.value)
        if same is not None and same.patient.traits and not same_person(request.traits, same.patient.traits):
            problems.append((OTHER_TRAITS[0], OTHER_TRAITS[1].format(provenance=same.provenance)))
    if request is not None and not problems:
        try:
            request.check()
        except USER_FACING_ERRORS as error:
            problems.append((getattr(error, "code", ""), getattr(error, "user_message", "")))
    return (None if problems else request), problems


def chosen_text(row: Row) -> str:
    """How the row's patient is named in a message: as the row already shows it, nothing more."""
    return "du fichier d'accompagnement" if row.source == "sidecar" else "choisi"


def conflict_problem(row: Row, chosen: str, others: set[str]) -> Problem:
    where = WHERE["sidecar" if row.source == "sidecar" and not names_in(row.found.path.name) else "name"]
    text = OTHER_INS[1].format(
        where=where, others=", ".join(sorted(others)), chosen=chosen_text(row), ins=chosen
    )
    return OTHER_INS[0], text


NO_DMP = ("DEPOT-SANS-DMP", "Ce patient n'a pas de DMP (TD0.2) : rien ne peut y être déposé.")
CLOSED_DMP = ("DEPOT-DMP-FERME", "Le DMP de ce patient est fermé (TD0.2) : aucun dépôt possible.")
# [UNSURE] PDSM4DMP "Entrée et prérequis": before a document transaction the PS authorisation must be
# VALIDE, but "feeding-only profiles may skip the authorisation" (docs/dmp-client.md; the client's own
# TD2.1 path skips it too). So by default an authorisation other than VALIDE is told in the row, not
# blocking; the setting DMP_DEPOT_AUTORISATION_REQUISE = 1 makes it block.
NOT_AUTHORIZED = ("DEPOT-NON-AUTORISE", "{who} n'est pas autorisé(e) sur ce DMP (TD0.2 : {value}) : {then}.")
THEN = ("le dépôt (alimentation) reste permis, pas la consultation", "aucun dépôt possible (réglage strict)")
UNCHECKED = "DMP non vérifié (hôte injoignable ou erreur) : la file d'envoi attendra l'hôte."
HostChecked = tuple[Row, Checked, list[str]]


def check_on_host(
    workspace: Workspace, results: list[tuple[Row, Checked]], strict: bool | None = None
) -> list[HostChecked]:
    """Rows that passed the local checks are checked against the host (TD0.2): the DMP exists, is
    open, and what the authorisation of the one sending (the structure, in structure mode; the card
    holder in card mode) is. Without a session or a host answer the row stays ready, with a note:
    the queue waits for the host."""
    client, checked = workspace.client, []
    strict = workspace.settings.feeding_needs_authorization if strict is None else strict
    structure = workspace.connection is not None and workspace.connection.mode is AuthMode.INDIRECT
    who = "La structure" if structure else "Le professionnel connecté"
    for row, (request, problems) in results:
        notes: list[str] = []
        if request is not None:  # only a qualifiée identity is fed: the row is blocked before queueing
            try:
                workspace.require_qualified(request.ins, request.traits)
            except USER_FACING_ERRORS as error:
                request, problems = (
                    None,
                    [*problems, (getattr(error, "code", ""), getattr(error, "user_message", ""))],
                )
        if request is not None and client is not None:
            try:
                client.forget_status(request.ins)  # "Vérifier" asks the host now, not a cached answer
                status = client.status(request.ins)
            except USER_FACING_ERRORS:
                status = None
                notes.append(UNCHECKED)
            if status is not None and not status.exists:
                request, problems = None, [*problems, NO_DMP]
            elif status is not None and status.state is DmpState.CLOSED:
                request, problems = None, [*problems, CLOSED_DMP]
            elif status is not None and not status.authorized:
                code, text = (
                    NOT_AUTHORIZED[0],
                    NOT_AUTHORIZED[1].format(
                        who=who, value=status.authorization or "absente", then=THEN[strict]
                    ),
                )
                if strict:
                    request, problems = None, [*problems, (code, text)]
                else:
                    notes.append(f"{text} [{code}]")
        checked.append((row, (request, problems), notes))
    return checked


# -- the panel -------------------------------------------------------------------------------------


class PatientPicker(qt.QDialog):
    """Choose a row's patient among the known ones: a search field (name, birth date, INS; accents
    and case ignored) over the list, each patient with its provenance and its identity status on this
    workstation (``statuses``, the lifecycle's, read off the GUI thread; never the status a source
    claims)."""

    def __init__(
        self,
        known: list[KnownPatient],
        parent: qt.QWidget | None = None,
        statuses: dict[str, IdentityStatus] | None = None,
    ) -> None:
        super().__init__(parent)
        self.statuses = statuses or {}
        self.setWindowTitle("Choisir le patient du document")
        self.known = known
        self.search = qt.QLineEdit(placeholderText="nom, prénom, date de naissance (JJ/MM/AAAA) ou INS…")
        self.list = qt.QListWidget()
        self.count = qt.QLabel()
        buttons = qt.QDialogButtonBox(
            qt.QDialogButtonBox.StandardButton.Ok | qt.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(qt.QDialogButtonBox.StandardButton.Ok).setText("&Choisir")
        buttons.button(qt.QDialogButtonBox.StandardButton.Cancel).setText("&Annuler")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        self.search.textChanged.connect(self.refresh)
        vbox(self.search, (self.list, 1), self.count, buttons, parent=self)
        self.resize(620, 380)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        found = search(self.known, self.search.text())
        for known in found:
            p = known.patient
            status = self.statuses.get(p.ins.matricule.value)
            said = f"identité {status.value} sur ce poste" if status else "statut de l'identité non lu"
            item = qt.QListWidgetItem(f"{patient_text(p.ins, p.traits)}\n   {known.provenance} · {said}")
            item.setData(qt.Qt.ItemDataRole.UserRole, p)
            self.list.addItem(item)
        if found:
            self.list.setCurrentRow(0)
        self.count.setText(f"{count(len(found), 'patient connu', 'patients connus')} sur {len(self.known)}")

    def chosen(self) -> Patient | None:
        item = self.list.currentItem()
        patient = item.data(qt.Qt.ItemDataRole.UserRole) if item is not None else None
        return patient if isinstance(patient, Patient) else None


class BatchPanel(qt.QWidget):
    def __init__(
        self,
        workspace: Workspace,
        patients: Callable[[], list[Patient]],
        directory: PatientDirectory | None = None,
    ) -> None:
        super().__init__()
        self.workspace, self.patients = workspace, patients
        self.directory = directory or PatientDirectory()
        self.rows: list[Row] = []
        self.known: list[KnownPatient] = []  # the patients rows can be matched to (known_patients)
        self.known_statuses: dict[str, IdentityStatus] = {}  # INS matricule -> identity status here
        self._polling = False
        self._job: Cancel | None = None
        self._guard = Guard(self)
        self.summary = qt.QLabel("Aucun document.")
        self.default_type = TypeCombo("— type par défaut —")
        self.default_title = qt.QLineEdit(placeholderText="titre par défaut (vide : nom du type)")
        self.table = table(COLUMNS, WIDTHS)
        self.table.setWordWrap(True)  # a row's problems are read in full in the row
        self.table.setSelectionMode(qt.QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()  # problems seen in the row, not scrolled away
        for offset, column in enumerate((CHECK, STATE, IDENTITY), 1):
            header.moveSection(header.visualIndex(column), header.visualIndex(FILE) + offset)
        self.message, self.progress = Notice(), busy_bar()
        self.cancel_button = button("Annuler", self.cancel)
        self.cancel_button.setVisible(False)
        self.check_button = button("Vérifier", self.check_rows)
        self.queue_button = button("Mettre en file et envoyer", self.queue_rows)
        self.setAcceptDrops(True)  # several files dropped at once onto the batch
        self.table.setToolTip("Déposez ici un ou plusieurs comptes rendus (ou un dossier)")
        self.poll = qt.QTimer(self, interval=400)
        self.poll.timeout.connect(self._poll)
        files, folder = (
            button("Ajouter des fichiers…", self.choose_files),
            button("Ajouter un dossier…", self.choose_folder),
        )
        apply = button("Appliquer aux lignes sans fichier d'accompagnement", self.apply_defaults)
        vbox(
            hbox(files, folder, button("Retirer la sélection", self.remove_selected), 1, self.summary),
            hbox(qt.QLabel("Par défaut :"), (self.default_type, 2), (self.default_title, 2), apply),
            (self.table, 1),
            hbox((self.message, 1), self.progress, self.cancel_button, self.check_button, self.queue_button),
            parent=self,
        )

    # -- adding ---------------------------------------------------------------------------------

    def handle_drop(self, mime: qt.QMimeData) -> bool:
        """Files (or folders) dropped onto the batch: a row for each report, as "Ajouter" does."""
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        if paths:
            self.add_paths(paths)
        return bool(paths)

    def dragEnterEvent(self, event: qt.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: qt.QDropEvent) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()

    def choose_files(self) -> None:
        names, _ = qt.QFileDialog.getOpenFileNames(self, "Ajouter des comptes rendus")
        self.add_paths([Path(n) for n in names])

    def choose_folder(self) -> None:
        if name := qt.QFileDialog.getExistingDirectory(self, "Ajouter les comptes rendus d'un dossier"):
            self.add_paths([Path(name)])

    def add_paths(self, paths: list[Path]) -> None:
        """Read the files and their sidecars off the GUI thread, then add a row for each new one."""

        opened, directory, workspace = self.patients(), self.directory, self.workspace

        def added(result: tuple[list[Found], list[KnownPatient], dict[str, IdentityStatus]]) -> None:
            found, self.known, self.known_statuses = result
            present = {r.found.path for r in self.rows}
            for item in found:
                if item.path not in present:
                    self._add_row(match(item, self.known))
            self._summarize()
            self.refresh_identities()

        failed = self._guard(lambda e: self.message.say("Dossier ou fichier illisible. [DMP-FICHIER]", True))

        def work() -> tuple[list[Found], list[KnownPatient], dict[str, IdentityStatus]]:
            known = known_patients(directory, opened, workspace)
            return scan(paths), known, known_statuses(workspace, known)

        run_in_background(work, self._guard(added), failed)

    def _add_row(self, row: Row) -> None:
        self.rows.append(row)
        n = len(self.rows) - 1
        self.table.setRowCount(n + 1)
        for column, text in ((FILE, row.found.path.name), (SIZE, format_size(row.found.size)),
                             (SOURCE, SOURCES[row.source]), (CHECK, "à vérifier"), (STATE, "—"),
                             (IDENTITY, "—")):  # fmt: skip
            self._cell(n, column, text)
        if row.source == "sidecar":
            for column in (PATIENT, AUTHOR, TYPE, TITLE):
                self._cell(n, column, "—")
            return
        chooser = button("", lambda: self.pick_patient(row))
        chooser.setToolTip("Choisir le patient parmi les patients connus (recherche par nom, date, INS)")
        chooser.setStyleSheet("text-align: left; padding-left: 4px")  # the name first, never cut off
        author = qt.QLineEdit(placeholderText="IdNat|Prénom|NOM|G15_xx/SMyy (vide : auteur de la structure)")
        kind, title = TypeCombo(), qt.QLineEdit(self.default_title.text())
        kind.select(self.default_type.current())
        kind.currentIndexChanged.connect(lambda _: self._type_chosen(row))
        for edit in (author, title):
            edit.textChanged.connect(lambda _: self._invalidate(row))
        row.editors = {PATIENT: chooser, AUTHOR: author, TYPE: kind, TITLE: title}
        for column, widget in row.editors.items():
            self.table.setCellWidget(n, column, widget)
        self._show_patient(row)
        self._type_chosen(row)

    def _show_patient(self, row: Row) -> None:
        p = row.patient
        row.editors[PATIENT].setText(patient_text(p.ins, p.traits) if p else "Choisir le patient…")

    def pick_patient(self, row: Row) -> None:
        """The picker over every known patient; the chosen one becomes the row's patient."""
        picker = PatientPicker(self.known, self, self.known_statuses)
        if row.patient is not None:
            picker.search.setText(row.patient.ins.matricule.value)
        if picker.exec() == qt.QDialog.DialogCode.Accepted and (patient := picker.chosen()) is not None:
            self.set_patient(row, patient)

    def set_patient(self, row: Row, patient: Patient) -> None:
        if row.entry is not None or row not in self.rows:
            return
        row.patient, row.source, row.confirmed = patient, "manual", None  # a new choice, confirmed anew
        self._cell(self.rows.index(row), SOURCE, SOURCES["manual"])
        self._show_patient(row)
        self._invalidate(row)
        self.refresh_identities([row])

    def resolve(self, row: Row) -> None:
        """The secretary confirms the row's patient despite the other INS its file names: asked with
        the conflict spelt out (the INS only, as the row already shows them)."""
        chosen = row.patient.ins.matricule.value if row.patient and row.source != "sidecar" else None
        chosen = chosen or sidecar_ins(row.found.sidecar) or ""
        clash = conflict(row, chosen)
        if clash is None or row.entry is not None:
            return
        others = ", ".join(sorted(clash[1]))
        text = CONFIRM.format(where=WHERE["name"], others=others, chosen=chosen_text(row), ins=chosen)
        answer = qt.QMessageBox.question(self, "Identitovigilance : INS différent", text)
        if answer == qt.QMessageBox.StandardButton.Yes:
            row.confirmed = (chosen, frozenset(clash[1]))
            self._invalidate(row)

    def _cell(self, n: int, column: int, text: str, error: bool = False, tip: str | None = None) -> None:
        item = qt.QTableWidgetItem(text)
        item.setToolTip(tip or text)
        if error:
            item.setForeground(qt.QColor("#a40000"))
        self.table.setItem(n, column, item)

    def _type_chosen(self, row: Row) -> None:
        kind, title = row.editors[TYPE], row.editors[TITLE]
        concept = value_sets().type_codes.get(kind.current())
        if concept is not None and not title.text().strip():
            title.setText(concept.display_name)
            title.setCursorPosition(0)
        self._invalidate(row)

    def _invalidate(self, row: Row) -> None:
        """An edited row must be checked again before it can be queued."""
        if row.entry is None and row in self.rows:
            row.request, row.problems, row.notes = None, [], []
            n = self.rows.index(row)
            self._cell(n, CHECK, "à vérifier")
            self._show_resolve(row, n)

    def apply_defaults(self) -> None:
        for row in self.rows:
            if row.entry is None and row.editors:
                row.editors[TITLE].setText(self.default_title.text())
                row.editors[TYPE].select(self.default_type.current())
                self._type_chosen(row)

    def remove_selected(self) -> None:
        for n in sorted({i.row() for i in self.table.selectionModel().selectedRows()}, reverse=True):
            if self.rows[n].entry is None and self._job is None:
                self.rows.pop(n)
                self.table.removeRow(n)
        self._summarize()

    # -- checking -------------------------------------------------------------------------------

    def _sender(self) -> dict[str, Any]:
        mode, professional = self.workspace.send_mode()
        creds, connection = self.workspace.settings.structure, self.workspace.connection
        name = creds.structure_name if creds else connection.structure if connection else ""
        structure = creds.structure_id if creds else ""
        return {"mode": mode, "professional": professional, "structure_id": structure, "structure_name": name}

    def check_rows(self) -> None:
        """Check every row not yet queued, its files read again off the GUI thread."""
        try:
            sender = self._sender()
        except USER_FACING_ERRORS as error:
            return self.message.say(error_text(error), True)
        todo = [(row, self._typed(row)) for row in self.rows if row.entry is None]

        def checked(outcome: tuple[list[HostChecked], list[tuple[Row, Any]]]) -> None:
            results, states = outcome
            self._show_identities(states)
            for row, (request, problems), notes in results:
                if row in self.rows and row.entry is None:
                    row.request, row.problems, row.notes = request, problems, notes
                    self._show_check(row)
            self._summarize()
            blocked = sum(bool(problems) for _, (_, problems), _ in results)
            fix = f"{count(blocked, 'ligne')} à corriger (voir « Vérification »)"
            text = fix if blocked else "tout est prêt"
            self.message.say(f"Vérification faite : {text}.", blocked > 0)

        failed = self._guard(lambda e: self.message.say(f"Vérification impossible : {error_text(e)}", True))
        known = self.known
        workspace = self.workspace
        targets = [(r, row_identity(r)) for r, _ in todo]

        def work() -> tuple[list[HostChecked], list[tuple[Row, Any]]]:
            states = identities(workspace, targets)  # the status shown beside what « Vérifier » says
            return check_on_host(workspace, [(r, check(r, t, sender, known)) for r, t in todo]), states

        run_in_background(work, self._guard(checked), failed)

    # -- the rows' identities -------------------------------------------------------------------

    def refresh_identities(self, rows: list[Row] | None = None) -> None:
        """The identity status of the rows (all by default) read again off the GUI thread."""
        targets = [(r, row_identity(r)) for r in (self.rows if rows is None else rows) if r in self.rows]
        workspace = self.workspace
        if targets:
            run_in_background(lambda: identities(workspace, targets), self._guard(self._show_identities))

    def _show_identities(self, states: list[tuple[Row, Any]]) -> None:
        for row, state in states:
            if row not in self.rows:
                continue
            n = self.rows.index(row)
            row.identity = state if isinstance(state, IdentityState) else None
            if self.table.cellWidget(n, IDENTITY) is not None:
                self.table.removeCellWidget(n, IDENTITY)
            if state is None:
                self._cell(n, IDENTITY, "— (patient à choisir)")
                continue
            if not isinstance(state, IdentityState):
                self._cell(n, IDENTITY, f"statut illisible : {error_text(state)}", True)
                continue
            target = row_identity(row)
            self._cell(n, IDENTITY, "")
            cell = qt.QWidget()
            label = qt.QLabel(badge_text(state.status))
            label.setStyleSheet(f"color: {BADGES[state.status][2]}; font-weight: bold")
            label.setAccessibleName(f"Statut de l'identité : {state.status.value}")
            parts: list[Any] = [label]
            if not state.qualified and target is not None:
                qualify = button("Qualifier…", functools.partial(self.qualify_row, row))
                qualify.setToolTip(
                    "Qualifier l'identité (téléservice INSi, pièce d'identité vérifiée) : sans identité "
                    "qualifiée, le document n'est pas envoyé"
                )
                parts.append(qualify)
            layout = vbox(*parts)
            layout.addStretch(1)  # the status at the top of a tall row, the button under it
            layout.setContentsMargins(4, 2, 4, 2)
            layout.setSpacing(2)
            cell.setLayout(layout)
            self.table.setCellWidget(n, IDENTITY, cell)
            self.table.resizeRowToContents(n)

    def qualify_row(self, row: Row) -> IdentityDialog | None:
        """« Qualifier l'identité » for the row's patient; once changed, the rows of that INS show the
        new status and are to be checked again (« Vérifier »)."""
        target = row_identity(row)
        if target is None or row not in self.rows:
            return None
        ins, traits = target
        patient = row.patient if row.source != "sidecar" and row.patient else Patient(ins, traits, "", "")
        dialog = IdentityDialog(self.workspace, patient, self)
        dialog.setAttribute(qt.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.changed.connect(self._guard(lambda state: self._qualified(ins, state)))
        if row.source != "sidecar":  # INSi's identity becomes the row's patient (a sidecar's stays)
            dialog.replaced.connect(self._guard(lambda new: self.set_patient(row, new)))
        dialog.open()
        return dialog

    def _qualified(self, ins: Ins, state: IdentityState) -> None:
        same = [r for r in self.rows if (t := row_identity(r)) is not None and t[0] == ins]
        for row in same:
            if row.entry is None and any(code == IdentityNotQualified.code for code, _ in row.problems):
                self._invalidate(row)  # blocked for its identity: « Vérifier » again
        self.refresh_identities(same)
        if state.qualified:
            self.message.say("Identité qualifiée : « Vérifier » de nouveau les lignes de ce patient.")

    @staticmethod
    def _typed(row: Row) -> tuple[str, str, str]:
        e = row.editors
        return (e[TYPE].current(), e[TITLE].text().strip(), e[AUTHOR].text().strip()) if e else ("", "", "")

    def _show_resolve(self, row: Row, n: int) -> None:
        """A row blocked by another INS gets its « Confirmer… » button (in « Identifié par »)."""
        blocked = any(code == OTHER_INS[0] for code, _ in row.problems) and row.entry is None
        if blocked:
            resolve = button("Confirmer…", lambda: self.resolve(row))
            resolve.setToolTip("Confirmer le patient malgré l'autre INS du nom du fichier")
            self.table.setCellWidget(n, SOURCE, resolve)
        elif self.table.cellWidget(n, SOURCE) is not None:
            self.table.removeCellWidget(n, SOURCE)

    def _show_check(self, row: Row) -> None:
        n, request = self.rows.index(row), row.request
        self._show_resolve(row, n)
        if request is None:
            lines = [f"{message} [{code}]{QUALIFY_HINT if code == IdentityNotQualified.code else ''}"
                     for code, message in row.problems]  # fmt: skip
            head = f"{count(len(lines), 'problème')} :"
            text = (
                "\n".join([head, *lines])
                if len(lines) > 1
                else f"{head} {lines[0]}"
                if lines
                else "à vérifier"
            )
            self._cell(n, CHECK, text, bool(lines))
            return self.table.resizeRowToContents(n)
        if row.source == "sidecar":
            a = request.author
            author = f"{a.person.given} {a.person.family}" if a else "auteur de la structure"
            kind = value_sets().type_codes[request.type_code].display_name
            for column, text in ((PATIENT, patient_text(request.ins, request.traits)), (AUTHOR, author),
                                 (TYPE, kind), (TITLE, request.title)):  # fmt: skip
                self._cell(n, column, text)
        notes = "".join(f"\n{note}" for note in row.notes)
        if row.confirmed is not None:
            notes += (
                f"\nPatient confirmé malgré l'INS {', '.join(sorted(row.confirmed[1]))} du nom du fichier."
            )
        self._cell(n, CHECK, f"prêt à mettre en file{notes}")
        self.table.resizeRowToContents(n)

    def _summarize(self) -> None:
        ready = sum(r.request is not None and r.entry is None for r in self.rows)
        blocked, queued = sum(bool(r.problems) for r in self.rows), sum(bool(r.entry) for r in self.rows)
        entries = [r.entry for r in self.rows if r.entry is not None]
        sent, refused = (sum(e.state is state for e in entries) for state in (State.SENT, State.FAILED))
        outcome = f" ({count(sent, 'envoyé')}, {count(refused, 'refusé')})" if sent or refused else ""
        self.summary.setText(
            f"{count(len(self.rows), 'document')} : {count(ready, 'prêt')}, {blocked} à corriger, "
            f"{queued} mis en file{outcome}"
        )

    # -- queueing and sending -------------------------------------------------------------------

    def queue_rows(self) -> None:
        """Queue the rows that passed "Vérifier" (durable, one by one), then drain them."""
        ready = [(row, row.request) for row in self.rows if row.request is not None and row.entry is None]
        if self._job is not None or not ready:
            return self.message.say("Aucune ligne vérifiée à mettre en file : « Vérifier » d'abord.")
        token = self._job = Cancel()
        self.poll.setInterval(400)  # close follow while this panel sends
        self._busy(True, len(ready))
        self.message.say(f"Mise en file de {count(len(ready), 'document')}…")

        refused: list[tuple[Row, IdentityNotQualified]] = []

        def enqueue(cancel: Cancel) -> list[tuple[Row, Entry]]:
            done = []
            for row, request in ready:
                if cancel.requested:
                    break
                try:
                    done.append((row, self.workspace.enqueue(request, row.found.path)))
                except IdentityNotQualified as error:  # its status changed since « Vérifier »
                    refused.append((row, error))
            return done

        def enqueued(done: list[tuple[Row, Entry]]) -> None:
            for row, error in refused:
                row.request, row.problems = None, [(error.code, error.user_message)]
                self._show_check(row)
            self.refresh_identities([row for row, _ in refused])
            for row, entry in done:
                row.entry = entry
            self._show_entries([entry for _, entry in done])
            self._summarize()
            ids = [entry.id for _, entry in done]
            self.poll.start()  # the rows follow their entries from now on
            if refused and not ids and not token.requested:
                blocked = count(len(refused), "ligne bloquée", "lignes bloquées")
                text = f"{blocked} : identité non qualifiée (voir « Vérification »)."
                return self._finish(token, text, True)
            if token.requested or not ids:
                return self._finish(token, KEPT.format(len(ids)))
            self.message.say(f"{count(len(ids), 'document')} en file d'envoi : envoi au DMP…")
            drained = self._guard(lambda entries: self._drained(token, entries))
            failed = self._guard(lambda e: self._finish(token, f"Envoi interrompu : {error_text(e)}", True))
            run_in_background(lambda: drain_entries(self.workspace, ids, token), drained, failed)

        failed = self._guard(lambda e: self._finish(token, f"Mise en file refusée : {error_text(e)}", True))
        run_in_background(lambda: enqueue(token), self._guard(enqueued), failed)

    def _poll(self) -> None:
        """The queued rows' entries read again (off the GUI thread): the rows follow the queue while
        it drains, whoever drains it (this panel, the background drain, « File d'envoi »)."""
        ids = [r.entry.id for r in self.rows if r.entry is not None and r.entry.state not in FINAL]
        if not ids and self._job is None:
            return self.poll.stop()
        if self._polling or not ids:
            return
        self._polling, queue = True, queue_of(self.workspace)

        def done(entries: list[Entry]) -> None:
            self._polling = False
            self._show_entries(entries)

        def failed(error: BaseException) -> None:
            self._polling = False

        run_in_background(lambda: [queue.get(i) for i in ids], self._guard(done), self._guard(failed))

    def _show_entries(self, entries: list[Entry]) -> None:
        fresh = {e.id: e for e in entries}
        for n, row in enumerate(self.rows):
            if row.entry is not None and (entry := fresh.get(row.entry.id)) is not None:
                row.entry = entry
                why = f" — {reason_text(entry)}" if entry.reason and entry.state is not State.SENT else ""
                self._cell(n, STATE, f"{STATE_LABELS[entry.state]} (n° {entry.id}){why}")
                label, error = ROW_STATES.get(entry.state, ROW_STATES[State.QUEUED])
                if entry.state is State.FAILED:
                    label = f"{label} : {reason_text(entry) or 'motif non donné'}\nÀ faire : {NEXT_STEP}."
                self._cell(n, CHECK, label, error)
                self.table.resizeRowToContents(n)
        self.progress.setValue(sum(settled(e, e.created_at) for e in entries))
        self._summarize()

    def _drained(self, token: Cancel, entries: list[Entry]) -> None:
        self._show_entries(entries)  # the poll goes on while entries wait (drained later, elsewhere)
        sent, failed = (sum(e.state is s for e in entries) for s in (State.SENT, State.FAILED))
        text = (
            f"Envoi terminé : {count(sent, 'envoyé')}, {count(failed, 'refusé')}, "
            f"{len(entries) - sent - failed} en attente"
        )
        self._finish(token, text, failed > 0)

    def cancel(self) -> None:
        """Stop: no further row is queued and the panel stops waiting; what is queued stays queued."""
        if self._job is not None and not self._job.requested:
            self._job.request()
            self._finish(self._job, KEPT.format(sum(r.entry is not None for r in self.rows)))

    def _finish(self, token: Cancel, text: str, error: bool = False) -> None:
        if self._job is token:
            self._job = None
            self._busy(False, 0)
            self.poll.setInterval(2000)  # entries still waiting: followed, at a calmer pace
        if self._job is None:  # a late result is still told, unless a newer job runs
            self.message.say(text, error)

    def _busy(self, busy: bool, count: int) -> None:
        self.progress.setVisible(busy)
        self.progress.setRange(0, count)
        self.progress.setValue(0)
        self.cancel_button.setVisible(busy)
        self.check_button.setEnabled(not busy)
        self.queue_button.setEnabled(not busy)
