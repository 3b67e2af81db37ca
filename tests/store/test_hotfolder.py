"""The hot folder: real files in a temporary folder, a fake clock for stability, the store fixtures;
fictitious sandbox patients only (test INS OID 1.2.250.1.213.1.4.10)."""

from __future__ import annotations

import datetime as dt
import filecmp
import hashlib
import io
import json
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.dmp_client.core.metadata import Visibility
from app.store import hotfolder as hotfolder_module
from app.store import watching as watching_module
from app.store.database import Database
from app.store.errors import DiskFull
from app.store.hotfolder import ERRORS, IN_PROGRESS, HotFolder, source_digest
from app.store.keys import KeyStore
from app.store.queue import State, UploadQueue
from app.store.request import SendMode
from sandbox.patients import load_patients

PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sidecar(patient: str = "P01", **changes: Any) -> dict[str, Any]:
    p = next(p for p in load_patients() if p.id == patient)
    data: dict[str, Any] = {
        "ins": p.matricule,
        "oid": p.oid,
        "nom": p.birth_name,
        "prenoms": p.first_names,
        "sexe": p.sex,
        "naissance": p.birth_date,
        "lieu": p.birth_place,
        "type": "11488-4",
        "titre": "Compte rendu de consultation",
        "auteur": "899900012342|PAUL|CARDIOLOGUE|G15_10/SM04",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def drop(folder: Path, name: str = "cr-123.pdf", content: bytes = PDF, meta: Any = None) -> None:
    """Write a pair the way careful software does: a temporary name, then a rename."""
    raw = meta if isinstance(meta, bytes) else json.dumps(meta or sidecar(), ensure_ascii=False).encode()
    for target, data in ((name + ".dmp.json", raw), (name, content)):
        (folder / (target + ".tmp")).write_bytes(data)
        os.replace(folder / (target + ".tmp"), folder / target)


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "depot"
    folder.mkdir()
    return folder


def hot(inbox: Path, queue: UploadQueue, **options: Any) -> HotFolder:
    options.setdefault("stable_seconds", 0)
    options.setdefault("orphan_seconds", 60)
    return HotFolder(inbox, queue, structure_id="1234567890", structure_name="Clinique test", **options)


# -- claiming ----------------------------------------------------------------------------------


def test_a_valid_pair_is_queued_then_moved_into_en_cours(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox, meta=sidecar(date_acte="2024-03-01", masque_ps=True, remplace="1.2.3.4"))
    report = hot(inbox, queue).scan()
    assert len(report.queued) == 1 and not report.rejected and not report.store_errors
    entry = queue.get(report.queued[0])
    assert entry.state is State.QUEUED and entry.source_name == "cr-123.pdf"
    assert names(inbox) == set()
    assert names(inbox / IN_PROGRESS) == {f"{entry.id}-cr-123.pdf", f"{entry.id}-cr-123.pdf.dmp.json"}
    request = entry.request
    assert (request.media_type, request.type_code, request.title) == (
        "application/pdf",
        "11488-4",
        "Compte rendu de consultation",
    )
    assert request.mode is SendMode.STRUCTURE and request.replaces == "1.2.3.4"
    assert request.visibility == frozenset({Visibility.MASKED_FROM_PS})
    assert request.service_start is not None and request.service_start.date() == dt.date(2024, 3, 1)
    assert request.author is not None and request.author.person.national_id == "899900012342"
    assert request.author.organization.id_nat_struct == "1234567890"
    assert request.traits.birth_name == "DURAND" and request.ins.matricule.value == "207058575627097"


def test_the_queued_bytes_are_exactly_the_documents(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox)
    entry_id = hot(inbox, queue).scan().queued[0]
    out = io.BytesIO()
    queue.copy_content(entry_id, out)
    assert out.getvalue() == PDF


def test_the_source_digest_is_length_document_then_sidecar() -> None:
    # Entries queued by earlier versions keep their digest: a pair dropped again is recognised.
    expected = hashlib.sha256(len(PDF).to_bytes(8, "big") + PDF + b"{}").hexdigest()
    assert source_digest(PDF, b"{}") == expected


def test_a_large_document_is_streamed_into_the_queue(inbox: Path, queue: UploadQueue, tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    (inbox / "gros.pdf.dmp.json").write_text(json.dumps(sidecar()), encoding="utf-8")
    with open(inbox / "gros.pdf.tmp", "wb") as file:
        for n in range(size // 2**20):  # 1 MiB blocks, each one different
            file.write(n.to_bytes(4, "big") + bytes(range(256)) * 4095 + bytes(252))
    os.replace(inbox / "gros.pdf.tmp", inbox / "gros.pdf")
    folder = hot(inbox, queue)
    folder.request_for("gros.pdf", (inbox / "gros.pdf.dmp.json").read_bytes())  # value sets loaded
    tracemalloc.start()
    try:
        report = folder.scan()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.queued) == 1 and queue.get(report.queued[0]).size == size
    assert peak < size / 10, f"peak {peak} bytes while queueing {size}"
    out = tmp_path / "copie"
    with open(out, "wb") as file:
        queue.copy_content(report.queued[0], file)
    assert filecmp.cmp(inbox / IN_PROGRESS / f"{report.queued[0]}-gros.pdf", out, shallow=False)


def test_a_document_changed_after_it_was_found_stable_waits(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox)
    real = HotFolder._listing

    def listing_then_append(self: HotFolder) -> dict[str, tuple[int, int]]:
        files = real(self)
        monkeypatch.setattr(HotFolder, "_listing", real)
        with open(inbox / "cr-123.pdf", "ab") as file:  # the copy resumes
            file.write(b"more")
        return files

    monkeypatch.setattr(HotFolder, "_listing", listing_then_append)
    folder = hot(inbox, queue)
    report = folder.scan()
    assert report.waiting == ["cr-123.pdf"] and not report.queued and not queue.entries()
    out = io.BytesIO()
    queue.copy_content(folder.scan().queued[0], out)
    assert out.getvalue() == PDF + b"more"


def test_a_document_rewritten_while_queued_is_not_queued(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox)
    real = queue.enqueue

    def rewrite_then_enqueue(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(queue, "enqueue", real)
        with open(inbox / "cr-123.pdf", "r+b") as file:  # same size, other bytes
            file.write(b"%PDF-1.7")
        return real(*args, **kwargs)

    monkeypatch.setattr(queue, "enqueue", rewrite_then_enqueue)
    folder = hot(inbox, queue)
    report = folder.scan()
    assert report.waiting == ["cr-123.pdf"] and not report.queued and not queue.entries()
    assert names(inbox) == {"cr-123.pdf", "cr-123.pdf.dmp.json"}
    out = io.BytesIO()
    queue.copy_content(folder.scan().queued[0], out)
    assert out.getvalue() == b"%PDF-1.7" + PDF[8:]


def test_without_author_the_structures_default_applies(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox, meta=sidecar(auteur=...))
    entry = queue.get(hot(inbox, queue).scan().queued[0])
    assert entry.request.author is None and entry.request.traits.birth_place is not None


def test_without_birth_place_the_pair_is_refused(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox, meta=sidecar(lieu=...))
    report = hot(inbox, queue).scan()
    assert report.rejected == ["cr-123.pdf"] and queue.entries() == []
    note = (inbox / "erreurs" / "cr-123.pdf.erreur.txt").read_text(encoding="utf-8")
    assert "DEPOT-CLE-MANQUANTE" in note and "lieu" in note


def test_a_pair_the_queue_refuses_goes_to_errors_with_the_queue_s_reason(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.store.request import IncompleteRequest

    def refuse(*args: object, **kwargs: object) -> None:
        raise IncompleteRequest("Document refusé par la file d'envoi : titre vide.")

    monkeypatch.setattr(queue, "enqueue", refuse)
    drop(inbox)
    report = hot(inbox, queue).scan()
    assert report.rejected == ["cr-123.pdf"]
    note = (inbox / "erreurs" / "cr-123.pdf.erreur.txt").read_text(encoding="utf-8")
    assert "FILE-DEMANDE-INCOMPLETE" in note


def test_a_growing_file_is_not_claimed_until_stable(inbox: Path, queue: UploadQueue) -> None:
    clock = Clock()
    folder = hot(inbox, queue, stable_seconds=2, clock=clock)
    drop(inbox, content=PDF[:10])
    assert folder.scan().waiting == ["cr-123.pdf"]
    clock.now += 3
    with open(inbox / "cr-123.pdf", "ab") as file:  # still being copied
        file.write(PDF[10:])
    report = folder.scan()
    assert report.waiting == ["cr-123.pdf"] and not report.queued
    clock.now += 1
    assert folder.scan().waiting == ["cr-123.pdf"]
    clock.now += 1
    entry_id = folder.scan().queued[0]
    out = io.BytesIO()
    queue.copy_content(entry_id, out)
    assert out.getvalue() == PDF


def test_temporary_hidden_files_and_subfolders_are_left_alone(inbox: Path, queue: UploadQueue) -> None:
    for name in ("a.pdf.tmp", "b.pdf.part", "c.pdf~", ".d.pdf", "~$e.docx", "Thumbs.db"):
        (inbox / name).write_bytes(b"x")
    (inbox / "archives").mkdir()
    (inbox / "archives" / "old.pdf").write_bytes(PDF)
    report = hot(inbox, queue, orphan_seconds=0).scan()
    assert report == type(report)()
    assert len(names(inbox)) == 6 and names(inbox / "archives") == {"old.pdf"}


def test_thirty_pairs_dropped_at_once_are_each_queued_once(inbox: Path, queue: UploadQueue) -> None:
    patients = [p.id for p in load_patients()]
    for n in range(30):
        drop(inbox, f"cr-{n:02d}.pdf", PDF + str(n).encode(), sidecar(patients[n % len(patients)]))
    folder = hot(inbox, queue)
    report = folder.scan()
    assert len(report.queued) == len(set(report.queued)) == 30
    assert folder.scan().queued == []
    assert queue.counts()[State.QUEUED] == 30 and names(inbox) == set()
    assert len(names(inbox / IN_PROGRESS)) == 60


# -- refusals ----------------------------------------------------------------------------------


def error_note(inbox: Path, name: str = "cr-123.pdf") -> str:
    return (inbox / ERRORS / (name + ".erreur.txt")).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "meta", "code"),
    [
        ("cr-123.pdf", sidecar(ins="207058575627096"), "INS-NIR-CLE-FAUSSE"),
        ("cr-123.pdf", sidecar(type="99999-9"), "DEPOT-TYPE"),
        ("cr-123.pdf", sidecar(titel="Compte rendu"), "DEPOT-CLE-INCONNUE"),
        ("cr-123.pdf", sidecar(titre=...), "DEPOT-CLE-MANQUANTE"),
        ("cr-123.pdf", sidecar(titre="   "), "DEPOT-TITRE"),
        ("cr-123.pdf", b'{"ins": "207058575627097",', "DEPOT-JSON"),
        ("cr-123.pdf", b"\xff\xfe not utf-8", "DEPOT-JSON"),
        ("cr-123.pdf", b"[1, 2]", "DEPOT-JSON"),
        ("cr-123.docx", sidecar(), "DEPOT-FORMAT"),
        ("cr-123.pdf", sidecar(auteur="PAUL CARDIOLOGUE"), "DEPOT-AUTEUR"),
        ("cr-123.pdf", sidecar(auteur="899900012342|PAUL|CARDIOLOGUE|G15_99999"), "DEPOT-AUTEUR"),
        ("cr-123.pdf", sidecar(date_acte="01/03/2024"), "DEPOT-DATE"),
        ("cr-123.pdf", sidecar(date_acte="2999-01-01"), "DEPOT-DATE"),
        ("cr-123.pdf", sidecar(masque_ps="oui"), "DEPOT-VALEUR"),
        ("cr-123.pdf", sidecar(ins=207058575627097), "DEPOT-VALEUR"),
        ("cr-123.pdf", sidecar(sexe="X"), "INS-TRAIT-SEXE"),
        ("cr-123.pdf", sidecar(oid="1.2.250.1.213.1.4.2"), "INS-OID-INSC-INTERDIT"),
    ],
)
def test_an_invalid_pair_goes_to_erreurs_with_an_explanation(
    inbox: Path, queue: UploadQueue, name: str, meta: Any, code: str
) -> None:
    drop(inbox, name, meta=meta)
    report = hot(inbox, queue).scan()
    assert report.rejected == [name] and not report.queued
    assert names(inbox) == set() and queue.counts()[State.QUEUED] == 0
    assert names(inbox / ERRORS) == {name, name + ".dmp.json", name + ".erreur.txt"}
    assert (inbox / ERRORS / name).read_bytes() == PDF
    note = error_note(inbox, name)
    assert f"[{code}]" in note and "déposez à nouveau" in note
    assert "207058575627097" not in note and "DURAND" not in note  # no patient data in the explanation


def test_every_problem_is_named_on_its_own_line(inbox: Path, queue: UploadQueue) -> None:
    meta = sidecar(ins="207058575627096", type="99999-9", sexe="X", naissance="31/02/2007", prenoms="", dmp=1)
    drop(inbox, meta=meta)
    hot(inbox, queue).scan()
    lines = [line for line in error_note(inbox).splitlines() if line.startswith("- ")]
    codes = {line.rsplit("[", 1)[1].rstrip("]") for line in lines}
    assert codes == {
        "INS-NIR-CLE-FAUSSE",
        "DEPOT-TYPE",
        "INS-TRAIT-SEXE",
        "INS-TRAIT-DATE",
        "INS-TRAIT-NOM",
        "DEPOT-CLE-INCONNUE",
    }


def test_an_empty_document_is_refused(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox, content=b"")
    assert hot(inbox, queue).scan().rejected == ["cr-123.pdf"]
    assert "[DEPOT-VIDE]" in error_note(inbox)


def test_a_name_taken_in_erreurs_is_never_overwritten(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    drop(inbox, content=b"first", meta=sidecar(type="0"))
    folder.scan()
    drop(inbox, content=b"second", meta=sidecar(type="0"))
    folder.scan()
    assert (inbox / ERRORS / "cr-123.pdf").read_bytes() == b"first"
    assert (inbox / ERRORS / "cr-123 (2).pdf").read_bytes() == b"second"
    assert names(inbox / ERRORS) >= {"cr-123 (2).pdf.dmp.json", "cr-123 (2).pdf.erreur.txt"}


@pytest.mark.parametrize("present", ["cr-123.pdf", "cr-123.pdf.dmp.json"])
def test_an_orphan_is_moved_aside_after_the_grace_period(
    inbox: Path, queue: UploadQueue, present: str
) -> None:
    clock = Clock()
    folder = hot(inbox, queue, stable_seconds=1, orphan_seconds=10, clock=clock)
    (inbox / present).write_bytes(PDF if present.endswith(".pdf") else json.dumps(sidecar()).encode())
    for _ in range(7):  # up to 9 s after it was first seen
        assert folder.scan().waiting == ["cr-123.pdf"]
        clock.now += 1.5
    report = folder.scan()
    assert report.rejected == ["cr-123.pdf"] and names(inbox) == set()
    assert names(inbox / ERRORS) == {present, "cr-123.pdf.erreur.txt"}
    assert "[DEPOT-ORPHELIN]" in error_note(inbox)


def test_a_sidecar_arriving_within_the_grace_period_completes_the_pair(
    inbox: Path, queue: UploadQueue
) -> None:
    clock = Clock()
    folder = hot(inbox, queue, stable_seconds=1, orphan_seconds=10, clock=clock)
    (inbox / "cr-123.pdf").write_bytes(PDF)
    folder.scan()
    clock.now += 8
    (inbox / "cr-123.pdf.dmp.json").write_text(json.dumps(sidecar()), encoding="utf-8")
    assert folder.scan().waiting == ["cr-123.pdf"]
    clock.now += 1
    assert len(folder.scan().queued) == 1


# -- crashes and store errors ------------------------------------------------------------------


class Crash(BaseException):
    """The process dying: nothing catches it."""


def test_a_crash_between_enqueue_and_move_does_not_queue_twice(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox)

    def die(self: HotFolder, entry_id: int, name: str) -> None:
        raise Crash()

    monkeypatch.setattr(HotFolder, "_move_in", die)
    with pytest.raises(Crash):
        hot(inbox, queue).scan()
    assert queue.counts()[State.QUEUED] == 1 and names(inbox) == {"cr-123.pdf", "cr-123.pdf.dmp.json"}
    monkeypatch.undo()
    first = queue.entries()[0].id
    assert hot(inbox, queue).scan().queued == [first]  # a new process: the same entry, now moved
    assert queue.counts()[State.QUEUED] == 1 and names(inbox) == set()
    assert names(inbox / IN_PROGRESS) == {f"{first}-cr-123.pdf", f"{first}-cr-123.pdf.dmp.json"}


def test_a_pair_already_queued_under_its_digest_is_only_moved(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox)
    raw = (inbox / "cr-123.pdf.dmp.json").read_bytes()
    request, problems = hot(inbox, queue).request_for("cr-123.pdf", raw)
    assert request is not None and not problems
    entry = queue.enqueue(request, io.BytesIO(PDF), source_digest=source_digest(PDF, raw), source_name="x")
    assert hot(inbox, queue).scan().queued == [entry.id]
    assert len(queue.entries()) == 1


def test_a_crash_halfway_through_the_move_is_completed(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox)
    real = HotFolder._move_in
    calls = []

    def once_then_die(self: HotFolder, entry_id: int, name: str) -> None:
        calls.append(name)
        if len(calls) > 1:
            raise Crash()
        real(self, entry_id, name)

    monkeypatch.setattr(HotFolder, "_move_in", once_then_die)
    with pytest.raises(Crash):
        hot(inbox, queue).scan()
    monkeypatch.undo()
    assert len(names(inbox)) == 1 and len(names(inbox / IN_PROGRESS)) == 1
    report = hot(inbox, queue, orphan_seconds=0).scan()
    assert not report.rejected and names(inbox) == set() and len(names(inbox / IN_PROGRESS)) == 2
    assert len(queue.entries()) == 1


def test_a_store_error_leaves_the_pair_where_it_was(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox)
    drop(inbox, "cr-124.pdf")

    def full(*args: Any, **kwargs: Any) -> Any:
        raise DiskFull()

    monkeypatch.setattr(queue, "enqueue", full)
    folder = hot(inbox, queue)
    report = folder.scan()
    assert [code for code, _ in report.store_errors] == ["STORE-DISQUE-PLEIN"]
    assert not report.queued and not report.rejected and len(report.waiting) == 1
    assert names(inbox) == {"cr-123.pdf", "cr-123.pdf.dmp.json", "cr-124.pdf", "cr-124.pdf.dmp.json"}
    assert not (inbox / IN_PROGRESS).exists() and not (inbox / ERRORS).exists()
    assert "Base locale" in report.summary()
    monkeypatch.undo()
    assert len(folder.scan().queued) == 2  # the next pass tries again


# -- after the queue -----------------------------------------------------------------------------


def test_files_are_deleted_only_once_the_host_acknowledged(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    entry_id = folder.scan().queued[0]
    assert folder.scan().deleted == [] and len(names(inbox / IN_PROGRESS)) == 2
    queue.mark_failed(entry_id, "DMP-REFUS", "Refusé")
    assert folder.scan().deleted == [] and len(names(inbox / IN_PROGRESS)) == 2  # a person decides
    queue.retry(entry_id)
    queue.mark_sent(entry_id, None)
    assert folder.scan().deleted == [entry_id]
    assert names(inbox / IN_PROGRESS) == set() and names(inbox) == set()
    drop(inbox)  # the same pair dropped again: recognised, not sent twice
    report = folder.scan()
    assert report.queued == [entry_id] and report.deleted == [entry_id] and len(queue.entries()) == 1


def test_a_cancelled_entry_goes_back_to_erreurs(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    entry_id = folder.scan().queued[0]
    queue.cancel(entry_id)
    report = folder.scan()
    assert report.returned == [entry_id] and names(inbox / IN_PROGRESS) == set()
    assert names(inbox / ERRORS) == {"cr-123.pdf", "cr-123.pdf.dmp.json", "cr-123.pdf.erreur.txt"}
    assert (inbox / ERRORS / "cr-123.pdf").read_bytes() == PDF
    assert "[DEPOT-ANNULE]" in error_note(inbox)


def test_a_pair_not_matching_its_entry_is_never_deleted(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    entry_id = folder.scan().queued[0]
    # As if the base had been replaced: the id now belongs to another document.
    (inbox / IN_PROGRESS / f"{entry_id}-cr-123.pdf").write_bytes(b"another document")
    (inbox / IN_PROGRESS / "77-lost.pdf").write_bytes(PDF)
    (inbox / IN_PROGRESS / "77-lost.pdf.dmp.json").write_bytes(b"{}")
    queue.mark_sent(entry_id, None)
    report = folder.scan()
    assert report.deleted == [] and sorted(report.returned) == sorted([entry_id, 77])
    assert (inbox / ERRORS / "cr-123.pdf").read_bytes() == b"another document"
    assert "[DEPOT-ENTREE-INCONNUE]" in error_note(inbox) and "[DEPOT-ENTREE-INCONNUE]" in error_note(
        inbox, "lost.pdf"
    )


@pytest.mark.parametrize("state", [State.QUEUED, State.SENDING, State.FAILED, State.CANCELLED])
@pytest.mark.parametrize("changed", ["cr-123.pdf", "cr-123.pdf.dmp.json"])
def test_in_every_state_a_pair_is_its_entry_s_only_by_its_digest(
    inbox: Path, queue: UploadQueue, state: State, changed: str
) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    entry_id = folder.scan().queued[0]
    if state is State.SENDING:
        queue.claim_next([SendMode.STRUCTURE])
    elif state is State.FAILED:
        queue.mark_failed(entry_id, "DMP-REFUS", "Refusé")
    elif state is State.CANCELLED:
        queue.cancel(entry_id)
    assert queue.get(entry_id).state is state
    # As if the base had been set aside: this id now names another pair's entry.
    (inbox / IN_PROGRESS / f"{entry_id}-{changed}").write_bytes(b"another pair's bytes")
    report = folder.scan()
    assert report.returned == [entry_id] and report.deleted == [] and names(inbox / IN_PROGRESS) == set()
    assert "[DEPOT-ENTREE-INCONNUE]" in error_note(inbox)
    assert (inbox / ERRORS / changed).read_bytes() == b"another pair's bytes"


def test_a_pair_whose_entry_has_no_source_digest_is_not_its(inbox: Path, queue: UploadQueue) -> None:
    drop(inbox)
    raw = (inbox / "cr-123.pdf.dmp.json").read_bytes()
    request, _ = hot(inbox, queue).request_for("cr-123.pdf", raw)
    assert request is not None
    entry = queue.enqueue(request, io.BytesIO(PDF))  # queued by hand (dmp queue add): no source digest
    (inbox / IN_PROGRESS).mkdir()
    for name in ("cr-123.pdf", "cr-123.pdf.dmp.json"):
        os.replace(inbox / name, inbox / IN_PROGRESS / f"{entry.id}-{name}")
    assert hot(inbox, queue).scan().returned == [entry.id]
    assert "[DEPOT-ENTREE-INCONNUE]" in error_note(inbox)


def test_a_waiting_pair_is_hashed_once_not_at_every_pass(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    entry_id = folder.scan().queued[0]
    hashed: list[str] = []
    real = hotfolder_module._file_digest

    def counted(path: Path, sidecar: bytes = b"") -> str | None:
        hashed.append(path.name)
        return real(path, sidecar)

    monkeypatch.setattr(hotfolder_module, "_file_digest", counted)
    for _ in range(3):
        assert folder.scan().returned == []
    assert hashed == []  # hashed by the pass that moved it in; unchanged since
    document = inbox / IN_PROGRESS / f"{entry_id}-cr-123.pdf"
    document.write_bytes(b"rewritten")
    os.utime(document, ns=(1, 1))
    assert folder.scan().returned == [entry_id] and hashed == [f"{entry_id}-cr-123.pdf"]


# -- ids reused after a quarantine -----------------------------------------------------------------


@pytest.fixture
def fresh_queue(tmp_path: Path, memory_keys: KeyStore) -> Iterator[UploadQueue]:
    """The queue after « dmp store quarantine »: a new, empty base, whose ids start again at 1."""
    database = Database.open(tmp_path / "store-after-quarantine", memory_keys)
    yield UploadQueue(database)
    database.close()


def test_a_new_pair_never_replaces_an_unsent_one_under_the_same_id(
    inbox: Path, queue: UploadQueue, fresh_queue: UploadQueue
) -> None:
    drop(inbox)
    old_id = hot(inbox, queue).scan().queued[0]  # never sent: its bytes only in the base set aside
    other = PDF + b"another report"
    drop(inbox, content=other, meta=sidecar(titre="Autre compte rendu"))
    folder = hot(inbox, fresh_queue)
    report = folder.scan()
    new_id = fresh_queue.entries()[0].id
    assert new_id == old_id and not report.queued
    assert report.failures == [("cr-123.pdf", hotfolder_module.CONFLICT)]
    assert "[DEPOT-CONFLIT]" in report.summary() and "Rien n'a été écrasé" in report.summary()
    assert (inbox / "cr-123.pdf").read_bytes() == other  # the new pair: still here, whole
    assert names(inbox) == {"cr-123.pdf", "cr-123.pdf.dmp.json"}
    # The old pair is not the new entry's (another digest): back in erreurs/, nothing lost.
    assert report.returned == [old_id] and (inbox / ERRORS / "cr-123.pdf").read_bytes() == PDF
    assert "[DEPOT-ENTREE-INCONNUE]" in error_note(inbox)
    report = folder.scan()  # the place is free now
    assert report.queued == [new_id] and not report.failures and names(inbox) == set()
    assert (inbox / IN_PROGRESS / f"{new_id}-cr-123.pdf").read_bytes() == other


@pytest.mark.parametrize("taken", ["cr-123.pdf", "cr-123.pdf.dmp.json"])
def test_a_taken_place_is_never_overwritten_and_the_pair_never_split(
    inbox: Path, queue: UploadQueue, taken: str
) -> None:
    (inbox / IN_PROGRESS).mkdir()
    (inbox / IN_PROGRESS / f"1-{taken}").write_bytes(b"half of an older pair")  # not a whole pair
    drop(inbox)
    folder = hot(inbox, queue)
    for _ in range(2):  # queued (durable), but left where it is, pass after pass
        report = folder.scan()
        assert not report.queued and report.failures == [("cr-123.pdf", hotfolder_module.CONFLICT)]
        assert names(inbox) == {"cr-123.pdf", "cr-123.pdf.dmp.json"}
        assert names(inbox / IN_PROGRESS) == {f"1-{taken}"}
        assert (inbox / IN_PROGRESS / f"1-{taken}").read_bytes() == b"half of an older pair"
    assert [e.id for e in queue.entries()] == [1] and (inbox / "cr-123.pdf").read_bytes() == PDF


def test_an_identical_copy_in_en_cours_may_be_replaced(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    entry_id = folder.scan().queued[0]
    drop(inbox)  # the same pair dropped again while queued: same digest, same entry, same bytes
    report = folder.scan()
    assert report.queued == [entry_id] and not report.failures and names(inbox) == set()
    assert names(inbox / IN_PROGRESS) == {f"{entry_id}-cr-123.pdf", f"{entry_id}-cr-123.pdf.dmp.json"}
    assert len(queue.entries()) == 1


# -- failures while resuming ---------------------------------------------------------------------


def test_a_failing_resume_is_reported_per_pair_never_raised(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox, "a.pdf")
    drop(inbox, "b.pdf")
    real = HotFolder._move_in

    def documents_only(self: HotFolder, entry_id: int, name: str) -> None:
        if not name.endswith(".dmp.json"):  # as if the process died after each document's move
            real(self, entry_id, name)

    monkeypatch.setattr(HotFolder, "_move_in", documents_only)
    folder = hot(inbox, queue)
    assert len(folder.scan().queued) == 2
    assert names(inbox) == {"a.pdf.dmp.json", "b.pdf.dmp.json"}

    def a_is_locked(self: HotFolder, entry_id: int, name: str) -> None:
        if name == "a.pdf.dmp.json":
            raise PermissionError(13, "locked by another program")
        real(self, entry_id, name)

    monkeypatch.setattr(HotFolder, "_move_in", a_is_locked)
    report = folder.scan()
    assert [name for name, _ in report.failures] == ["a.pdf"] and "PermissionError" in report.summary()
    assert names(inbox) == {"a.pdf.dmp.json"}  # b completed, a waits for the next pass
    monkeypatch.undo()
    assert not folder.scan().failures and names(inbox) == set()
    assert len(names(inbox / IN_PROGRESS)) == 4


def test_an_unlistable_en_cours_is_reported_once_never_raised(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = hot(inbox, queue)
    drop(inbox)
    folder.scan()
    real = Path.iterdir

    def iterdir(self: Path) -> Iterator[Path]:
        if self.name == IN_PROGRESS:
            raise PermissionError(13, "access denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    report = folder.scan()  # neither resuming nor tidying raises
    assert len(report.failures) == 1 and "PermissionError" in report.summary()


def test_an_unreachable_folder_is_reported_not_raised(tmp_path: Path, queue: UploadQueue) -> None:
    report = hot(tmp_path / "share-offline", queue).scan()
    assert report.failures and "inaccessible" in report.summary()


# -- watching ------------------------------------------------------------------------------------


def run_in_thread(folder: HotFolder, rescan_interval: float) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=folder.run, args=(stop, rescan_interval), daemon=True)
    thread.start()
    return stop, thread


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def stop_promptly(stop: threading.Event, thread: threading.Thread) -> None:
    started = time.monotonic()
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive() and time.monotonic() - started < 1.0


def test_run_picks_up_a_pair_dropped_while_running(inbox: Path, queue: UploadQueue) -> None:
    folder = hot(inbox, queue)
    stop, thread = run_in_thread(folder, rescan_interval=60)  # only the watchdog hint can be this quick
    try:
        time.sleep(0.3)
        drop(inbox)
        assert wait_for(lambda: not names(inbox) and len(queue.entries()) == 1)
    finally:
        stop_promptly(stop, thread)


def test_run_keeps_polling_when_the_watcher_cannot_start(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        daemon = True

        def schedule(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("inotify watch limit reached")

    monkeypatch.setattr(watching_module, "new_observer", Broken)
    folder = hot(inbox, queue)
    reports: list[Any] = []
    stop = threading.Event()
    thread = threading.Thread(target=folder.run, args=(stop, 0.2, reports.append), daemon=True)
    thread.start()
    try:
        drop(inbox)
        assert wait_for(lambda: len(queue.entries()) == 1 and not names(inbox))
        assert any(r.queued for r in reports)
    finally:
        stop_promptly(stop, thread)


def test_run_survives_a_failing_pass(
    inbox: Path, queue: UploadQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = hot(inbox, queue)
    passes: list[int] = []
    real = folder.scan

    def flaky() -> Any:
        passes.append(1)
        if len(passes) == 1:
            raise RuntimeError("bug")
        return real()

    monkeypatch.setattr(folder, "scan", flaky)
    drop(inbox)
    stop, thread = run_in_thread(folder, rescan_interval=0.1)
    try:
        assert wait_for(lambda: len(queue.entries()) == 1)
    finally:
        stop_promptly(stop, thread)
