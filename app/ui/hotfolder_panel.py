"""The « Dossier de dépôt » tab: the secretary chooses the shared folder where reports are dropped
(each with its ``.dmp.json``, docs/hot-folder.md), how they are sent and how long a file must stay
unchanged, then starts or stops the watching. The tab shows the state (surveillé, arrêté, erreur and
why), the files waiting, those moved to ``.en-cours/`` (in the queue), and every explanation in
``erreurs/`` in full; a corrected pair can be put back to be examined again.

The watching runs in the workspace's own thread (:class:`app.services.workspace.HotFolderWatch`); this panel
reads its snapshot on a timer (memory only: never the share itself on the GUI thread) and starts,
stops, saves the settings and retries through ``app.ui.tasks``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from app.config.layers import Config, ConfigError
from app.services.workspace import (
    HOT_FOLDER_ERROR,
    HOT_FOLDER_STOPPED,
    HOT_FOLDER_WATCHED,
    HotFolderStatus,
    Workspace,
)
from app.store.request import SendMode
from app.ui import qt
from app.ui.errors import describe
from app.ui.tasks import run_in_background
from app.ui.texts import count

POLL_MS = 500
MODES = (
    (SendMode.STRUCTURE, "structure", "Certificat de la structure (secrétariat)"),
    (SendMode.CARD, "carte", "Carte CPS connectée"),
)
STATE_TEXT = {
    HOT_FOLDER_WATCHED: "surveillé",
    HOT_FOLDER_STOPPED: "arrêté",
    HOT_FOLDER_ERROR: "erreur",
}


class HotFolderPanel(qt.QWidget):
    queued = qt.Signal()  # new entries were queued from the folder: the queue view reads again

    def __init__(self, workspace: Workspace, parent: qt.QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.config: Config = workspace.settings.config
        self._shown: HotFolderStatus | None = None
        self._busy = False

        self.folder = qt.QLineEdit()
        self.folder.setReadOnly(True)
        self.folder.setPlaceholderText("Aucun dossier choisi")
        self.choose_button = qt.QPushButton("Choisir…")
        self.open_button = qt.QPushButton("Ouvrir le dossier")
        self.mode = qt.QComboBox()
        for _mode, _value, label in MODES:
            self.mode.addItem(label)
        self.stable = qt.QDoubleSpinBox()
        self.stable.setRange(0.0, 3600.0)
        self.stable.setDecimals(1)
        self.stable.setSuffix(" s")
        self.start_button = qt.QPushButton("Surveiller")
        self.stop_button = qt.QPushButton("Arrêter")
        self.state = qt.QLabel()
        self.state.setWordWrap(True)
        self.state.setTextFormat(qt.Qt.TextFormat.PlainText)
        self.message = qt.QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(qt.Qt.TextFormat.PlainText)

        self.waiting_title, self.waiting = qt.QLabel(), qt.QListWidget()
        self.in_progress_title, self.in_progress = qt.QLabel(), qt.QListWidget()
        self.notes_title, self.notes = qt.QLabel(), qt.QListWidget()
        self.note_text = qt.QPlainTextEdit()
        self.note_text.setReadOnly(True)
        self.note_text.setLineWrapMode(qt.QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.note_text.setPlaceholderText("Choisissez un document refusé pour lire son explication.")
        self.retry_button = qt.QPushButton("Réexaminer (corrigé)")
        self.retry_button.setToolTip(
            "Remet le document et son fichier d'accompagnement corrigés dans le dossier de dépôt : "
            "ils sont examinés à nouveau."
        )

        self._layout()
        self._load_settings()
        self.choose_button.clicked.connect(self.choose_folder)
        self.open_button.clicked.connect(self.open_folder)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.notes.currentRowChanged.connect(self._show_note)
        self.retry_button.clicked.connect(self.retry_selected)
        self.timer = qt.QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.poll()
        if self.config.get("DMP_DEPOT_ACTIF") == "1" and self.folder.text():
            self.start()

    def _layout(self) -> None:
        form = qt.QFormLayout()
        where = qt.QHBoxLayout()
        where.addWidget(self.folder, 1)
        where.addWidget(self.choose_button)
        where.addWidget(self.open_button)
        form.addRow("Dossier :", where)
        how = qt.QHBoxLayout()
        how.addWidget(self.mode, 1)
        how.addWidget(qt.QLabel("Stabilité :"))
        how.addWidget(self.stable)
        how.addWidget(self.start_button)
        how.addWidget(self.stop_button)
        form.addRow("Envoi :", how)
        lists = qt.QHBoxLayout()
        for title, widget in ((self.waiting_title, self.waiting), (self.in_progress_title, self.in_progress)):
            column = qt.QVBoxLayout()
            title.setWordWrap(True)
            column.addWidget(title)
            column.addWidget(widget, 1)
            lists.addLayout(column, 1)
        errors = qt.QHBoxLayout()
        column = qt.QVBoxLayout()
        self.notes_title.setWordWrap(True)
        column.addWidget(self.notes_title)
        column.addWidget(self.notes, 1)
        column.addWidget(self.retry_button)
        errors.addLayout(column, 2)
        errors.addWidget(self.note_text, 3)
        layout = qt.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.state)
        layout.addWidget(self.message)
        layout.addLayout(lists, 1)
        layout.addLayout(errors, 2)

    # -- settings -----------------------------------------------------------------------------------

    def _load_settings(self) -> None:
        self.folder.setText(self.config.get("DMP_DOSSIER_DEPOT") or "")
        value = self.config.get("DMP_DEPOT_MODE", "structure")
        self.mode.setCurrentIndex(next((i for i, m in enumerate(MODES) if m[1] == value), 0))
        try:
            self.stable.setValue(float(self.config.get("DMP_DEPOT_STABLE_S", "2")))
        except ValueError:
            self.stable.setValue(2.0)
        locked = self.config.locked_keys()
        self.choose_button.setEnabled("DMP_DOSSIER_DEPOT" not in locked)
        self.mode.setEnabled("DMP_DEPOT_MODE" not in locked)
        self.stable.setEnabled("DMP_DEPOT_STABLE_S" not in locked)

    def _settings(self, active: bool) -> dict[str, str | None]:
        wanted: dict[str, str | None] = {
            "DMP_DOSSIER_DEPOT": self.folder.text() or None,
            "DMP_DEPOT_MODE": MODES[self.mode.currentIndex()][1],
            "DMP_DEPOT_STABLE_S": f"{self.stable.value():g}",
            "DMP_DEPOT_ACTIF": "1" if active else "0",
        }
        return {k: v for k, v in wanted.items() if not self.config.is_locked(k) and self.config.get(k) != v}

    def _save(self, config: Config, changes: dict[str, str | None]) -> tuple[Config, str]:
        """Save settings (in the worker: no widget read here): the new configuration, and a French
        warning if they could not be saved."""
        if not changes:
            return config, ""
        try:
            return config.save_user(changes), ""
        except ConfigError as error:
            return config, f"Réglages non enregistrés : {error.user_message}"

    # -- actions ------------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        chosen = qt.QFileDialog.getExistingDirectory(
            self, "Choisir le dossier de dépôt", self.folder.text() or str(Path.home())
        )
        if chosen:
            self.folder.setText(chosen)

    def open_folder(self) -> None:
        if not (text := self.folder.text()):
            self.message.setText("Choisissez d'abord le dossier de dépôt.")
            return
        if not qt.QtGui.QDesktopServices.openUrl(qt.QtCore.QUrl.fromLocalFile(text)):
            self.message.setText(f"Le dossier « {text} » n'a pas pu être ouvert.")

    def start(self) -> None:
        if not (text := self.folder.text()):
            self.message.setText("Choisissez d'abord le dossier de dépôt.")
            return
        mode, stable = MODES[self.mode.currentIndex()][0], self.stable.value()
        config, changes, watch = self.config, self._settings(True), self.workspace.hot_folder

        def work() -> tuple[Config, str]:
            watch.start(Path(text), mode, stable)
            return self._save(config, changes)

        self._run(work, "Surveillance du dossier de dépôt démarrée.")

    def stop(self) -> None:
        config, changes, watch = self.config, self._settings(False), self.workspace.hot_folder

        def work() -> tuple[Config, str]:
            watch.stop()
            return self._save(config, changes)

        self._run(work, "Surveillance du dossier de dépôt arrêtée.")

    def retry_selected(self) -> None:
        item = self.notes.currentItem()
        if item is None:
            self.message.setText("Choisissez d'abord un document refusé.")
            return
        document = item.data(qt.Qt.ItemDataRole.UserRole)

        config, watch = self.config, self.workspace.hot_folder

        def work() -> tuple[Config, str]:
            watch.retry(document)
            return config, ""

        self._run(work, f"« {document} » remis dans le dossier : il sera examiné à nouveau.")

    def _run(self, work: Any, done: str) -> None:
        self._busy = True
        self._update_buttons()

        def succeeded(result: tuple[Config, str]) -> None:
            self.config, warning = result
            self._busy = False
            self.message.setText("\n".join(t for t in (done, warning) if t))
            self.poll()

        def failed(error: BaseException) -> None:
            self._busy = False
            code, message = describe(error)
            self.message.setText(f"{message} [{code}]" if code else message)
            self.poll()

        run_in_background(work, succeeded, failed)

    # -- the state ----------------------------------------------------------------------------------

    def poll(self) -> None:
        status = self.workspace.hot_folder.status()
        if status != self._shown:
            previous, self._shown = self._shown, status
            self._show(status)
            if previous is not None and status.queued > previous.queued:
                self.queued.emit()
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.workspace.hot_folder.running
        self.start_button.setEnabled(not self._busy and not running)
        self.stop_button.setEnabled(not self._busy and running)
        self.retry_button.setEnabled(not self._busy and running and self.notes.currentItem() is not None)

    def _show(self, status: HotFolderStatus) -> None:
        text = f"État : {STATE_TEXT[status.state]}"
        if status.folder is not None and status.state != HOT_FOLDER_STOPPED:
            text += f" — {status.folder}"
        if status.reason:
            text += "\n" + status.reason
        self.state.setText(text)
        self.state.setStyleSheet("color: #a00000;" if status.state == HOT_FOLDER_ERROR else "")
        self.waiting_title.setText(f"En attente dans le dossier : {count(len(status.waiting), 'fichier')}")
        _fill(self.waiting, list(status.waiting))
        self.in_progress_title.setText(
            f"Mis en file d'envoi (.en-cours) : {count(len(status.in_progress), 'fichier')}"
        )
        _fill(self.in_progress, list(status.in_progress))
        self.notes_title.setText(f"Refusés (erreurs) : {count(len(status.notes), 'document')}")
        current = self.notes.currentItem()
        selected = current.data(qt.Qt.ItemDataRole.UserRole) if current is not None else None
        self.notes.blockSignals(True)
        self.notes.clear()
        row = -1
        for i, note in enumerate(status.notes):
            when = dt.datetime.fromtimestamp(note.modified).strftime("%d/%m/%Y %H:%M")
            item = qt.QListWidgetItem(f"{note.document} — {when}")
            item.setData(qt.Qt.ItemDataRole.UserRole, note.document)
            item.setToolTip(note.text)
            self.notes.addItem(item)
            if note.document == selected:
                row = i
        self.notes.setCurrentRow(row)
        self.notes.blockSignals(False)
        self._show_note(row)

    def _show_note(self, row: int) -> None:
        notes = self._shown.notes if self._shown is not None else ()
        self.note_text.setPlainText(notes[row].text if 0 <= row < len(notes) else "")
        self._update_buttons()

    def note_texts(self) -> dict[str, str]:
        """The explanations shown (document name: text), for the tests and the accessibility tools."""
        return {n.document: n.text for n in (self._shown.notes if self._shown else ())}


def _fill(widget: qt.QListWidget, names: list[str]) -> None:
    if [widget.item(i).text() for i in range(widget.count())] != names:
        widget.clear()
        widget.addItems(names)
