"""The application's error root.

Every error shown to a user has a stable ``code`` and a French ``user_message``, and its ``str()``
never contains patient data. :class:`DmpClientError` is the root for the I/O layers (cards,
transport, store, UI). The identity core is pure and depends on nothing in ``app``, so its
:class:`~app.ins.InsError` is a sibling root with the same two attributes; the edges catch
:data:`USER_FACING_ERRORS`, which names both. Codes are listed in docs/errors.md.
"""

from __future__ import annotations

from typing import Protocol

from app.ins import InsError


class UserFacing(Protocol):
    """What every error shown to a user provides."""

    code: str
    user_message: str


class DmpClientError(Exception):
    """Root of the errors raised by the I/O layers of the client."""

    code: str = "DMP-ERREUR"
    user_message: str = "Une erreur est survenue."

    def __init__(self, user_message: str | None = None, *, code: str | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        if code is not None:
            self.code = code
        super().__init__(self.user_message)

    def __str__(self) -> str:
        return f"{self.user_message} [{self.code}]"


class InputFileError(DmpClientError):
    """A file given on the command line cannot be read."""

    code = "DMP-FICHIER"
    user_message = "Le fichier ne peut pas être lu."


USER_FACING_ERRORS: tuple[type[Exception], ...] = (DmpClientError, InsError)
