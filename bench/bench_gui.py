"""The desktop application: launch time to a usable window (ratio to a bare PySide6 window), idle
memory, and the time to show P01's 2,000-document list (ratio to a plain table model).

- Launch: a fresh process per run, offscreen; from the parent's spawn to the child's first shown,
  laid-out window with its event loop running (a zero-delay timer fired). Bare: QApplication +
  QMainWindow with a label. Measured: ``dmp-gui``'s main window on the workspace (settings loaded,
  the encrypted base opened with its key from the Secret Service, every panel built), not connected.
- Idle memory: the child's RSS after one idle second.
- List: P01's documents fetched once from the in-process sandbox host (real mutual TLS), then
  ``DocumentsPanel.set_documents`` until the table is painted (``grab``). Baseline: the same rows as
  strings in a minimal QAbstractTableModel shown by a QTableView.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(kind: str) -> None:
    if kind != "bare":  # as dmp-gui starts (app/ui/main.py)
        from app.ui.main import load_services_before_qt

        load_services_before_qt()
    from app.ui.qt import QApplication, QLabel, QMainWindow, QTimer

    if kind == "bare":
        app = QApplication(["bare"])
        window = QMainWindow()
        window.setCentralWidget(QLabel("Fenêtre"))
    else:  # dmp-gui's own path (app/ui/main.py), without the PC/SC reader monitor
        from app.ui.application import create_application, open_main_window

        app = create_application()
        window = open_main_window(monitor_cards=False)
    window.resize(1400, 850)
    window.show()

    def shown() -> None:
        ready = time.time()
        QTimer.singleShot(
            1000, lambda: (print(json.dumps({"ready": ready, "rss": rss()}), flush=True), app.quit())
        )

    QTimer.singleShot(0, shown)
    app.exec()


def compile_sources() -> None:
    """Byte-compile app/ and sandbox/ first, as an installed (or frozen) application is: with
    PYTHONDONTWRITEBYTECODE set, every launch would otherwise compile the application's modules
    from source (~35 ms of the window's imports)."""
    import compileall

    root = Path(__file__).resolve().parents[1]
    for package in ("app", "sandbox"):
        compileall.compile_dir(root / package, quiet=1)


def launch(kinds: tuple[str, ...], runs: int, script: str = __file__) -> dict[str, tuple[float, int]]:
    """Per kind, the median (seconds to a shown window, idle RSS) of ``runs`` fresh
    ``script --child kind`` processes, the kinds alternated run by run (the shared machine's load
    falls on each alike; bench_startup.py passes itself as ``script``)."""
    compile_sources()
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    memory: dict[str, list[int]] = {kind: [] for kind in kinds}
    for _ in range(runs):
        for kind in kinds:
            start = time.time()
            done = subprocess.run(
                [sys.executable, script, "--child", kind],
                capture_output=True,
                text=True,
                check=True,
                env=os.environ,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            times[kind].append(result["ready"] - start)
            memory[kind].append(result["rss"])
    return {kind: (statistics.median(times[kind]), int(statistics.median(memory[kind]))) for kind in kinds}


def plain_model(rows: list[list[str]]) -> Any:
    """The least a table model can do: rows of strings already computed, no roles, no sorting."""
    from app.ui.qt import QAbstractTableModel, Qt

    class Plain(QAbstractTableModel):
        def rowCount(self, *args: Any) -> int:
            return len(rows)

        def columnCount(self, *args: Any) -> int:
            return len(rows[0])

        def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
            return rows[index.row()][index.column()] if role == Qt.ItemDataRole.DisplayRole else None

    return Plain()


def list_times(runs: int) -> tuple[float, float, int]:
    from gui_session import SandboxSession

    from app.services.training import sandbox_patient
    from app.ui.documents_model import COLUMNS, DocumentsModel
    from app.ui.documents_panel import DocumentsPanel
    from app.ui.qt import QApplication, QTableView

    app = QApplication.instance() or QApplication(["bench"])
    session = SandboxSession()
    workspace = session.gp_workspace()
    patient = sandbox_patient("P01")
    assert patient is not None
    documents = workspace.documents(patient)
    source = DocumentsModel()
    source.set_documents(documents)
    rows = [
        [str(source.data(source.index(r, c))) for c in range(len(COLUMNS))] for r in range(source.rowCount())
    ]
    panel_times, bare_times = [], []
    for _ in range(runs):
        panel = DocumentsPanel()
        panel.resize(1000, 700)
        panel.show()
        app.processEvents()
        start = time.perf_counter()
        panel.set_documents(documents, lambda _: frozenset())
        panel.grab()
        panel_times.append(time.perf_counter() - start)
        panel.close()
        view = QTableView()
        view.resize(1000, 700)
        view.show()
        app.processEvents()
        start = time.perf_counter()
        model = plain_model(rows)
        view.setModel(model)
        view.grab()
        bare_times.append(time.perf_counter() - start)
        view.close()
    workspace.close()
    session.close()
    _ = app
    return statistics.median(panel_times), statistics.median(bare_times), len(documents)


def two_years_first(latency: float = 0.05) -> tuple[float, float, int, int]:
    """P01 as the window opens it (issue 14, item 6): the last two years, then the rest of the
    history behind them (``older_documents``, concurrent batches), with ``latency`` seconds
    injected in the host per request (direct mode, card-shaped software keys of the test PKI)."""
    from gui_session import SandboxSession

    session = SandboxSession()
    session.host.config.faults.latency = latency
    workspace = session.gp_workspace()
    try:
        return _open_p01(workspace)
    finally:
        workspace.close()
        session.close()


def two_years_first_card(latency: float = 0.05) -> tuple[float, float, int, int]:
    """The same with the rig's card, as the GP works: PIN, PKCS#11 signatures and the card TLS
    transport (pool of four resumed connections) against a host process with ``latency``."""
    import tempfile

    from bench_xds import free_port, rig_up, serve

    from app.config.settings import Settings
    from app.services.workspace import Workspace
    from sandbox import cards

    folder = Path(tempfile.mkdtemp(prefix="bench-gui-card-"))
    env = dict(os.environ)
    env.update(rig_up(folder))
    port = free_port()
    env["DMP_SANDBOX_DIR"] = str(folder)
    env["DMP_HOST_URL"] = f"https://localhost:{port}/si-dmp-server/v2/services"
    os.environ.update(env)
    host = serve(folder, port, "host-gui", env, "--latence", str(latency))
    try:
        from bench_xds import _wait

        _wait(port)
        workspace = Workspace(Settings.load())
        workspace.connect_card(lambda status: cards.CARD_PIN)
        try:
            return _open_p01(workspace)
        finally:
            workspace.close()
    finally:
        host.terminate()
        host.wait()
        tool = Path(sys.executable).parent / "dmp-sandbox"
        subprocess.run([str(tool), "--dir", str(folder), "rig", "down"], check=False)


def _open_p01(workspace: Any) -> tuple[float, float, int, int]:
    """(first two years shown, whole history loaded, counts): the window's two calls, timed."""
    import datetime as dt

    from app.services.training import sandbox_patient

    patient = sandbox_patient("P01")
    assert patient is not None
    start = time.perf_counter()
    recent = workspace.documents(patient, dt.datetime.now(dt.UTC) - dt.timedelta(days=730))
    first = time.perf_counter() - start
    rest = workspace.older_documents(patient, recent, lambda batch: None)
    full = time.perf_counter() - start
    return first, full, len(recent), rest.loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-card", action="store_true", help="software keys only (no card rig)")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from gui_session import SandboxSession

    session = SandboxSession()  # a keyring and a sandbox for the launched processes
    try:
        launched = launch(("bare", "app"), args.runs)
        (bare, bare_rss), (full, full_rss) = launched["bare"], launched["app"]
    finally:
        session.close()
    print("| launch to a usable window (offscreen) | p50 | idle RSS | ratio |")
    print("|---|---|---|---|")
    print(f"| bare PySide6 window (baseline) | {bare * 1000:.0f} ms | {bare_rss / 2**20:.0f} MiB | 1.00 |")
    print(f"| dmp-gui main window | {full * 1000:.0f} ms | {full_rss / 2**20:.0f} MiB | {full / bare:.2f} |")
    panel, plain, count = list_times(args.runs)
    print(f"\n| showing P01's list ({count} documents) | p50 | ratio |")
    print("|---|---|---|")
    print(
        f"| plain table model over the same strings + QTableView (baseline) | {plain * 1000:.0f} ms | 1.00 |"
    )
    print(f"| DocumentsPanel.set_documents, painted | {panel * 1000:.0f} ms | {panel / plain:.2f} |")
    print("\n| P01 opened, 50 ms host latency | keys | time | documents |")
    print("|---|---|---|---|")
    for keys, measure in (("software keys", two_years_first), ("the rig's card", two_years_first_card)):
        if keys != "software keys" and args.no_card:
            continue
        first, full, recent, everything = measure()
        print(f"| last two years shown | {keys} | {first * 1000:.0f} ms | {recent} |")
        print(f"| whole history loaded behind (cumulative) | {keys} | {full * 1000:.0f} ms | {everything} |")
    sys.stdout.flush()
    os._exit(0)  # PySide6's teardown at interpreter exit can crash after a QApplication: results are out


if __name__ == "__main__":
    main()
