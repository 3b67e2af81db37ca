"""Training mode: the one seam between the product and the embedded sandbox.

The shipped product never imports ``sandbox`` by name. When the sandbox is installed beside it (the
default build: demos, training and tests run against it), this module finds ``sandbox.training`` at
run time and offers its fictitious patients (test INS OID), its virtual Vitale card (in sandbox mode
only) and the ``dmp demo`` command; in a build
without the sandbox every function here answers "nothing" and ``dmp demo`` says training mode is
absent. ``tests/test_without_sandbox.py`` runs the product with ``sandbox`` hidden.
"""

from __future__ import annotations

import argparse
import functools
import importlib
from types import ModuleType
from typing import TYPE_CHECKING, TextIO, cast

from app.errors import DmpClientError

if TYPE_CHECKING:
    from app.card.patient_sources import IdentitySource
    from app.services.workspace import Patient

_MODULE = "sandbox.training"


class TrainingModeAbsent(DmpClientError):
    code = "FORMATION-ABSENTE"
    user_message = (
        "Le mode formation (bac à sable) n'est pas installé avec cette version : la démonstration "
        "n'est pas disponible."
    )


@functools.cache  # looked for once: an absent sandbox is not searched for on every call
def _training() -> ModuleType | None:
    try:
        return importlib.import_module(_MODULE)
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] == "sandbox":
            return None
        raise  # the sandbox is there but something it needs is not: say so, never hide it


def available() -> bool:
    """Whether the sandbox is installed beside the product."""
    return _training() is not None


def sandbox_patients() -> list[Patient]:
    """The sandbox's fictitious patients as a qualified identity gives them (none without it)."""
    training = _training()
    return cast("list[Patient]", training.sandbox_patients()) if training else []


def sandbox_patient(pid: str) -> Patient | None:
    """One of them by its sandbox id (P01…P07), or None."""
    training = _training()
    return cast("Patient | None", training.sandbox_patient(pid)) if training else None


def sandbox_insi(first_name: str, card_birth_date: str, own_nir: str | None) -> Patient | None:
    """The sandbox's stand-in for the INSi teleservice (see ``sandbox.training.patients``)."""
    training = _training()
    return (
        cast("Patient | None", training.sandbox_insi(first_name, card_birth_date, own_nir))
        if training
        else None
    )


class VitaleReadByEhr(DmpClientError):
    code = "VITALE-LOGICIEL-METIER"
    user_message = (
        "Hors du mode formation, la carte Vitale est lue par le logiciel métier (composants SESAM-Vitale) : "
        "ouvrez le patient depuis celui-ci (contexte patient)."
    )


def vitale_card(sandbox_mode: bool, reader: str | None = None) -> IdentitySource:
    """The sandbox's virtual Vitale card, in sandbox mode only (``Settings.is_sandbox``); otherwise
    :class:`VitaleReadByEhr`: a real Vitale card is read by the EHR and handed over as the context, and
    no sandbox APDU is ever sent to it."""
    training = _training() if sandbox_mode else None
    if training is None:
        raise VitaleReadByEhr()
    return cast("IdentitySource", training.vitale_card(reader))


def add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``dmp demo``: the sandbox's scripted run, or a clear error where the sandbox is not installed."""
    training = _training()
    if training is not None:
        training.add_demo_parser(subparsers)
        return
    demo = subparsers.add_parser("demo", help="démonstration sur le bac à sable (non installé)")
    demo.set_defaults(handler=_absent)


def _absent(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    raise TrainingModeAbsent(TrainingModeAbsent.user_message)
