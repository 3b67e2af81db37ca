"""Sending one document to the open patient's DMP: the file (dropped or chosen), its type from the
value sets grouped by class, title, act dates, visibility, an optional replaced version, and a preview
of what will be sent. "Envoyer" puts the document in the durable queue, then drains it off the GUI
thread; "Annuler" stops the waiting and the entry stays in the queue. When the EHR's hand-off carries
a VSM or vaccinations, they are offered above the form (app/ui/structured_preview.py), previewed
exactly as built, and sent through the same queue."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config.layers import KEYS
from app.dmp_client.core.context import AuthMode
from app.dmp_client.core.errors import StructuredHandoffOtherPatient
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.valuesets import Concept, value_sets
from app.errors import USER_FACING_ERRORS
from app.services.structured_upload import (
    Prepared,
    StructuredData,
    enqueue_prepared,
    prepare,
    structured_from_context,
)
from app.services.workspace import Patient, Workspace
from app.store.queue import Entry, State
from app.store.request import IncompleteRequest, UploadRequest
from app.store.sidecar import MEDIA
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
    reason_text,
    vbox,
)
from app.ui.structured_preview import StructuredOffer, StructuredPreviewDialog
from app.ui.tasks import Cancel, run_in_background

FORMATS = "PDF, texte, RTF, JPEG ou TIFF"
FILE_FILTER = "Documents (*.pdf *.txt *.rtf *.jpg *.jpeg *.tif *.tiff);;Tous les fichiers (*)"
VISIBILITY_LABELS = {
    Visibility.MASKED_FROM_PS: "masqué aux autres professionnels",
    Visibility.INVISIBLE_TO_PATIENT: "invisible pour le patient",
    Visibility.INVISIBLE_TO_REPRESENTATIVES: "invisible pour les représentants légaux",
}
KEPT = (
    "Envoi interrompu : le document reste dans la file d'envoi (n° {}) et partira au prochain envoi "
    "(onglet « File d'envoi »). Rien n'est perdu."
)
KEPT_MANY = (
    "Envoi interrompu : les documents restent dans la file d'envoi (n° {}) et partiront au prochain "
    "envoi (onglet « File d'envoi »). Rien n'est perdu."
)


def kept_text(numbers: str) -> str:
    """The interrupted send's message for one entry number or several (« 3, 4, 5 »)."""
    return (KEPT_MANY if "," in numbers else KEPT).format(numbers)


# -- the document types, grouped by class (shared with the batch panel) ----------------------------

# Patient-authored types (docs: dmp-interface.md §6.2, "Espace personnel patient": DOCPAT01–09
# "déposé par le patient", EXPPAT_1–3, class 90 "Autres documents déposés par le patient"; author
# TRE_A00 EXP_PATIENT): never offered to a professional.
PATIENT_CLASS = "90"
PATIENT_PREFIXES = ("DOCPAT", "EXPPAT")


def type_groups() -> list[tuple[Concept, list[Concept]]]:
    """The typeCodes a document can be sent with (ASS_X16 gives their class), under their class in
    JDV_J57 order; the submission-set signature's class is left out."""
    sets, groups = value_sets(), dict[str, tuple[Concept, list[Concept]]]()
    for concept in sets.type_codes.values():
        try:
            klass = sets.class_code(concept)
        except USER_FACING_ERRORS:
            continue
        if klass.code.isdigit():
            groups.setdefault(klass.code, (klass, []))[1].append(concept)
    ordered = sorted(groups.values(), key=lambda g: int(g[0].code))
    return [(klass, sorted(types, key=lambda c: c.display_name.casefold())) for klass, types in ordered]


def parse_reserved(text: str) -> dict[str, frozenset[str]]:
    """``DMP_TYPES_RESERVES`` [UNSURE]: ``43=21;60=`` → a class or type code → the professions
    (TRE_G15) that may send it (empty: none). Malformed entries are ignored."""
    reserved = {}
    for entry in text.split(";"):
        code, sep, professions = entry.partition("=")
        if sep and code.strip():
            reserved[code.strip()] = frozenset(p.strip() for p in professions.split(",") if p.strip())
    return reserved


def patient_only(klass: Concept, concept: Concept) -> bool:
    return klass.code == PATIENT_CLASS or concept.code.startswith(PATIENT_PREFIXES)


def offered_groups(
    profession: str | None, reserved: dict[str, frozenset[str]]
) -> list[tuple[Concept, list[Concept]]]:
    """The types a professional of ``profession`` (TRE_G15; None: unknown, the structure's
    certificate) may send: no patient-authored type; a reserved class or type only to the
    professions listed (with an unknown profession, only what is reserved to none is left out)."""

    def allowed(code: str) -> bool:
        if code not in reserved:
            return True
        return profession in reserved[code] if profession is not None else bool(reserved[code])

    groups = []
    for klass, types in type_groups():
        kept = [c for c in types if not patient_only(klass, c) and allowed(klass.code) and allowed(c.code)]
        if kept:
            groups.append((klass, kept))
    return groups


def media_type_of(path: Path) -> str | None:
    return MEDIA.get(path.suffix.lower())


def _folded(text: str) -> str:
    """Lower case without accents, for searching (« elec » finds « électro »)."""
    return "".join(c for c in unicodedata.normalize("NFD", text.casefold()) if not unicodedata.combining(c))


class TypeCombo(qt.QComboBox):
    """The document types in a two-level combo: each class a bold header that cannot be chosen, its
    types under it (typing the start of a type's name jumps to it). Only the types the user may
    send are offered (:func:`offered_groups`); :meth:`filter` keeps those matching a search."""

    def __init__(
        self,
        first: str = "— choisir le type —",
        *,
        profession: str | None = None,
        reserved: dict[str, frozenset[str]] | None = None,
    ) -> None:
        super().__init__(maxVisibleItems=25, minimumContentsLength=28)
        self.setSizeAdjustPolicy(qt.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.first = first
        self.search = ""
        self.set_rules(
            profession,
            parse_reserved(KEYS["DMP_TYPES_RESERVES"].default or "") if reserved is None else reserved,
        )

    def set_rules(self, profession: str | None, reserved: dict[str, frozenset[str]]) -> None:
        """Offer what ``profession`` may send (a type chosen before and no longer offered is dropped)."""
        self.profession, self.reserved = profession, reserved
        self.groups = offered_groups(profession, reserved)
        self._fill()

    def filter(self, text: str) -> int:
        """Keep the types whose name or code contains ``text`` (accents and case ignored), under
        their class; the type chosen stays. The number of types matching."""
        self.search = text
        return self._fill()

    def offered(self) -> list[str]:
        return [str(self.itemData(i)) for i in range(1, self.count()) if self.itemData(i)]

    def _fill(self) -> int:
        chosen, wanted = self.current(), _folded(self.search.strip())
        self.blockSignals(True)
        self.clear()
        self.addItem(self.first, "")
        matching = 0
        for klass, types in self.groups:
            hits = [
                c
                for c in types
                if not wanted or wanted in _folded(f"{c.display_name} {c.code} {klass.display_name}")
            ]
            matching += len(hits)
            shown = [c for c in types if c in hits or c.code == chosen]
            if not shown:
                continue
            self.addItem(klass.display_name.upper(), None)
            header = self.model().item(self.count() - 1)  # type: ignore[attr-defined]
            header.setEnabled(False)
            font = qt.QFont(header.font())
            font.setBold(True)
            header.setFont(font)
            for concept in shown:
                self.addItem(f"{concept.display_name} ({concept.code})", concept.code)
        index = self.findData(chosen) if chosen else 0
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)
        if chosen and index < 0:
            self.currentIndexChanged.emit(0)  # the type chosen is no longer offered
        return matching

    def current(self) -> str:
        return str(self.currentData() or "")

    def select(self, code: str) -> bool:
        index = self.findData(code) if code else 0
        self.setCurrentIndex(max(index, 0))
        return index > 0


# -- the panel -------------------------------------------------------------------------------------


class UploadPanel(qt.QWidget):
    queued = qt.Signal(object)  # the queue Entry, once durable
    sent = qt.Signal(object)  # the Entry, acknowledged by the DMP

    def __init__(
        self,
        workspace: Workspace,
        patient_provider: Callable[[], Patient | None],
        parent: qt.QWidget | None = None,
    ) -> None:
        super().__init__(parent, acceptDrops=True)
        self.workspace, self.patient_provider = workspace, patient_provider
        self.file: Path | None = None
        self.file_size = 0
        self.replaces: tuple[str, str] | None = None  # (uniqueId, title)
        self.entry: Entry | None = None
        self._kept = ""  # the queue numbers an interrupted send leaves queued
        self._job: Cancel | None = None
        self._auto_title = ""
        self._guard = Guard(self)
        center = qt.Qt.AlignmentFlag.AlignCenter
        self.drop_label = qt.QLabel(wordWrap=True, alignment=center)
        self.drop_label.setFrameShape(qt.QFrame.Shape.StyledPanel)
        self.drop_label.setMinimumHeight(48)
        self.choose_button = button("Choisir un &fichier…", self.choose_file)
        self.types = TypeCombo()
        self.types.currentIndexChanged.connect(lambda _: self._type_changed(self.types.current()))
        self._rules: tuple[object, ...] | None = None
        self.type_search = qt.QLineEdit(placeholderText="Rechercher un type (nom ou code)…")
        self.type_search.setClearButtonEnabled(True)
        self.type_search.setAccessibleName("Rechercher un type de document")
        self.type_search.textChanged.connect(self._search_types)
        self.type_search.returnPressed.connect(self._search_done)
        type_label = qt.QLabel("T&ype de document :")
        type_label.setBuddy(self.type_search)
        self.title = qt.QLineEdit(placeholderText="Titre du document tel qu'il apparaîtra dans le DMP")
        self.title.textChanged.connect(lambda _: self.refresh_preview())
        today = qt.QDate.currentDate()
        self.start, self.stop = qt.QDateEdit(today), qt.QDateEdit(today)
        for edit in (self.start, self.stop):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy")
            edit.setMaximumDate(today)
            edit.dateChanged.connect(lambda _: self.refresh_preview())
        self.has_stop = qt.QCheckBox("jusqu'au")
        self.stop.setEnabled(False)
        self.has_stop.toggled.connect(self.stop.setEnabled)
        self.flags = {flag: qt.QCheckBox(label) for flag, label in VISIBILITY_LABELS.items()}
        for box in (self.has_stop, *self.flags.values()):
            box.toggled.connect(lambda _: self.refresh_preview())
        self.replaces_label = qt.QLabel(wordWrap=True)
        self.replaces_clear = button("Ne p&lus remplacer", lambda: self.set_replaces(None, ""))
        form = qt.QFormLayout()
        form.addRow(type_label, hbox((self.type_search, 1), (self.types, 2)))
        form.addRow("T&itre :", self.title)
        form.addRow("Date de l'acte :", hbox(self.start, self.has_stop, self.stop, 1))
        form.addRow("Visibilité :", vbox(*self.flags.values()))
        form.addRow("Remplace :", self.replaces_label)
        form.addRow("", hbox(self.replaces_clear, 1))
        document = qt.QGroupBox("Document")
        document.setLayout(form)
        self.preview = qt.QTextBrowser()
        self.preview.setMinimumWidth(340)
        preview_box = qt.QGroupBox("Aperçu de ce qui sera envoyé")
        vbox(self.preview, parent=preview_box)
        self.message, self.progress = Notice(), busy_bar()
        self.cancel_button = button("Annuler", self.cancel)
        self.cancel_button.setVisible(False)
        self.send_button = button("&Envoyer", self.send)
        self.offer = StructuredOffer()  # the EHR hand-off's structured documents (issue 19)
        self.offer.chosen.connect(self.preview_structured)
        self.structured_dialog: StructuredPreviewDialog | None = None
        left = vbox(hbox((self.drop_label, 1), self.choose_button), (document, 1))
        vbox(
            self.offer,
            (hbox((left, 1), (preview_box, 1)), 1),
            hbox((self.message, 1), self.progress, self.cancel_button, self.send_button),
            parent=self,
        )
        # Tab walks the form in reading order: file, type (search, then list), title, dates,
        # visibility, then "Envoyer".
        chain = [self.choose_button, self.type_search, self.types, self.title, self.start, self.has_stop,
                 self.stop, *self.flags.values(), self.replaces_clear, self.send_button]  # fmt: skip
        for before, after in itertools.pairwise(chain):
            qt.QWidget.setTabOrder(before, after)
        self.set_replaces(None, "")
        self._show_file()

    # -- the file -------------------------------------------------------------------------------

    def choose_file(self) -> None:
        name, _ = qt.QFileDialog.getOpenFileName(self, "Choisir le document à envoyer", "", FILE_FILTER)
        if name:
            self.set_file(Path(name))

    def set_file(self, path: Path) -> None:
        """Take ``path`` after checking its format (at once) and its size (off the GUI thread)."""
        if media_type_of(path) is None:
            suffix = path.suffix or "sans extension"
            text = f"Format non pris en charge ({suffix}) : le DMP accepte {FORMATS}. [DEPOT-FORMAT]"
            return self.message.say(text, error=True)

        def found(size: int) -> None:
            if size < 0:
                return self.message.say("Fichier illisible (absent ou dossier). [DMP-FICHIER]", True)
            if size == 0:
                return self.message.say("Le document est vide (0 octet) : rien à envoyer. [DEPOT-VIDE]", True)
            self.file, self.file_size = path, size
            self.message.say("")
            self._show_file()

        def size() -> int:
            return path.stat().st_size if path.is_file() else -1

        unreadable = "Ce fichier ne peut pas être lu (accès refusé). [DMP-FICHIER]"
        run_in_background(size, self._guard(found), self._guard(lambda _: self.message.say(unreadable, True)))

    def _show_file(self) -> None:
        name = f"<b>{html.escape(self.file.name)}</b> — {format_size(self.file_size)}" if self.file else ""
        self.drop_label.setText(name or f"Déposez ici le document à envoyer ({FORMATS})")
        self.refresh_preview()

    def handle_drop(self, mime: qt.QMimeData) -> bool:
        """Files dropped on the panel: one local file is taken (its format checked first)."""
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        if len(paths) == 1:
            self.set_file(paths[0])
        else:
            self.message.say(
                "Un seul fichier à la fois ici ; plusieurs : envoi par lots (secrétariat).", True
            )
        return len(paths) == 1

    def dragEnterEvent(self, event: qt.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: qt.QDropEvent) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()

    # -- the form -------------------------------------------------------------------------------

    def _sync_types(self) -> None:
        """The types offered follow the connected professional's profession (and the setting
        ``DMP_TYPES_RESERVES`` [UNSURE]); recomputed only when they change."""
        c = self.workspace.connection
        profession = c.professional.profession_code if c is not None and c.professional else None
        text = self.workspace.settings.config.get("DMP_TYPES_RESERVES") or ""
        if self._rules != (profession, text):
            self._rules = (profession, text)
            self.types.set_rules(profession, parse_reserved(text))

    def _search_types(self, text: str) -> None:
        """Only the types matching the search stay in the list; a single match is chosen."""
        if self.types.filter(text) == 1 and text.strip():
            matches = [code for code in self.types.offered() if code != self.types.current()]
            if len(matches) == 1:
                self.types.select(matches[0])

    def _search_done(self) -> None:
        self.types.setFocus()
        self.types.showPopup()

    def _type_changed(self, code: str) -> None:
        concept = value_sets().type_codes.get(code)
        if concept is not None and self.title.text().strip() in ("", self._auto_title):
            self._auto_title = concept.display_name
            self.title.setText(concept.display_name)
        self.refresh_preview()

    def set_replaces(
        self, unique_id: str | None, title: str, visibility: frozenset[str] | None = None
    ) -> None:
        """The document sent will be a new version of ``unique_id`` (None: a new document). A new
        version keeps the replaced one's visibility flags (``visibility``: its confidentiality
        codes) unless the user changes them: a masked document's new version stays masked."""
        self.replaces = (unique_id, title) if unique_id else None
        if unique_id and visibility is not None:
            for flag, box in self.flags.items():
                box.setChecked(str(flag) in visibility)
        self.replaces_label.setText(
            f"« {title} » (nouvelle version)" if unique_id else "aucun (nouveau document)"
        )
        self.replaces_clear.setVisible(unique_id is not None)
        if unique_id and self.title.text().strip() in ("", self._auto_title):
            self.title.setText(title)
        self.refresh_preview()

    def _dates(self) -> tuple[dt.datetime, dt.datetime | None]:
        def moment(edit: qt.QDateEdit) -> dt.datetime:
            return dt.datetime.combine(edit.date().toPython(), dt.time()).astimezone()  # type: ignore[arg-type]

        return moment(self.start), moment(self.stop) if self.has_stop.isChecked() else None

    def build_request(self) -> UploadRequest:
        """The request as it will be queued, checked as the queue checks it (French refusal, code)."""
        patient = self.patient_provider()
        if patient is None or patient.traits is None:
            missing = "aucun patient n'est ouvert" if patient is None else "traits d'identité INS inconnus"
            raise IncompleteRequest(f"Document refusé par la file d'envoi : {missing}.")
        if self.file is None or not self.types.current():
            missing = "choisissez le document à envoyer" if self.file is None else "choisissez son type"
            raise IncompleteRequest(f"Document incomplet : {missing}.")
        start, stop = self._dates()
        if stop is not None and stop < start:
            raise IncompleteRequest("Document incomplet : la fin de l'acte précède son début.")
        mode, professional = self.workspace.send_mode()
        request = UploadRequest(
            patient.ins, patient.traits, media_type_of(self.file) or "", self.types.current(),
            self.title.text().strip(), mode, professional,
            service_start=start, service_stop=stop, replaces=self.replaces[0] if self.replaces else None,
            visibility=frozenset(flag for flag, box in self.flags.items() if box.isChecked()),
        )  # fmt: skip
        request.check()
        return request

    # -- the preview ----------------------------------------------------------------------------

    def refresh_preview(self) -> None:
        """The patient as the document will carry them, its metadata, the file, what still blocks."""
        self._sync_types()
        patient, sets = self.patient_provider(), value_sets()
        traits = patient.traits if patient else None
        ins = (
            f"{patient.ins.matricule.value} ({patient.ins.oid.label})" if patient else "aucun patient ouvert"
        )
        rows = [("INS", ins), ("Statut de l'INS", patient.ins_status if patient else "—")]
        if traits is not None:
            sex = f"{traits.sex} ({'féminin' if str(traits.sex) == 'F' else 'masculin'})"
            rows += [("Nom de naissance", traits.birth_name), ("Prénoms", " ".join(traits.first_names)),
                     ("Premier prénom", traits.first_name), ("Sexe", sex),
                     ("Date de naissance", traits.birth_date.to_french()),
                     ("Lieu de naissance (INSEE)", traits.birth_place or "absent")]  # fmt: skip
        kind = sets.type_codes.get(self.types.current())
        klass = sets.class_code(kind) if kind else None
        start, stop = self._dates()
        flags = ", ".join(label for flag, label in VISIBILITY_LABELS.items() if self.flags[flag].isChecked())
        c = self.workspace.connection
        who = "non connecté" if c is None else f"{c.display_name} ({c.structure})"
        direct = c is not None and c.mode is AuthMode.DIRECT
        mode = " — mode direct, carte CPS" if direct else " — mode indirect" if c else ""
        rows += [
            ("", ""),
            ("Type", f"{kind.display_name} ({kind.code})" if kind else "à choisir"),
            ("Classe", f"{klass.display_name} ({klass.code})" if klass else "—"),
            ("Titre", self.title.text().strip() or "à saisir"),
            ("Date de l'acte", start.strftime("%d/%m/%Y") + (stop.strftime(" au %d/%m/%Y") if stop else "")),
            ("Visibilité", flags or "normale (patient et professionnels)"),
            ("Remplace", f"« {self.replaces[1]} »" if self.replaces else "aucun document (nouveau)"),
            ("", ""),
            ("Fichier", self.file.name if self.file else "à choisir"),
            ("Taille", format_size(self.file_size) if self.file else "—"),
            ("Format", (media_type_of(self.file) or "—") if self.file else "—"),
            ("Envoyé par", who + mode),
        ]
        cell = (
            "<tr><td style='color:#555;padding-right:10px;white-space:nowrap'>{}</td><td><b>{}</b></td></tr>"
        )
        body = "".join(
            cell.format(html.escape(k), html.escape(v)) if k else "<tr><td></td></tr>" for k, v in rows
        )
        try:
            self.build_request()
            verdict = "<p style='color:#1a6e1a'>Prêt à envoyer.</p>"
        except USER_FACING_ERRORS as error:
            # An empty form (nothing chosen yet, or just sent) is not an error: said without red.
            colour = "#555" if self.file is None else "#a40000"
            verdict = f"<p style='color:{colour}'>{html.escape(error_text(error))}</p>"
        self.preview.setHtml(f"<table width='100%'>{body}</table>{verdict}")

    # -- sending --------------------------------------------------------------------------------

    def send(self) -> None:
        """Enqueue (durable), then drain off the GUI thread until the entry is settled."""
        try:
            request = self.build_request()
        except USER_FACING_ERRORS as error:
            return self.message.say(error_text(error), error=True)
        path, token = self.file, Cancel()
        if self._job is not None or path is None:
            return
        self._job, self.entry = token, None
        self._busy(True)
        self.message.say("Mise en file d'envoi…")

        def enqueued(entry: Entry) -> None:
            self.entry, self._kept = entry, str(entry.id)
            self.queued.emit(entry)
            self.file, self.file_size = None, 0  # the queue holds the bytes: no second send by mistake
            for box in self.flags.values():  # the form starts afresh for the next document
                box.setChecked(False)
            self.title.clear()
            self.set_replaces(None, "")
            self._show_file()
            if token.requested:
                return self._finish(token, kept_text(self._kept))
            self.message.say(f"Document mis en file d'envoi (n° {entry.id}) : envoi au DMP…")
            run_in_background(
                lambda: drain_entries(self.workspace, [entry.id], token),
                self._guard(lambda entries: self._drained(token, entries[0])),
                self._guard(lambda error: self._failed(token, error, entry)),
            )

        failed = self._guard(lambda error: self._failed(token, error, None))
        run_in_background(lambda: self.workspace.enqueue(request, path), self._guard(enqueued), failed)

    def cancel(self) -> None:
        """Stop waiting: once queued, the document stays in the queue and the panel is free at once."""
        token = self._job
        if token is None or token.requested:
            return
        token.request()
        self.cancel_button.setEnabled(False)
        if self.entry is not None:
            self._finish(token, kept_text(self._kept))
        else:
            self.message.say("Annulation : le document termine d'entrer dans la file d'envoi…")

    # -- the structured documents of the EHR's hand-off (issue 19) ------------------------------

    def set_context(self, context: dict[str, object]) -> None:
        """The EHR's hand-off: the structured documents it carries are offered (a new hand-off
        replaces the previous one's); refused data is said and never offered."""
        try:
            self.offer.set_data(structured_from_context(context))
        except USER_FACING_ERRORS as error:
            self.offer.set_error(error)

    def preview_structured(self, source: StructuredData) -> None:
        """Build and render its documents off the GUI thread, then the preview: « Envoyer » sends
        exactly them (the same pinned ids, the same bytes), « Annuler » nothing."""
        patient = self.patient_provider()
        if self._job is not None:
            return
        self.offer.set_enabled(False)
        self.message.say(f"Préparation de l'aperçu : {source.label}…")

        def done(prepared: Prepared) -> None:
            self.offer.set_enabled(True)
            if self.patient_provider() is not patient:  # another patient meanwhile: nothing shown
                return self.message.say("Le patient a changé : aperçu abandonné, rien n'a été envoyé.", True)
            self.message.say("")
            dialog = StructuredPreviewDialog(prepared, self)
            dialog.setAttribute(qt.Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.accepted.connect(lambda: self.send_prepared(prepared))
            dialog.rejected.connect(lambda: self.message.say("Envoi annulé : rien n'a été envoyé."))
            dialog.finished.connect(lambda _result: self._forget_preview(dialog))  # deleted on close
            self.structured_dialog = dialog
            dialog.open()

        def failed(error: BaseException) -> None:
            self.offer.set_enabled(True)
            self.message.say(f"{source.label} : {error_text(error)}", error=True)

        run_in_background(
            lambda: prepare(self.workspace, patient, source), self._guard(done), self._guard(failed)
        )

    def _forget_preview(self, dialog: StructuredPreviewDialog) -> None:
        if self.structured_dialog is dialog:
            self.structured_dialog = None

    def close_preview(self) -> None:
        """Another patient is shown: the open preview (the previous patient's document) is closed
        at once, nothing sent."""
        dialog, self.structured_dialog = self.structured_dialog, None
        if dialog is not None and dialog.isVisible():
            dialog.reject()
            self.message.say("Le patient a changé : aperçu fermé, rien n'a été envoyé.")

    def send_prepared(self, prepared: Prepared) -> None:
        """Queue the previewed documents, then drain as for a file; refused if the patient on screen
        is no longer the one they were built for (identity vigilance)."""
        patient, built_for = self.patient_provider(), prepared.patient
        if patient is None or (patient.ins, patient.traits) != (built_for.ins, built_for.traits):
            return self.message.say(error_text(StructuredHandoffOtherPatient()), error=True)
        if self._job is not None:
            return
        token = Cancel()
        self._job, self.entry = token, None
        self._busy(True)
        self.message.say("Mise en file d'envoi…")

        def enqueued(entries: list[Entry]) -> None:
            self.entry, self._kept = entries[-1], ", ".join(str(e.id) for e in entries)
            for entry in entries:
                self.queued.emit(entry)
            if token.requested:
                return self._finish(token, kept_text(self._kept))
            self.message.say(f"Mis en file d'envoi (n° {self._kept}) : envoi au DMP…")
            run_in_background(
                lambda: drain_entries(self.workspace, [e.id for e in entries], token),
                self._guard(lambda done: self._drained_all(token, done)),
                self._guard(lambda error: self._failed(token, error, entries[0])),
            )

        failed = self._guard(lambda error: self._failed(token, error, None))
        run_in_background(lambda: enqueue_prepared(self.workspace, prepared), self._guard(enqueued), failed)

    def _drained_all(self, token: Cancel, entries: list[Entry]) -> None:
        if len(entries) == 1:
            return self._drained(token, entries[0])
        sent = [e for e in entries if e.state is State.SENT]
        if sent:
            self.sent.emit(sent[-1])  # the list is stale
        numbers = ", ".join(str(e.id) for e in sent)
        said = [f"{len(sent)} documents sur {len(entries)} envoyés au DMP (n° {numbers})."] if sent else []
        for entry in entries:
            if entry.state is State.SENT and entry.reason:
                said.append(f"Avertissement du DMP (n° {entry.id}) : {entry.reason}")
            elif entry.state is State.FAILED:
                said.append(f"Le DMP a refusé le document n° {entry.id} : {reason_text(entry)}")
            elif entry.state is not State.SENT and not token.requested:
                later = f"Document n° {entry.id} en file d'envoi, nouvel essai plus tard"
                said.append(f"{later} : {reason_text(entry)}")
        if token.requested and len(sent) < len(entries):
            said.append(kept_text(", ".join(str(e.id) for e in entries if e.state is not State.SENT)))
        self._finish(token, "\n".join(said), any(e.state is State.FAILED for e in entries))

    def _drained(self, token: Cancel, entry: Entry) -> None:
        if entry.state is State.SENT:
            self.sent.emit(entry)
            warned = f"\nAvertissement du DMP : {entry.reason}" if entry.reason else ""
            self._finish(token, f"Document envoyé au DMP (n° {entry.id}).{warned}")
        elif entry.state is State.FAILED:
            self._finish(token, f"Le DMP a refusé le document (n° {entry.id}) : {reason_text(entry)}", True)
        elif not token.requested:
            later = f"Document en file d'envoi (n° {entry.id}), nouvel essai plus tard : {reason_text(entry)}"
            self._finish(token, later)

    def _failed(self, token: Cancel, error: BaseException, entry: Entry | None) -> None:
        kept = f"le document reste en file d'envoi (n° {entry.id})" if entry else "rien n'a été mis en file"
        self._finish(token, f"L'envoi n'a pas abouti : {error_text(error)} — {kept}.", True)

    def _finish(self, token: Cancel, text: str, error: bool = False) -> None:
        """End of ``token``'s job (a late result is still told, unless a newer job runs)."""
        if self._job is token:
            self._job = None
            self._busy(False)
        if self._job is None:
            self.message.say(text, error)

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        self.send_button.setEnabled(not busy)
        self.choose_button.setEnabled(not busy)
        self.offer.set_enabled(not busy)

    def showEvent(self, event: Any) -> None:
        self.refresh_preview()
        super().showEvent(event)
