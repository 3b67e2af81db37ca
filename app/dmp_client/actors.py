"""Build the VIHF actor from what the card says (direct mode) or from configuration (indirect mode)."""

from __future__ import annotations

from app.card.identity import Professional, Situation
from app.dmp_client.core.context import (
    NON_PS_ROLE_CODE_SYSTEM,
    PROFESSION_CODE_SYSTEM,
    SPECIALTY_CODE_SYSTEM,
    Actor,
    Code,
)
from app.dmp_client.core.psc import PscIdentity
from app.dmp_client.core.psc import Situation as PscSituation


def actor_from_card(who: Professional, situation: Situation) -> Actor:
    """Direct mode: the holder's national id, profession and specialty, and the chosen situation."""
    roles: list[Code] = []
    if who.profession_code:
        roles.append(Code(who.profession_code, PROFESSION_CODE_SYSTEM, who.profession_label))
    if who.specialty_code:
        roles.append(Code(who.specialty_code, SPECIALTY_CODE_SYSTEM))
    if who.role and not who.profession_code:
        roles.append(Code(who.role, NON_PS_ROLE_CODE_SYSTEM))
    return Actor(who.national_id, who.display_name, tuple(roles), situation.structure_id, situation.sector)


def structure_actor(
    user_id: str, display_name: str, structure_id: str, sector: str, roles: tuple[Code, ...]
) -> Actor:
    """Indirect mode: the structure vouches for its locally authenticated user."""
    return Actor(user_id, display_name, roles, structure_id, sector)


def actor_from_psc(identity: PscIdentity, situation: PscSituation) -> Actor:
    """AIR: the professional from the Pro Santé Connect userinfo (DRIMbox BaseRequest.java's
    mapping): SubjectNameID → NameID, ``prenomDexercice nomDexercice`` → subject-id, profession
    (TRE_G15) and savoir-faire (TRE_R01) → roles, the activity's structure and sector."""
    roles = [Code(situation.profession_code, PROFESSION_CODE_SYSTEM)]
    if situation.specialty_code:
        roles.append(Code(situation.specialty_code, SPECIALTY_CODE_SYSTEM))
    name = f"{situation.given_name} {situation.family_name}".strip().upper() or identity.display_name
    return Actor(identity.national_id, name, tuple(roles), situation.structure_id, situation.sector)
