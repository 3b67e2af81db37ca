"""The upload queue as people see it: every entry with its state in French, its attempts, its next
attempt and the reason with its code; "Relancer", "Annuler" (confirmed first), "Envoyer maintenant"
and the entry's history. The queue is read off the GUI thread, every 2 s and on demand; the counts
per state go to the status bar through ``counts_changed``.

Also what the upload and batch panels share: French sizes and errors, small layout helpers, and
:func:`drain_entries` (drain until given entries are settled, or until cancelled).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import time
from collections.abc import Callable, Collection
from typing import Any

from app.dmp_client.core.valuesets import value_sets
from app.errors import LocalStoreUnavailable
from app.ins import IdentityTraits, Ins
from app.services.workspace import Workspace
from app.store.errors import DrainBusy
from app.store.queue import STATE_LABELS, Entry, State, UploadQueue
from app.ui import qt
from app.ui.errors import describe
from app.ui.tasks import Cancel, run_in_background
from app.ui.texts import drain_summary, state_counts

COLUMNS = ("N°", "État", "Patient", "Titre", "Type", "Taille", "Tentatives", "Prochaine tentative", "Raison")
FILTERS = (
    ("Toutes les entrées", None),
    ("À traiter (en attente, en cours, action requise)", (State.QUEUED, State.SENDING, State.FAILED)),
    ("Envoyées", (State.SENT,)),
    ("Annulées", (State.CANCELLED,)),
)
FINAL = (State.SENT, State.FAILED, State.CANCELLED)

# -- shared helpers -------------------------------------------------------------------------------


def format_size(size: int) -> str:
    """``812 octets``, ``12,4 Ko``, ``3,1 Mo`` (French decimal comma)."""
    if size < 1024:
        return f"{size} octet{'s' if size > 1 else ''}"
    value, unit = (size / 1024, "Ko") if size < 1024 * 1024 else (size / 1024 / 1024, "Mo")
    return f"{value:.1f} {unit}".replace(".", ",")


def error_text(error: BaseException) -> str:
    """The French message with its code (an unexpected error: its type only, never its message)."""
    code, message = describe(error)
    return f"{message} [{code}]"


def format_time(timestamp: float | None) -> str:
    if not timestamp:
        return "—"
    moment = dt.datetime.fromtimestamp(timestamp)
    return moment.strftime("%H:%M" if moment.date() == dt.date.today() else "%d/%m/%Y %H:%M")


def state_label(entry: Entry) -> str:
    label = STATE_LABELS[entry.state]
    return f"{label} (à vérifier auprès du DMP)" if entry.uncertain and entry.state is State.QUEUED else label


def reason_text(entry: Entry) -> str:
    code = f" [{entry.reason_code}]" if entry.reason_code else ""
    if entry.state is State.SENT:  # with the host's warnings when it gave some
        said = f" — avertissement du DMP : {entry.reason}" if entry.reason else ""
        return f"envoyé le {format_time(entry.sent_at)}{code}{said}"
    return f"{entry.reason}{code}" if entry.reason else ""


def type_label(code: str) -> str:
    return concept.display_name if (concept := value_sets().type_codes.get(code)) else code


def counts_text(counts: dict[State, int]) -> str:
    """``2 en attente, 3 envoyés, 1 action requise`` (the states that have entries, agreed)."""
    return state_counts(counts)


def patient_text(ins: Ins, traits: IdentityTraits | None) -> str:
    if traits is None:
        return f"INS {ins.matricule.value}"
    names = f"{traits.birth_name} {' '.join(traits.first_names).title()}"
    return f"{names} ({traits.birth_date.to_french()}) — INS {ins.matricule.value}"


def queue_of(workspace: Workspace) -> UploadQueue:
    if workspace.store is None:
        raise LocalStoreUnavailable()
    return workspace.store.queue


def settled(entry: Entry, since: float) -> bool:
    """Sent, failed or cancelled, or waiting with a reason given since ``since`` (a transient fault,
    missing credentials: the next attempt is the queue's business)."""
    waiting = entry.state is State.QUEUED and entry.reason_code is not None and entry.updated_at >= since
    return entry.state in FINAL or waiting


def drain_entries(
    workspace: Workspace, ids: Collection[int], cancel: Cancel, *, patience: float = 600.0
) -> list[Entry]:
    """Drain the queue until every entry of ``ids`` is settled, ``cancel`` is requested or
    ``patience`` seconds have passed; the entries as they are then. A drain already running on this
    workstation (``FILE-OCCUPEE``) is waited for: it takes these entries too."""
    queue = queue_of(workspace)
    started, deadline = time.time(), time.monotonic() + patience
    while True:
        with contextlib.suppress(DrainBusy):
            workspace.drain(cancel.event)  # Annuler stops between two documents
        entries = [queue.get(i) for i in ids]
        if cancel.requested or time.monotonic() > deadline or all(settled(e, started) for e in entries):
            return entries
        for _ in range(5):
            if not cancel.requested:
                time.sleep(0.05)


Part = qt.QWidget | qt.QLayout | int | tuple[qt.QWidget | qt.QLayout, int]


def _box(layout: Any, parts: tuple[Part, ...]) -> Any:
    for part in parts:
        item, stretch = part if isinstance(part, tuple) else (part, 0)
        if isinstance(item, int):
            layout.addStretch(item)
        else:
            (layout.addWidget if isinstance(item, qt.QWidget) else layout.addLayout)(item, stretch)
    return layout


def hbox(*parts: Part) -> qt.QHBoxLayout:
    """A row of widgets and layouts (``(item, stretch)`` for a stretch factor; an int: a spacer)."""
    return _box(qt.QHBoxLayout(), parts)  # type: ignore[no-any-return]


def vbox(*parts: Part, parent: qt.QWidget | None = None) -> qt.QVBoxLayout:
    return _box(qt.QVBoxLayout(parent) if parent else qt.QVBoxLayout(), parts)  # type: ignore[no-any-return]


def button(text: str, slot: Callable[[], Any]) -> qt.QPushButton:
    made = qt.QPushButton(text)
    made.clicked.connect(lambda: slot())
    return made


def busy_bar() -> qt.QProgressBar:
    bar = qt.QProgressBar()
    bar.setRange(0, 0)
    bar.setMaximumWidth(160)
    bar.setVisible(False)
    return bar


def patient_label(entry: Entry) -> str:
    """The entry's patient as the rest of the UI shows them: birth name, first name and INS (read
    from the request, decrypted from the base only for display; the queue row keeps a pseudonym)."""
    request = entry.request
    return f"{request.traits.birth_name} {request.traits.first_name} — {request.ins.matricule.grouped()}"


def table(columns: tuple[str, ...], widths: dict[int, int]) -> qt.QTableWidget:
    """Rows selected whole; columns fit their contents, but those in ``widths`` (resizable)."""
    made = qt.QTableWidget(0, len(columns))
    made.setHorizontalHeaderLabels(list(columns))
    made.setSelectionBehavior(qt.QAbstractItemView.SelectionBehavior.SelectRows)
    made.verticalHeader().setVisible(False)
    made.setAlternatingRowColors(True)
    made.setWordWrap(False)
    header = made.horizontalHeader()
    header.setSectionResizeMode(qt.QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    for column, width in widths.items():
        header.setSectionResizeMode(column, qt.QHeaderView.ResizeMode.Interactive)
        made.setColumnWidth(column, width)
    return made


class Notice(qt.QLabel):
    """A wrapped line of feedback; errors in dark red."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextInteractionFlags(qt.Qt.TextInteractionFlag.TextSelectableByMouse)

    def say(self, text: str, error: bool = False) -> None:
        self.setStyleSheet("color: #a40000;" if error else "")
        self.setText(text)


class Guard:
    """Results of background work that arrive after their widget was deleted are dropped."""

    def __init__(self, widget: qt.QWidget) -> None:
        self.alive = True
        widget.destroyed.connect(self._gone)

    def _gone(self, *_: object) -> None:
        self.alive = False

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., None]:
        return lambda *args: fn(*args) if self.alive else None


# -- the panel ------------------------------------------------------------------------------------


class QueuePanel(qt.QWidget):
    counts_changed = qt.Signal(dict)  # {State: count}, on every change

    def __init__(
        self, workspace: Workspace, interval_ms: int = 2000, parent: qt.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.entries: list[Entry] = []
        self.counts: dict[State, int] = {}
        self._guard = Guard(self)
        self._reading = self._read_again = self._draining = False
        self.filter = qt.QComboBox()
        self.filter.addItems([label for label, _ in FILTERS])
        self.filter.currentIndexChanged.connect(lambda _: self.refresh())
        self.summary = qt.QLabel("File : —")
        self.table = table(COLUMNS, {2: 200, 3: 240, 4: 200})
        self.table.setSelectionMode(qt.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(qt.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.history = qt.QTextBrowser()
        self.history.setVisible(False)
        split = qt.QSplitter(qt.Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.history)
        split.setStretchFactor(0, 3)
        self.retry_button = button("Re&lancer", self.retry_selected)
        self.cancel_button = button("A&nnuler l'envoi…", self.cancel_selected)
        self.history_button = button("Afficher l'&historique", self.show_history)
        self.drain_button = button("Envoyer &maintenant", self.drain_now)
        self.progress = busy_bar()
        self.message = Notice()
        actions = (self.retry_button, self.cancel_button, self.history_button, 1, self.progress)
        vbox(
            hbox(qt.QLabel("Afficher :"), self.filter, 1, self.summary, button("Actualiser", self.refresh)),
            (split, 1),
            self.message,
            hbox(*actions, self.drain_button),
            parent=self,
        )
        self.timer = qt.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self._update_buttons()
        self.refresh()

    # -- reading --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the queue off the GUI thread (one read at a time; a request during a read is kept)."""
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        states = FILTERS[self.filter.currentIndex()][1]

        def read() -> tuple[list[Entry], dict[State, int]]:
            queue = queue_of(self.workspace)
            return queue.entries(states), queue.counts()

        run_in_background(read, self._guard(self._show), self._guard(self._show))

    def _show(self, result: tuple[list[Entry], dict[State, int]] | BaseException) -> None:
        self._reading = False
        if self._read_again:
            self._read_again = False
            self.refresh()
        if isinstance(result, BaseException):
            self.summary.setText(f"File illisible : {error_text(result)}")
            return
        entries, counts = result
        chosen = self.selected_entry()
        self.entries, now = entries, time.time()
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            due = "dès que possible" if entry.next_attempt_at <= now else format_time(entry.next_attempt_at)
            due = due if entry.state is State.QUEUED else "—"
            failing = entry.reason and entry.reason_code and entry.state is not State.SENT
            why = (
                f"[{entry.reason_code}] {entry.reason}" if failing else reason_text(entry)
            )  # the code stays seen
            cells = (str(entry.id), state_label(entry), patient_label(entry), entry.title,
                     type_label(entry.request.type_code),
                     format_size(entry.size), str(entry.attempts), due, why)  # fmt: skip
            for column, text in enumerate(cells):
                self._set_cell(row, column, text)
            if chosen is not None and entry.id == chosen.id:
                self.table.selectRow(row)
        self.summary.setText(f"File : {counts_text(counts)}")
        self._update_buttons()
        if counts != self.counts:
            self.counts = counts
            self.counts_changed.emit(dict(counts))

    def _set_cell(self, row: int, column: int, text: str) -> None:
        """Update the cell's item in place (a new item per cell and refresh replaced one with a
        tooltip each time, and shiboken6 6.11.3 leaks a reference to ``None`` per item so replaced)."""
        item = self.table.item(row, column)
        if item is None:
            item = qt.QTableWidgetItem()
            if column in (0, 5, 6):
                item.setTextAlignment(qt.Qt.AlignmentFlag.AlignRight | qt.Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)
        if item.text() != text:
            item.setText(text)
            item.setToolTip(text)

    def selected_entry(self) -> Entry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        actionable = entry is not None and entry.state in (State.QUEUED, State.FAILED)
        self.retry_button.setEnabled(actionable)
        self.cancel_button.setEnabled(actionable)
        self.history_button.setEnabled(entry is not None)
        self.drain_button.setEnabled(not self._draining)

    # -- people's actions -----------------------------------------------------------------------

    def _act(self, action: Callable[[UploadQueue], Any], done: Callable[[Any], str]) -> None:
        """Run a queue action off the GUI thread; say what it did, or the store's refusal and code."""

        def succeeded(result: Any) -> None:
            self.message.say(done(result))
            self.refresh()

        def failed(error: BaseException) -> None:
            self.message.say(f"Action refusée : {error_text(error)}", error=True)
            self.refresh()

        def work() -> Any:
            return action(queue_of(self.workspace))

        run_in_background(work, self._guard(succeeded), self._guard(failed))

    def retry_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            n = entry.id
            self._act(
                lambda q: q.retry(n),
                lambda _: self._after(n, f"Entrée n° {n} relancée : elle part au prochain envoi."),
            )

    def cancel_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        n = entry.id
        answer = qt.QMessageBox.question(
            self,
            "Annuler l'envoi",
            f"Annuler l'envoi du document n° {n} « {entry.title} » ?\n\n"
            "Il ne sera pas envoyé au DMP et son contenu sera effacé de la base locale.",
            qt.QMessageBox.StandardButton.Yes | qt.QMessageBox.StandardButton.No,
            qt.QMessageBox.StandardButton.No,
        )
        if answer == qt.QMessageBox.StandardButton.Yes:
            self._act(
                lambda q: q.cancel(n),
                lambda _: self._after(n, f"Envoi n° {n} annulé : rien n'a été envoyé au DMP."),
            )

    def _after(self, n: int, text: str) -> str:
        """After an action on entry ``n``: its history, if shown, is read again (it changed)."""
        if not self.history.isHidden() and getattr(self, "_history_of", None) == n:
            entry = next((e for e in self.entries if e.id == n), None)
            if entry is not None:
                self._read_history(n, entry.title)
        return text

    def drain_now(self) -> None:
        """Send what is due now (off the GUI thread)."""
        if self._draining:
            return
        self._draining = True
        self.progress.setVisible(True)
        self.message.say("Envoi de la file au DMP…")
        self._update_buttons()

        def done(result: Any) -> None:
            self._draining = False
            self.progress.setVisible(False)
            if isinstance(result, DrainBusy):
                self.message.say("Un envoi est déjà en cours sur ce poste : il se charge de la file.")
            elif isinstance(result, BaseException):
                self.message.say(f"L'envoi n'a pas abouti : {error_text(result)}", error=True)
            else:
                self.message.say(f"Envoi terminé : {drain_summary(result)}.")
            self._update_buttons()
            self.refresh()

        run_in_background(self.workspace.drain, self._guard(done), self._guard(done))

    def show_history(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        n, title = entry.id, entry.title
        self._history_of = n

        def show(events: list[tuple[float, State, str | None]]) -> str:
            lines = [f"<b>Historique de l'entrée n° {n}</b> — {html.escape(title)}"]
            for at, state, code in events:
                stamp = dt.datetime.fromtimestamp(at).strftime("%d/%m/%Y %H:%M:%S")
                lines.append(f"{stamp} — {STATE_LABELS[state]}" + (f" [{html.escape(code)}]" if code else ""))
            self.history.setHtml("<br>".join(lines))
            self.history.setVisible(True)
            return f"Historique de l'entrée n° {n} affiché sous la liste."

        self._act(lambda q: q.history(n), show)

    def _read_history(self, n: int, title: str) -> None:
        def show(events: list[tuple[float, State, str | None]]) -> None:
            lines = [f"<b>Historique de l'entrée n° {n}</b> — {html.escape(title)}"]
            for at, state, code in events:
                stamp = dt.datetime.fromtimestamp(at).strftime("%d/%m/%Y %H:%M:%S")
                lines.append(f"{stamp} — {STATE_LABELS[state]}" + (f" [{html.escape(code)}]" if code else ""))
            self.history.setHtml("<br>".join(lines))

        run_in_background(lambda: queue_of(self.workspace).history(n), self._guard(show), lambda _e: None)
