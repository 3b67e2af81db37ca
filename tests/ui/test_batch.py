"""The secretariat's batch panel against the sandbox host (structure certificate, indirect mode):
rows matched by sidecar, by INS in the file name and by hand; "Vérifier" blocks an invalid row; only
the checked rows are queued and sent, their state read back from the queue."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.services.patients import PatientDirectory, find_ins
from app.services.workspace import Patient, Workspace
from app.store.queue import State
from app.ui.batch_panel import (
    AUTHOR,
    CHECK,
    PATIENT,
    SOURCE,
    STATE,
    TITLE,
    TYPE,
    BatchPanel,
    PatientPicker,
    Row,
)
from app.ui.qt import QDialog, QDropEvent, QMessageBox, QMimeData, QPointF, Qt, QUrl
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient

WAIT = 20_000
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


def patients() -> list[Patient]:
    return [sandbox_patient(f"P0{n}") for n in range(1, 8)]


def sidecar(**changes: Any) -> bytes:
    data = {"ins": "207058575627097", "oid": "1.2.250.1.213.1.4.10", "nom": "DURAND",
            "prenoms": "CLAIRE MARIE", "sexe": "F", "naissance": "2007-05-14", "lieu": "85756",
            "type": "11488-4", "titre": "CR lot — accompagnement",
            "auteur": "899900012342|PAUL|CARDIOLOGUE|G15_10/SM04"}  # fmt: skip
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


def reports(folder: Path) -> Path:
    """Four reports: a valid sidecar pair, an INS in a file name, one to match by hand, and a pair
    whose sidecar is wrong."""
    folder.mkdir()
    (folder / "cr-sortie.pdf").write_bytes(PDF)
    (folder / "cr-sortie.pdf.dmp.json").write_bytes(sidecar())
    (folder / "cr-285127505612353-cardio.pdf").write_bytes(PDF)  # P04's INS
    (folder / "scan-0042.pdf").write_bytes(PDF)
    (folder / "mauvais.pdf").write_bytes(PDF)
    (folder / "mauvais.pdf.dmp.json").write_bytes(sidecar(titre="CR invalide", couleur="bleu"))
    (folder / "Thumbs.db").write_bytes(b"ignored")
    return folder


def row(panel: BatchPanel, name: str) -> tuple[int, Row]:
    return next((n, r) for n, r in enumerate(panel.rows) if r.found.path.name == name)


def text(panel: BatchPanel, name: str, column: int) -> str:
    item = panel.table.item(row(panel, name)[0], column)
    return item.text() if item is not None else ""


def loaded(qtbot: QtBot, workspace: Workspace, folder: Path) -> BatchPanel:
    panel = BatchPanel(workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 4, timeout=WAIT)
    return panel


def pick(panel: BatchPanel, target: Row, query: str, ins: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Open the row's patient picker, type ``query``, choose the listed patient whose INS is ``ins``;
    the listed lines returned."""
    shown: list[str] = []

    def run(picker: PatientPicker) -> int:
        picker.search.setText(query)
        lines = [picker.list.item(i).text() for i in range(picker.list.count())]
        shown.extend(lines)
        picker.list.setCurrentRow(next(i for i, line in enumerate(lines) if ins in line))
        return int(QDialog.DialogCode.Accepted.value)

    monkeypatch.setattr(PatientPicker, "exec", run)
    target.editors[PATIENT].click()
    return shown


def hosted(host: DmpHost, title: str) -> int:
    db = host.store.connect()
    return int(db.execute("SELECT count(*) FROM xds_document WHERE title = ?", (title,)).fetchone()[0])


def test_rows_are_matched_checked_queued_and_sent(
    qtbot: QtBot,
    structure_workspace: Workspace,
    host: DmpHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    panel = loaded(qtbot, structure_workspace, reports(tmp_path / "lot"))
    assert text(panel, "cr-sortie.pdf", SOURCE) == "fichier d'accompagnement"
    assert text(panel, "cr-285127505612353-cardio.pdf", SOURCE) == "INS dans le nom"
    assert row(panel, "cr-285127505612353-cardio.pdf")[1].patient == sandbox_patient("P04")
    assert text(panel, "scan-0042.pdf", SOURCE) == "choix manuel"
    panel.add_paths([tmp_path / "lot" / "scan-0042.pdf"])  # added twice: one row
    qtbot.wait(200)
    assert len(panel.rows) == 4

    panel.default_type.select("11488-4")
    panel.default_title.setText("")
    panel.apply_defaults()
    n, manual = row(panel, "scan-0042.pdf")
    assert manual.editors[TITLE].text() == "CR ou fiche de consultation ou de visite"  # from the type
    manual.editors[TITLE].setText("CR lot — choix manuel")
    row(panel, "cr-285127505612353-cardio.pdf")[1].editors[TITLE].setText("CR lot — INS du nom")
    panel.queue_rows()
    assert "« Vérifier » d'abord" in panel.message.text()  # nothing goes before its check

    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    assert "choisissez son patient" in text(panel, "scan-0042.pdf", CHECK)  # no patient chosen yet
    shown = pick(panel, manual, "bernard", sandbox_patient("P03").ins.matricule.value, monkeypatch)
    assert len(shown) == 1 and "BERNARD Jean (01/08/1950)" in shown[0]
    assert text(panel, "scan-0042.pdf", CHECK) == "à vérifier"
    panel.check_rows()
    qtbot.waitUntil(lambda: text(panel, "scan-0042.pdf", CHECK) != "à vérifier", timeout=WAIT)
    assert text(panel, "mauvais.pdf", CHECK).startswith("1 problème : Clé inconnue « couleur »")
    assert "[DEPOT-CLE-INCONNUE]" in text(panel, "mauvais.pdf", CHECK)
    for name in ("cr-sortie.pdf", "cr-285127505612353-cardio.pdf", "scan-0042.pdf"):
        assert text(panel, name, CHECK).startswith("prêt à mettre en file"), name
    assert text(panel, "cr-sortie.pdf", TITLE) == "CR lot — accompagnement"
    assert "DURAND Claire Marie" in text(panel, "cr-sortie.pdf", PATIENT)
    assert "3 prêts, 1 à corriger" in panel.summary.text()

    states: list[tuple[int, str]] = []
    cell = panel._cell

    def recorded(n: int, column: int, value: str, *rest: Any) -> None:
        if column == STATE:
            states.append((n, value))
        cell(n, column, value, *rest)

    monkeypatch.setattr(panel, "_cell", recorded)
    panel.queue_rows()
    sent = ("cr-sortie.pdf", "cr-285127505612353-cardio.pdf", "scan-0042.pdf")
    qtbot.waitUntil(lambda: all(text(panel, s, STATE).startswith("envoyé") for s in sent), timeout=WAIT)
    qtbot.waitUntil(lambda: "Envoi terminé : 3 envoyés, 0 refusé" in panel.message.text(), timeout=WAIT)
    n = row(panel, "scan-0042.pdf")[0]
    seen = [value for i, value in states if i == n]
    assert seen[0].startswith("en attente (n° ") and seen[-1].startswith("envoyé (n° ")  # per-row progress
    assert text(panel, "mauvais.pdf", STATE) == "—" and row(panel, "mauvais.pdf")[1].entry is None
    for name in sent:  # the row's check column follows the queue, not "prêt à mettre en file"
        assert text(panel, name, CHECK) == "envoyé", name
    assert structure_workspace.store is not None
    entries = structure_workspace.store.queue.entries()
    assert len(entries) == 3 and all(e.state is State.SENT for e in entries)
    for title in ("CR lot — accompagnement", "CR lot — INS du nom", "CR lot — choix manuel"):
        assert hosted(host, title) == 1, title
    assert hosted(host, "CR invalide") == 0
    by_title = {e.title: e for e in entries}
    assert by_title["CR lot — INS du nom"].request.ins == sandbox_patient("P04").ins
    assert by_title["CR lot — choix manuel"].request.ins == sandbox_patient("P03").ins
    assert by_title["CR lot — accompagnement"].request.author is not None  # the sidecar's author
    assert by_title["CR lot — choix manuel"].request.author is None  # the structure's default


def test_a_typed_author_is_checked_with_the_sidecar_rules(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    panel = loaded(qtbot, structure_workspace, reports(tmp_path / "lot"))
    n, named = row(panel, "cr-285127505612353-cardio.pdf")
    named.editors[TYPE].select("11488-4")
    named.editors[AUTHOR].setText("pas un auteur")
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    assert "[DEPOT-AUTEUR]" in text(panel, "cr-285127505612353-cardio.pdf", CHECK)
    named.editors[AUTHOR].setText("899900012342|PAUL|CARDIOLOGUE|G15_10/SM04")
    panel.check_rows()
    qtbot.waitUntil(lambda: text(panel, "cr-285127505612353-cardio.pdf", CHECK) != "à vérifier", timeout=WAIT)
    assert text(panel, "cr-285127505612353-cardio.pdf", CHECK).startswith("prêt à mettre en file")
    panel.table.selectRow(n)
    panel.remove_selected()
    assert len(panel.rows) == 3 and "cr-285127505612353-cardio.pdf" not in [
        r.found.path.name for r in panel.rows
    ]


def test_cancel_stops_queueing_and_what_is_queued_stays(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = loaded(qtbot, structure_workspace, reports(tmp_path / "lot"))
    panel.default_type.select("11488-4")
    panel.apply_defaults()
    panel.set_patient(row(panel, "scan-0042.pdf")[1], sandbox_patient("P03"))
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    started, release, drained = threading.Event(), threading.Event(), []
    enqueue = structure_workspace.enqueue

    def slow(*args: Any) -> Any:
        entry = enqueue(*args)
        started.set()
        release.wait(WAIT / 1000)
        return entry

    monkeypatch.setattr(structure_workspace, "enqueue", slow)
    monkeypatch.setattr(structure_workspace, "drain", lambda: drained.append(1))
    panel.queue_rows()
    assert started.wait(WAIT / 1000)  # the first row is in the queue, the others wait their turn
    panel.cancel()
    assert "les autres lignes n'ont pas été mises en file" in panel.message.text()
    release.set()
    qtbot.waitUntil(lambda: any(r.entry for r in panel.rows), timeout=WAIT)
    qtbot.wait(300)
    assert sum(r.entry is not None for r in panel.rows) == 1 and drained == []
    assert structure_workspace.store is not None
    assert [e.state for e in structure_workspace.store.queue.entries()] == [State.QUEUED]
    assert panel.queue_button.isEnabled()


def test_a_row_whose_file_names_another_ins_is_blocked_until_resolved(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file name carries P04's INS; the secretary picks P03 for it: the row is blocked (not
    queueable), the conflict spelt out in the row, until she chooses explicitly: the patient the name
    says, or P03 confirmed through a question that names both INS (and no other identity)."""
    folder = tmp_path / "lot"
    folder.mkdir()
    name = "cr-285127505612353-cardio.pdf"  # P04's INS
    (folder / name).write_bytes(PDF)
    panel = BatchPanel(structure_workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 1, timeout=WAIT)
    _, wrong = row(panel, name)
    assert wrong.patient == sandbox_patient("P04")  # pre-matched from the name
    wrong.editors[TYPE].select("11488-4")
    p03, p04 = sandbox_patient("P03"), sandbox_patient("P04")
    pick(panel, wrong, "bernard", p03.ins.matricule.value, monkeypatch)
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    shown = text(panel, name, CHECK)
    assert "[DEPOT-INS-DIFFERENT]" in shown and "285127505612353" in shown and "150081505104018" in shown
    assert "Le nom du fichier porte un autre INS" in shown
    assert wrong.request is None  # blocked: not queueable
    panel.queue_rows()
    assert wrong.entry is None and "« Vérifier » d'abord" in panel.message.text()
    header = panel.table.horizontalHeader()
    assert header.visualIndex(CHECK) == 1  # the problem is read in the row, next to the file
    confirm = panel.table.cellWidget(0, SOURCE)
    assert confirm is not None and confirm.text() == "Confirmer…"

    asked: list[str] = []

    def answer(reply: QMessageBox.StandardButton) -> Any:
        def question(parent: Any, title: str, message: str, *rest: Any) -> QMessageBox.StandardButton:
            asked.append(message)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    confirm.click()
    assert wrong.confirmed is None  # "Non": still blocked
    assert "285127505612353" in asked[0] and "150081505104018" in asked[0]
    assert "BERNARD" not in asked[0] and "DUBOIS" not in asked[0].upper()  # INS only, no other name
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    confirm.click()
    assert text(panel, name, CHECK) == "à vérifier"
    panel.check_rows()
    qtbot.waitUntil(lambda: text(panel, name, CHECK) != "à vérifier", timeout=WAIT)
    assert text(panel, name, CHECK).startswith("prêt à mettre en file")
    assert "Patient confirmé malgré l'INS 285127505612353" in text(panel, name, CHECK)
    assert wrong.request is not None and wrong.request.ins == p03.ins
    pick(panel, wrong, "285127505612353", p04.ins.matricule.value, monkeypatch)  # the name's patient
    panel.check_rows()
    qtbot.waitUntil(lambda: text(panel, name, CHECK) != "à vérifier", timeout=WAIT)
    assert wrong.request is not None and wrong.request.ins == p04.ins
    assert "confirmé" not in text(panel, name, CHECK)


def test_a_file_name_and_its_sidecar_naming_two_ins_block_the_row(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sidecar is for P01 (DURAND Claire), the file name carries P04's INS: blocked until confirmed."""
    folder = tmp_path / "lot"
    folder.mkdir()
    name = "cr-285127505612353.pdf"
    (folder / name).write_bytes(PDF)
    (folder / (name + ".dmp.json")).write_bytes(sidecar())
    panel = BatchPanel(structure_workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 1, timeout=WAIT)
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    shown = text(panel, name, CHECK)
    assert "[DEPOT-INS-DIFFERENT]" in shown and "du fichier d'accompagnement (207058575627097)" in shown
    assert panel.rows[0].request is None
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    panel.table.cellWidget(0, SOURCE).click()
    panel.check_rows()
    qtbot.waitUntil(lambda: text(panel, name, CHECK).startswith("prêt"), timeout=WAIT)
    assert panel.rows[0].request is not None


def test_every_problem_of_a_row_is_written_in_the_row(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "lot"
    folder.mkdir()
    (folder / "vide.pdf").write_bytes(b"")
    (folder / "vide.pdf.dmp.json").write_bytes(sidecar(titre="", couleur="bleu"))
    panel = BatchPanel(structure_workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 1, timeout=WAIT)
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    shown = text(panel, "vide.pdf", CHECK)
    for code in ("DEPOT-VIDE", "DEPOT-CLE-INCONNUE", "DEPOT-TITRE"):
        assert f"[{code}]" in shown, code  # all of them in the cell's text, not in a tooltip only
    assert shown.startswith("3 problèmes :") and shown.count("\n") == 3
    assert panel.table.wordWrap()
    assert panel.table.rowHeight(0) > panel.table.verticalHeader().defaultSectionSize()


def test_several_files_dropped_onto_the_batch_make_rows(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    folder = reports(tmp_path / "lot")
    panel = BatchPanel(structure_workspace, patients)
    qtbot.addWidget(panel)
    assert panel.acceptDrops()
    mime = QMimeData()
    names = ("cr-sortie.pdf", "scan-0042.pdf", "cr-285127505612353-cardio.pdf")
    mime.setUrls([QUrl.fromLocalFile(str(folder / name)) for name in names])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)  # fmt: skip
    panel.dropEvent(event)
    qtbot.waitUntil(lambda: len(panel.rows) == 3, timeout=WAIT)
    assert {r.found.path.name for r in panel.rows} == set(names)
    assert text(panel, "cr-sortie.pdf", SOURCE) == "fichier d'accompagnement"  # its sidecar found


def test_a_row_can_be_matched_to_a_patient_not_opened_on_the_left(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No patient opened: the INS in the file name still finds P04 among the known (sandbox)
    patients, and the picker offers them all, searchable by name (accents, case), date or INS."""
    assert structure_workspace.settings.is_sandbox
    folder = reports(tmp_path / "lot")
    panel = BatchPanel(structure_workspace, lambda: [])
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 4, timeout=WAIT)
    assert row(panel, "cr-285127505612353-cardio.pdf")[1].patient == sandbox_patient("P04")
    assert text(panel, "cr-285127505612353-cardio.pdf", SOURCE) == "INS dans le nom"
    picker = PatientPicker(panel.known, panel, panel.known_statuses)
    qtbot.addWidget(picker)
    offered = {picker.list.item(i).data(Qt.ItemDataRole.UserRole).ins for i in range(picker.list.count())}
    assert {sandbox_patient(f"P0{n}").ins for n in range(1, 8)} <= offered
    assert "bac à sable · identité qualifiée sur ce poste" in picker.list.item(0).text()  # the lifecycle's
    picker.search.setText("2851 2750")  # part of an INS, as grouped on paper
    assert picker.list.count() == 1 and "285127505612353" in picker.list.item(0).text()
    picker.search.setText("01/08/1950")
    assert picker.chosen() == sandbox_patient("P03")
    manual = row(panel, "scan-0042.pdf")[1]
    pick(panel, manual, "BERNARD jean", sandbox_patient("P03").ins.matricule.value, monkeypatch)
    assert manual.patient == sandbox_patient("P03")
    assert "BERNARD Jean" in manual.editors[PATIENT].text()


def test_the_batch_knows_the_session_the_context_and_the_queue_patients(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside the sandbox: the patients opened in the session, the EHR context's, the queue's."""
    monkeypatch.setattr(type(structure_workspace.settings), "is_sandbox", property(lambda self: False))
    directory = PatientDirectory()
    directory.opened(sandbox_patient("P03"))
    directory.context([sandbox_patient("P06")])
    folder = reports(tmp_path / "lot")
    panel = BatchPanel(structure_workspace, lambda: [], directory)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 4, timeout=WAIT)
    assert [k.provenance for k in panel.known] == ["ouvert dans la session", "contexte du logiciel métier"]
    assert row(panel, "cr-285127505612353-cardio.pdf")[1].patient is None  # P04: not known here
    panel.default_type.select("11488-4")
    panel.apply_defaults()
    p04 = row(panel, "cr-285127505612353-cardio.pdf")[1]
    p04.patient = sandbox_patient("P04")  # as if chosen on the left: queued for P04
    p04.source = "manual"
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    monkeypatch.setattr("app.ui.batch_panel.drain_entries", lambda *a: [])
    panel.queue_rows()
    qtbot.waitUntil(lambda: p04.entry is not None, timeout=WAIT)
    other = BatchPanel(structure_workspace, lambda: [], directory)
    qtbot.addWidget(other)
    other.add_paths([folder])
    qtbot.waitUntil(lambda: len(other.rows) == 4, timeout=WAIT)
    queued = find_ins(other.known, sandbox_patient("P04").ins.matricule.value)
    assert queued is not None and queued.provenance == "file d'envoi"
    assert queued.ins_status == "statut INS non conservé"  # the queue keeps none: never guessed
    assert row(other, "cr-285127505612353-cardio.pdf")[1].patient == sandbox_patient("P04").__class__(
        sandbox_patient("P04").ins, sandbox_patient("P04").traits, "", "file d'envoi"
    )


def test_check_asks_the_host_whether_the_dmp_exists_and_is_open(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    """P02 has no DMP, P05's is closed (sandbox/data/dmp.json): both rows blocked by "Vérifier"."""
    folder = tmp_path / "lot"
    folder.mkdir()
    names = {}
    for pid in ("P02", "P05", "P03"):
        name = f"cr-{sandbox_patient(pid).ins.matricule.value}.pdf"
        (folder / name).write_bytes(PDF)
        names[pid] = name
    panel = BatchPanel(structure_workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 3, timeout=WAIT)
    panel.default_type.select("11488-4")
    panel.apply_defaults()
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    assert "[DEPOT-SANS-DMP]" in text(panel, names["P02"], CHECK)
    assert "[DEPOT-DMP-FERME]" in text(panel, names["P05"], CHECK)
    assert text(panel, names["P03"], CHECK).startswith("prêt à mettre en file")
    assert row(panel, names["P02"])[1].request is None and row(panel, names["P05"])[1].request is None


def test_a_sidecar_whose_traits_differ_from_the_known_patient_of_its_ins_is_blocked(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path
) -> None:
    """P01's INS in the sidecar with another birth name: the known P01 says otherwise, so the row is
    blocked, the message naming no trait of either identity."""
    folder = tmp_path / "lot"
    folder.mkdir()
    (folder / "cr.pdf").write_bytes(PDF)
    (folder / "cr.pdf.dmp.json").write_bytes(sidecar(nom="MARTIN"))
    (folder / "ok.pdf").write_bytes(PDF)
    (folder / "ok.pdf.dmp.json").write_bytes(sidecar())
    panel = BatchPanel(structure_workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == 2, timeout=WAIT)
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)
    shown = text(panel, "cr.pdf", CHECK)
    assert "[DEPOT-TRAITS-DIFFERENTS]" in shown and "ouvert dans la session" in shown
    assert "MARTIN" not in shown and "DURAND" not in shown
    assert row(panel, "cr.pdf")[1].request is None
    assert text(panel, "ok.pdf", CHECK).startswith("prêt à mettre en file")
