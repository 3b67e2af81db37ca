"""Soak of the real main window: ``make soak`` (20 minutes) or ``bench/soak_gui.py --minutes 2``.

The desktop application's main window (every panel and its timers: the queue panel's 2-second
refresh, the status bar) offscreen, connected as the sandbox GP in direct mode to the in-process
sandbox host over real mutual TLS (bench/gui_session.py), a patient open with its documents listed,
and queue entries waiting. Every ``--refresh`` seconds the patient's record is listed again (real
exchanges with the host). Every ``--every`` seconds it prints ``sys.getrefcount(None)`` and the
process's RSS; at the end, the first/last/min/max of both. With shiboken6 6.12.0 the ``None`` count
fell by one per void Qt call and the application died after ~16 minutes ("none_dealloc"); on the
pinned release both must stay flat.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _type_counts() -> dict[str, int]:
    """How many gc-tracked objects of each type are alive (after a collection)."""
    gc.collect()
    counts: dict[str, int] = {}
    for item in gc.get_objects():
        name = type(item).__qualname__
        counts[name] = counts.get(name, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--refresh", type=float, default=30.0, help="seconds between list refreshes")
    parser.add_argument("--patient", default="P03")
    parser.add_argument("--json", type=Path, help="write the samples there too")
    args = parser.parse_args()

    from gui_session import SandboxSession

    from app.services.training import sandbox_patient
    from app.store.request import UploadRequest
    from app.ui.application import create_application
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication, QTimer
    from app.ui.tasks import _Job
    from sandbox.training.demo import qualify_demo_identity

    app = create_application()
    session = SandboxSession()
    window = MainWindow(session.gp_workspace(), monitor_cards=False)
    window.resize(1366, 740)
    window.show()
    window._show_connection(window.workspace.connection)
    patient = sandbox_patient(args.patient)
    assert patient is not None and patient.traits is not None
    window.patient_panel.select(patient)
    deadline = time.monotonic() + 120
    while not (window.overview is not None and window.pending == 0 and window.documents.visible_documents()):
        QApplication.processEvents()
        if time.monotonic() > deadline:
            raise SystemExit("the patient's documents were not listed in time")
        time.sleep(0.02)
    listed = len(window.documents.visible_documents())
    # Queue entries waiting (not drained): the queue panel shows them on every refresh.
    mode, professional = window.workspace.send_mode()
    assert window.workspace.store is not None and patient.traits is not None
    qualify_demo_identity(window.workspace.store.db, patient.ins, patient.traits, by="soak")
    folder = Path(tempfile.mkdtemp(prefix="dmp-soak-"))
    for n in range(3):
        path = folder / f"cr-{n}.txt"
        path.write_text(f"Compte rendu {n} (soak)\n", encoding="utf-8")
        request = UploadRequest(
            patient.ins, patient.traits, "text/plain", "11488-4", f"Compte rendu {n}", mode, professional
        )
        window.workspace.enqueue(request, path)
    window.tabs.setCurrentWidget(window.queue)
    window.queue.refresh()

    start = time.monotonic()
    samples: list[dict[str, float]] = []
    refreshes = [0]
    types_first: dict[str, int] = {}

    def sample() -> None:
        gc.collect()
        objects = gc.get_objects()
        row = {
            "minute": round((time.monotonic() - start) / 60, 2),
            "none_refcount": sys.getrefcount(None),
            "rss_mib": round(rss() / 2**20, 1),
            "gc_objects": len(objects),
            "jobs_alive": sum(isinstance(item, _Job) for item in objects),  # background jobs kept
            "refreshes": refreshes[0],
        }
        if len(samples) == 1:
            types_first.update(_type_counts())
        del objects
        samples.append(row)
        print(json.dumps(row), flush=True)

    def refresh() -> None:
        if window.pending == 0:
            refreshes[0] += 1
            window.refresh()

    sampler = QTimer()
    sampler.timeout.connect(sample)
    sampler.start(int(args.every * 1000))
    refresher = QTimer()
    refresher.timeout.connect(refresh)
    refresher.start(int(args.refresh * 1000))
    QTimer.singleShot(0, sample)

    def finish() -> None:
        sample()
        app.quit()

    QTimer.singleShot(int(args.minutes * 60_000), finish)
    print(json.dumps({"patient": args.patient, "documents_listed": listed, "queued": 3}), flush=True)
    app.exec()
    sampler.stop()
    refresher.stop()

    none = [s["none_refcount"] for s in samples]
    memory = [s["rss_mib"] for s in samples]
    summary: dict[str, object] = {
        "minutes": round(samples[-1]["minute"], 1),
        "samples": len(samples),
        "refreshes": refreshes[0],
        "none_first": none[0], "none_last": none[-1], "none_min": min(none), "none_max": max(none),
        "rss_first_mib": memory[0], "rss_last_mib": memory[-1], "rss_max_mib": max(memory),
    }  # fmt: skip
    grown = _type_counts()
    growth = {name: grown[name] - types_first.get(name, 0) for name in grown}
    summary["types_grown"] = dict(sorted(growth.items(), key=lambda kv: -kv[1])[:8])
    print(json.dumps({"summary": summary}), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"samples": samples, "summary": summary}, indent=1), encoding="utf-8")
    window.close()
    session.close()


if __name__ == "__main__":
    main()
