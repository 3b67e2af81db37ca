"""The upload tab's structured preview (issue 19): the time from « Synthèse médicale (VSM) » to the
rendering on screen, in its two parts: ``prepare`` (off the GUI thread: the hand-off parsed, the
document built as the sender builds it, serialized, rendered by core/cda_render; no schematron runs
in the product) and the preview dialog built on the GUI thread (Qt lays the rendering out).

Run ``QT_QPA_PLATFORM=offscreen python bench/bench_structured_preview.py``; best of 5 for the full VSM
hand-off (tests/data/structured/vsm_full.json) and for three vaccination notes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.services.structured_upload import prepare, structured_from_context  # noqa: E402
from app.services.training import sandbox_patient  # noqa: E402
from app.services.workspace import Workspace  # noqa: E402
from app.store.request import SendMode  # noqa: E402
from app.ui.qt import QApplication, QDialog, QtCore  # noqa: E402

QCoreApplication = QtCore.QCoreApplication
from timing import best  # noqa: E402

from app.ui.structured_preview import StructuredPreviewDialog  # noqa: E402
from tests.ui.test_upload_structured import context, handoff, named, three_vaccinations  # noqa: E402


class Desk:
    """What ``prepare`` asks of the workspace: the identity qualifiée, the send mode."""

    store = None

    def require_qualified(self, *_: object) -> None:
        return None

    def send_mode(self) -> tuple[SendMode, str | None]:
        return SendMode.STRUCTURE, None


def main() -> None:
    app = QApplication.instance() or QApplication([])
    desk = cast(Workspace, Desk())
    patient = sandbox_patient("P03")
    assert patient is not None
    found = structured_from_context(
        json.loads(json.dumps(context(vsm=named(handoff("vsm_full.json"), patient),
                                      vaccination=three_vaccinations(patient))))
    )  # fmt: skip
    print("| hand-off | prepare (build + render) | preview dialog (Qt layout) |")
    print("|---|---|---|")
    for kind in ("VSM", "VAC-NOTE"):
        source = found[kind]
        prepared = prepare(desk, patient, source)
        built = best(lambda source=source: prepare(desk, patient, source))  # type: ignore[misc]
        shown = best(lambda prepared=prepared: show(app, StructuredPreviewDialog(prepared)))  # type: ignore[misc]
        documents = len(prepared.documents)
        print(f"| {kind} ({documents} doc.) | {built * 1000:.1f} ms | {shown * 1000:.1f} ms |")


def show(app: QCoreApplication, dialog: QDialog) -> None:
    dialog.show()
    app.processEvents()
    dialog.close()
    dialog.deleteLater()


if __name__ == "__main__":
    main()
