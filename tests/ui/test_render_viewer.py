"""The viewer on structured documents (issue 19 item 3), offscreen: the sandbox's VSM retrieved over
mutual TLS and shown rendered (header, sections, tables), printed and exported to PDF; a level-1
document keeps its body with the CDA header rendered beside it; the browser loads nothing external;
a CDA about another patient is not shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.dmp_client.core.cda_render import STRUCTURED_BODY
from app.dmp_client.core.iti18 import DocumentInfo
from app.services.workspace import Retrieved, Workspace
from app.ui.qt import QFileDialog, QPdfDocument, QPrinter, QUrl
from app.ui.viewer import IMAGE_RESOURCE, CdaBrowser, DocumentViewer
from sandbox.host.docstore import SEED_OID
from tests.structured.test_render import PNG, cda, media
from tests.ui.conftest import sandbox_patient
from tests.ui.test_documents import fake_info

P01 = "207058575627097"


def seeded_info(workspace: Workspace, index: int) -> DocumentInfo:
    documents = workspace.documents(sandbox_patient("P01"))
    return next(d for d in documents if d.unique_id == f"{SEED_OID}.1.{P01}.{index}")


def open_viewer(qtbot, retrieved: Retrieved, info: DocumentInfo) -> DocumentViewer:  # type: ignore[no-untyped-def]
    viewer = DocumentViewer()
    qtbot.addWidget(viewer)
    viewer.resize(1200, 800)
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.show_document(retrieved, info)
    return viewer


def test_the_viewer_shows_a_vsm_rendered_prints_and_exports_it(  # type: ignore[no-untyped-def]
    qtbot, gp_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = sandbox_patient("P01")
    info = seeded_info(gp_workspace, 3)  # "Volet de synthèse médicale n° 4"
    retrieved = gp_workspace.retrieve(patient, info)
    assert retrieved.media_type == STRUCTURED_BODY and retrieved.body.read_bytes() == b""
    viewer = open_viewer(qtbot, retrieved, info)
    assert viewer.pages.currentWidget() is viewer.rendered
    shown = viewer.rendered.toPlainText()
    for expected in (
        "Volet de synthèse médicale n° 4",
        "Nom de naissance :",
        "DURAND",
        "207058575627097 — INS-NIR [TEST], OID 1.2.250.1.213.1.4.10",
        "Pathologie en cours, antécédents, allergies et facteurs de risques",
        "Traitement au long cours",
        "PLAVIX 75mg, comprimé pelliculé",
    ):
        assert expected in shown, expected
    assert viewer.rendered.document().toHtml().count("<table") >= 5  # the narrative's tables are tables
    assert viewer.print_button.isEnabled() and viewer.pdf_button.isEnabled()
    assert viewer.status.text() == "Document structuré (CDA)"

    printed = tmp_path / "impression.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(printed))
    viewer.print_to(printer)
    assert printed.read_bytes().startswith(b"%PDF")

    exported = tmp_path / "export" / "vsm.pdf"
    exported.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *_a, **_k: (str(exported), "")))
    with qtbot.waitSignal(viewer.saved, timeout=10_000) as saved:
        viewer.pdf_button.click()
    assert saved.args[0] == [exported] and viewer.status.text() == "PDF enregistré : vsm.pdf"
    check = QPdfDocument()
    check.load(str(exported))
    assert check.status() == QPdfDocument.Status.Ready and check.pageCount() >= 2
    first_page = check.getAllText(0).text()
    assert "Volet de synthèse médicale n° 4" in " ".join(first_page.split())


@pytest.mark.parametrize("index", [1, 9], ids=["biologie", "vaccination"])
def test_the_other_structured_families_render(qtbot, gp_workspace: Workspace, index: int) -> None:  # type: ignore[no-untyped-def]
    info = seeded_info(gp_workspace, index)
    viewer = open_viewer(qtbot, gp_workspace.retrieve(sandbox_patient("P01"), info), info)
    assert viewer.pages.currentWidget() is viewer.rendered
    shown = viewer.rendered.toPlainText()
    assert info.title in shown
    assert ("7.67 pg/ml" if index == 1 else "VACCIN TETANIQUE PASTEUR") in shown


def test_a_level_1_document_keeps_its_body_with_the_cda_header_beside_it(  # type: ignore[no-untyped-def]
    qtbot, gp_workspace: Workspace
) -> None:
    info = seeded_info(gp_workspace, 0)  # a consultation report, text/plain
    retrieved = gp_workspace.retrieve(sandbox_patient("P01"), info)
    assert retrieved.media_type == "text/plain"
    viewer = open_viewer(qtbot, retrieved, info)
    assert viewer.pages.currentWidget() is viewer.text
    header = viewer.cda_header.toPlainText()
    assert "Nom de naissance :" in header and "DURAND" in header
    assert "Corps du document : fichier joint (text/plain), affiché à part." in header


def test_a_cda_of_another_patient_is_not_shown(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    document = tmp_path / "autre.xml"
    document.write_bytes(cda("<paragraph>secret médical</paragraph>"))  # INS 207058575627097
    body = tmp_path / "autre.corps"
    body.write_bytes(b"")
    info = fake_info()
    other = "150081505104018^^^&1.2.250.1.213.1.4.10&ISO^NH"
    info = DocumentInfo(**{**info.__dict__, "patient_cx": other})
    viewer = open_viewer(qtbot, Retrieved(document, body, STRUCTURED_BODY, "1.2.3.4"), info)
    assert viewer.pages.currentWidget() is viewer.message
    assert "[DMP-REPONSE-AUTRE-PATIENT]" in viewer.message.text()
    assert "secret" not in viewer.rendered.toPlainText() and not viewer.print_button.isEnabled()


def test_inline_images_show_and_nothing_external_loads(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import base64

    png = base64.b64encode(PNG).decode()
    extra = media("m1", f"<value mediaType='image/png' representation='B64'>{png}</value>")
    document = tmp_path / "image.xml"
    document.write_bytes(cda("<renderMultiMedia referencedObject='m1'/>", extra=extra))
    body = tmp_path / "image.corps"
    body.write_bytes(b"")
    viewer = open_viewer(qtbot, Retrieved(document, body, STRUCTURED_BODY, "1.2.3.4"), fake_info())
    browser = viewer.rendered
    assert browser.loadResource(IMAGE_RESOURCE, QUrl("cda-media:1")).width() == 1
    for url in ("http://evil.example/x.png", "file:///etc/passwd", "cda-media:2", "style.css"):
        assert browser.loadResource(IMAGE_RESOURCE, QUrl(url)) is None
        assert browser.loadResource(0, QUrl(url)) is None
    assert not browser.openLinks() and not browser.openExternalLinks()
    assert isinstance(viewer.cda_header, CdaBrowser)
