"""The document list, its filters and actions, and the viewer, against P01's real list (about 2,000
documents) from the sandbox host over mutual TLS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from app.dmp_client.core.actions import Action
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import DocumentInfo
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.valuesets import Concept
from app.dmp_client.documents import NewDocument
from app.services.workspace import Patient, Retrieved, Workspace
from app.ui.documents_model import COL_DATE, COL_MARKS, COL_TITLE, FAMILIES
from app.ui.documents_panel import DocumentsPanel, count_text
from app.ui.qt import QDate, QFileDialog, QImage, QPdfDocument, QPrinter, Qt, QWidget
from app.ui.viewer import DocumentViewer, rtf_to_text
from sandbox import cards
from tests.ui.conftest import sandbox_patient

GP_ID = cards.card("generaliste").national_id

Actions = Callable[[DocumentInfo], frozenset[Action]]


def two_page_pdf(lines: tuple[str, str]) -> bytes:
    """A valid two-page PDF (each page one line of Helvetica)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>"]
    for number, line in enumerate(lines):
        content = f"BT /F1 18 Tf 60 760 Td ({line}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * number} 0 R "
            "/Resources << /Font << /F1 7 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    pdf += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(pdf)


def load(workspace: Workspace, patient: Patient) -> tuple[list[DocumentInfo], Actions]:
    documents = workspace.documents(patient)
    treating = workspace.overview(patient).status.treating_doctor
    return documents, lambda d: workspace.actions(d, treating_doctor=treating)


def make_panel(qtbot, documents: list[DocumentInfo], actions: Actions) -> DocumentsPanel:  # type: ignore[no-untyped-def]
    panel = DocumentsPanel()
    qtbot.addWidget(panel)
    panel.resize(1500, 800)
    panel.set_documents(documents, actions)
    return panel


def ids(documents: Iterable[DocumentInfo]) -> set[str]:
    return {d.entry_id for d in documents}


def select(panel: DocumentsPanel, document: DocumentInfo) -> None:
    row = next(r for r, d in enumerate(panel.visible_documents()) if d.entry_id == document.entry_id)
    panel.table.selectRow(row)


def test_the_list_of_p01_is_counted_and_has_no_row_widget(qtbot, gp_workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    documents, actions = load(gp_workspace, sandbox_patient("P01"))
    assert len(documents) >= 2000
    panel = DocumentsPanel()
    qtbot.addWidget(panel)
    widgets_before = len(panel.findChildren(QWidget))
    panel.set_documents(documents, actions)
    assert len(panel.findChildren(QWidget)) == widgets_before  # no widget per row
    assert all(panel.table.indexWidget(panel.proxy.index(r, COL_MARKS)) is None for r in range(0, 2000, 97))
    assert panel.proxy.rowCount() == len(documents)
    total = f"{len(documents):,}".replace(",", "\u00a0")
    assert panel.count.text() == f"{total} documents, {total} affichés"
    assert count_text(2047, 48) == "2\u00a0047 documents, 48 affichés"
    assert count_text(1, 0) == "1 document, 0 affiché"


def test_each_filter_shows_the_expected_rows(qtbot, gp_workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    documents, actions = load(gp_workspace, sandbox_patient("P01"))
    panel = make_panel(qtbot, documents, actions)

    assert len(FAMILIES) == 8
    seen = 0
    for index in range(1, panel.family.count()):
        panel.family.setCurrentIndex(index)
        family = next(f for f in FAMILIES if f.key == panel.family.currentData())
        expected = [d for d in documents if d.class_code and d.class_code.code in family.class_codes]
        assert ids(panel.visible_documents()) == ids(expected), family.label
        seen += len(expected)
    assert seen == len(documents)  # every seeded class belongs to one family
    panel.family.setCurrentIndex(panel.family.findData("traitements"))
    treatments = [d for d in documents if d.class_code and d.class_code.code in ("42", "43", "44")]
    assert len(panel.visible_documents()) == len(treatments) > 0
    total = f"{len(documents):,}".replace(",", "\u00a0")
    assert panel.count.text() == f"{total} documents, {len(treatments)} affichés"
    panel.family.setCurrentIndex(0)

    panel.date_from.setDate(QDate(2020, 1, 1))
    panel.date_to.setDate(QDate(2020, 12, 31))
    assert len(panel.visible_documents()) == len(documents)  # bounds not ticked yet
    panel.use_from.setChecked(True)
    panel.use_to.setChecked(True)

    def day(d: DocumentInfo) -> dt.date:
        assert d.creation_time is not None
        return d.creation_time.astimezone().date()

    in_2020 = [d for d in documents if dt.date(2020, 1, 1) <= day(d) <= dt.date(2020, 12, 31)]
    assert 0 < len(in_2020) < len(documents)
    assert ids(panel.visible_documents()) == ids(in_2020)
    panel.use_to.setChecked(False)
    assert ids(panel.visible_documents()) == ids(d for d in documents if day(d) >= dt.date(2020, 1, 1))
    panel.use_from.setChecked(False)

    panel.statuses[Status.APPROVED].setChecked(False)
    panel.statuses[Status.DEPRECATED].setChecked(False)
    archived = [d for d in documents if d.status == Status.ARCHIVED]
    assert ids(panel.visible_documents()) == ids(archived) and archived
    panel.statuses[Status.DEPRECATED].setChecked(True)
    panel.statuses[Status.ARCHIVED].setChecked(False)
    replaced = [d for d in documents if d.status == Status.DEPRECATED]
    assert ids(panel.visible_documents()) == ids(replaced) and replaced
    panel.statuses[Status.APPROVED].setChecked(True)
    panel.statuses[Status.ARCHIVED].setChecked(True)

    def haystack(d: DocumentInfo) -> str:
        return f"{d.title} {d.type_code.display_name if d.type_code else ''}".casefold()

    qtbot.keyClicks(panel.search, "Biologie")
    biology = [d for d in documents if "biologie" in haystack(d)]
    assert ids(panel.visible_documents()) == ids(biology) and biology
    panel.search.setText("operatoire")  # accents ignored
    assert ids(panel.visible_documents()) == ids(d for d in documents if "opératoire" in haystack(d))
    panel.search.setText("ordonnance 19")  # every word must match
    assert ids(panel.visible_documents()) == ids(
        d for d in documents if "ordonnance" in haystack(d) and "19" in haystack(d)
    )

    panel.search.setText("biologie")
    chosen = biology[3]
    select(panel, chosen)
    panel.use_from.setChecked(True)  # still shown: still selected
    assert panel.selected_document() == chosen and panel.offered_actions()
    panel.use_from.setChecked(False)
    panel.search.setText("ordonnance")  # filtered out: no neighbour gets selected in its place
    assert panel.selected_document() is None and panel.offered_actions() == frozenset()

    panel.family.setCurrentIndex(panel.family.findData("comptes-rendus"))
    panel.search.setText("biologie")
    panel.statuses[Status.APPROVED].setChecked(False)
    combined = [d for d in biology if d.status != Status.APPROVED]
    assert ids(panel.visible_documents()) == ids(combined)
    panel.reset_filters()
    assert len(panel.visible_documents()) == len(documents)
    assert panel.search.text() == "" and all(b.isChecked() for b in panel.statuses.values())


def test_sorting_by_date_sorts_dates_as_dates(qtbot, gp_workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    documents, actions = load(gp_workspace, sandbox_patient("P01"))
    panel = make_panel(qtbot, documents, actions)

    def times() -> list[dt.datetime]:
        return [d.creation_time for d in panel.visible_documents() if d.creation_time]

    assert times() == sorted(times(), reverse=True)  # newest first by default
    panel.table.horizontalHeader().setSortIndicator(COL_DATE, Qt.SortOrder.AscendingOrder)
    assert times() == sorted(d.creation_time for d in documents if d.creation_time)
    # Display strings are dd/mm/yyyy: a string sort would put 01/02/2025 before 02/01/2016.
    first = panel.proxy.index(0, COL_DATE).data()
    assert first.endswith("2016")
    panel.table.sortByColumn(COL_TITLE, Qt.SortOrder.AscendingOrder)
    titles = [d.title.casefold() for d in panel.visible_documents()]
    assert titles == sorted(titles)


def test_action_buttons_follow_what_the_dmp_allows(qtbot, gp_workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    documents, actions = load(gp_workspace, sandbox_patient("P01"))
    panel = make_panel(qtbot, documents, actions)
    assert panel.offered_actions() == frozenset()  # nothing selected

    masked = next(
        d
        for d in documents
        if "MASQUE_PS" in d.confidentiality_codes
        and d.status == Status.APPROVED
        and GP_ID not in d.author_ids
    )
    archived = next(d for d in documents if d.status == Status.ARCHIVED)
    own = next(
        d
        for d in documents
        if GP_ID in d.author_ids
        and d.status == Status.APPROVED
        and "MASQUE_PS" not in d.confidentiality_codes
    )
    replaced = next(d for d in documents if d.status == Status.DEPRECATED)
    for document, must, must_not in (
        (masked, {Action.UNMASK, Action.VIEW}, {Action.MASK, Action.REPLACE}),
        (archived, {Action.UNARCHIVE}, {Action.ARCHIVE, Action.REPLACE}),
        (own, {Action.REPLACE, Action.MASK, Action.ARCHIVE, Action.DELETE}, {Action.UNMASK}),
        (replaced, {Action.VIEW}, {Action.DELETE, Action.ARCHIVE, Action.MASK}),
    ):
        select(panel, document)
        assert panel.selected_document() == document
        offered = panel.offered_actions()
        assert offered == gp_workspace.actions(document, treating_doctor=True)
        assert must <= offered and not (must_not & offered)
    row = next(r for r, d in enumerate(panel.visible_documents()) if d.entry_id == masked.entry_id)
    assert panel.proxy.index(row, COL_MARKS).data() == "Masqué PS"
    assert "professionnels de santé" in panel.proxy.index(row, COL_MARKS).data(Qt.ItemDataRole.ToolTipRole)

    select(panel, archived)
    with qtbot.waitSignal(panel.action_requested) as emitted:
        panel.action_buttons[Action.UNARCHIVE].click()
    assert emitted.args == [archived, Action.UNARCHIVE]


def test_double_click_and_enter_open_the_document(qtbot, gp_workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    documents, actions = load(gp_workspace, sandbox_patient("P01"))
    panel = make_panel(qtbot, documents, actions)
    panel.show()
    qtbot.waitExposed(panel)
    table = panel.table
    rect = table.visualRect(panel.proxy.index(2, COL_TITLE))
    with qtbot.waitSignal(panel.open_requested) as opened:  # a real double-click: press, release, double
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [panel.visible_documents()[2]]

    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Down)
    with qtbot.waitSignal(panel.open_requested) as opened:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert opened.args == [panel.visible_documents()[3]]
    with qtbot.waitSignal(panel.open_requested):
        panel.action_buttons[Action.VIEW].click()


def test_the_viewer_shows_a_retrieved_pdf_prints_it_and_saves_a_copy(  # type: ignore[no-untyped-def]
    qtbot, gp_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = sandbox_patient("P01")
    assert patient.traits is not None and gp_workspace.client is not None
    source = tmp_path / "cr.pdf"
    source.write_bytes(two_page_pdf(("Compte rendu - page 1", "Conclusion - page 2")))
    sent = gp_workspace.client.send(
        patient.ins,
        NewDocument(
            source,
            "application/pdf",
            "11488-4",
            "Compte rendu de consultation (PDF)",
            patient.traits,
            visibility=frozenset({Visibility.INVISIBLE_TO_PATIENT}),
        ),
    )
    documents, actions = load(gp_workspace, patient)
    info = next(d for d in documents if d.unique_id == sent.unique_id)

    panel = make_panel(qtbot, documents, actions)
    signatures = [d for d in documents if d.class_code and d.class_code.code.startswith("urn:oid:")]
    assert signatures  # the submission set's XAdES signature is a DocumentEntry too: not listed
    assert len(panel.visible_documents()) == panel.model.rowCount() == len(documents) - len(signatures)
    select(panel, info)
    assert {Action.REPLACE, Action.SHOW_TO_PATIENT} <= panel.offered_actions()
    assert panel.offered_actions() == gp_workspace.actions(info, treating_doctor=True)
    row = next(r for r, d in enumerate(panel.visible_documents()) if d.entry_id == info.entry_id)
    assert panel.proxy.index(row, COL_MARKS).data() == "Invisible patient"

    retrieved = gp_workspace.retrieve(patient, info)
    assert retrieved.media_type == "application/pdf"
    viewer = DocumentViewer()
    qtbot.addWidget(viewer)
    viewer.resize(1200, 800)
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.show_document(retrieved, info)
    assert viewer.pages.currentWidget() is viewer.pdf_view
    assert viewer.pdf.status() == QPdfDocument.Status.Ready and viewer.pdf.pageCount() == 2
    assert viewer.fields["Titre"].text() == "Compte rendu de consultation (PDF)"
    assert viewer.fields["Identifiant"].text() == sent.unique_id
    assert "Invisible pour le patient" in viewer.fields["Marques"].text()
    assert viewer.print_button.isEnabled()

    printed = tmp_path / "impression.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(printed))
    viewer.print_to(printer)
    check = QPdfDocument()
    check.load(str(printed))
    assert check.pageCount() == 2

    target = tmp_path / "copie" / "cr.pdf"
    target.parent.mkdir()
    offered: list[str] = []

    def choose(_parent, _title, suggested, _filter, *_rest):  # type: ignore[no-untyped-def]
        offered.append(suggested)
        return str(target), _filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(choose))
    viewer.with_cda.setChecked(True)
    with qtbot.waitSignal(viewer.saved, timeout=10_000) as saved:
        viewer.save_button.click()
    assert offered and offered[0].endswith("Compte rendu de consultation (PDF).pdf")
    assert target.read_bytes() == source.read_bytes() == retrieved.body.read_bytes()
    body, cda = saved.args[0]
    assert body == target and cda.read_bytes() == retrieved.cda.read_bytes()
    assert "Copie enregistrée" in viewer.status.text()


def test_the_viewer_shows_a_text_document_and_saves_its_exact_bytes(  # type: ignore[no-untyped-def]
    qtbot, gp_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = sandbox_patient("P01")
    documents, _ = load(gp_workspace, patient)
    info = documents[0]
    retrieved = gp_workspace.retrieve(patient, info)
    assert retrieved.media_type == "text/plain"
    viewer = DocumentViewer()
    qtbot.addWidget(viewer)
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.show_document(retrieved, info)
    assert viewer.pages.currentWidget() is viewer.text
    assert viewer.text.toPlainText() == retrieved.body.read_text(encoding="utf-8")
    assert viewer.fields["Titre"].text() == info.title

    target = tmp_path / "copie.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *_a, **_k: (str(target), "")))
    with qtbot.waitSignal(viewer.saved, timeout=10_000):
        viewer.save_button.click()
    assert target.read_bytes() == retrieved.body.read_bytes()
    assert not (tmp_path / "copie - CDA.xml").exists()  # the CDA only on request
    viewer.clear()
    assert viewer.pages.currentWidget() is viewer.message and not viewer.save_button.isEnabled()


def fake_info(title: str = "Document de test") -> DocumentInfo:
    return DocumentInfo(
        entry_id="urn:uuid:test",
        lid="urn:uuid:test",
        version="1",
        status=Status.APPROVED,
        unique_id="1.2.3.4",
        repository_id="",
        patient_cx="",
        title=title,
        mime_type="text/xml",
        class_code=Concept("10", "1.2.250.1.213.1.1.4.1", "Compte rendu"),
        type_code=Concept("11488-4", "2.16.840.1.113883.6.1", "CR de consultation"),
        format_code=None,
        facility_type=None,
        practice_setting=None,
        confidentiality=(),
        creation_time=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
        service_start=None,
        service_stop=None,
        author_persons=("899900012342^CARDIOLOGUE^PAUL^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",),
        author_institutions=(),
        size=None,
        sha1=None,
        entry_xml=b"<ExtrinsicObject/>",
    )


def show(qtbot, viewer: DocumentViewer, body: Path, media_type: str) -> None:  # type: ignore[no-untyped-def]
    cda = body.with_suffix(".xml")
    cda.write_bytes(b"<ClinicalDocument/>")
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.show_document(Retrieved(cda, body, media_type, "1.2.3.4"), fake_info())


def test_the_viewer_shows_rtf_as_text_images_and_explains_what_it_cannot_show(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path
) -> None:
    viewer = DocumentViewer()
    qtbot.addWidget(viewer)
    rtf = tmp_path / "lettre.rtf"
    rtf.write_bytes(
        b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}{\\*\\generator Test;}\\uc1\\pard "
        b"Tension \\'e9lev\\'e9e\\par Suivi \\u8364? 20\\tab fin \\{ok\\}\\par}"
    )
    show(qtbot, viewer, rtf, "text/rtf")
    assert viewer.pages.currentWidget() is viewer.text
    assert viewer.text.toPlainText() == "Tension élevée\nSuivi € 20\tfin {ok}"
    assert rtf_to_text("{\\rtf1 plain}") == "plain"

    for media_type, name in (("image/jpeg", "photo.jpg"), ("image/tiff", "scan.tif")):
        image = QImage(320, 200, QImage.Format.Format_RGB32)
        image.fill(Qt.GlobalColor.darkCyan)
        path = tmp_path / name
        assert image.save(str(path))  # format from the suffix
        show(qtbot, viewer, path, media_type)
        assert viewer.pages.currentWidget() is viewer.image_area
        assert viewer.image.pixmap().width() == 320

    other = tmp_path / "examen.dcm"
    other.write_bytes(b"DICM" + bytes(128))
    show(qtbot, viewer, other, "application/dicom")
    assert viewer.pages.currentWidget() is viewer.message
    assert (
        "ne peut pas être affiché" in viewer.message.text() and "application/dicom" in viewer.message.text()
    )
    assert not viewer.print_button.isEnabled() and viewer.save_button.isEnabled()

    broken = tmp_path / "abime.pdf"
    broken.write_bytes(b"%PDF-1.4 pas un vrai PDF")
    show(qtbot, viewer, broken, "application/pdf")
    assert viewer.pages.currentWidget() is viewer.message and "illisible" in viewer.message.text()
