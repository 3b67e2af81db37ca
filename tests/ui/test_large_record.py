"""Issue 14, item 6: a large record opens with its last two years, then the rest loads behind
(offscreen, P01's 2,058 documents on the sandbox host over real mutual TLS)."""

from __future__ import annotations

import datetime as dt

from pytestqt.qtbot import QtBot

from app.services.workspace import Workspace
from app.ui.main_window import MainWindow
from tests.ui.conftest import sandbox_patient


def test_the_last_two_years_first_then_the_whole_history(qtbot: QtBot, gp_workspace: Workspace) -> None:
    window = MainWindow(gp_workspace, monitor_cards=False)
    qtbot.addWidget(window)
    window.show()
    window._show_connection(gp_workspace.connection)
    searches: list[dt.datetime | None] = []
    shown: list[int] = []
    documents = gp_workspace.documents
    gp_workspace.documents = lambda p, since=None: (searches.append(since), documents(p, since))[1]  # type: ignore[method-assign]
    set_documents = window.documents.set_documents
    window.documents.set_documents = lambda d, a: (shown.append(len(d)), set_documents(d, a))[1]  # type: ignore[method-assign]
    window.patient_panel.select(sandbox_patient("P01"))
    qtbot.waitUntil(lambda: len(searches) == 2 and window.pending == 0, timeout=120_000)
    first = searches[0]
    assert first is not None and searches[1] is None
    assert abs((dt.datetime.now(dt.UTC) - first).days - 730) <= 1
    recent, full = shown[-2], shown[-1]
    assert 0 < recent < full and full > 2000  # the recent ones shown before the whole history
