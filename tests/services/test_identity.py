"""The identity lifecycle (issue 17 item 3): the four RNIV statuses, their transitions, the record
(who, when, how), its history in the encrypted base, and the pseudonymised journal."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from app.errors import IdentityNotQualified
from app.ins import IdentityTraits
from app.services.identity import (
    DocumentCheck,
    DocumentType,
    IdentityLifecycle,
    IdentityStatus,
    InsiAnswer,
)
from app.services.training import sandbox_patient
from app.store.database import Database
from app.store.journal import LocalJournal
from app.store.keys import KeyStore
from app.store.pseudonym import pseudonym
from tests.store.conftest import MemoryKeyring

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "store", KeyStore(backend=MemoryKeyring()))
    yield database
    database.close()


def p(pid: str = "P03"):
    found = sandbox_patient(pid)
    assert found is not None and found.traits is not None
    return found.ins, found.traits


def answer(ins, traits, ref: str = "INSI-1") -> InsiAnswer:
    return InsiAnswer(ins, traits, ref, NOW)


def cni(by: str = "Dr Test") -> DocumentCheck:
    return DocumentCheck(DocumentType.CNI, by, NOW)


def test_unknown_identity_is_provisoire_and_refused(db: Database) -> None:
    ins, traits = p()
    life = IdentityLifecycle(db)
    assert life.status(ins) is IdentityStatus.PROVISOIRE
    with pytest.raises(IdentityNotQualified) as refused:
        life.require_qualified(ins, traits)
    assert refused.value.code == "IDENTITE-NON-QUALIFIEE"
    assert "INSi" in refused.value.user_message and "pièce d'identité" in refused.value.user_message


def test_insi_then_document_qualifies(db: Database) -> None:
    ins, traits = p()
    life = IdentityLifecycle(db, clock=lambda: 1000.0)
    got = life.record_insi(ins, traits, answer(ins, traits), "secretariat")
    assert got.status is IdentityStatus.RECUPEREE and got.insi == {"reponse": "INSI-1", "le": NOW.isoformat()}
    with pytest.raises(IdentityNotQualified, match="Il reste à vérifier une pièce"):
        life.require_qualified(ins, traits)
    got = life.check_document(ins, traits, cni())
    assert got.status is IdentityStatus.QUALIFIEE
    assert got.document is not None and got.document["piece"] == "carte nationale d'identité"
    assert got.set_by == "Dr Test" and got.set_at == 1000.0
    life.require_qualified(ins, traits)  # no error
    assert [e.status for e in life.history(ins)] == [IdentityStatus.RECUPEREE, IdentityStatus.QUALIFIEE]


def test_document_then_insi_qualifies(db: Database) -> None:
    ins, traits = p()
    life = IdentityLifecycle(db)
    assert life.check_document(ins, traits, DocumentCheck(DocumentType.PASSEPORT, "x", NOW)).status is (
        IdentityStatus.VALIDEE
    )
    with pytest.raises(IdentityNotQualified, match="Il reste à interroger le téléservice INSi"):
        life.require_qualified(ins, traits)
    assert life.record_insi(ins, traits, answer(ins, traits), "x").status is IdentityStatus.QUALIFIEE


def test_stored_across_reopen(tmp_path: Path) -> None:
    keys = KeyStore(backend=MemoryKeyring())
    ins, traits = p()
    with Database.open(tmp_path / "s", keys) as first:
        life = IdentityLifecycle(first)
        life.record_insi(ins, traits, answer(ins, traits), "a")
        life.check_document(ins, traits, cni())
    with Database.open(tmp_path / "s", keys) as again:
        assert IdentityLifecycle(again).status(ins) is IdentityStatus.QUALIFIEE
        assert again.schema_version == 3


def test_insi_mismatch_goes_back_with_reason(db: Database) -> None:
    ins, traits = p("P03")
    other_ins, _ = p("P01")
    life = IdentityLifecycle(db)
    life.record_insi(ins, traits, answer(ins, traits), "a")
    life.check_document(ins, traits, cni())
    got = life.record_insi(ins, traits, answer(other_ins, traits, "INSI-2"), "a")
    assert got.status is IdentityStatus.VALIDEE and got.insi is None
    assert got.reason is not None and "INSI-2" in got.reason and "autre INS" in got.reason
    with pytest.raises(IdentityNotQualified):
        life.require_qualified(ins, traits)
    other_traits = dataclasses.replace(traits, birth_name="AUTRENOM")
    life2 = IdentityLifecycle(db)
    ins5, traits5 = p("P05")
    life2.record_insi(ins5, traits5, answer(ins5, traits5), "a")
    got = life2.record_insi(ins5, traits5, answer(ins5, other_traits, "INSI-3"), "a")
    assert got.status is IdentityStatus.PROVISOIRE and "autres traits" in (got.reason or "")


def test_trait_change_goes_back_to_provisoire(db: Database) -> None:
    ins, traits = p()
    life = IdentityLifecycle(db)
    life.record_insi(ins, traits, answer(ins, traits), "a")
    life.check_document(ins, traits, cni())
    changed = IdentityTraits(traits.birth_name, ("AUTRE",), traits.sex, traits.birth_date, traits.birth_place)
    got = life.change_traits(ins, changed, "secretariat", "prénom corrigé")
    assert got.status is IdentityStatus.PROVISOIRE and got.insi is None and got.document is None
    assert got.reason == "Traits modifiés : prénom corrigé"
    assert life.status(ins) is IdentityStatus.PROVISOIRE
    # the old traits no longer feed, nor do the new ones until qualified again
    for t in (traits, changed):
        with pytest.raises(IdentityNotQualified):
            life.require_qualified(ins, t)


def test_qualified_identity_refuses_other_traits(db: Database) -> None:
    """A document whose traits differ from the qualified identity's is not fed under that INS."""
    ins, traits = p()
    life = IdentityLifecycle(db)
    life.record_insi(ins, traits, answer(ins, traits), "a")
    life.check_document(ins, traits, cni())
    other = dataclasses.replace(traits, birth_name="AUTRENOM")
    with pytest.raises(IdentityNotQualified, match="diffèrent"):
        life.require_qualified(ins, other)


def test_journal_is_pseudonymised(db: Database) -> None:
    ins, traits = p()
    life = IdentityLifecycle(db)
    life.record_insi(ins, traits, answer(ins, traits), "secretariat")
    life.check_document(ins, traits, cni("Dr Test"))
    rows = list(LocalJournal(db).rows())
    assert [(r.transaction, r.result, r.actor) for r in rows] == [
        ("IDENTITE-INSI", "récupérée", "secretariat"),
        ("IDENTITE-PIECE", "qualifiée", "Dr Test"),
    ]
    assert {r.patient for r in rows} == {pseudonym(db, ins)}
    dumped = repr([r.values() for r in rows])
    assert ins.matricule.value not in dumped and traits.birth_name not in dumped
    assert traits.birth_name not in repr(life.get(ins)) and ins.matricule.value not in repr(
        answer(ins, traits)
    )


def test_a_version_2_base_gains_the_identity_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from app.store import schema
    from app.store.queue import UploadQueue
    from tests.store.helpers import request_for

    keys = KeyStore(backend=MemoryKeyring())
    monkeypatch.setattr("app.store.database.MIGRATIONS", schema.MIGRATIONS[:2])
    monkeypatch.setattr("app.store.database.SCHEMA_VERSION", 2)
    with Database.open(tmp_path / "s", keys) as old:
        UploadQueue(old).enqueue(request_for(), io.BytesIO(b"abc"))
        assert not old.execute("SELECT name FROM sqlite_master WHERE name = 'identity'")
    monkeypatch.undo()
    with Database.open(tmp_path / "s", keys) as db:
        assert db.schema_version == 3 and len(UploadQueue(db).entries()) == 1
        ins, traits = p()
        IdentityLifecycle(db).record_insi(ins, traits, answer(ins, traits), "a")
        assert IdentityLifecycle(db).status(ins) is IdentityStatus.RECUPEREE
