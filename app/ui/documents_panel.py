"""The patient's documents: a filter bar, the sortable table (no per-row widget, 2,000 rows stay
smooth), the actions the DMP allows on the selected document, and a count.

The panel only adapts: the window fetches the list (``Workspace.documents``, off the GUI thread),
passes it with ``Workspace.actions`` bound to the médecin-traitant flag, and reacts to
:attr:`DocumentsPanel.open_requested` and :attr:`DocumentsPanel.action_requested`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from app.dmp_client.core.actions import Action
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import DocumentInfo
from app.ui.documents_model import (
    COL_AUTHOR,
    COL_DATE,
    COL_FAMILY,
    COL_MARKS,
    COL_STATUS,
    COL_TITLE,
    COL_TYPE,
    FAMILIES,
    DocumentsFilter,
    DocumentsModel,
    local_day,
)
from app.ui.flow_layout import FlowLayout
from app.ui.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDate,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
    Signal,
)

# The action bar, in this order; VIEW is "Ouvrir" (it emits open_requested).
ACTION_LABELS = {
    Action.VIEW: "Ouvrir",
    Action.MASK: "Masquer aux PS",
    Action.UNMASK: "Démasquer",
    Action.SHOW_TO_PATIENT: "Rendre visible au patient",
    Action.SHOW_TO_REPRESENTATIVES: "Rendre visible aux représentants",
    Action.ARCHIVE: "Archiver",
    Action.UNARCHIVE: "Désarchiver",
    Action.REPLACE: "Remplacer…",
    Action.DELETE: "Supprimer…",
}
STATUS_FILTERS = (
    (Status.APPROVED, "Actifs"),
    (Status.ARCHIVED, "Archivés"),
    (Status.DEPRECATED, "Remplacés"),
)


def count_text(total: int, shown: int) -> str:
    """« 2 047 documents, 48 affichés » (French: singular up to 1, non-breaking thousands space)."""

    def number(n: int) -> str:
        return f"{n:,}".replace(",", "\u00a0")

    documents = "document" if total < 2 else "documents"
    shown_word = "affiché" if shown < 2 else "affichés"
    return f"{number(total)} {documents}, {number(shown)} {shown_word}"


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _day(date: QDate) -> dt.date:
    return dt.date(date.year(), date.month(), date.day())


class _Table(QTableView):
    """Enter/Return on the current row opens it (double-click too, see the panel)."""

    enter_pressed = Signal()

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enter_pressed.emit()
            return
        super().keyPressEvent(event)


class _ActionsFor:
    """The window's ``actions_for`` callable, held off the panel's QObject wrapper: with shiboken6
    6.11.3 assigning a callable as an attribute of a QObject wrapper drops its cache of Python
    overrides, and each virtual Qt then calls while refilling it (paint, events, size hints) keeps
    one reference to ``None`` — +13 per record refresh (tests/ui/test_qt_refcount.py, bench/README.md)."""

    __slots__ = ("call",)

    def __init__(self, call: Callable[[DocumentInfo], frozenset[Action]]) -> None:
        self.call = call


class DocumentsPanel(QWidget):
    open_requested = Signal(object)  # DocumentInfo
    action_requested = Signal(object, object)  # DocumentInfo, Action
    history_stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._actions_for = _ActionsFor(lambda _d: frozenset())  # never a callable attribute: see there
        self.model = DocumentsModel(self)
        self.proxy = DocumentsFilter(self.model, self)

        self.family = QComboBox()
        self.family.addItem("Toutes les familles", None)
        for family in FAMILIES:
            self.family.addItem(family.label, family.key)
        self.family.setToolTip("Famille de documents (regroupement des classes du DMP)")
        self.use_from, self.date_from = QCheckBox("Du"), self._date_edit()
        self.use_to, self.date_to = QCheckBox("au"), self._date_edit()
        self.statuses = {status: QCheckBox(label) for status, label in STATUS_FILTERS}
        for box in self.statuses.values():
            box.setChecked(True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Rechercher dans le titre ou le type…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(160)
        reset = QPushButton("Réinitialiser")
        reset.setToolTip("Retirer tous les filtres")
        self.reset_button = reset
        # Consultation not offered by this session (plain indirect mode): said above the list.
        self.notice = QLabel()
        self.notice.setObjectName("consultation-impossible")
        self.notice.setWordWrap(True)
        self.notice.hide()

        # Two rows, so that the list and the opened document can share the window's width.
        filters = QVBoxLayout()
        first, second = QHBoxLayout(), QHBoxLayout()
        first.addWidget(QLabel("Famille :"))
        first.addWidget(self.family)
        first.addSpacing(12)
        for widget in (self.use_from, self.date_from, self.use_to, self.date_to):
            first.addWidget(widget)
        first.addStretch(1)
        for box in self.statuses.values():
            second.addWidget(box)
        second.addSpacing(12)
        second.addWidget(self.search, 1)
        second.addWidget(reset)
        filters.addLayout(first)
        filters.addLayout(second)

        self.table = _Table()
        self.table.setModel(self.proxy)
        self._setup_table()

        self.count = QLabel(count_text(0, 0))
        self.action_buttons: dict[Action, QPushButton] = {}
        bar = QWidget()  # the buttons wrap onto a second line rather than widen the window
        actions = FlowLayout(bar)
        actions.addWidget(self.count)
        for action, label in ACTION_LABELS.items():
            button = QPushButton(label)
            button.setHidden(True)
            button.clicked.connect(lambda _checked=False, a=action: self._trigger(a))
            actions.addWidget(button)
            self.action_buttons[action] = button
        self.action_buttons[Action.VIEW].setDefault(True)

        # The history loading behind the first search: its count and a stop button (hidden otherwise).
        self.history = QLabel()
        self.history.setObjectName("historique")
        self.history.setWordWrap(True)
        self.history_stop = QPushButton("Arrêter le chargement")
        self.history_stop.setToolTip("Ne plus demander la suite de l'historique au DMP")
        self.history_stop.clicked.connect(self.history_stop_requested.emit)
        history = QHBoxLayout()
        history.addWidget(self.history, 1)
        history.addWidget(self.history_stop)
        self.history.hide()
        self.history_stop.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addLayout(filters)
        layout.addLayout(history)
        layout.addWidget(self.table, 1)
        layout.addWidget(bar)

        # Ctrl+F is the window's (window_actions.SHORTCUTS): a second one here made it ambiguous.

        self.family.currentIndexChanged.connect(self._family_changed)
        for widget in (self.use_from, self.use_to):
            widget.toggled.connect(self._dates_changed)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._dates_changed)
        for box in self.statuses.values():
            box.toggled.connect(self._statuses_changed)
        self.search.textChanged.connect(self._search_changed)
        reset.clicked.connect(self.reset_filters)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self._open())
        self.table.enter_pressed.connect(self._open)
        self._dates_changed()

    # -- API --------------------------------------------------------------------------------------

    def set_documents(
        self, documents: list[DocumentInfo], actions_for: Callable[[DocumentInfo], frozenset[Action]]
    ) -> None:
        """Show this list (one model reset); ``actions_for`` gives the actions the DMP allows."""
        self._actions_for.call = actions_for
        self.model.set_documents(documents)
        days = [d for d in (local_day(doc) for doc in documents) if d is not None]
        for edit, day in ((self.date_from, min(days, default=None)), (self.date_to, max(days, default=None))):
            edit.blockSignals(True)
            edit.setDate(_qdate(day or dt.date.today()))
            edit.blockSignals(False)
        self._dates_changed()  # applies the bounds again and refreshes the count and the buttons
        self.count.setToolTip("")
        self.show_history("", loading=False)

    def add_documents(self, documents: list[DocumentInfo]) -> int:
        """Merge more of the same patient's documents into the list (the history loading behind the
        first search): rows inserted, never a reset, so the selection, the sort and the filters stay;
        the date bounds widen unless the user set them. Returns how many rows were added."""
        added = self.model.add_documents(documents)
        if added:
            days = [d for d in (local_day(doc) for doc in self.model.documents()) if d is not None]
            for box, edit, day in (
                (self.use_from, self.date_from, min(days, default=None)),
                (self.use_to, self.date_to, max(days, default=None)),
            ):
                if not box.isChecked() and day is not None:
                    edit.blockSignals(True)
                    edit.setDate(_qdate(day))
                    edit.blockSignals(False)
            self._refresh()
        return added

    def show_history(self, text: str, *, loading: bool) -> None:
        """The history's progress (« 240 documents sur 2 047 chargés »), with its stop button while
        it loads; an empty text hides the line."""
        self.history.setText(text)
        self.history.setVisible(bool(text))
        self.history_stop.setVisible(loading)

    def show_refusal(self, code: str, message: str) -> None:
        """An answer refused for identity vigilance: the list is emptied (nothing of that host's
        answers stays on screen) and a short reason with its code takes the count's place until the
        next list (the whole French message in its tooltip, and in the error dialog)."""
        self.set_documents([], lambda _d: frozenset())
        self.count.setText(f"Liste écartée : réponse du DMP pour un autre patient [{code}]")
        self.count.setToolTip(message)

    def set_consultation(self, refusal: str | None) -> None:
        """``None``: the list is offered. Otherwise this session may not consult (plain indirect
        mode, app/dmp_client/core/rights.py): the list and its filters are disabled, ``refusal``
        (naming the card or e-CPS) said above them and in their tooltips."""
        allowed = refusal is None
        widgets = (self.family, self.use_from, self.use_to, self.search, self.reset_button, self.table)
        for widget in (*widgets, *self.statuses.values()):
            widget.setEnabled(allowed)
        self.date_from.setEnabled(allowed and self.use_from.isChecked())
        self.date_to.setEnabled(allowed and self.use_to.isChecked())
        for widget in (self.table, self.search, self.notice):
            widget.setToolTip(refusal or "")
        self.notice.setText(refusal or "")
        self.notice.setVisible(not allowed)

    def selected_document(self) -> DocumentInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.document(rows[0]) if rows else None

    def offered_actions(self) -> frozenset[Action]:
        """The actions whose button is offered for the selected document."""
        return frozenset(a for a, button in self.action_buttons.items() if not button.isHidden())

    def visible_documents(self) -> list[DocumentInfo]:
        """The rows as the table shows them (filtered, in the current order)."""
        return [self.proxy.document(self.proxy.index(r, 0)) for r in range(self.proxy.rowCount())]

    def reset_filters(self) -> None:
        for widget in (self.family, self.use_from, self.use_to, self.search, *self.statuses.values()):
            widget.blockSignals(True)
        self.family.setCurrentIndex(0)
        self.use_from.setChecked(False)
        self.use_to.setChecked(False)
        self.search.clear()
        for box in self.statuses.values():
            box.setChecked(True)
        for widget in (self.family, self.use_from, self.use_to, self.search, *self.statuses.values()):
            widget.blockSignals(False)

        def clear_all() -> None:
            self.proxy.set_family(None)
            self.proxy.set_search("")
            self.proxy.set_statuses(self.statuses)

        self._filter(clear_all)
        self._dates_changed()

    # -- internals --------------------------------------------------------------------------------

    def _date_edit(self) -> QDateEdit:
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("dd/MM/yyyy")
        edit.setDate(QDate.currentDate())
        return edit

    def _setup_table(self) -> None:
        table = self.table
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSortingEnabled(True)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.verticalHeader().setVisible(False)
        rows = table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row size computation
        rows.setDefaultSectionSize(table.fontMetrics().height() + 8)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        # The title is what a doctor reads first: right after the date, wide enough for a usual title;
        # the other columns follow (the list scrolls sideways when the window is narrow).
        header.moveSection(header.visualIndex(COL_TITLE), header.visualIndex(COL_DATE) + 1)
        metrics = table.fontMetrics()
        widths = {
            COL_TITLE: "Compte rendu d'hospitalisation (PDF)",
            COL_DATE: "00/00/0000",
            COL_FAMILY: "Certificats et déclarations",
            COL_TYPE: "Prescription de produits de santé",
            COL_AUTHOR: "Claire MEDECIN-GENERALISTE",
            COL_STATUS: "remplacé",
            COL_MARKS: "Masqué PS · Invisible patient",
        }
        for column, sample in widths.items():
            table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 24)
        header.setMinimumSectionSize(metrics.horizontalAdvance("Statut") + 24)
        table.sortByColumn(COL_DATE, Qt.SortOrder.DescendingOrder)

    def _filter(self, apply: Callable[[], None]) -> None:
        """Apply a filter change. When the selected row is filtered out, Qt may select a neighbour:
        that selection is dropped (the buttons never act on a document the user did not pick)."""
        chosen = self.selected_document()
        apply()
        now = self.selected_document()
        if now is not None and (chosen is None or now.entry_id != chosen.entry_id):
            self.table.clearSelection()
        self._refresh()

    def _family_changed(self) -> None:
        self._filter(lambda: self.proxy.set_family(self.family.currentData()))

    def _dates_changed(self, *_args: object) -> None:
        offered = self.table.isEnabled()
        self.date_from.setEnabled(offered and self.use_from.isChecked())
        self.date_to.setEnabled(offered and self.use_to.isChecked())
        start = _day(self.date_from.date()) if self.use_from.isChecked() else None
        end = _day(self.date_to.date()) if self.use_to.isChecked() else None
        self._filter(lambda: self.proxy.set_date_range(start, end))

    def _statuses_changed(self, *_args: object) -> None:
        checked = [status for status, box in self.statuses.items() if box.isChecked()]
        self._filter(lambda: self.proxy.set_statuses(checked))

    def _search_changed(self, text: str) -> None:
        self._filter(lambda: self.proxy.set_search(text))

    def _refresh(self) -> None:
        self.count.setText(count_text(self.model.rowCount(), self.proxy.rowCount()))
        self._selection_changed()

    def _selection_changed(self, *_args: object) -> None:
        document = self.selected_document()
        allowed = self._actions_for.call(document) if document is not None else frozenset()
        for action, button in self.action_buttons.items():
            button.setHidden(action not in allowed)

    def _open(self) -> None:
        document = self.selected_document()
        if document is not None and Action.VIEW in self._actions_for.call(document):
            self.open_requested.emit(document)

    def _trigger(self, action: Action) -> None:
        document = self.selected_document()
        if document is None or action not in self._actions_for.call(document):
            return
        if action is Action.VIEW:
            self.open_requested.emit(document)
        else:
            self.action_requested.emit(document, action)
