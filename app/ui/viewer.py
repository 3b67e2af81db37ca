"""A retrieved document on screen: PDF (every page), text (plain, RTF as text), images (JPEG, TIFF),
structured CDA (rendered by app/dmp_client/core/cda_render.py into a QTextBrowser that loads nothing
but the document's own inline images), the header summary beside it (with the CDA header rendered for
a level-1 document), printing, PDF export of a rendered document and "save a copy". The body is read,
decoded and rendered off the GUI thread; the viewer only shows the result.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.dmp_client.core.cda_render import STRUCTURED_BODY, Rendered, ins_from_cx, render
from app.dmp_client.core.iti18 import DocumentInfo
from app.errors import DmpClientError
from app.services.workspace import Retrieved
from app.ui.documents_model import SUMMARY_FIELDS, summary
from app.ui.flow_layout import FlowLayout
from app.ui.qt import (
    QBuffer,
    QByteArray,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QImage,
    QImageReader,
    QIODevice,
    QLabel,
    QPainter,
    QPdfDocument,
    QPdfView,
    QPixmap,
    QPlainTextEdit,
    QPointF,
    QPrintDialog,
    QPrinter,
    QPushButton,
    QRect,
    QScrollArea,
    QSize,
    QSplitter,
    QStackedWidget,
    Qt,
    QTextBrowser,
    QtGui,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.tasks import run_in_background

# The nonXMLBody media types of the DMP (ASS_A12) and the extension a saved copy gets.
EXTENSIONS = {"application/pdf": ".pdf", "text/plain": ".txt", "text/rtf": ".rtf"}
EXTENSIONS.update({"image/jpeg": ".jpg", "image/tiff": ".tif"})


@dataclass(frozen=True)
class Content:
    """What the worker prepared: ``kind`` is pdf, text, image, structured, unsupported or refused (a
    structured CDA that cannot be rendered, or a CDA about another patient: nothing shown); ``rendered``
    is the CDA rendering (a structured document, or a level-1 document's header), ``images`` its
    inline images decoded, ``refusal`` why the CDA could not be rendered."""

    kind: str
    data: bytes = b""
    text: str = ""
    image: QImage | None = None
    rendered: Rendered | None = None
    images: dict[str, QImage] | None = None
    refusal: str = ""


def media_kind(media_type: str) -> str:
    return (media_type or "").split(";", 1)[0].strip().lower()


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")  # the usual 8-bit encoding of French documents


_RTF_TOKEN = re.compile(
    r"\\([a-z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\([^a-z])|([{}])|[\r\n]+|([^\\{}\r\n]+)", re.I
)
_RTF_SKIP = {"fonttbl", "colortbl", "stylesheet", "info", "pict", "header", "footer", "object", "themedata"}
_RTF_TEXT = {"par": "\n", "line": "\n", "tab": "\t", "emdash": "—", "endash": "–", "bullet": "•"}
_RTF_TEXT.update({"~": "\u00a0", "\\": "\\", "{": "{", "}": "}"})


def rtf_to_text(rtf: str) -> str:
    """The text of an RTF document (formatting dropped; tables and pictures are not rendered)."""
    out: list[str] = []
    stack: list[tuple[bool, int]] = []
    skipping, uc, fallback = False, 1, 0  # fallback: characters still to drop after a \u
    for word, arg, hexa, symbol, brace, text in _RTF_TOKEN.findall(rtf):
        if brace:
            if brace == "{":
                stack.append((skipping, uc))
            else:
                skipping, uc = stack.pop() if stack else (False, 1)
        elif symbol == "*" or word in _RTF_SKIP:
            skipping = True
        elif skipping:
            continue
        elif word == "uc":
            uc = int(arg or 1)
        elif word == "u":
            out.append(chr(int(arg or 0) % 65536))
            fallback = uc
        elif fallback and (hexa or text):
            fallback -= 1
            out.append(text[1:])
        elif hexa:
            out.append(bytes([int(hexa, 16)]).decode("cp1252", "replace"))
        else:
            out.append(_RTF_TEXT.get(word or symbol, "") if word or symbol else text)
    return "".join(out).strip()


def rendered_images(rendered: Rendered) -> dict[str, QImage]:
    """The rendered CDA's embedded images, decoded (any thread), for :meth:`CdaBrowser.show_rendered`."""
    return {name: QImage.fromData(data) for name, (_type, data) in rendered.images.items()}


def read_content(body: Path, media_type: str, cda: Path | None = None, patient_cx: str = "") -> Content:
    """Read and decode the body, render the CDA (blocking: runs on a worker thread). With
    ``patient_cx``, a CDA that does not carry that patient's INS is not shown."""
    rendered, refusal = None, ""
    if cda is not None:
        try:
            rendered = render(cda.read_bytes(), patient=ins_from_cx(patient_cx) if patient_cx else None)
        except DmpClientError as error:
            refusal = f"{error.user_message} [{error.code}]"
    if media_type == STRUCTURED_BODY:
        if rendered is None:
            return Content("refused", refusal=refusal or "Document structuré illisible.")
        return Content("structured", rendered=rendered, images=rendered_images(rendered))
    if refusal.endswith("[DMP-REPONSE-AUTRE-PATIENT]"):  # identity vigilance: the body is not shown
        return Content("refused", refusal=refusal)
    content = _read_body(body, media_type)
    return Content(content.kind, content.data, content.text, content.image, rendered, None, refusal)


def _read_body(body: Path, media_type: str) -> Content:
    kind = media_kind(media_type)
    if kind == "application/pdf":
        return Content("pdf", data=body.read_bytes())
    if kind in ("text/plain", "text/rtf"):
        text = decode_text(body.read_bytes())
        return Content("text", text=rtf_to_text(text) if kind == "text/rtf" else text)
    if kind in ("image/jpeg", "image/tiff"):
        return Content("image", image=_read_image(body))
    return Content("unsupported")


def _read_image(path: Path) -> QImage | None:
    """Every frame (multi-page TIFF), stacked vertically; ``None`` if unreadable."""
    reader = QImageReader(str(path))
    frames: list[QImage] = []
    while not (frame := reader.read()).isNull():
        frames.append(frame)
        if not reader.jumpToNextImage():
            break
    if len(frames) <= 1:
        return frames[0] if frames else None
    sheet = QImage(
        max(f.width() for f in frames), sum(f.height() + 8 for f in frames), QImage.Format.Format_RGB32
    )
    sheet.fill(Qt.GlobalColor.white)
    painter = QPainter(sheet)
    top = 0
    for frame in frames:
        painter.drawImage(0, top, frame)
        top += frame.height() + 8
    painter.end()
    return sheet


IMAGE_RESOURCE = QtGui.QTextDocument.ResourceType.ImageResource.value


class CdaBrowser(QTextBrowser):
    """A QTextBrowser for the renderer's HTML: no link is followed and no resource is loaded but the
    document's own inline images, registered by name (``cda-media:N``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self._images: dict[str, QImage] = {}

    def show_rendered(
        self, rendered: Rendered, images: dict[str, QImage] | None, *, header_only: bool = False
    ) -> None:
        self._images = {} if header_only else dict(images or {})
        self.document().clear()
        for name, image in self._images.items():
            self.document().addResource(IMAGE_RESOURCE, QUrl(name), image)
        self.setHtml(rendered.header_html if header_only else rendered.html)

    def loadResource(self, kind: int, name: QUrl | str) -> Any:
        image = self._images.get(name.toString() if isinstance(name, QUrl) else name)
        if int(kind) == IMAGE_RESOURCE and image is not None:
            return image
        return None  # nothing external, ever: no file, no network, no style sheet


def export_pdf(document: Any, target: Path) -> None:
    """Write a rendered document (a QTextDocument) to ``target`` as an A4 PDF."""
    writer = QtGui.QPdfWriter(str(target))
    writer.setPageSize(QtGui.QPageSize(QtGui.QPageSize.PageSizeId.A4))
    writer.setResolution(300)
    writer.setTitle("Document du DMP")
    writer.setCreator("Client DMP")
    document.print_(writer)


def suggested_name(info: DocumentInfo, media_type: str) -> str:
    stem = re.sub(r'[<>:"/\\|?*\x00-\x1f]+', " ", info.title).strip(" .") or "document"
    return stem[:120] + EXTENSIONS.get(media_kind(media_type), "")


def _free_path(path: Path) -> Path:
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        number += 1
    return candidate


def save_copies(retrieved: Retrieved, target: Path, with_cda: bool) -> list[Path]:
    """Copy the body to ``target`` (and the CDA beside it, never over an existing file)."""
    shutil.copyfile(retrieved.body, target)
    written = [target]
    if with_cda:
        cda = _free_path(target.with_name(f"{target.stem} - CDA.xml"))
        shutil.copyfile(retrieved.cda, cda)
        written.append(cda)
    return written


class DocumentViewer(QWidget):
    shown = Signal()  # the document (or the message replacing it) is on screen
    saved = Signal(object)  # list[Path] written by "Enregistrer une copie…"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._retrieved: Retrieved | None = None
        self._info: DocumentInfo | None = None
        self._content: Content | None = None
        self._generation = 0
        self._buffer: QBuffer | None = None

        self.pdf = QPdfDocument(self)
        self.pdf_view = QPdfView()
        self.pdf_view.setDocument(self.pdf)
        self.pdf_view.setPageMode(QPdfView.PageMode.MultiPage)
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.image_area = QScrollArea()
        self.image_area.setWidget(self.image)
        self.image_area.setWidgetResizable(True)
        self.rendered = CdaBrowser()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages = QStackedWidget()
        for page in (self.message, self.pdf_view, self.text, self.image_area, self.rendered):
            self.pages.addWidget(page)

        side = QGroupBox("En-tête du document")
        self.header_box = side
        self.summary = QFormLayout(side)
        self.summary.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.fields: dict[str, QLabel] = {}
        for name in SUMMARY_FIELDS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary.addRow(f"{name} :", label)
            self.fields[name] = label
        self.cda_header = CdaBrowser()  # a level-1 document's CDA header, rendered
        self.cda_header.setMinimumHeight(160)
        self.summary.addRow(self.cda_header)

        self.print_button = QPushButton("&Imprimer…")
        self.pdf_button = QPushButton("Exporter en P&DF…")
        self.pdf_button.setToolTip("Enregistrer le document affiché (en-tête et sections) en PDF")
        self.save_button = QPushButton("Enregistrer une &copie…")
        self.with_cda = QCheckBox("avec le CDA (XML)")
        self.with_cda.setToolTip("Enregistrer aussi le document CDA tel que stocké dans le DMP")
        # Zoom and pages (PDF): the document opens fitted to the viewer's width.
        self.zoom_out_button = QPushButton("−")
        self.zoom_out_button.setToolTip("Réduire (Ctrl+-)")
        self.zoom_out_button.setShortcut("Ctrl+-")
        self.zoom_in_button = QPushButton("+")
        self.zoom_in_button.setToolTip("Agrandir (Ctrl++)")
        self.zoom_in_button.setShortcut("Ctrl++")
        self.fit_button = QPushButton("&Largeur")
        self.fit_button.setToolTip("Ajuster le document à la largeur (Ctrl+0)")
        self.fit_button.setShortcut("Ctrl+0")
        self.previous_page_button = QPushButton("◀")
        self.previous_page_button.setToolTip("Page précédente (Page préc.)")
        self.previous_page_button.setShortcut("PgUp")
        self.page_label = QLabel("")
        self.next_page_button = QPushButton("▶")
        self.next_page_button.setToolTip("Page suivante (Page suiv.)")
        self.next_page_button.setShortcut("PgDown")
        self.header_button = QPushButton("&En-tête")
        self.header_button.setCheckable(True)
        self.header_button.setToolTip("Afficher ou replier l'en-tête du document (métadonnées du DMP)")
        for small in (self.zoom_out_button, self.zoom_in_button, self.previous_page_button,
                      self.next_page_button):  # fmt: skip
            small.setFixedWidth(small.fontMetrics().horizontalAdvance("MM") + 16)
        self.status = QLabel()
        self.status.setWordWrap(True)
        bar = QWidget()
        buttons = FlowLayout(bar)
        for widget in (
            self.print_button, self.pdf_button, self.save_button, self.with_cda, self.zoom_out_button,
            self.zoom_in_button,
            self.fit_button, self.previous_page_button, self.page_label, self.next_page_button,
            self.header_button,
        ):  # fmt: skip
            buttons.addWidget(widget)

        splitter = QSplitter()
        splitter.addWidget(self.pages)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([3000, 1000])  # the document first; the header summary beside it, folded
        splitter.setChildrenCollapsible(False)
        side.setMaximumWidth(340)
        side.setMinimumWidth(160)
        side.hide()
        self.pages.setMinimumWidth(200)
        layout = QVBoxLayout(self)
        layout.addWidget(bar)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        self.header_button.toggled.connect(side.setVisible)
        self.zoom_in_button.clicked.connect(lambda: self._zoom(1.25))
        self.zoom_out_button.clicked.connect(lambda: self._zoom(0.8))
        self.fit_button.clicked.connect(self.fit_width)
        self.previous_page_button.clicked.connect(lambda: self._go_to_page(-1))
        self.next_page_button.clicked.connect(lambda: self._go_to_page(1))
        self.pdf_view.pageNavigator().currentPageChanged.connect(self._page_changed)
        self._pixmap: QPixmap | None = None
        self._zoom_factor = 1.0  # images: on top of the fit to the width
        self.print_button.clicked.connect(self._print)
        self.pdf_button.clicked.connect(self._export_pdf)
        self.save_button.clicked.connect(self._save)
        self.pdf.statusChanged.connect(self._pdf_status)
        self.clear()

    # -- API --------------------------------------------------------------------------------------

    def show_document(self, retrieved: Retrieved, info: DocumentInfo) -> None:
        self.clear()
        self._retrieved, self._info = retrieved, info
        self._fill_summary(info)
        self._show_message("Chargement du document…")
        self.save_button.setEnabled(True)
        generation = self._generation
        run_in_background(
            lambda: read_content(retrieved.body, retrieved.media_type, retrieved.cda, info.patient_cx),
            lambda content: self._loaded(generation, content),
            lambda _error: self._failed(generation),
        )

    def clear(self) -> None:
        self._generation += 1
        self._retrieved = self._info = self._content = None
        self.pdf.close()
        self._buffer = None
        self.text.clear()
        self.image.clear()
        self.rendered.clear()
        self.cda_header.clear()
        self.cda_header.hide()  # shown for a level-1 document only (a structured one shows it in full)
        for label in self.fields.values():
            label.clear()
        self.status.clear()
        self._show_message("Aucun document ouvert.")
        self.print_button.setEnabled(False)
        self.pdf_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self._pixmap, self._zoom_factor = None, 1.0
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self._controls()

    # -- display ----------------------------------------------------------------------------------

    def _fill_summary(self, info: DocumentInfo) -> None:
        for name, value in summary(info).items():
            self.fields[name].setText(value or "—")

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.pages.setCurrentWidget(self.message)

    def _loaded(self, generation: int, content: Content) -> None:
        if generation != self._generation or self._retrieved is None:
            return
        self._content = content
        if content.rendered is not None and content.kind != "structured":
            self.cda_header.show_rendered(content.rendered, None, header_only=True)
            self.cda_header.show()
        elif content.refusal and content.kind != "refused":
            self.cda_header.setPlainText(f"En-tête du CDA non affichable : {content.refusal}")
            self.cda_header.show()
        if content.kind == "structured" and content.rendered is not None:
            self.rendered.show_rendered(content.rendered, content.images)
            self.pages.setCurrentWidget(self.rendered)
            self.print_button.setEnabled(True)
            self.pdf_button.setEnabled(True)
            note = " (contenu tronqué : document trop volumineux)" if content.rendered.truncated else ""
            self.status.setText("Document structuré (CDA)" + note)
            self.shown.emit()
            return
        if content.kind == "pdf":
            self._buffer = QBuffer()  # no parent: dropped with the next document
            self._buffer.setData(QByteArray(content.data))
            self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            self.pdf.load(self._buffer)  # Ready or Error arrives through statusChanged
            return
        if content.kind == "text":
            self.text.setPlainText(content.text)
            self.pages.setCurrentWidget(self.text)
            self.print_button.setEnabled(True)
            self.pdf_button.setEnabled(True)
        elif content.kind == "image" and content.image is not None:
            self._pixmap = QPixmap.fromImage(content.image)
            self.pages.setCurrentWidget(self.image_area)
            self._fit_image()
            self.print_button.setEnabled(True)
        elif content.kind == "image":
            self._show_message("Cette image est illisible ou son format n'est pas reconnu.")
        elif content.kind == "refused":
            self._show_message(f"Ce document ne peut pas être affiché.\n{content.refusal}")
        else:
            kind = media_kind(self._retrieved.media_type) or "inconnu"
            self._show_message(
                f"Ce format de document ({kind}) ne peut pas être affiché ici.\n"
                "Utilisez « Enregistrer une copie… » pour l'ouvrir avec un autre logiciel."
            )
        self.shown.emit()

    def _pdf_status(self, status: Any) -> None:
        if self._content is None or self._content.kind != "pdf":
            return
        if status == QPdfDocument.Status.Ready:
            self.pages.setCurrentWidget(self.pdf_view)
            self.print_button.setEnabled(True)
            pages = self.pdf.pageCount()
            self.status.setText(f"PDF, {pages} page{'s' if pages > 1 else ''}")
            self._controls()
        elif status == QPdfDocument.Status.Error:
            self._show_message("Ce PDF est illisible (fichier endommagé ou protégé).")
        else:
            return
        self.shown.emit()

    # -- zoom and pages ---------------------------------------------------------------------------

    def _showing_pdf(self) -> bool:
        return self.pages.currentWidget() is self.pdf_view and self.pdf.pageCount() > 0

    def _controls(self) -> None:
        pdf, image = self._showing_pdf(), self._pixmap is not None and self._content is not None
        for button in (self.zoom_in_button, self.zoom_out_button, self.fit_button):
            button.setEnabled(pdf or image)
        self._page_changed(self.pdf_view.pageNavigator().currentPage())

    def fit_width(self) -> None:
        self._zoom_factor = 1.0
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self._fit_image()

    def _zoom(self, step: float) -> None:
        if self._showing_pdf():
            factor = self.pdf_view.zoomFactor()
            if self.pdf_view.zoomMode() is not QPdfView.ZoomMode.Custom:
                factor = self._fitted_factor()
            self.pdf_view.setZoomMode(QPdfView.ZoomMode.Custom)
            self.pdf_view.setZoomFactor(min(max(factor * step, 0.1), 8.0))
        elif self._pixmap is not None:
            self._zoom_factor = min(max(self._zoom_factor * step, 0.1), 8.0)
            self._fit_image()

    def _fitted_factor(self) -> float:
        """The zoom factor FitToWidth currently shows (page width in points, 96 dpi screen)."""
        page = self.pdf_view.pageNavigator().currentPage()
        points = self.pdf.pagePointSize(max(page, 0)).width() or 595.0
        pixels = points * self.pdf_view.logicalDpiX() / 72.0
        return max(self.pdf_view.viewport().width() - 12, 50) / pixels

    def _go_to_page(self, step: int) -> None:
        if not self._showing_pdf():
            return
        navigator = self.pdf_view.pageNavigator()
        page = min(max(navigator.currentPage() + step, 0), self.pdf.pageCount() - 1)
        navigator.jump(page, QPointF(), navigator.currentZoom())

    def _page_changed(self, page: int) -> None:
        pdf, count = self._showing_pdf(), self.pdf.pageCount()
        self.page_label.setText(f"{page + 1} / {count}" if pdf else "")
        self.previous_page_button.setEnabled(pdf and page > 0)
        self.next_page_button.setEnabled(pdf and page < count - 1)

    def _fit_image(self) -> None:
        """The image scaled to the viewer's width (never enlarged beyond its own size), then zoomed."""
        if self._pixmap is None:
            return
        width = max(self.image_area.viewport().width() - 4, 50)
        width = int(min(width, self._pixmap.width()) * self._zoom_factor)
        self.image.setPixmap(
            self._pixmap.scaledToWidth(max(width, 1), Qt.TransformationMode.SmoothTransformation)
        )

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_image()

    def _failed(self, generation: int) -> None:
        if generation == self._generation:
            self._show_message("Le document n'a pas pu être lu sur ce poste.")
            self.shown.emit()

    # -- print and save ---------------------------------------------------------------------------

    def _print(self) -> None:
        if self._content is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle("Imprimer le document")
        if self._content.kind == "pdf":
            dialog.setMinMax(1, max(1, self.pdf.pageCount()))
        if dialog.exec() == QPrintDialog.DialogCode.Accepted:
            self.print_to(printer)

    def print_to(self, printer: QPrinter) -> None:
        """Paint the shown document on ``printer`` (PDF: each page rendered at the printer's resolution)."""
        content = self._content
        if content is None:
            return
        if content.kind == "text":
            self.text.document().print_(printer)
            return
        if content.kind == "structured":
            self.rendered.document().print_(printer)
            return
        painter = QPainter()
        if not painter.begin(printer):
            self.status.setText("Impression impossible : imprimante indisponible.")
            return
        try:
            if content.kind == "image" and content.image is not None:
                _draw_fitted(painter, content.image)
            elif content.kind == "pdf":
                count = self.pdf.pageCount()
                first, last = printer.fromPage(), printer.toPage()  # 1-based, 0: every page
                pages = range(max(first, 1) - 1, min(last, count) if last else count)
                dpi = min(printer.resolution(), 300)
                for number, page in enumerate(pages):
                    if number:
                        printer.newPage()
                    points = self.pdf.pagePointSize(page)
                    size = QSize(int(points.width() * dpi / 72), int(points.height() * dpi / 72))
                    _draw_fitted(painter, _on_white(self.pdf.render(page, size)))
        finally:
            painter.end()

    def _shown_document(self) -> Any:
        """The QTextDocument shown (a rendered CDA or a text body), None otherwise."""
        kind = self._content.kind if self._content is not None else ""
        if kind == "structured":
            return self.rendered.document()
        return self.text.document() if kind == "text" else None

    def _export_pdf(self) -> None:
        if self._shown_document() is None or self._info is None:
            return
        name = suggested_name(self._info, "application/pdf")
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Exporter le document en PDF", str(Path.home() / name), "PDF (*.pdf)"
        )
        if chosen:
            self.export_pdf_to(Path(chosen))

    def export_pdf_to(self, target: Path) -> None:
        """Export the shown rendered or text document to ``target`` (PDF, A4). Painted on the GUI
        thread: QTextDocument belongs to it."""
        document = self._shown_document()
        if document is None:
            return
        try:
            export_pdf(document, target)
        except OSError:
            self.status.setText(
                "Export impossible : vérifiez le dossier choisi, l'espace disque et vos droits."
            )
            return
        if not target.is_file() or target.stat().st_size == 0:
            self.status.setText("Export impossible : le fichier PDF n'a pas pu être écrit.")
            return
        self.status.setText(f"PDF enregistré : {target.name}")
        self.saved.emit([target])

    def _save(self) -> None:
        retrieved, info = self._retrieved, self._info
        if retrieved is None or info is None:
            return
        name = suggested_name(info, retrieved.media_type)
        extension = EXTENSIONS.get(media_kind(retrieved.media_type), "")
        pattern = f"Document (*{extension})" if extension else "Tous les fichiers (*)"
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Enregistrer une copie du document", str(Path.home() / name), pattern
        )
        if not chosen:
            return
        target, with_cda = Path(chosen), self.with_cda.isChecked()
        self.status.setText("Enregistrement…")
        run_in_background(lambda: save_copies(retrieved, target, with_cda), self._saved, self._save_failed)

    def _saved(self, written: list[Path]) -> None:
        self.status.setText("Copie enregistrée : " + ", ".join(p.name for p in written))
        self.saved.emit(written)

    def _save_failed(self, _error: BaseException) -> None:
        self.status.setText("Copie impossible : vérifiez le dossier choisi, l'espace disque et vos droits.")


def _on_white(image: QImage) -> QImage:
    """A rendered PDF page (transparent where the page draws nothing) laid on white paper."""
    paper = QImage(image.size(), QImage.Format.Format_RGB32)
    paper.fill(Qt.GlobalColor.white)
    painter = QPainter(paper)
    painter.drawImage(0, 0, image)
    painter.end()
    return paper


def _draw_fitted(painter: QPainter, image: QImage) -> None:
    """The image scaled to the page, proportions kept, top left."""
    area = painter.viewport()
    scaled = image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    painter.save()
    painter.setViewport(QRect(area.x(), area.y(), scaled.width(), scaled.height()))
    painter.setWindow(image.rect())
    painter.drawImage(0, 0, image)
    painter.restore()
