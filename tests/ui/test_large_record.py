"""Issue 14, item 6: a large record opens with its last two years, then the rest loads behind in
concurrent batches, with « N documents sur M chargés » and a stop button (offscreen, P01's
2,047 entries on the sandbox host over real mutual TLS)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pytestqt.qtbot import QtBot

from app.dmp_client.core.iti18 import FindDocuments, StoredQuery
from app.services.workspace import ALL_STATUSES, Workspace
from app.ui.documents_model import COL_TITLE, fold, is_signature
from app.ui.main_window import MainWindow
from app.ui.qt import Qt
from tests.ui.conftest import sandbox_patient


def _window(qtbot: QtBot, workspace: Workspace) -> MainWindow:
    window = MainWindow(workspace, monitor_cards=False)
    qtbot.addWidget(window)
    window.show()
    window._show_connection(workspace.connection)
    return window


def _count_queries(workspace: Workspace) -> list[StoredQuery]:
    """Every ITI-18 the client sends, in order (its stored query)."""
    client = workspace.client
    assert client is not None
    asked: list[StoredQuery] = []
    query = client.query

    def counted(ins: Any, stored: StoredQuery, *args: Any, **kwargs: Any) -> Any:
        asked.append(stored)
        return query(ins, stored, *args, **kwargs)

    client.query = counted  # type: ignore[method-assign]
    return asked


def test_the_last_two_years_first_then_only_the_rest_merged(qtbot: QtBot, gp_workspace: Workspace) -> None:
    window = _window(qtbot, gp_workspace)
    searches: list[dt.datetime | None] = []
    documents = gp_workspace.documents
    gp_workspace.documents = lambda p, since=None: (searches.append(since), documents(p, since))[1]  # type: ignore[method-assign]
    texts: list[str] = []
    show = window.documents.show_history
    window.documents.show_history = lambda t, loading: (texts.append(t), show(t, loading=loading))[1]  # type: ignore[method-assign]
    asked = _count_queries(gp_workspace)
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: window.pending == 0 and len(searches) == 1 and window.history_token is None
                    and any("Historique complet" in m for m in [window.statusBar().currentMessage()]),
                    timeout=120_000)  # fmt: skip
    first = searches[0]
    assert first is not None and abs((dt.datetime.now(dt.UTC) - first).days - 730) <= 1
    listed = window.documents.model.documents()
    asked = list(asked)  # the window's queries (the check below sends its own)
    # No duplicate, nothing dropped: every entry of a bare full listing, once.
    client = gp_workspace.client
    assert client is not None
    ins = sandbox_patient("P01").ins
    full = client.find_documents(ins, FindDocuments(ins, statuses=ALL_STATUSES), check=False)
    expected = sorted(d.unique_id for d in full if not is_signature(d))
    assert sorted(d.unique_id for d in listed) == expected and len(expected) > 2000
    assert len({d.entry_id for d in listed}) == len(listed)
    # The count was shown while loading, batch by batch, ending at the whole history.
    progress = [t for t in texts if " sur " in t and t.endswith("chargés")]
    assert len(progress) >= 50
    assert progress[-1].replace("\u00a0", "").startswith(f"{len(full)} documents sur {len(full)}")
    # Only the rest was fetched: one FindDocuments for the recent, one for the references of the
    # whole history, then GetDocumentsAndAssociations only for the entries not shown yet (fetching
    # the whole history again would take ceil(2047 / 20) = 103 batches on top of the recent ones).
    finds = [q for q in asked if q is StoredQuery.FIND_DOCUMENTS]
    gets = [q for q in asked if q is StoredQuery.GET_DOCUMENTS_AND_ASSOCIATIONS]
    assert len(finds) == 2
    assert len(gets) <= -(-len(full) // 20) + 1
    assert not window.documents.history.isVisible() and not window.documents.history_stop.isVisible()


def test_stop_sends_no_further_batch_and_says_so(qtbot: QtBot, gp_workspace: Workspace) -> None:
    window = _window(qtbot, gp_workspace)
    asked = _count_queries(gp_workspace)
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: " sur " in window.documents.history.text(), timeout=120_000)
    assert window.documents.history_stop.isVisible()
    shown_before = window.documents.model.rowCount()
    window.documents.history_stop.click()
    stopped_at = len(asked)
    qtbot.waitUntil(lambda: window.pending == 0, timeout=60_000)
    qtbot.wait(300)
    concurrency = gp_workspace.client.transport.concurrency  # type: ignore[union-attr]
    # At most the batches already in flight were answered; none was sent after the stop.
    assert len(asked) <= stopped_at + concurrency
    text = window.documents.history.text()
    assert "arrêté" in text and " sur " in text, text
    assert not window.documents.history_stop.isVisible()
    # Nothing arrived after the stop, and the list is the partial one (far from P01's 2,047).
    assert window.documents.model.rowCount() <= shown_before + 20 * concurrency
    assert window.documents.model.rowCount() < 2000


def test_merge_keeps_the_users_selection_and_sort(qtbot: QtBot, gp_workspace: Workspace) -> None:
    window = _window(qtbot, gp_workspace)

    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: window.documents.model.rowCount() > 0, timeout=120_000)
    window.documents.table.sortByColumn(COL_TITLE, Qt.SortOrder.AscendingOrder)
    window.documents.table.selectRow(3)
    chosen = window.documents.selected_document()
    assert chosen is not None
    qtbot.waitUntil(lambda: window.pending == 0 and window.history_token is None, timeout=120_000)
    assert window.documents.model.rowCount() > 2000
    now = window.documents.selected_document()
    assert now is not None and now.entry_id == chosen.entry_id
    header = window.documents.table.horizontalHeader()
    assert header.sortIndicatorSection() == COL_TITLE
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    titles = [fold(d.title) for d in window.documents.visible_documents()]
    assert titles == sorted(titles)  # the merged rows took their place in the user's order


def test_another_patient_stops_the_previous_history(qtbot: QtBot, gp_workspace: Workspace) -> None:
    window = _window(qtbot, gp_workspace)
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: " sur " in window.documents.history.text(), timeout=120_000)
    token = window.history_token
    assert token is not None
    window.patient_panel.select(sandbox_patient("P03"))
    assert token.requested
    qtbot.waitUntil(lambda: window.pending == 0 and window.history_token is None, timeout=120_000)
    p03 = sandbox_patient("P03").ins.to_cx()
    assert all(d.patient_cx == p03 for d in window.documents.model.documents())
