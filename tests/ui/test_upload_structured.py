"""The upload tab's structured documents (issue 19) against the in-process sandbox host over real
mutual TLS: « Synthèse médicale (VSM) » and « Note de vaccination » offered only when the EHR's
hand-off context carries their data, the preview (the built CDA rendered) before « Envoyer » /
« Annuler », the documents on the host exactly as previewed and passing the four checks, one note
per vaccination, and the refusals: identity not qualifiée, another patient, malformed hand-offs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pytestqt.qtbot import QtBot

from app.services.structured_upload import CONTEXT_KEY, structured_from_context
from app.services.workspace import Patient, Workspace
from app.store.queue import State
from app.ui.structured_preview import StructuredPreviewDialog
from app.ui.upload_panel import UploadPanel
from sandbox.host.server import DmpHost
from tests.structured.build_helpers import DATA, NS
from tests.structured.schematron import StructuredChecks
from tests.ui.conftest import sandbox_patient
from tests.ui.test_identity_feeding import demoted
from tests.ui.test_upload import panel_for

WAIT = 20_000
VSM_TEMPLATE = "1.2.250.1.213.1.1.1.13"  # Entete_VSM_2023.sch: "Conformité au VSM"
VAC_NOTE_TEMPLATE = "1.2.250.1.213.1.1.1.46"  # CI-SIS_VAC-NOTE_2023.01.sch


@pytest.fixture(scope="session")
def structured_checks(tmp_path_factory: pytest.TempPathFactory) -> StructuredChecks:
    """The four checks of tests/structured (compiled once per run)."""
    return StructuredChecks(tmp_path_factory.mktemp("structured-schematrons"))


def handoff(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def named(data: dict[str, Any], patient: Patient) -> dict[str, Any]:
    """The hand-off naming ``patient`` (INS and strict traits)."""
    traits = patient.traits
    assert traits is not None
    data = copy.deepcopy(data)
    data["patient"] = {
        "ins": {"matricule": patient.ins.matricule.value, "oid": str(patient.ins.oid)},
        "traits": {
            "nom_naissance": traits.birth_name,
            "prenoms": " ".join(traits.first_names),
            "sexe": str(traits.sex),
            "naissance": traits.birth_date.to_french(),
            "lieu": traits.birth_place,
        },
    }
    return data


def three_vaccinations(patient: Patient) -> dict[str, Any]:
    data = named(handoff("vaccination_adult.json"), patient)
    act = data["vaccinations"][0]
    data["vaccinations"] = [
        {**act, "date": "2024-10-01", "lot": "LOT-A1"},
        {**act, "date": "2025-10-02", "lot": "LOT-B2"},
        {**act, "date": "2026-10-03", "lot": "LOT-C3"},
    ]
    return data


def context(**structured: dict[str, Any]) -> dict[str, Any]:
    return {"beneficiaires": [], CONTEXT_KEY: structured}


def stored(host: DmpHost, unique_id: str) -> tuple[str, str, bytes]:
    row = (
        host.store.connect()
        .execute(
            "SELECT type_code, format_code, content_path FROM xds_document WHERE unique_id = ?",
            (unique_id,),
        )
        .fetchone()
    )
    assert row is not None, unique_id
    return row[0], row[1], Path(row[2]).read_bytes()


def previewed(qtbot: QtBot, panel: UploadPanel, kind: str) -> StructuredPreviewDialog:
    panel.structured_dialog = None
    panel.offer.buttons[kind].click()
    qtbot.waitUntil(lambda: panel.structured_dialog is not None or "[" in panel.message.text(), timeout=WAIT)
    dialog = panel.structured_dialog
    assert dialog is not None, panel.message.text()
    assert dialog is not None and dialog.isVisible()
    return dialog


def refused(qtbot: QtBot, panel: UploadPanel, kind: str, code: str) -> str:
    panel.offer.buttons[kind].click()
    qtbot.waitUntil(lambda: f"[{code}]" in panel.message.text(), timeout=WAIT)
    assert panel.structured_dialog is None  # no preview, nothing to send
    return panel.message.text()


def test_the_options_appear_only_with_the_data(qtbot: QtBot, gp_workspace: Workspace) -> None:
    p03 = sandbox_patient("P03")
    panel = panel_for(qtbot, gp_workspace, p03)
    panel.show()
    assert not panel.offer.isVisible() and panel.offer.buttons == {}  # no hand-off
    panel.set_context({"beneficiaires": []})  # a hand-off of before issue 19: nothing more
    assert not panel.offer.isVisible() and panel.offer.buttons == {}
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), p03)))
    assert panel.offer.isVisible() and list(panel.offer.buttons) == ["VSM"]
    assert panel.offer.buttons["VSM"].text() == "Synthèse médicale (VSM)…"
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), p03), vaccination=three_vaccinations(p03)))
    assert list(panel.offer.buttons) == ["VSM", "VAC-NOTE"]
    assert panel.offer.buttons["VAC-NOTE"].text() == "Note de vaccination (3 vaccinations)…"
    panel.set_context({"beneficiaires": []})  # the latest hand-off replaces the previous one's
    assert not panel.offer.isVisible() and panel.offer.buttons == {}


def test_the_preview_shows_the_sections_and_the_strict_traits_and_annuler_sends_nothing(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost
) -> None:
    p03 = sandbox_patient("P03")
    panel = panel_for(qtbot, gp_workspace, p03)
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), p03)))
    dialog = previewed(qtbot, panel, "VSM")
    text = dialog.browser.toPlainText()
    for expected in (
        "Synthèse médicale",
        "Pathologies, antécédents, allergies et facteurs de risque",
        "Pathologies en cours", "Hypertension essentielle", "I10",
        "Antécédents médicaux", "Appendicectomie dans l'enfance",
        "Allergies et hypersensibilités", "Paracétamol", "Urticaire généralisée",
        "Facteurs de risque", "Tabagisme sevré depuis 2015",
        "Résultats", "HbA1c", "7,2 %",
        "Traitement au long cours", "PLAVIX 75 mg", "1 comprimé par jour",
        # the strict traits, as the CDA carries them
        "BERNARD", "JEAN", "01/08/1950", "Masculin", "15051", "150081505104018", "INS-NIR [TEST]",
        "CLAIRE MEDECIN-GENERALISTE",
    ):  # fmt: skip
        assert expected in text, expected
    assert not dialog.choice.isVisible()  # one document
    summary = dialog.summary.text()
    assert "Synthèse médicale" in summary and "BERNARD JEAN" in summary and "150081505104018" in summary
    assert dialog.send_button.text() == "&Envoyer" and dialog.cancel_button.text() == "Annuler"
    dialog.cancel_button.click()
    assert "Envoi annulé : rien n'a été envoyé." in panel.message.text()
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []


def test_envoyer_sends_exactly_the_previewed_vsm(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost, structured_checks: StructuredChecks
) -> None:
    p03 = sandbox_patient("P03")
    panel = panel_for(qtbot, gp_workspace, p03)
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), p03)))
    dialog = previewed(qtbot, panel, "VSM")
    shown = dialog.prepared.documents[0]
    with qtbot.waitSignal(panel.sent, timeout=WAIT) as sent:
        dialog.send_button.click()
    entry = sent.args[0]
    assert entry.state is State.SENT and entry.unique_id == shown.request.document_id
    assert f"Document envoyé au DMP (n° {entry.id})" in panel.message.text()
    type_code, format_code, cda = stored(host, entry.unique_id)
    assert (type_code, format_code) == ("SYNTH", "urn:asip:ci-sis:vsm:2012")
    assert cda == shown.cda  # exactly what the preview rendered
    document = etree.fromstring(cda)
    assert document.find(f"cda:templateId[@root='{VSM_TEMPLATE}']", NS) is not None
    assert document.find("cda:code", NS).get("code") == "SYNTH"  # type: ignore[union-attr]
    assert document.find("cda:component/cda:structuredBody", NS) is not None
    assert structured_checks.check(cda, "VSM").clean  # XSD, volet and both content models
    listed = gp_workspace.documents(p03)
    assert any(d.unique_id == entry.unique_id for d in listed)  # and it is listed


def test_vaccination_notes_send_one_document_per_vaccination(
    qtbot: QtBot, structure_workspace: Workspace, host: DmpHost, structured_checks: StructuredChecks
) -> None:
    p01 = sandbox_patient("P01")
    panel = panel_for(qtbot, structure_workspace, p01)
    panel.set_context(context(vaccination=three_vaccinations(p01)))
    dialog = previewed(qtbot, panel, "VAC-NOTE")
    assert dialog.choice.count() == 3 and not dialog.choice.isHidden()
    assert dialog.choice.itemText(1).startswith("Note 2 sur 3 : VACCIN TETANIQUE PASTEUR")
    assert dialog.choice.itemText(1).endswith("02/10/2025")
    assert "LOT-A1" in dialog.browser.toPlainText()
    dialog.choice.setCurrentIndex(2)
    assert "LOT-C3" in dialog.browser.toPlainText() and "DURAND" in dialog.browser.toPlainText()
    assert dialog.send_button.text() == "&Envoyer les 3 notes"
    queued: list[Any] = []
    panel.queued.connect(queued.append)
    with qtbot.waitSignal(panel.sent, timeout=WAIT):
        dialog.send_button.click()
    qtbot.waitUntil(lambda: "3 documents sur 3 envoyés au DMP" in panel.message.text(), timeout=WAIT)
    assert len(queued) == 3
    ids = {d.request.document_id for d in dialog.prepared.documents}
    assert {e.unique_id for e in queued} == ids and len(ids) == 3
    lots = set()
    for document in dialog.prepared.documents:
        type_code, format_code, cda = stored(host, document.request.document_id)
        assert (type_code, format_code) == ("87273-9", "urn:asip:ci-sis:vac-note:2021")
        assert cda == document.cda
        assert etree.fromstring(cda).find(f"cda:templateId[@root='{VAC_NOTE_TEMPLATE}']", NS) is not None
        assert structured_checks.check(cda, "VAC-NOTE").clean
        lots |= {lot for lot in ("LOT-A1", "LOT-B2", "LOT-C3") if lot.encode() in cda}
    assert lots == {"LOT-A1", "LOT-B2", "LOT-C3"}  # each note records its own vaccination


def test_an_identity_not_qualifiee_is_refused_and_nothing_is_sent(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost
) -> None:
    patient = demoted(gp_workspace, "P03")
    panel = panel_for(qtbot, gp_workspace, patient)
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), patient)))
    said = refused(qtbot, panel, "VSM", "IDENTITE-NON-QUALIFIEE")
    assert "Synthèse médicale (VSM) : Identité du patient non qualifiée : envoi au DMP refusé" in said
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []


def test_a_hand_off_for_another_patient_is_refused(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost
) -> None:
    p01, p03 = sandbox_patient("P01"), sandbox_patient("P03")
    panel = panel_for(qtbot, gp_workspace, p01)  # P01 on screen, the data are P03's
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), p03), vaccination=three_vaccinations(p03)))
    for kind in ("VSM", "VAC-NOTE"):
        said = refused(qtbot, panel, kind, "DMP-DONNEES-AUTRE-PATIENT")
        assert "concernent un autre patient que celui choisi" in said
    # Same INS, other strict traits: another patient as well
    changed = named(handoff("vsm_full.json"), p01)
    changed["patient"]["traits"]["prenoms"] = "CLAIRE"
    panel.set_context(context(vsm=changed))
    refused(qtbot, panel, "VSM", "DMP-DONNEES-AUTRE-PATIENT")
    # A hand-off that names no patient cannot be proven to be this one's
    anonymous = handoff("vsm_full.json")
    del anonymous["patient"]
    panel.set_context(context(vsm=anonymous))
    assert "« patient » est obligatoire" in refused(qtbot, panel, "VSM", "DMP-DONNEES-STRUCTUREES")
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []


def test_a_patient_changed_after_the_preview_is_refused_at_envoyer(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost
) -> None:
    p03 = sandbox_patient("P03")
    shown: list[Patient] = [p03]
    panel = UploadPanel(gp_workspace, lambda: shown[0])
    qtbot.addWidget(panel)
    panel.set_context(context(vsm=named(handoff("vsm_full.json"), p03)))
    dialog = previewed(qtbot, panel, "VSM")
    shown[0] = sandbox_patient("P01")  # e.g. a forwarded hand-off opened another patient meanwhile
    dialog.send_button.click()
    assert "[DMP-DONNEES-AUTRE-PATIENT]" in panel.message.text()
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []


@pytest.mark.parametrize(
    ("structured", "said"),
    [
        ("une synthèse", "« documents_structures » doit être un objet JSON"),
        ({"vsm": [1, 2]}, "« documents_structures.vsm » doit être un objet JSON"),
        ({"ips": {}}, "« documents_structures.ips » est inconnu"),
        ({"vaccination": {"vaccinations": []}}, "doit lister de 1 à 100 vaccinations"),
        ({"vaccination": {"vaccinations": "x"}}, "doit lister de 1 à 100 vaccinations"),
        ({"vsm": {"pathologies": [{"libelle": "x" * 1_100_000}]}}, "dépasse 1 Mo"),
    ],
)
def test_a_malformed_context_is_said_and_nothing_is_offered(
    qtbot: QtBot, gp_workspace: Workspace, structured: Any, said: str
) -> None:
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    panel.show()
    panel.set_context({"beneficiaires": [], CONTEXT_KEY: structured})
    assert panel.offer.isVisible() and panel.offer.buttons == {}
    note = panel.offer.note.text()
    assert note.startswith("Données structurées du logiciel métier ignorées : Contexte du logiciel")
    assert said in note and "[DMP-DONNEES-STRUCTUREES]" in note


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("auteur"), "« auteur » est obligatoire"),
        (lambda d: d["pathologies"][0].update(cim10="I1O"), "« pathologies[1].cim10 »"),
        (lambda d: d["traitements"][0].pop("medicament"), "« traitements[1].medicament » est obligatoire"),
        (lambda d: d.update(pathologie=[]), "« pathologie »"),  # a typo is not silently dropped
        (lambda d: d["allergies"][0].update(statut="oui"), "« allergies[1].statut »"),
    ],
)
def test_missing_or_wrong_data_is_refused_naming_the_field(
    qtbot: QtBot, gp_workspace: Workspace, change: Any, field: str
) -> None:
    p03 = sandbox_patient("P03")
    data = named(handoff("vsm_full.json"), p03)
    change(data)
    panel = panel_for(qtbot, gp_workspace, p03)
    panel.set_context(context(vsm=data))
    said = refused(qtbot, panel, "VSM", "DMP-DONNEES-STRUCTUREES")
    assert said.startswith("Synthèse médicale (VSM) : Données du logiciel métier refusées : ")
    assert field in said
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []


def test_a_vaccination_without_its_lot_is_refused_naming_the_field(
    qtbot: QtBot, gp_workspace: Workspace
) -> None:
    p03 = sandbox_patient("P03")
    data = three_vaccinations(p03)
    del data["vaccinations"][1]["lot"]
    panel = panel_for(qtbot, gp_workspace, p03)
    panel.set_context(context(vaccination=data))
    said = refused(qtbot, panel, "VAC-NOTE", "DMP-DONNEES-STRUCTUREES")
    assert "« vaccinations[2].lot » est obligatoire" in said


def test_the_main_window_offers_the_hand_off_documents_and_lists_what_was_sent(
    qtbot: QtBot, window: Any, host: DmpHost
) -> None:
    p03 = sandbox_patient("P03")
    beneficiary = {
        "nom": "BERNARD", "prenom": "JEAN", "naissance": "01/08/1950",
        "ins": {"matricule": p03.ins.matricule.value, "oid": "1.2.250.1.213.1.4.10"},
        "traits": {"nom_naissance": "BERNARD", "prenoms": "JEAN", "sexe": "M", "naissance": "1950-08-01",
                   "lieu": "15051"},
        "statut_ins": "qualifiée",
    }  # fmt: skip
    handed = {"beneficiaires": [beneficiary], CONTEXT_KEY: {"vsm": named(handoff("vsm_full.json"), p03)}}
    window.open_context({"contexte": json.loads(json.dumps(handed))})  # as dmp-gui --contexte reads it
    assert window.patient_panel.patient is not None and window.patient_panel.patient.ins == p03.ins
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)
    window.tabs.setCurrentWidget(window.upload)
    assert window.upload.offer.isVisible() and list(window.upload.offer.buttons) == ["VSM"]
    dialog = previewed(qtbot, window.upload, "VSM")
    unique_id = dialog.prepared.documents[0].request.document_id
    dialog.send_button.click()
    qtbot.waitUntil(
        lambda: any(d.unique_id == unique_id for d in window.documents.visible_documents()), timeout=WAIT
    )
    window.open_context({"contexte": {"beneficiaires": [beneficiary]}})  # a new hand-off without data
    assert not window.upload.offer.isVisible()
    window.open_context({"contexte": handed})
    dialog = previewed(qtbot, window.upload, "VSM")
    sent = len(window.workspace.store.queue.entries())
    window.patient_panel.select(sandbox_patient("P01"))  # e.g. forwarded by a second dmp-gui
    assert not dialog.isVisible() and window.upload.structured_dialog is None  # closed at once
    assert "Le patient a changé : aperçu fermé, rien n'a été envoyé." in window.upload.message.text()
    assert len(window.workspace.store.queue.entries()) == sent
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)
    window.open_context({"contexte": handed})  # back to P03: a preview cancelled, deleted on close...
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)
    previewed(qtbot, window.upload, "VSM").cancel_button.click()
    assert window.upload.structured_dialog is None  # ...is forgotten at once
    qtbot.wait(50)  # the deferred delete runs
    window.patient_panel.select(sandbox_patient("P01"))  # then another patient: nothing to close
    assert "Envoi annulé : rien n'a été envoyé." in window.upload.message.text()
    qtbot.waitUntil(lambda: window.overview is not None and window.pending == 0, timeout=WAIT)


def test_the_context_keys_are_those_of_the_command_line() -> None:
    assert structured_from_context({}) == {}
    found = structured_from_context(
        {CONTEXT_KEY: {"vsm": handoff("vsm_full.json"), "vaccination": handoff("vaccination_child.json")}}
    )
    assert {k: v.count for k, v in found.items()} == {"VSM": 1, "VAC-NOTE": 3}
    assert json.loads(found["VSM"].data) == handoff("vsm_full.json")  # the same JSON as dmp send --vsm


def test_dmp_gui_refuses_a_context_file_too_large_or_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.ui import main as gui

    big = tmp_path / "contexte.json"
    big.write_text(json.dumps({"beneficiaires": [], "x": "a" * gui.MAX_CONTEXT_BYTES}), encoding="utf-8")
    broken = tmp_path / "casse.json"
    broken.write_bytes(b'{"beneficiaires": [')
    deep = tmp_path / "profond.json"
    deep.write_bytes(b'{"documents_structures": {"vsm": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}")
    for path in (big, broken, deep):
        assert gui.main(["--contexte", str(path)]) == 2  # before any window
        assert "fichier de contexte illisible ou mal formé" in capsys.readouterr().err
    good = tmp_path / "bon.json"
    good.write_text(json.dumps(context(vsm=handoff("vsm_full.json"))), encoding="utf-8")
    message = gui.message_of(gui.parse(["--contexte", str(good)]))
    assert list(structured_from_context(message["contexte"])) == ["VSM"]


def test_a_forwarded_context_nested_too_deep_is_answered_invalid(qtbot: QtBot, tmp_path: Path) -> None:
    """A second ``dmp-gui`` forwards its context over the local socket: a hostile one is refused
    there (« invalid »), and the running instance keeps listening."""
    import os

    from app.ui.qt import QLocalSocket
    from app.ui.single_instance import InstanceServer

    server = InstanceServer(f"dmp-test-deep-{os.getpid()}-{tmp_path.name[-12:]}")
    assert server.listen()
    received: list[dict[str, Any]] = []
    server.received.connect(received.append)

    def answer(line: bytes) -> bytes:
        socket = QLocalSocket()
        socket.connectToServer(server.name)
        qtbot.waitUntil(lambda: socket.state() == QLocalSocket.LocalSocketState.ConnectedState, timeout=WAIT)
        socket.write(line)
        qtbot.waitUntil(lambda: socket.canReadLine(), timeout=WAIT)
        said = bytes(socket.readLine().data()).strip()
        socket.disconnectFromServer()
        return said

    assert answer(b"[" * 100_000 + b"]" * 100_000 + b"\n") == b"invalid" and received == []
    assert answer(json.dumps({"contexte": context()}).encode() + b"\n") == b"ok"
    qtbot.waitUntil(lambda: bool(received), timeout=WAIT)
    assert received[0]["contexte"][CONTEXT_KEY] == {}
    server.close()


def test_an_interrupted_send_of_several_notes_says_they_stay_queued_in_the_plural() -> None:
    from app.ui.upload_panel import kept_text

    assert "le document reste dans la file d'envoi (n° 3)" in kept_text("3")
    several = kept_text("3, 4, 5")
    assert "les documents restent dans la file d'envoi (n° 3, 4, 5) et partiront" in several
