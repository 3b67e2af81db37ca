"""The patient's document list as a Qt table: a model over ``list[DocumentInfo]`` whose display
strings and sort keys are computed once per load (``data()`` only indexes tuples), and a filter
proxy (family, creation date range, status, free text on title and type).
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.dmp_client.core import ebrim
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import DocumentInfo
from app.dmp_client.core.metadata import Visibility
from app.ui.qt import QAbstractTableModel, QColor, QModelIndex, QObject, QSortFilterProxyModel, Qt


@dataclass(frozen=True)
class Family:
    key: str
    label: str
    class_codes: tuple[str, ...]


# The eight document families the list filters by, grouped from the DMP classCodes (JDV_J57; ASS_X16
# maps each typeCode to its classCode). [UNSURE] The shipped value sets list the classes, not a
# grouping into eight families: this table is ours. It follows the decades of the class codes
# (1x reports and syntheses, 3x imaging, 4x treatment and care, 5x certificates, 6x reimbursement,
# 9x other), reports and syntheses kept apart, patient and management documents kept apart. A
# classCode not listed here (e.g. the submission-set signature) belongs to no family.
FAMILIES: tuple[Family, ...] = (
    Family("comptes-rendus", "Comptes rendus", ("10",)),
    Family("syntheses", "Synthèses", ("11",)),
    Family("imagerie", "Imagerie médicale", ("31",)),
    Family("traitements", "Traitements et soins", ("42", "43", "44", "45")),
    Family("certificats", "Certificats et déclarations", ("52",)),
    Family("remboursements", "Remboursements", ("60",)),
    Family("patient", "Documents du patient", ("90",)),
    Family("gestion", "Documents de gestion", ("95",)),
)
_FAMILY_OF_CLASS = {code: family for family in FAMILIES for code in family.class_codes}
# The submission set's XAdES signature is a DocumentEntry of the registry, not a document to read.
SIGNATURE_CLASS = "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1"

STATUS_LABELS = {
    Status.APPROVED: "actif",
    Status.ARCHIVED: "archivé",
    Status.DEPRECATED: "remplacé",
    Status.DELETED: "supprimé",
}
# (code, badge shown in the list, explanation in the tooltip)
MARKS = (
    (Visibility.MASKED_FROM_PS, "Masqué PS", "Masqué aux professionnels de santé"),
    (Visibility.INVISIBLE_TO_PATIENT, "Invisible patient", "Invisible pour le patient"),
    (
        Visibility.INVISIBLE_TO_REPRESENTATIVES,
        "Invisible représentants",
        "Invisible pour les représentants légaux du patient",
    ),
)

COLUMNS = ("Date", "Famille", "Type", "Titre", "Auteur", "Statut", "Marques")
COL_DATE, COL_FAMILY, COL_TYPE, COL_TITLE, COL_AUTHOR, COL_STATUS, COL_MARKS = range(len(COLUMNS))
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
DOCUMENT_ROLE = int(Qt.ItemDataRole.UserRole) + 2
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_INACTIVE = QColor(110, 110, 110)
_MARKED = QColor(255, 226, 170)
_NO_DATE = -1e18  # sorts before every real date


def is_signature(document: DocumentInfo) -> bool:
    return document.class_code is not None and document.class_code.code == SIGNATURE_CLASS


def family_of(document: DocumentInfo) -> Family | None:
    return _FAMILY_OF_CLASS.get(document.class_code.code) if document.class_code else None


def local_day(document: DocumentInfo) -> dt.date | None:
    """The creation date on the workstation's calendar (what the list shows and filters on)."""
    return document.creation_time.astimezone().date() if document.creation_time else None


@functools.lru_cache(maxsize=16384)  # families, types, authors and statuses repeat across rows
def fold(text: str) -> str:
    """Case- and accent-insensitive form for the search (« echo » finds « Échographie »)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@functools.lru_cache(maxsize=4096)  # the same few authors sign most of a patient's documents
def _person_label(person: str) -> str:
    parts = [ebrim.hl7_unescape(p) for p in person.split("^")]
    family = parts[1] if len(parts) > 1 else ""
    given = parts[2].title() if len(parts) > 2 else ""
    return f"{given} {family}".strip() or parts[0]


def author_label(document: DocumentInfo) -> str:
    people = [_person_label(person) for person in document.author_persons]
    if people:
        return ", ".join(people)
    institutions = [ebrim.hl7_unescape(i.split("^", 1)[0]) for i in document.author_institutions]
    if any(institutions):
        return ", ".join(i for i in institutions if i)
    patient = (document.class_code and document.class_code.code == "90") or (
        document.practice_setting and document.practice_setting.code == "EXP_PATIENT"
    )
    return "Le patient" if patient else "Auteur non renseigné"


SUMMARY_FIELDS = (
    "Titre",
    "Famille",
    "Type",
    "Créé le",
    "Acte du",
    "Auteur",
    "Statut",
    "Marques",
    "Identifiant",
)


def when_text(moment: dt.datetime | None) -> str:
    return moment.astimezone().strftime("%d/%m/%Y à %H:%M") if moment else ""


def summary(document: DocumentInfo) -> dict[str, str]:
    """The header summary shown beside an open document, by :data:`SUMMARY_FIELDS` label (the
    registry's metadata, which the DMP checks against the CDA header on submission)."""
    family = family_of(document)
    kind = document.type_code
    codes = document.confidentiality_codes
    return {
        "Titre": document.title,
        "Famille": family.label if family else "",
        "Type": (kind.display_name or kind.code) if kind else "",
        "Créé le": when_text(document.creation_time),
        "Acte du": when_text(document.service_start),
        "Auteur": author_label(document),
        "Statut": STATUS_LABELS.get(document.status, document.status),
        "Marques": "\n".join(why for code, _badge, why in MARKS if code in codes) or "aucune",
        "Identifiant": document.unique_id,
    }


@dataclass(frozen=True, slots=True)
class _Row:
    document: DocumentInfo
    display: tuple[str, ...]
    sort: tuple[Any, ...]
    tooltips: tuple[str | None, ...]
    family: str | None
    status: str
    day: dt.date | None
    haystack: str
    inactive: bool
    marked: bool


def _row(document: DocumentInfo) -> _Row:
    family = family_of(document)
    day = local_day(document)
    kind = (document.type_code.display_name or document.type_code.code) if document.type_code else ""
    klass = document.class_code
    family_text = family.label if family else ((klass.display_name or klass.code) if klass else "—")
    status = STATUS_LABELS.get(document.status, "")
    codes = document.confidentiality_codes
    marks = [(badge, why) for code, badge, why in MARKS if code in codes]
    author = author_label(document)
    institutions = ", ".join(ebrim.hl7_unescape(i.split("^", 1)[0]) for i in document.author_institutions)
    display = (
        day.strftime("%d/%m/%Y") if day else "—",
        family_text,
        kind,
        document.title,
        author,
        status,
        " · ".join(badge for badge, _ in marks),
    )
    when = when_text(document.creation_time)
    tooltips = (
        f"Créé le {when}" if when else "Date de création non renseignée",
        f"Classe : {klass.display_name} ({klass.code})" if klass else None,
        kind or None,
        document.title or None,
        f"{author} — {institutions}" if institutions and institutions != author else author,
        None,
        "\n".join(why for _, why in marks) or None,
    )
    sort = (
        document.creation_time.timestamp() if document.creation_time else _NO_DATE,
        *(fold(text) for text in display[1:]),
    )
    return _Row(
        document,
        display,
        sort,
        tooltips,
        family.key if family else None,
        document.status,
        day,
        fold(f"{document.title}\n{kind}"),
        document.status != Status.APPROVED,
        bool(marks),
    )


def _key(document: DocumentInfo) -> str:
    return document.unique_id or document.entry_id


class DocumentsModel(QAbstractTableModel):
    """Read-only table of the documents (submission-set signatures left out); one reset per load."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []

    def set_documents(self, documents: Sequence[DocumentInfo]) -> None:
        rows = [_row(d) for d in documents if not is_signature(d)]  # before the reset: no wait in it
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def add_documents(self, documents: Sequence[DocumentInfo]) -> int:
        """Append the documents not already listed (same uniqueId, else entryUUID: an Approved entry
        replaces another status in place) as inserted rows, not a reset: the view's selection and
        sort stay. Returns how many rows were added."""
        index = {_key(r.document): n for n, r in enumerate(self._rows)}
        added: list[_Row] = []
        for document in documents:
            if is_signature(document):
                continue
            key = _key(document)
            at = index.get(key)
            if at is None:
                index[key] = len(self._rows) + len(added)
                added.append(_row(document))
            elif at < len(self._rows):
                kept = self._rows[at].document
                if document.status == Status.APPROVED and kept.status != Status.APPROVED:
                    self._rows[at] = _row(document)
                    self.dataChanged.emit(self.index(at, 0), self.index(at, len(COLUMNS) - 1))
            elif (
                document.status == Status.APPROVED
                and added[at - len(self._rows)].document.status != Status.APPROVED
            ):
                added[at - len(self._rows)] = _row(document)
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()
        return len(added)

    def row_info(self, row: int) -> _Row:
        return self._rows[row]

    def document(self, row: int) -> DocumentInfo:
        return self._rows[row].document

    def documents(self) -> list[DocumentInfo]:
        return [r.document for r in self._rows]

    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Any, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == _DISPLAY:
            return row.display[column]
        if role == SORT_ROLE:
            return row.sort[column]
        if role == _TOOLTIP:
            return row.tooltips[column]
        if role == DOCUMENT_ROLE:
            return row.document
        if role == _FOREGROUND and row.inactive:
            return _INACTIVE
        if role == _BACKGROUND and column == COL_MARKS and row.marked:
            return _MARKED
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def flags(self, index: Any) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class DocumentsFilter(QSortFilterProxyModel):
    """Filters by family, creation date range (inclusive, local calendar), status and free text
    (every word must appear in the title or the type, case and accents ignored); sorts on
    :data:`SORT_ROLE` (dates as dates)."""

    def __init__(self, source: DocumentsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._family: str | None = None
        self._start: dt.date | None = None
        self._end: dt.date | None = None
        self._statuses: frozenset[str] | None = None
        self._words: tuple[str, ...] = ()
        self.setSortRole(SORT_ROLE)
        self.setSourceModel(source)

    def set_family(self, family: str | None) -> None:
        self.beginFilterChange()
        self._family = family or None
        self._end_change()

    def set_date_range(self, start: dt.date | None, end: dt.date | None) -> None:
        self.beginFilterChange()
        self._start, self._end = start, end
        self._end_change()

    def set_statuses(self, statuses: Iterable[str] | None) -> None:
        """Only these statuses (``None``: every status)."""
        self.beginFilterChange()
        self._statuses = None if statuses is None else frozenset(statuses)
        self._end_change()

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._words = tuple(fold(text).split())
        self._end_change()

    def _end_change(self) -> None:
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def document(self, index: Any) -> DocumentInfo:
        return self._source.document(self.mapToSource(index).row())

    def accepts(self, row: _Row) -> bool:
        if self._family is not None and row.family != self._family:
            return False
        if self._statuses is not None and row.status not in self._statuses:
            return False
        if self._start is not None or self._end is not None:
            if row.day is None:
                return False
            if (self._start is not None and row.day < self._start) or (
                self._end is not None and row.day > self._end
            ):
                return False
        return all(word in row.haystack for word in self._words)

    def filterAcceptsRow(self, source_row: int, source_parent: Any) -> bool:
        return self.accepts(self._source.row_info(source_row))
