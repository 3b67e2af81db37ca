"""The secretariat's batch upload: reports matched to a patient and an author (``.dmp.json`` sidecar,
else a known INS matricule in the file name, else a choice in the row), checked row by row (the queue's
checks, the sidecar's rules), then only checked rows queued and drained off the GUI thread."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.dmp_client.core.hl7v3 import DmpState
from app.dmp_client.core.valuesets import value_sets
from app.errors import USER_FACING_ERRORS
from app.services.training import sandbox_patients
from app.services.workspace import Patient, Workspace
from app.store.hotfolder import IGNORED_NAMES, IGNORED_SUFFIXES, SIDECAR
from app.store.queue import STATE_LABELS, Entry, State
from app.store.request import IncompleteRequest, UploadRequest
from app.store.sidecar import MAX_SIDECAR, Problem, check_sidecar, problem
from app.ui import qt
from app.ui.queue_panel import (
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

COLUMNS = ("Fichier", "Patient", "Identifié par", "Type", "Titre", "Vérification", "État", "Auteur", "Taille")
FILE, PATIENT, SOURCE, TYPE, TITLE, CHECK, STATE, AUTHOR, SIZE = range(len(COLUMNS))
WIDTHS = {FILE: 170, PATIENT: 280, TYPE: 190, TITLE: 170, CHECK: 240, STATE: 130, AUTHOR: 230}
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
    State.FAILED: ("refusé : motif dans « État » ; corrigez puis relancez depuis « File d'envoi »", True),
    State.CANCELLED: ("annulé : rien n'a été envoyé", True),
}

# An INS matricule (NIR-shaped: sex, year, month, department incl. 2A/2B, commune, order, key) in a
# file name, not part of a longer number.
INS_IN_NAME = re.compile(r"(?<![0-9])[1-8][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}(?![0-9])")
OTHER_INS = (
    "DEPOT-INS-DIFFERENT",
    "Le nom du fichier porte un autre INS ({}) que celui du patient choisi : vérifiez le patient "
    "(identitovigilance) ou renommez le fichier.",
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
    request: UploadRequest | None = None  # set once the row passed "Vérifier"
    problems: list[Problem] = field(default_factory=list)
    entry: Entry | None = None
    editors: dict[int, Any] = field(default_factory=dict)  # column -> the row's editor (GUI side)


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


def known_patients(opened: list[Patient], sandbox: bool) -> list[Patient]:
    """The patients a row can be matched to: those opened on the left, then (sandbox) every fictitious
    patient of the sandbox; one per INS, the opened identity first."""
    seen: dict[str, Patient] = {}
    for patient in [*opened, *(sandbox_patients() if sandbox else [])]:
        seen.setdefault(patient.ins.matricule.value, patient)
    return list(seen.values())


def match(found: Found, patients: list[Patient]) -> Row:
    """Sidecar first, then a known INS matricule in the file name, else a person chooses."""
    if found.sidecar is not None:
        return Row(found, "sidecar")
    known = next((p for p in patients if p.ins.matricule.value in found.path.name.upper()), None)
    return Row(found, "name" if known else "manual", known)


def check(row: Row, typed: tuple[str, str, str], sender: dict[str, Any]) -> Checked:
    """The row's request or all its problems (files read again; the sidecar's rules for every row)."""
    try:
        found = scan([row.found.path])[0]
    except (OSError, IndexError):
        return None, [("DMP-FICHIER", "Le fichier est introuvable ou illisible.")]
    if row.source == "sidecar" and found.sidecar is None:
        return None, [problem("DEPOT-ORPHELIN", what="fichier d'accompagnement")]
    problems = [problem("DEPOT-VIDE")] if found.size == 0 else []
    sidecar = found.sidecar if row.source == "sidecar" else None
    if sidecar is None:
        (type_code, title, author), patient = typed, row.patient
        traits = patient.traits if patient else None
        if patient is None or traits is None or traits.birth_place is None:
            what = (
                "choisissez son patient" if patient is None else "lieu de naissance (INSEE) ou traits absents"
            )
            return None, [*problems, (IncompleteRequest.code, f"Patient : {what}.")]
        others = sorted(set(INS_IN_NAME.findall(found.path.name.upper())) - {patient.ins.matricule.value})
        if others:  # the file names another patient: blocked until the secretary resolves it
            problems.append((OTHER_INS[0], OTHER_INS[1].format(", ".join(others))))
        if not type_code:
            return None, [*problems, ("DEPOT-TYPE", "Choisissez le type du document.")]
        data = {"ins": patient.ins.matricule.value, "oid": str(patient.ins.oid), "nom": traits.birth_name,
                "prenoms": " ".join(traits.first_names), "sexe": str(traits.sex),
                "naissance": traits.birth_date.to_french(), "lieu": traits.birth_place, "type": type_code,
                "titre": title, **({"auteur": author} if author else {})}  # fmt: skip
        sidecar = json.dumps(data).encode()
    request, more = check_sidecar(found.path.name, sidecar, **sender)
    problems += more
    if request is not None and not problems:
        try:
            request.check()
        except USER_FACING_ERRORS as error:
            problems.append((getattr(error, "code", ""), getattr(error, "user_message", "")))
    return (None if problems else request), problems


NO_DMP = ("DEPOT-SANS-DMP", "Ce patient n'a pas de DMP (TD0.2) : rien ne peut y être déposé.")
CLOSED_DMP = ("DEPOT-DMP-FERME", "Le DMP de ce patient est fermé (TD0.2) : aucun dépôt possible.")


def check_on_host(workspace: Workspace, results: list[tuple[Row, Checked]]) -> list[tuple[Row, Checked]]:
    """Rows that passed the local checks are checked against the host (TD0.2): the DMP exists and is
    open. Without a session or a host answer the row stays ready: the queue waits for the host."""
    client, checked = workspace.client, []
    for row, (request, problems) in results:
        if request is not None and client is not None:
            try:
                status = client.status(request.ins)
            except USER_FACING_ERRORS:
                status = None
            if status is not None and not status.exists:
                request, problems = None, [*problems, NO_DMP]
            elif status is not None and status.state is DmpState.CLOSED:
                request, problems = None, [*problems, CLOSED_DMP]
        checked.append((row, (request, problems)))
    return checked


# -- the panel -------------------------------------------------------------------------------------


class BatchPanel(qt.QWidget):
    def __init__(self, workspace: Workspace, patients: Callable[[], list[Patient]]) -> None:
        super().__init__()
        self.workspace, self.patients = workspace, patients
        self.rows: list[Row] = []
        self.known: list[Patient] = []  # the patients rows can be matched to (known_patients)
        self._job: Cancel | None = None
        self._guard = Guard(self)
        self.summary = qt.QLabel("Aucun document.")
        self.default_type = TypeCombo("— type par défaut —")
        self.default_title = qt.QLineEdit(placeholderText="titre par défaut (vide : nom du type)")
        self.table = table(COLUMNS, WIDTHS)
        self.table.setSelectionMode(qt.QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()  # problems seen in the row, not scrolled away
        for column in (CHECK, STATE):
            header.moveSection(header.visualIndex(column), header.visualIndex(FILE) + 1 + (column == STATE))
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

        opened, sandbox = self.patients(), self.workspace.settings.is_sandbox

        def added(result: tuple[list[Found], list[Patient]]) -> None:
            found, self.known = result
            present = {r.found.path for r in self.rows}
            for item in found:
                if item.path not in present:
                    self._add_row(match(item, self.known))
            self._summarize()

        failed = self._guard(lambda e: self.message.say("Dossier ou fichier illisible. [DMP-FICHIER]", True))
        work = lambda: (scan(paths), known_patients(opened, sandbox))  # noqa: E731
        run_in_background(work, self._guard(added), failed)

    def _add_row(self, row: Row) -> None:
        self.rows.append(row)
        n = len(self.rows) - 1
        self.table.setRowCount(n + 1)
        for column, text in ((FILE, row.found.path.name), (SIZE, format_size(row.found.size)),
                             (SOURCE, SOURCES[row.source]), (CHECK, "à vérifier"), (STATE, "—")):  # fmt: skip
            self._cell(n, column, text)
        if row.source == "sidecar":
            for column in (PATIENT, AUTHOR, TYPE, TITLE):
                self._cell(n, column, "—")
            return
        chooser = qt.QComboBox()
        chooser.addItem("— choisir le patient —", None)
        # A search among the known patients: type part of the name, the birth date or the INS.
        chooser.setEditable(True)
        chooser.setInsertPolicy(qt.QComboBox.InsertPolicy.NoInsert)
        completer, line = chooser.completer(), chooser.lineEdit()
        assert completer is not None and line is not None  # an editable combo box has both
        completer.setFilterMode(qt.Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(qt.QCompleter.CompletionMode.PopupCompletion)
        completer.setCaseSensitivity(qt.Qt.CaseSensitivity.CaseInsensitive)
        line.setPlaceholderText("nom, date de naissance ou INS…")
        for patient in self.known or self.patients():
            chooser.addItem(patient_text(patient.ins, patient.traits), patient)
            if row.patient is not None and patient.ins == row.patient.ins:
                chooser.setCurrentIndex(chooser.count() - 1)
                line.setCursorPosition(0)  # the name shown, not the end of the INS
        chooser.currentIndexChanged.connect(lambda _: self._patient_chosen(row))
        author = qt.QLineEdit(placeholderText="IdNat|Prénom|NOM|G15_xx/SMyy (vide : auteur de la structure)")
        kind, title = TypeCombo(), qt.QLineEdit(self.default_title.text())
        kind.select(self.default_type.current())
        kind.currentIndexChanged.connect(lambda _: self._type_chosen(row))
        for edit in (author, title):
            edit.textChanged.connect(lambda _: self._invalidate(row))
        row.editors = {PATIENT: chooser, AUTHOR: author, TYPE: kind, TITLE: title}
        for column, widget in row.editors.items():
            self.table.setCellWidget(n, column, widget)
        self._type_chosen(row)

    def _cell(self, n: int, column: int, text: str, error: bool = False, tip: str | None = None) -> None:
        item = qt.QTableWidgetItem(text)
        item.setToolTip(tip or text)
        if error:
            item.setForeground(qt.QColor("#a40000"))
        self.table.setItem(n, column, item)

    def _patient_chosen(self, row: Row) -> None:
        row.patient, row.source = row.editors[PATIENT].currentData(), "manual"
        self._cell(self.rows.index(row), SOURCE, SOURCES["manual"])
        self._invalidate(row)

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
            row.request, row.problems = None, []
            self._cell(self.rows.index(row), CHECK, "à vérifier")

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

        def checked(results: list[tuple[Row, Checked]]) -> None:
            for row, (request, problems) in results:
                if row in self.rows and row.entry is None:
                    row.request, row.problems = request, problems
                    self._show_check(row)
            self._summarize()
            blocked = sum(bool(problems) for _, (_, problems) in results)
            fix = f"{count(blocked, 'ligne')} à corriger (voir « Vérification »)"
            text = fix if blocked else "tout est prêt"
            self.message.say(f"Vérification faite : {text}.", blocked > 0)

        failed = self._guard(lambda e: self.message.say(f"Vérification impossible : {error_text(e)}", True))
        work = lambda: check_on_host(self.workspace, [(r, check(r, t, sender)) for r, t in todo])  # noqa: E731
        run_in_background(work, self._guard(checked), failed)

    @staticmethod
    def _typed(row: Row) -> tuple[str, str, str]:
        e = row.editors
        return (e[TYPE].current(), e[TITLE].text().strip(), e[AUTHOR].text().strip()) if e else ("", "", "")

    def _show_check(self, row: Row) -> None:
        n, request = self.rows.index(row), row.request
        if request is None:
            lines = [f"{message} [{code}]" for code, message in row.problems]
            text = f"{count(len(lines), 'problème')} : {lines[0]}" if lines else "à vérifier"
            return self._cell(n, CHECK, text, bool(lines), "\n".join(lines))
        if row.source == "sidecar":
            a = request.author
            author = f"{a.person.given} {a.person.family}" if a else "auteur de la structure"
            kind = value_sets().type_codes[request.type_code].display_name
            for column, text in ((PATIENT, patient_text(request.ins, request.traits)), (AUTHOR, author),
                                 (TYPE, kind), (TITLE, request.title)):  # fmt: skip
                self._cell(n, column, text)
        self._cell(n, CHECK, "prêt à mettre en file")

    def _summarize(self) -> None:
        ready = sum(r.request is not None and r.entry is None for r in self.rows)
        blocked, queued = sum(bool(r.problems) for r in self.rows), sum(bool(r.entry) for r in self.rows)
        self.summary.setText(
            f"{count(len(self.rows), 'document')} : {count(ready, 'prêt')}, {blocked} à corriger, "
            f"{queued} mis en file"
        )

    # -- queueing and sending -------------------------------------------------------------------

    def queue_rows(self) -> None:
        """Queue the rows that passed "Vérifier" (durable, one by one), then drain them."""
        ready = [(row, row.request) for row in self.rows if row.request is not None and row.entry is None]
        if self._job is not None or not ready:
            return self.message.say("Aucune ligne vérifiée à mettre en file : « Vérifier » d'abord.")
        token = self._job = Cancel()
        self._busy(True, len(ready))
        self.message.say(f"Mise en file de {count(len(ready), 'document')}…")

        def enqueue(cancel: Cancel) -> list[tuple[Row, Entry]]:
            done = []
            for row, request in ready:
                if cancel.requested:
                    break
                done.append((row, self.workspace.enqueue(request, row.found.path)))
            return done

        def enqueued(done: list[tuple[Row, Entry]]) -> None:
            for row, entry in done:
                row.entry = entry
            self._show_entries([entry for _, entry in done])
            self._summarize()
            ids = [entry.id for _, entry in done]
            if token.requested or not ids:
                return self._finish(token, KEPT.format(len(ids)))
            self.message.say(f"{count(len(ids), 'document')} en file d'envoi : envoi au DMP…")
            self.poll.start()
            drained = self._guard(lambda entries: self._drained(token, entries))
            failed = self._guard(lambda e: self._finish(token, f"Envoi interrompu : {error_text(e)}", True))
            run_in_background(lambda: drain_entries(self.workspace, ids, token), drained, failed)

        failed = self._guard(lambda e: self._finish(token, f"Mise en file refusée : {error_text(e)}", True))
        run_in_background(lambda: enqueue(token), self._guard(enqueued), failed)

    def _poll(self) -> None:
        ids, queue = [r.entry.id for r in self.rows if r.entry is not None], queue_of(self.workspace)
        run_in_background(lambda: [queue.get(i) for i in ids], self._guard(self._show_entries))

    def _show_entries(self, entries: list[Entry]) -> None:
        fresh = {e.id: e for e in entries}
        for n, row in enumerate(self.rows):
            if row.entry is not None and (entry := fresh.get(row.entry.id)) is not None:
                row.entry = entry
                why = f" — {reason_text(entry)}" if entry.reason and entry.state is not State.SENT else ""
                self._cell(n, STATE, f"{STATE_LABELS[entry.state]} (n° {entry.id}){why}")
                self._cell(n, CHECK, *ROW_STATES.get(entry.state, ROW_STATES[State.QUEUED]))
        self.progress.setValue(sum(settled(e, e.created_at) for e in entries))

    def _drained(self, token: Cancel, entries: list[Entry]) -> None:
        self.poll.stop()
        self._show_entries(entries)
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
        if self._job is None:  # a late result is still told, unless a newer job runs
            self.message.say(text, error)

    def _busy(self, busy: bool, count: int) -> None:
        self.progress.setVisible(busy)
        self.progress.setRange(0, count)
        self.progress.setValue(0)
        self.cancel_button.setVisible(busy)
        self.check_button.setEnabled(not busy)
        self.queue_button.setEnabled(not busy)
