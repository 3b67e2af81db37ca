"""Training mode, sandbox side: what the product reaches through :mod:`app.services.training` —
the sandbox's patients as the product's identities (``patients``), the virtual Vitale card
(``vitale``) and the scripted demo (``demo``).
This is the only part of the sandbox that imports the product; the host and the cards do not."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sandbox.training.patients import sandbox_insi, sandbox_patient, sandbox_patients

if TYPE_CHECKING:
    from app.card.patient_sources import IdentitySource

__all__ = ["add_demo_parser", "sandbox_insi", "sandbox_patient", "sandbox_patients", "vitale_card"]


def add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sandbox.training import demo  # the demo pulls in the card and client stacks: only for `dmp`

    demo.add_parser(subparsers)


def vitale_card(reader: str | None = None) -> IdentitySource:
    """The sandbox's virtual Vitale card (its PC/SC stack loads only when a card is read)."""
    from sandbox.training.vitale import SandboxVitaleCard

    return SandboxVitaleCard(reader)
