"""``dmp-gui``: the desktop application.

``dmp-gui [--contexte FICHIER.json] [--patient P01]``: the EHR's hand-off gives the patient's
context (a JSON file, see docs/gui.md); when an instance is already running, the context is
forwarded to it and this process exits (single instance).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app import __version__

MAX_CONTEXT_BYTES = 4 * 1024 * 1024


def load_services_before_qt() -> None:
    """Import the service layer (and with it the protocol, store and card stacks) before Qt.

    Once PySide6 (6.11) is loaded, its import hook reads the source of every module imported after
    it, looking for ``from __feature__ import`` (``shibokensupport.feature._mod_uses_pyside``, by
    ``inspect.getsource``): for the ~350 modules of the service stack, ~40 ms of a source install's
    start-up (bench/bench_startup.py). Imported first, they are not read; the frozen build has no
    sources to read.

    httpx's command-line tool (``httpx._main``: click, rich, pygments, ~30 ms) is left out, as the
    frozen build leaves it out (installer/dmp.spec): httpx imports it in a ``try`` and does without."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import app.config.settings
    import app.services.workspace  # noqa: F401


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dmp-gui", description="Client DMP : application de bureau.")
    parser.add_argument("--version", action="version", version=f"dmp-gui {__version__}")
    parser.add_argument(
        "--contexte", type=Path, help="contexte patient transmis par le logiciel métier (JSON)"
    )
    parser.add_argument("--patient", help="patient du bac à sable à ouvrir (P01…P07)")
    parser.add_argument("--profil-hote", choices=["current", "legacy"], help="profil de l'hôte DMP")
    return parser.parse_args(argv)


def message_of(args: argparse.Namespace) -> dict[str, Any]:
    message: dict[str, Any] = {}
    if args.contexte:
        if args.contexte.stat().st_size > MAX_CONTEXT_BYTES:  # two 1 MB hand-offs and the patients
            raise ValueError("context file too large")
        message["contexte"] = json.loads(args.contexte.read_text(encoding="utf-8"))
    if args.patient:
        message["patient"] = args.patient
    return message


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        message = message_of(args)
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
        print("dmp-gui : fichier de contexte illisible ou mal formé (JSON UTF-8 attendu).", file=sys.stderr)
        return 2
    load_services_before_qt()
    from app.ui.application import create_application, forward_or_serve, open_main_window

    app = create_application()
    if os.environ.get("DMP_GUI_SMOKE"):
        _smoke_test_hooks(app)
    server = forward_or_serve(message)
    if server is None:
        return 0  # forwarded to the running instance
    window = open_main_window(args.profil_hote)  # else DMP_PROFIL_HOTE, every layer
    server.received.connect(window.open_context)
    window.open_context(message)
    window.show()
    return int(app.exec())


def _smoke_test_hooks(app: Any, seconds: float = 3.0) -> None:
    """Test only (``DMP_GUI_SMOKE=1``, installer/smoke_test.py): a headless run of the frozen
    application. Modal dialogs are named on stderr and dismissed; once the main window is shown,
    the application quits ``seconds`` later (exit status 0)."""
    from app.ui.qt import QApplication, QtCore, QtWidgets

    quitting: list[bool] = []
    # What the frozen bundle must carry: Qt's French translations (the non-native file dialog's
    # "Look in" label) and QtPdf from the PySide6-Addons wheel (the viewer).
    probe = QtWidgets.QFileDialog(None, "smoke")
    probe.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog, True)
    label = probe.findChild(QtWidgets.QLabel, "lookInLabel")
    print(f"smoke: qt-fr: {label.text() if label else '?'}", file=sys.stderr, flush=True)
    probe.deleteLater()
    from app.ui.qt import QPdfDocument

    status = QPdfDocument(app).status()
    print(f"smoke: qtpdf: {status.name}", file=sys.stderr, flush=True)

    def tick() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is not None:
            text = " ".join(getattr(dialog, "text", str)().split())
            print(f"smoke: dialog: {dialog.windowTitle()}: {text}", file=sys.stderr, flush=True)
            dialog.close()
            return
        shown = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow()]
        if shown and not quitting:
            quitting.append(True)
            print(f"smoke: window: {shown[0].windowTitle()}", file=sys.stderr, flush=True)
            QtCore.QTimer.singleShot(int(seconds * 1000), app.quit)

    timer = QtCore.QTimer(app)
    timer.timeout.connect(tick)
    timer.start(200)


if __name__ == "__main__":
    sys.exit(main())
