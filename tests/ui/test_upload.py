"""The upload panel against the sandbox host over real mutual TLS: type picker, preview, refusals,
drag and drop, a real send in direct and in structure mode, and "Annuler" leaving the entry queued."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.config.layers import KEYS
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.valuesets import value_sets
from app.services.workspace import Patient, Workspace
from app.store.queue import State
from app.ui.qt import QDropEvent, QMimeData, QPointF, Qt, QUrl
from app.ui.upload_panel import TypeCombo, UploadPanel, offered_groups, parse_reserved, type_groups
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient

WAIT = 20_000


def hosted(host: DmpHost, title: str) -> int:
    row = (
        host.store.connect().execute("SELECT count(*) FROM xds_document WHERE title = ?", (title,)).fetchone()
    )
    return int(row[0])


def report(tmp_path: Path, name: str = "cr-consultation.txt") -> Path:
    path = tmp_path / name
    path.write_text("Compte rendu de consultation\nExamen clinique normal.\n", encoding="utf-8")
    return path


def panel_for(qtbot: QtBot, workspace: Workspace, patient: Patient | None) -> UploadPanel:
    panel = UploadPanel(workspace, lambda: patient)
    qtbot.addWidget(panel)
    return panel


def ready(qtbot: QtBot, panel: UploadPanel, path: Path, title: str, code: str = "11488-4") -> None:
    panel.set_file(path)
    qtbot.waitUntil(lambda: panel.file == path, timeout=WAIT)
    assert panel.types.select(code)
    panel.title.setText(title)


def test_type_picker_groups_the_types_under_their_class(qtbot: QtBot, gp_workspace: Workspace) -> None:
    combo = TypeCombo()
    qtbot.addWidget(combo)
    sets, header = value_sets(), ""
    seen = 0
    for i in range(1, combo.count()):
        code = combo.itemData(i)
        if code is None:  # a class: a header that cannot be chosen
            header = combo.itemText(i)
            assert not combo.model().item(i).isEnabled()  # type: ignore[attr-defined]
            continue
        concept = sets.type_codes[code]
        assert sets.class_code(concept).display_name.upper() == header
        assert combo.itemText(i) == f"{concept.display_name} ({code})"
        seen += 1
    offered = offered_groups(None, parse_reserved(KEYS["DMP_TYPES_RESERVES"].default or ""))
    assert seen == sum(len(types) for _, types in offered) > 35  # the patient's own types left out
    assert [k.display_name for k, _ in type_groups()][:2] == ["Compte rendu", "Synthèse"]
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    assert panel.types.select("11488-4")
    assert panel.title.text() == "CR ou fiche de consultation ou de visite"  # prefilled from the type
    panel.title.setText("Consultation du jour")
    panel.types.select("34874-8")
    assert panel.title.text() == "Consultation du jour"  # a typed title is kept


def test_preview_shows_what_will_be_sent(qtbot: QtBot, gp_workspace: Workspace, tmp_path: Path) -> None:
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    text = panel.preview.toPlainText()
    assert "à choisir" in text and "choisissez le document à envoyer" in text  # what still blocks
    path = report(tmp_path)
    ready(qtbot, panel, path, "Consultation du 3 mars")
    panel.flags[Visibility.MASKED_FROM_PS].setChecked(True)
    panel.set_replaces("1.2.250.1.999.1.42", "Ancienne consultation")
    panel.title.setText("Consultation du 3 mars")
    text = panel.preview.toPlainText()
    for expected in (
        "150081505104018", "INS-NIR [TEST]", "qualifiée", "BERNARD", "JEAN", "M (masculin)", "01/08/1950",
        "15051", "CR ou fiche de consultation ou de visite (11488-4)", "Compte rendu (10)",
        "Consultation du 3 mars", "masqué aux autres professionnels", "« Ancienne consultation »",
        "cr-consultation.txt", f"{path.stat().st_size} octets", "text/plain", "mode direct",
        "Prêt à envoyer.",
    ):  # fmt: skip
        assert expected in text, expected


def test_an_unsupported_file_is_refused_before_anything(
    qtbot: QtBot, gp_workspace: Workspace, tmp_path: Path
) -> None:
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    document = tmp_path / "courrier.docx"
    document.write_bytes(b"PK\x03\x04 not a DMP format")
    panel.set_file(document)
    assert "Format non pris en charge (.docx)" in panel.message.text()
    assert "[DEPOT-FORMAT]" in panel.message.text() and panel.file is None
    empty = tmp_path / "vide.pdf"
    empty.write_bytes(b"")
    panel.set_file(empty)
    qtbot.waitUntil(lambda: "[DEPOT-VIDE]" in panel.message.text(), timeout=WAIT)
    panel.send()
    assert "choisissez le document à envoyer" in panel.message.text()
    assert "[FILE-DEMANDE-INCOMPLETE]" in panel.message.text()
    assert gp_workspace.store is not None and gp_workspace.store.queue.entries() == []


def test_the_queue_refusal_is_shown_with_its_code(
    qtbot: QtBot, gp_workspace: Workspace, tmp_path: Path
) -> None:
    p03 = sandbox_patient("P03")
    assert p03.traits is not None
    no_place = Patient(
        p03.ins, p03.traits.__class__.parse("BERNARD", "JEAN", "M", "1950-08-01"), "validée", "test"
    )
    panel = panel_for(qtbot, gp_workspace, no_place)
    ready(qtbot, panel, report(tmp_path), "Sans lieu de naissance")
    panel.send()
    assert "lieu de naissance (code INSEE) absent" in panel.message.text()
    assert "[FILE-DEMANDE-INCOMPLETE]" in panel.message.text()


def test_a_dropped_file_is_taken(qtbot: QtBot, gp_workspace: Workspace, tmp_path: Path) -> None:
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    path = report(tmp_path, "déposé.txt")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.dropEvent(event)
    qtbot.waitUntil(lambda: panel.file == path, timeout=WAIT)
    assert event.isAccepted() and "déposé.txt" in panel.drop_label.text()
    two = QMimeData()
    two.setUrls([QUrl.fromLocalFile(str(path)), QUrl.fromLocalFile(str(tmp_path / "autre.pdf"))])
    assert not panel.handle_drop(two) and "Un seul fichier à la fois" in panel.message.text()
    bad = QMimeData()
    bad.setUrls([QUrl.fromLocalFile(str(tmp_path / "photo.png"))])
    assert panel.handle_drop(bad) and "[DEPOT-FORMAT]" in panel.message.text() and panel.file == path


@pytest.mark.parametrize("mode", ["direct", "structure"])
def test_a_real_send_ends_sent_and_the_host_holds_it_once(
    qtbot: QtBot, mode: str, request: pytest.FixtureRequest, host: DmpHost, tmp_path: Path
) -> None:
    workspace: Workspace = request.getfixturevalue(
        "gp_workspace" if mode == "direct" else "structure_workspace"
    )
    patient = sandbox_patient("P03" if mode == "direct" else "P01")
    panel = panel_for(qtbot, workspace, patient)
    title = f"Consultation envoyée ({mode})"
    ready(qtbot, panel, report(tmp_path), title)
    queued: list[Any] = []
    panel.queued.connect(queued.append)
    with qtbot.waitSignal(panel.sent, timeout=WAIT) as sent:
        panel.send_button.click()
    entry = sent.args[0]
    assert queued and queued[0].id == entry.id and entry.state is State.SENT
    assert entry.mode.value == ("card" if mode == "direct" else "structure")
    assert f"Document envoyé au DMP (n° {entry.id})" in panel.message.text()
    assert hosted(host, title) == 1
    assert panel.file is None and panel.send_button.isEnabled()  # let go: no second send by mistake
    panel.send()
    assert hosted(host, title) == 1


def test_a_send_accepted_with_warnings_says_them_in_the_panel_and_the_queue(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    # ebRS 3.0: a Success RegistryResponse may carry Warning-severity RegistryErrors; the document is
    # in the DMP, and the host's words must reach the user, not be dropped by the queue.
    from app.ui.queue_panel import reason_text
    from sandbox.host import lies

    host.config.faults.lie = "succes-avec-avertissement"
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    ready(qtbot, panel, report(tmp_path), "Consultation avec avertissement")
    with qtbot.waitSignal(panel.sent, timeout=WAIT) as sent:
        panel.send_button.click()
    entry = sent.args[0]
    assert entry.state is State.SENT and entry.reason_code == "FILE-ENVOYE-AVERTISSEMENT"
    assert lies.WARNING_CODE in entry.reason
    assert "Avertissement du DMP" in panel.message.text() and lies.WARNING_CODE in panel.message.text()
    assert "avertissement du DMP" in reason_text(entry) and "[FILE-ENVOYE-AVERTISSEMENT]" in reason_text(
        entry
    )


def test_cancel_stops_waiting_and_the_entry_stays_queued(
    qtbot: QtBot, gp_workspace: Workspace, host: DmpHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, drained = threading.Event(), []
    enqueue = gp_workspace.enqueue

    def slow_enqueue(*args: Any) -> Any:
        entry = enqueue(*args)
        release.wait(WAIT / 1000)
        return entry

    monkeypatch.setattr(gp_workspace, "enqueue", slow_enqueue)
    monkeypatch.setattr(gp_workspace, "drain", lambda: drained.append(1))
    panel = panel_for(qtbot, gp_workspace, sandbox_patient("P03"))
    ready(qtbot, panel, report(tmp_path), "Consultation annulée")
    with qtbot.waitSignal(panel.queued, timeout=WAIT) as queued:
        panel.send_button.click()
        assert not panel.cancel_button.isHidden() and not panel.send_button.isEnabled()
        panel.cancel_button.click()
        assert "termine d'entrer dans la file" in panel.message.text()
        release.set()
    entry = queued.args[0]
    assert f"reste dans la file d'envoi (n° {entry.id})" in panel.message.text()
    assert panel.send_button.isEnabled() and panel.cancel_button.isHidden()
    qtbot.wait(300)
    assert gp_workspace.store is not None and gp_workspace.store.queue.get(entry.id).state is State.QUEUED
    assert drained == [] and hosted(host, "Consultation annulée") == 0
