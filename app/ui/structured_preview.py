"""The structured documents of the EHR's hand-off in the upload tab (issue 19): what the context
carries (« Synthèse médicale (VSM) », « Note de vaccination »: one note per vaccination), and the
preview of exactly what will be sent (the built CDA rendered by core/cda_render, as the viewer
shows a received one) with « Envoyer » / « Annuler »."""

from __future__ import annotations

import html

from app.services.structured_upload import Prepared, StructuredData
from app.ui import qt
from app.ui.queue_panel import error_text
from app.ui.texts import count, word
from app.ui.viewer import CdaBrowser, rendered_images

ORDER = ("VSM", "VAC-NOTE")


def offer_text(source: StructuredData) -> str:
    if source.kind == "VAC-NOTE":
        return f"{source.label} ({count(source.count, 'vaccination')})…"
    return f"{source.label}…"


class StructuredOffer(qt.QGroupBox):
    """« Documents structurés du logiciel métier »: one button per hand-off the context carries
    (hidden when it carries none), or why the context's structured data was refused."""

    chosen = qt.Signal(object)  # StructuredData

    def __init__(self, parent: qt.QWidget | None = None) -> None:
        super().__init__("Documents structurés transmis par le logiciel métier", parent)
        self.buttons: dict[str, qt.QPushButton] = {}
        self.note = qt.QLabel(wordWrap=True)
        self.note.setTextInteractionFlags(qt.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.row = qt.QHBoxLayout()
        layout = qt.QVBoxLayout(self)
        layout.addLayout(self.row)
        layout.addWidget(self.note)
        self.set_data({})

    def set_data(self, found: dict[str, StructuredData]) -> None:
        while (item := self.row.takeAt(0)) is not None:
            if (widget := item.widget()) is not None:
                widget.deleteLater()
        self.buttons = {}
        for kind in ORDER:
            if kind in found:
                source = found[kind]
                button = qt.QPushButton(offer_text(source))
                button.setObjectName(f"structure-{kind}")
                button.clicked.connect(lambda _=False, chosen=source: self.chosen.emit(chosen))
                self.row.addWidget(button)
                self.buttons[kind] = button
        self.row.addStretch(1)
        self.note.setStyleSheet("color: #555")
        self.note.setText(
            "Aperçu du document construit avant tout envoi ; seul un patient à l'identité qualifiée, "
            "celui que nomment les données, peut le recevoir."
        )
        self.setVisible(bool(found))

    def set_error(self, error: BaseException) -> None:
        self.set_data({})
        self.note.setStyleSheet("color: #a40000")
        self.note.setText(f"Données structurées du logiciel métier ignorées : {error_text(error)}")
        self.setVisible(True)

    def set_enabled(self, enabled: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(enabled)


class StructuredPreviewDialog(qt.QDialog):
    """Exactly what will be sent, rendered; « Envoyer » accepts, « Annuler » sends nothing."""

    def __init__(self, prepared: Prepared, parent: qt.QWidget | None = None) -> None:
        super().__init__(parent)
        self.prepared = prepared
        documents = prepared.documents
        n = len(documents)
        many = n > 1
        self.setWindowTitle(f"Aperçu avant envoi — {prepared.source.label}")
        self.setWindowModality(qt.Qt.WindowModality.WindowModal)
        traits = prepared.patient.traits
        who = f"{traits.birth_name} {traits.first_name}" if traits else ""
        what = (
            f"<b>{n} notes de vaccination</b> (une par vaccination)"
            if many
            else f"<b>{html.escape(documents[0].request.title)}</b>"
        )
        as_sent = word(n, "telle qu'elle sera envoyée", "telles qu'elles seront envoyées")
        self.summary = summary = qt.QLabel(
            f"{what} pour le DMP de <b>{html.escape(who)}</b> "
            f"(INS {html.escape(prepared.patient.ins.matricule.value)}), "
            f"{as_sent} :",
            wordWrap=True,
        )
        self.choice = qt.QComboBox()
        self.choice.setAccessibleName("Document à prévisualiser")
        for number, document in enumerate(documents, start=1):
            self.choice.addItem(f"Note {number} sur {len(documents)} : {document.label}")
        self.choice.setVisible(many)
        self.browser = CdaBrowser()
        self.browser.setAccessibleName("Aperçu du document")
        self.choice.currentIndexChanged.connect(self.show_document)
        buttons = qt.QDialogButtonBox()
        label = f"&Envoyer les {len(documents)} notes" if many else "&Envoyer"
        self.send_button = buttons.addButton(label, qt.QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton("Annuler", qt.QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = qt.QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.choice)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(980, 700)  # within a 1366x768 laptop screen
        self.show_document(0)
        self.cancel_button.setFocus()

    def show_document(self, index: int) -> None:
        rendered = self.prepared.documents[max(index, 0)].rendered
        self.browser.show_rendered(rendered, rendered_images(rendered))
