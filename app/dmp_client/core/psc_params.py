"""Pro Santé Connect request parameters that the settings name (kept apart from app/dmp_client/core/psc.py
so that reading the settings does not import the JOSE stack)."""

from __future__ import annotations

from enum import StrEnum

DEFAULT_SCOPE = "openid all"  # ansforge/psc-edc-proxy-esante PSCSessionService
DEFAULT_ACR = "eidas1"  # ansforge/psc-edc-proxy-esante PSCSessionService
CLIENT_AUTH_MODES = ("mtls", "secret")  # DMP_PSC_AUTH_CLIENT: structure certificate, or keyring secret


class Channel(StrEnum):
    """The e-CPS authentication device (psc-edc-proxy-esante's ``channel``: CARD or MOBILE)."""

    CARD = "CARD"
    MOBILE = "MOBILE"
