"""The application's error root.

Every error shown to a user has a stable ``code`` and a French ``user_message``, and its ``str()``
never contains patient data. :class:`DmpClientError` is the root for the I/O layers (cards,
transport, store, UI). The identity core is pure and depends on nothing in ``app``, so its
:class:`~app.ins.InsError` is a sibling root with the same two attributes; the edges catch
:data:`USER_FACING_ERRORS`, which names both. Codes are listed in docs/errors.md.
"""

from __future__ import annotations

import traceback
from pathlib import PurePath
from types import TracebackType
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
    """A file or folder the user named (on the command line, or the hot folder in the desktop
    application) cannot be read or used."""

    code = "DMP-FICHIER"
    user_message = "Le fichier ne peut pas être lu."


USER_FACING_ERRORS: tuple[type[Exception], ...] = (DmpClientError, InsError)


def _short_path(filename: str) -> str:
    """The frame's file from its package root (``app/ui/main_window.py``): no home directory."""
    parts = PurePath(filename).parts
    for root in ("app", "sandbox", "PySide6", "httpx", "lxml"):
        if root in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(root) :])
    return PurePath(filename).name


def _frames(tb: TracebackType | None) -> list[str]:
    return [
        f"{_short_path(frame.filename)}:{frame.lineno} {frame.name}" for frame in traceback.extract_tb(tb)
    ]


def traceback_frames(error: BaseException, limit: int = 40) -> str:
    """Where an unexpected error came from, for the log: the exception types (its causes too) and
    their traceback's ``file:line function`` frames, innermost last, and nothing else — never the
    exception's message, arguments or locals, which may carry patient data (names, INS, content)."""
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(chain) < 5:
        seen.add(id(current))
        frames = _frames(current.__traceback__)[-limit:]
        chain.append(f"{type(current).__name__} at " + (" > ".join(frames) if frames else "?"))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return " <- caused by ".join(chain)


# Typed errors of the command line and the desktop application (docs/errors.md). Each class names
# its code once; a raise gives a more precise message where it has one.


class UsageError(DmpClientError):
    """A command's arguments do not fit together."""

    code = "DMP-USAGE"
    user_message = "Les arguments de la commande ne vont pas ensemble : voyez « dmp <commande> --help »."


class OutputFileError(DmpClientError):
    code = "DMP-FICHIER-SORTIE"
    user_message = "Le fichier de sortie ne peut pas être créé."


class LocalStoreUnavailable(DmpClientError):
    """The desktop application without its local base: consultation goes on, sending does not."""

    code = "POSTE-BASE"
    user_message = "La base locale n'est pas disponible : envoi impossible."


class ActionUnavailable(DmpClientError):
    code = "POSTE-ACTION"
    user_message = "Cette action n'est pas disponible ici."


class DemoCheckFailed(DmpClientError):
    """``dmp demo``: a step's result is not what the sandbox must give."""

    code = "DEMO"
    user_message = "La démonstration a échoué : un résultat n'est pas celui attendu du bac à sable."


class IdentityNotQualified(DmpClientError):
    """Feeding the DMP (ITI-41, and queueing for it) needs a qualifiée identity (RNIV, issue 17)."""

    code = "IDENTITE-NON-QUALIFIEE"
    user_message = (
        "Identité du patient non qualifiée : envoi au DMP refusé. Pour la qualifier, interrogez le "
        "téléservice INSi et vérifiez une pièce d'identité du patient (carte d'identité, passeport, "
        "titre de séjour ; livret de famille ou acte de naissance pour un mineur)."
    )


class IdentityUnknownHere(DmpClientError):
    """A document check for an identity never recorded on this workstation, without its traits."""

    code = "IDENTITE-INCONNUE"
    user_message = (
        "Cette identité n'est pas connue sur ce poste : recherchez-la d'abord par le téléservice INSi "
        "(« dmp insi rechercher » ou « dmp insi verifier »), ou donnez ses traits d'identité."
    )


class VitaleBeneficiaryUnknown(DmpClientError):
    """The beneficiary chosen is not on the Vitale card read (or its data cannot be used)."""

    code = "VITALE-BENEFICIAIRE"
    user_message = "Bénéficiaire de la carte Vitale introuvable : choisissez un rang porté par la carte."
