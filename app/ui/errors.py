"""Every error shown in plain French with its code and what to do next."""

from __future__ import annotations

import logging

from app.errors import USER_FACING_ERRORS, traceback_frames
from app.ui.qt import QMessageBox, QWidget

log = logging.getLogger(__name__)

INTERNAL = "POSTE-ERREUR-INTERNE"


def describe(error: BaseException) -> tuple[str, str]:
    """(code, French message) for any error; an unexpected one is named by its type only."""
    if isinstance(error, USER_FACING_ERRORS):
        return getattr(error, "code", "?"), getattr(error, "user_message", str(error))
    # The type and file:line frames only: a message or locals could hold patient data.
    log.error("unexpected %s", traceback_frames(error))
    return INTERNAL, (
        f"Erreur interne du logiciel ({type(error).__name__}). Rien n'a été envoyé en double ; "
        "réessayez, et si l'erreur revient, transmettez ce code au support."
    )


def show_error(parent: QWidget | None, error: BaseException, what: str = "L'opération") -> None:
    code, message = describe(error)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(f"{what} n'a pas abouti")
    box.setText(message)
    box.setInformativeText(f"Code à communiquer au support : {code}")
    box.setObjectName("erreur")
    box.open()  # not modal-blocking: tests and the event loop carry on
