"""Qualified identities for the tests that feed the sandbox patients: the lifecycle API is used as a
professional would (an INSi answer recorded, then an identity document checked), never a shortcut."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from app.ins import IdentityTraits, Ins
from app.services.identity import DocumentCheck, DocumentType, IdentityLifecycle, InsiAnswer
from app.services.training import sandbox_patient, sandbox_patients
from app.store.database import Database

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def qualify(db: Database, ins: Ins, traits: IdentityTraits, by: str = "test") -> None:
    lifecycle = IdentityLifecycle(db)
    lifecycle.record_insi(ins, traits, InsiAnswer(ins, traits, "INSI-TEST-1", NOW), by)
    lifecycle.check_document(ins, traits, DocumentCheck(DocumentType.CNI, by, NOW))


def qualify_sandbox_patients(db: Database) -> None:
    """Every sandbox patient with traits, qualified (the tests' patients had their INSi call and
    their identity document checked before they are fed)."""
    for found in sandbox_patients():
        if found.traits is not None:
            qualify(db, found.ins, found.traits)


def qualify_in_store(folder: Path, *pids: str) -> None:
    """Qualify these sandbox patients (every one if none is named) in the local base at ``folder``."""
    from app.store.local_store import LocalStore, StoreSettings

    chosen = [sandbox_patient(pid) for pid in pids] if pids else sandbox_patients()
    with LocalStore.open(StoreSettings(folder)) as store:
        for found in chosen:
            assert found is not None and found.traits is not None
            qualify(store.db, found.ins, found.traits)


def qualify_in_child(env: dict[str, str], *pids: str) -> None:
    """Qualify sandbox patients in the base that ``dmp`` would open with ``env`` (the rig's keyring
    and store), from a child process: this process may point at another Secret Service."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys; from app.config.settings import Settings; from tests.identity_helpers import "
        "qualify_in_store; qualify_in_store(Settings.load().store.folder, *sys.argv[1:])"
    )
    child_env = {**env, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", code, *pids], env=child_env, cwd=root, check=True, timeout=120)
