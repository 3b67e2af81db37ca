"""The one import point for Qt: the rest of ``app.ui`` imports Qt names from here only, so a binding
change, a stub or a test shim happens in one place."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtNetwork, QtPdf, QtPdfWidgets, QtPrintSupport, QtWidgets
from PySide6.QtCore import (
    QAbstractTableModel,
    QBuffer,
    QByteArray,
    QDate,
    QIODevice,
    QMimeData,
    QModelIndex,
    QObject,
    QPointF,
    QRect,
    QRunnable,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QIcon,
    QImage,
    QImageReader,
    QKeySequence,
    QPainter,
    QPixmap,
)
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = [
    "QAbstractItemView", "QAbstractTableModel", "QAction", "QApplication", "QByteArray", "QCheckBox",
    "QColor", "QComboBox", "QDate", "QDateEdit", "QDialog", "QDialogButtonBox", "QFileDialog", "QFont",
    "QFormLayout", "QFrame", "QGroupBox", "QHBoxLayout", "QHeaderView", "QIcon", "QKeySequence", "QLabel",
    "QLineEdit", "QListWidget", "QListWidgetItem", "QLocalServer", "QLocalSocket", "QMainWindow",
    "QMessageBox", "QModelIndex", "QObject", "QPdfDocument", "QPdfView", "QPixmap", "QPlainTextEdit",
    "QProgressBar", "QPushButton", "QRunnable", "QScrollArea", "QSortFilterProxyModel", "QSpinBox",
    "QSplitter", "QStackedWidget", "QStatusBar", "QTabWidget", "QTableView", "QTableWidget",
    "QTableWidgetItem", "QTextBrowser", "QThreadPool", "QTimer", "QToolBar", "QTreeWidget",
    "QTreeWidgetItem", "QVBoxLayout", "QWidget", "Qt", "QtCore", "QtGui", "QtNetwork", "QtPdf",
    "QtPdfWidgets", "QtPrintSupport", "QtWidgets", "Signal", "Slot",
]  # fmt: skip
__all__ += ["QBuffer", "QIODevice", "QImage", "QImageReader", "QPainter", "QPrintDialog", "QPrinter"]
__all__ += ["QRect", "QSize"]
__all__ += ["QDragEnterEvent", "QDropEvent", "QLayout", "QMimeData", "QPointF", "QUrl"]
__all__ += ["QSizePolicy"]
__all__ += ["QCompleter"]
__all__ += ["QDoubleSpinBox"]
