"""Which document actions to offer (dmp-interface.md §3.1): the DMP enforces its rights matrix
itself; the client must not offer what the host will refuse."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from app.dmp_client.core.context import AuthMode, Purpose
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import DocumentInfo
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.rights import AIR_DEFAULT, allows


class Action(StrEnum):
    VIEW = "consulter"
    MASK = "masquer"
    UNMASK = "démasquer"
    SHOW_TO_PATIENT = "rendre visible au patient"
    SHOW_TO_REPRESENTATIVES = "rendre visible aux représentants légaux"
    ARCHIVE = "archiver"
    UNARCHIVE = "désarchiver"
    DELETE = "supprimer"
    REPLACE = "remplacer"


def document_actions(
    document: DocumentInfo,
    *,
    actor_id: str,
    mode: AuthMode,
    purpose: Purpose,
    treating_doctor: bool,
    physician: bool,
    air_allowed: Collection[str] = AIR_DEFAULT,
) -> frozenset[Action]:
    """The actions this actor may take on this document in this access mode; ``air_allowed``: the
    transactions an AIR session may make (DMP_AIR_TRANSACTIONS [UNSURE])."""
    if mode is AuthMode.INDIRECT_REINFORCED:  # AIR: the "Consultation" profile only (core/rights.py)
        viewable = allows(mode, "TD3.2", air_allowed) and document.status != Status.DELETED
        return frozenset({Action.VIEW}) if viewable else frozenset()
    direct = mode is AuthMode.DIRECT
    own = actor_id in document.author_ids
    normal = purpose is Purpose.NORMAL
    codes = document.confidentiality_codes
    status = document.status
    allowed: set[Action] = set()
    if direct and status != Status.DELETED:
        allowed.add(Action.VIEW)
    if status == Status.DELETED or status == Status.DEPRECATED:
        return frozenset(allowed)
    if direct and normal:
        if Visibility.MASKED_FROM_PS in codes:
            if own or treating_doctor:
                allowed.add(Action.UNMASK)
        else:
            allowed.add(Action.MASK)
        if Visibility.INVISIBLE_TO_PATIENT in codes:
            allowed.add(Action.SHOW_TO_PATIENT)
        if Visibility.INVISIBLE_TO_REPRESENTATIVES in codes:
            allowed.add(Action.SHOW_TO_REPRESENTATIVES)
    may_archive = direct and (own or treating_doctor) and (normal or physician)
    if may_archive:
        allowed.add(Action.UNARCHIVE if status == Status.ARCHIVED else Action.ARCHIVE)
    if own or treating_doctor or (not direct):
        allowed.add(Action.DELETE)
    if direct and own and status == Status.APPROVED:
        allowed.add(Action.REPLACE)
    return frozenset(allowed)
