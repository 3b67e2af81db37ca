"""Shared test set-up: a deterministic Hypothesis profile for the 2-core CI machine, and fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.cli_helpers import cli_host_env  # noqa: F401 (fixture)
from tests.conformance.schematron import structuration_minimale  # noqa: F401 (fixture)
from tests.host_fixture import (  # noqa: F401 (fixtures)
    card_keys,
    direct_client,
    host,
    pki_dir,
    rig_dir,
    structure_client,
)
from tests.keyring_fixture import system_keyring  # noqa: F401 (fixtures)
from tests.rig_fixture import cards_reset, rig  # noqa: F401 (fixtures)

settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
