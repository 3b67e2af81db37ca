"""A scripted walk of both workflows (GP: connected, a patient opened, the list, a PDF opened, the
upload form, the queue; secretary: a batch of several files checked) driving the real main window on a
1366x768 screen, writing PNGs into docs/screenshots/:
``xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshots.py``
(without Xvfb: ``QT_QPA_PLATFORM=offscreen``, the window then sized 1366x768 by hand)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gui_session import SandboxSession

from app.dmp_client.core.context import Purpose
from app.services.training import sandbox_patient
from app.services.workspace import Patient
from app.store.request import UploadRequest
from app.ui.application import create_application
from app.ui.batch_panel import PatientPicker
from app.ui.dialogs import EmergencyAccessDialog
from app.ui.main_window import MainWindow
from app.ui.qt import QApplication, QWidget
from app.ui.settings_dialog import SettingsDialog
from sandbox.training.demo import qualify_demo_identity

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def wait(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        QApplication.processEvents()
        if time.monotonic() > deadline:
            raise SystemExit("the window did not get there in time")
        time.sleep(0.02)
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.02)


def shot(widget: QWidget, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(OUT / f"{name}.png"), "PNG", 0)  # the strongest compression
    print(f"docs/screenshots/{name}.png")


PDF_TITLE = "Compte rendu de consultation (PDF, démonstration)"


def send_pdf(window: MainWindow, patient: Patient) -> None:
    """A two-page PDF report in the patient's DMP, so that the walk opens a PDF."""
    import tempfile

    from app.dmp_client.documents import NewDocument
    from tests.ui.test_documents import two_page_pdf

    assert patient.traits is not None and window.workspace.client is not None
    path = Path(tempfile.mkdtemp()) / "cr.pdf"
    path.write_bytes(two_page_pdf(("Compte rendu de consultation - page 1", "Conclusion - page 2")))
    document = NewDocument(path, "application/pdf", "11488-4", PDF_TITLE, patient.traits)
    window.workspace.client.send(patient.ins, document)


def open_the_pdf(window: MainWindow, patient: Patient) -> list[Any]:
    """The patient's record listed, the PDF sent by send_pdf (or the newest document) opened; returns
    the documents listed."""
    window.patient_panel.select(patient)
    wait(
        lambda: (
            window.overview is not None and window.pending == 0 and bool(window.documents.visible_documents())
        )
    )
    documents = window.documents.visible_documents()
    pdf = next((d for d in documents if d.title == PDF_TITLE), documents[0])
    window.documents.table.selectRow(documents.index(pdf))
    window.open_document(pdf)
    wait(lambda: window.pending == 0)
    return documents


def queue_some(window: MainWindow, patient: Patient) -> None:
    """Two reports sent through the queue, a third waiting: what a secretary sees after a batch."""
    import tempfile

    assert patient.traits is not None
    mode, professional = window.workspace.send_mode()
    assert window.workspace.store is not None and patient.traits is not None
    qualify_demo_identity(window.workspace.store.db, patient.ins, patient.traits, by="screenshots")
    folder = Path(tempfile.mkdtemp())
    for n, title in enumerate(("Compte rendu de consultation", "Lettre de liaison", "Résultats de biologie")):
        path = folder / f"cr-{n}.txt"
        path.write_text(f"{title} (démonstration)\n", encoding="utf-8")
        request = UploadRequest(
            patient.ins, patient.traits, "text/plain", "11488-4", title, mode, professional
        )
        window.workspace.enqueue(request, path)
        if n == 1:
            window.workspace.drain()


def batch_files(patient: Patient) -> list[Path]:
    """A secretary's batch: one report with its sidecar, one named after the INS, one to match."""
    import json
    import tempfile

    folder = Path(tempfile.mkdtemp())
    traits = patient.traits
    assert traits is not None
    with_sidecar = folder / "cr-hospitalisation.txt"
    with_sidecar.write_text("Compte rendu d'hospitalisation\n", encoding="utf-8")
    sidecar = {
        "ins": patient.ins.matricule.value,
        "oid": str(patient.ins.oid),
        "nom": traits.birth_name,
        "prenoms": " ".join(traits.first_names),
        "sexe": str(traits.sex),
        "naissance": traits.birth_date.to_french(),
        "lieu": traits.birth_place,
        "type": "11490-0",
        "titre": "Lettre de sortie",
    }
    (folder / "cr-hospitalisation.txt.dmp.json").write_text(json.dumps(sidecar), encoding="utf-8")
    named = folder / f"{patient.ins.matricule.value}-biologie.txt"
    named.write_text("Résultats de biologie\n", encoding="utf-8")
    manual = folder / "courrier-a-classer.txt"
    manual.write_text("Courrier\n", encoding="utf-8")
    return [with_sidecar, named, manual]


def hot_folder(window: MainWindow, patient: Patient) -> Path:
    """A hot folder watched (structure mode, the panel's default; not saved in the user's settings):
    a report still being written, and a pair in erreurs/ with its explanation (a sidecar with a typo)."""
    import json
    import tempfile

    from app.store.request import SendMode

    folder = Path(tempfile.mkdtemp()) / "depot"
    folder.mkdir()
    [pair] = [p for p in batch_files(patient) if p.name == "cr-hospitalisation.txt"]
    bad = folder / "cr-urgences.txt"
    bad.write_text("Compte rendu des urgences\n", encoding="utf-8")
    sidecar = json.loads((pair.parent / (pair.name + ".dmp.json")).read_text(encoding="utf-8"))
    sidecar["titre "] = sidecar.pop("titre")  # a typo: refused with its explanation
    (folder / "cr-urgences.txt.dmp.json").write_text(json.dumps(sidecar), encoding="utf-8")
    (folder / "lettre-en-cours.txt").write_text("Lettre\n", encoding="utf-8")  # no sidecar yet
    window.workspace.hot_folder.start(folder, SendMode.STRUCTURE, stable_seconds=0.5, rescan_interval=1.0)
    return folder


def structured_upload(window: MainWindow, patient: Patient) -> None:
    """The EHR's hand-off carrying a VSM and three vaccinations (issue 19): the upload tab offering
    them (upload-structures.png), the preview of each before sending (upload-vsm.png,
    upload-vaccination.png), then « Annuler »: nothing sent."""
    from tests.ui.test_upload_structured import context, handoff, named, three_vaccinations

    upload = window.upload
    upload.set_context(
        context(vsm=named(handoff("vsm_full.json"), patient), vaccination=three_vaccinations(patient))
    )
    wait(lambda: True)
    shot(window, "upload-structures")  # the upload tab offering them
    for kind, name in (("VSM", "upload-vsm"), ("VAC-NOTE", "upload-vaccination")):
        upload.structured_dialog = None
        upload.offer.buttons[kind].click()
        wait(lambda: upload.structured_dialog is not None)
        dialog = upload.structured_dialog
        assert dialog is not None
        if kind == "VAC-NOTE":  # the second note
            dialog.choice.setCurrentIndex(1)
        wait(lambda: True)
        shot(dialog, name)
        dialog.cancel_button.click()
    upload.set_context({})


def with_insi(session: SandboxSession, workspace: Any) -> Any:
    """The sandbox INSi host in-process beside the DMP host, the workspace pointed at it."""
    import dataclasses

    from app.dmp_client.insi_client import InsiSettings
    from sandbox.insi.server import InsiConfig, InsiHost, serve_in_thread

    host = InsiHost(("127.0.0.1", 0), InsiConfig(session.folder / "pki"))
    serve_in_thread(host)
    insi = InsiSettings(f"https://localhost:{host.server_address[1]}/lps", "BAC-A-SABLE", 10.0)
    workspace.settings = dataclasses.replace(workspace.settings, insi=insi)
    return host


def locked_config() -> Any:
    """The settings as a hospital's IT would lock them (a machine policy)."""
    import tempfile

    from app.config.layers import Config

    policy = Path(tempfile.mkdtemp()) / "policy.toml"
    policy.write_text(
        '[verrouilles]\nDMP_HOST_URL = "https://dmp.example/si-dmp-server/v2/services"\n'
        'DMP_PROXY = "http://mandataire.chu.example:3128"\n',
        encoding="utf-8",
    )
    return Config.load(environ={}, policy_file=policy)


def ecps_screens(session: SandboxSession) -> None:
    """« Se connecter avec e-CPS » against the sandbox PSC provider in-process (its virtual phone
    answered here): the code awaited (ecps-connexion), then a DMP consulted in AIR (ecps-air)."""
    import dataclasses

    from app.services.workspace import Workspace
    from app.store.local_store import LocalStore, StoreSettings
    from sandbox import cards
    from sandbox.psc.server import DEFAULT_CLIENT_ID, PscConfig, PscFaults, PscProvider
    from sandbox.psc.server import serve_in_thread as serve_psc

    faults = PscFaults(phone="manual", interval=1, expires_in=120)
    config = PscConfig(session.folder / "pki", session.folder / "psc", faults)
    provider = PscProvider(("127.0.0.1", 0), config)
    serve_psc(provider)
    psc = dataclasses.replace(session.settings.psc, url=provider.issuer, client_id=DEFAULT_CLIENT_ID)
    settings = dataclasses.replace(session.settings, psc=psc)
    workspace = Workspace(settings, LocalStore.open(StoreSettings(session.folder / "store-ecps")))
    window = MainWindow(workspace, monitor_cards=False)
    window.resize(1366, 768)
    window.show()
    window.connect_ecps()
    dialog = window.ecps_dialog
    assert dialog is not None
    dialog.rpps.setText(cards.card("generaliste").national_id)
    dialog.start_button.click()
    wait(lambda: dialog.pages.currentIndex() == 1)
    wait(lambda: dialog.left.text() != "Temps restant : 2:00", 10)  # the countdown has started
    shot(dialog, "ecps-connexion")
    provider.decide("approve", None)  # the virtual phone: the professional approves
    wait(lambda: dialog.pages.currentIndex() == 2)
    dialog.situations.setCurrentIndex(1)  # the hospital: the structure whose certificate is used
    dialog.choose_button.click()
    wait(lambda: workspace.connection is not None and window.pending == 0)
    p01 = sandbox_patient("P01")
    assert p01 is not None and p01.traits is not None and workspace.store is not None
    qualify_demo_identity(workspace.store.db, p01.ins, p01.traits, by="screenshots")
    open_the_pdf(window, p01)
    shot(window, "ecps-air")
    window.close()  # the session closed, the PSC session logged out
    provider.shutdown()
    provider.server_close()


def main() -> None:
    app = create_application()
    session = SandboxSession()
    workspace = session.gp_workspace()
    insi_host = with_insi(session, workspace)
    window = MainWindow(workspace, monitor_cards=False)
    screen = app.primaryScreen().availableGeometry()
    if screen.width() > 1366 or screen.height() > 768:  # offscreen or a large screen: a laptop's size
        window.resize(1366, 768)
    window.show()
    window._show_connection(window.workspace.connection)
    p01 = sandbox_patient("P01")
    assert p01 is not None and p01.traits is not None and window.workspace.store is not None
    qualify_demo_identity(window.workspace.store.db, p01.ins, p01.traits, by="screenshots")
    send_pdf(window, p01)
    documents = open_the_pdf(window, p01)
    shot(window, "documents")
    window.viewer.header_button.click()
    wait(lambda: True)
    shot(window.viewer, "document-en-tete")
    window.viewer.header_button.click()
    vsm = next(d for d in documents if d.type_code is not None and d.type_code.code == "60591-5")
    window.documents.table.selectRow(documents.index(vsm))
    window.open_document(vsm)  # a structured CDA (the sandbox's VSM), rendered
    wait(lambda: window.pending == 0 and window.viewer.pages.currentWidget() is window.viewer.rendered)
    rendered = window.viewer.rendered  # scrolled to the end of the header and the first sections
    found = rendered.document().find("Structure conservant le document")
    rendered.verticalScrollBar().setValue(rendered.cursorRect(found).top() - 40)
    wait(lambda: True)
    shot(window, "document-structure")
    window.tabs.setCurrentWidget(window.upload)
    wait(lambda: True)
    shot(window, "depot")
    structured_upload(window, p01)  # the hand-off's VSM and vaccination notes previewed
    queue_some(window, p01)
    window.tabs.setCurrentWidget(window.queue)
    window.queue.refresh()
    wait(lambda: window.queue.table.rowCount() >= 3 if hasattr(window.queue, "table") else True)
    shot(window, "file-d-envoi")
    window.tabs.setCurrentWidget(window.batch)
    window.batch.add_paths(batch_files(p01))
    wait(lambda: True, 2.0)
    wait(lambda: len(window.batch.rows) == 3)
    p03 = sandbox_patient("P03")
    assert p03 is not None
    named = next(r for r in window.batch.rows if r.source == "name")
    window.batch.set_patient(named, p03)  # the wrong patient for a file named after P01's INS
    window.batch.default_type.select("11488-4")
    window.batch.apply_defaults()
    window.batch.check_rows()
    wait(lambda: "Vérification faite" in window.batch.message.text())
    shot(window, "secretariat")
    picker = PatientPicker(window.batch.known, window, window.batch.known_statuses)
    picker.search.setText("dur")
    picker.show()
    wait(lambda: True)
    shot(picker, "secretariat-patient")
    picker.close()
    window.tabs.setCurrentWidget(window.hot_folder)
    window.hot_folder.folder.setText(str(hot_folder(window, p01)))
    wait(lambda: window.workspace.hot_folder.status().passes >= 1)
    window.hot_folder.poll()
    wait(lambda: window.hot_folder.notes.count() >= 1)
    window.hot_folder.notes.setCurrentRow(0)
    wait(lambda: True)
    shot(window, "dossier-de-depot")
    window.workspace.hot_folder.stop()
    window.tabs.setCurrentIndex(0)
    p04 = sandbox_patient("P04")
    assert p04 is not None
    window.patient_panel.select(p04)  # never qualified on this workstation: provisoire
    wait(lambda: window.overview is not None and window.pending == 0 and window.patient_panel.identity)
    identity = window.patient_panel.open_qualification()
    assert identity is not None
    wait(lambda: identity.state is not None)
    identity.verify_button.click()  # the sandbox INSi host verifies the INS: récupérée
    wait(lambda: not identity._insi_busy and identity.state is not None and identity.state.stored is not None)
    wait(lambda: window.patient_panel.status.text().endswith("récupérée"))
    identity.confirm.setChecked(True)
    wait(lambda: True)
    shot(identity, "qualifier-identite")
    identity.close()
    wait(lambda: True)
    shot(window, "identite")
    p07 = sandbox_patient("P07")
    assert p07 is not None
    window.tabs.setCurrentIndex(0)
    window.patient_panel.select(p07)
    wait(lambda: window.overview is not None and window.pending == 0)
    shot(window, "patient-non-autorise")
    dialog = EmergencyAccessDialog({Purpose.BREAK_GLASS: True, Purpose.CENTRE_15: False}, window)
    dialog.show()
    wait(lambda: True)
    shot(dialog, "acces-urgence")
    dialog.close()
    settings = SettingsDialog(locked_config(), window)
    settings.show()
    wait(lambda: True)
    shot(settings, "reglages")
    settings.close()
    ecps_screens(session)
    window.close()
    insi_host.shutdown()
    session.close()
    app.quit()


if __name__ == "__main__":
    main()
