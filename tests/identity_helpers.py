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
