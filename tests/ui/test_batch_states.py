"""The batch rows after « Vérifier »: they follow their queue entries whoever drains the queue
(prêt, en file, envoyé, refusé with its reason and next step), and « Vérifier » tells what TD0.2 says
of the DMP and of the sender's authorisation, in the row."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.services.workspace import Workspace
from app.store.queue import State
from app.ui.batch_panel import CHECK, BatchPanel, Row, check_on_host
from sandbox.host.server import DmpHost
from tests.ui.conftest import sandbox_patient
from tests.ui.test_batch import PDF, WAIT, patients, row, text


def batch(qtbot: QtBot, workspace: Workspace, folder: Path, *pids: str) -> tuple[BatchPanel, list[str]]:
    folder.mkdir()
    names = []
    for pid in pids:
        name = f"cr-{sandbox_patient(pid).ins.matricule.value}.pdf"
        (folder / name).write_bytes(PDF)
        names.append(name)
    panel = BatchPanel(workspace, patients)
    qtbot.addWidget(panel)
    panel.add_paths([folder])
    qtbot.waitUntil(lambda: len(panel.rows) == len(pids), timeout=WAIT)
    panel.default_type.select("11488-4")
    panel.apply_defaults()
    return panel, names


def checked(qtbot: QtBot, panel: BatchPanel) -> None:
    panel.message.say("")
    panel.check_rows()
    qtbot.waitUntil(lambda: "Vérification faite" in panel.message.text(), timeout=WAIT)


def test_rows_follow_the_queue_drained_elsewhere_and_say_why_one_was_refused(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panel's own drain finds the host away (nothing sent): the rows say « en file »; the queue
    is drained later by someone else (the background drain): the rows turn « envoyé » by themselves;
    an entry refused meanwhile says « refusé », the host's reason and what to do next."""
    panel, (p03, p04) = batch(qtbot, structure_workspace, tmp_path / "lot", "P03", "P04")
    checked(qtbot, panel)
    assert all(text(panel, n, CHECK).startswith("prêt") for n in (p03, p04))
    monkeypatch.setattr(
        "app.ui.batch_panel.drain_entries", lambda w, ids, c: [w.store.queue.get(i) for i in ids]
    )
    panel.queue_rows()
    qtbot.waitUntil(lambda: "Envoi terminé" in panel.message.text(), timeout=WAIT)
    assert text(panel, p03, CHECK) == "en file" and text(panel, p04, CHECK) == "en file"
    assert panel.poll.isActive()  # the rows keep following their entries
    store = structure_workspace.store
    assert store is not None
    refused = row(panel, p04)[1].entry
    assert refused is not None
    store.queue.mark_failed(refused.id, "XDSRegistryError", "Le DMP a refusé le document.")
    done = threading.Thread(target=structure_workspace.drain)  # as the application's background drain
    done.start()
    qtbot.waitUntil(lambda: text(panel, p03, CHECK) == "envoyé", timeout=WAIT)
    done.join(WAIT / 1000)
    qtbot.waitUntil(lambda: text(panel, p04, CHECK).startswith("refusé"), timeout=WAIT)
    shown = text(panel, p04, CHECK)
    assert "Le DMP a refusé le document. [XDSRegistryError]" in shown
    assert "À faire : corrigez le document puis relancez-le depuis l'onglet « File d'envoi »" in shown
    assert store.queue.get(row(panel, p03)[1].entry.id).state is State.SENT  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: not panel.poll.isActive(), timeout=WAIT)  # all settled: polling ends
    assert panel.summary.text() == "2 documents : 0 prêt, 0 à corriger, 2 mis en file (1 envoyé, 1 refusé)"


def test_check_tells_the_structures_authorisation_from_td02(
    qtbot: QtBot, structure_workspace: Workspace, host: DmpHost, tmp_path: Path
) -> None:
    """TD0.2 says the structure is not authorised on P03's DMP: the row says so and stays ready
    (feeding does not need the authorisation, by default); authorised, the note goes; with the strict
    setting the row is blocked. P02 (no DMP) is blocked in every case."""
    panel, (p03, p02) = batch(qtbot, structure_workspace, tmp_path / "lot", "P03", "P02")
    checked(qtbot, panel)
    shown = text(panel, p03, CHECK)
    assert shown.startswith("prêt à mettre en file")
    assert "La structure n'est pas autorisé(e) sur ce DMP (TD0.2 : NON_AUTORISE)" in shown
    assert "[DEPOT-NON-AUTORISE]" in shown and row(panel, p03)[1].request is not None
    assert "[DEPOT-SANS-DMP]" in text(panel, p02, CHECK)
    rows: list[Row] = [row(panel, p03)[1]]
    strict = check_on_host(structure_workspace, [(rows[0], (rows[0].request, []))], strict=True)
    assert strict[0][1][0] is None and strict[0][1][1][0][0] == "DEPOT-NON-AUTORISE"
    assert "aucun dépôt possible" in strict[0][1][1][0][1]
    # The [UNSURE] choice is the setting DMP_DEPOT_AUTORISATION_REQUISE (default 0: not blocking).
    assert structure_workspace.settings.feeding_needs_authorization is False
    structure_workspace.settings = dataclasses.replace(
        structure_workspace.settings, feeding_needs_authorization=True
    )
    by_setting = check_on_host(structure_workspace, [(rows[0], (rows[0].request, []))])
    assert by_setting[0][1][0] is None and by_setting[0][1][1][0][0] == "DEPOT-NON-AUTORISE"
    structure_workspace.settings = dataclasses.replace(
        structure_workspace.settings, feeding_needs_authorization=False
    )
    assert structure_workspace.connection is not None
    host.store.set_authorization(
        sandbox_patient("P03").ins.matricule.value, structure_workspace.connection.actor_id, True
    )
    checked(qtbot, panel)
    assert text(panel, p03, CHECK) == "prêt à mettre en file"  # the host asked again, not a cached TD0.2


def test_check_without_an_answer_from_the_host_says_the_dmp_was_not_checked(
    qtbot: QtBot, structure_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.dmp_client.errors import HostUnreachable

    panel, (p03,) = batch(qtbot, structure_workspace, tmp_path / "lot", "P03")
    client: Any = structure_workspace.client

    def away(ins: Any) -> Any:
        raise HostUnreachable()

    monkeypatch.setattr(client, "status", away)
    checked(qtbot, panel)
    assert text(panel, p03, CHECK).startswith("prêt à mettre en file\nDMP non vérifié")
