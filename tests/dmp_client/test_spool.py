"""The encrypted spool: a file like ``tempfile.TemporaryFile()`` (checked operation by operation
against a real one), whose temporary file on disk never holds the plaintext; and the client's
temporary files (CDA sent, previous version, received attachments) are such spools."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.dmp_client import spool as spool_module
from app.dmp_client.client import DmpClient
from app.dmp_client.core.cda import extract_body, read_identity
from app.dmp_client.core.mtom import Part, build_mtom, read_mtom
from app.dmp_client.documents import NewDocument
from app.dmp_client.spool import EncryptedSpool, spool
from app.dmp_client.transport import spool_sink
from app.ins import IdentityTraits, Ins
from sandbox.host.server import DmpHost
from sandbox.patients import load_patients
from sandbox.training.demo import demo_pdf
from tests.host_fixture import DirectClient

MARKER = b"DURAND Marie 1979-05-12 compte rendu"


@contextlib.contextmanager
def chunk_size(size: int) -> Iterator[None]:
    """The spool's encryption chunk, made small so that every boundary case is reached."""
    saved = spool_module.CHUNK
    spool_module.CHUNK = size
    try:
        yield
    finally:
        spool_module.CHUNK = saved


def on_disk(handle: EncryptedSpool, limit: int | None = None) -> bytes:
    """What the spool's temporary file holds (its first ``limit`` bytes), read through its descriptor."""
    handle.flush()
    fd = handle._raw.fileno()
    return os.pread(fd, os.fstat(fd).st_size + 1 if limit is None else limit, 0)


# -- like a real file --------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.binary(max_size=80)),
        st.tuples(st.just("read"), st.one_of(st.none(), st.integers(-2, 90))),
        st.tuples(st.just("readinto"), st.integers(0, 90)),
        st.tuples(st.just("seek"), st.integers(-100, 150), st.sampled_from([0, 1, 2, 7])),
        st.tuples(st.just("tell")),
        st.tuples(st.just("truncate"), st.one_of(st.none(), st.integers(-1, 150))),
        st.tuples(st.just("flush")),
    ),
    max_size=40,
)


def apply(handle: Any, operation: tuple[Any, ...]) -> object:
    """One operation's outcome: its result, or the type of the error it raised."""
    name, *args = operation
    try:
        if name == "readinto":
            buffer = bytearray(args[0])
            count = handle.readinto(buffer)
            return count, bytes(buffer[:count])
        return getattr(handle, name)(*args)
    except (OSError, ValueError) as error:
        return type(error)


@given(operations, st.sampled_from([1, 5, 16, 37, 256 * 1024]))
def test_every_operation_behaves_like_a_real_temporary_file(ops: list[tuple[Any, ...]], chunk: int) -> None:
    with chunk_size(chunk), tempfile.TemporaryFile() as real, EncryptedSpool() as encrypted:
        for operation in ops:
            assert apply(encrypted, operation) == apply(real, operation), operation
            assert encrypted.tell() == real.tell()
        real.seek(0)
        encrypted.seek(0)
        assert encrypted.read() == real.read()


@given(
    st.binary(max_size=3000),
    st.lists(st.integers(1, 700), min_size=1, max_size=12),
    st.lists(st.integers(1, 700), min_size=1, max_size=12),
    st.integers(0, 3000),
    st.sampled_from([7, 16, 100, 256 * 1024]),
)
def test_round_trips_at_any_offset_and_chunking(
    data: bytes, writes: list[int], reads: list[int], start: int, chunk: int
) -> None:
    with chunk_size(chunk), EncryptedSpool() as handle:
        done, i = 0, 0
        while done < len(data):  # written in pieces of the drawn sizes, mid-block included
            step = writes[i % len(writes)]
            assert handle.write(data[done : done + step]) == len(data[done : done + step])
            done, i = done + step, i + 1
        assert handle.tell() == len(data)
        start = min(start, len(data))
        handle.seek(start)
        pieces, i = [], 0
        while piece := handle.read(reads[i % len(reads)]):
            pieces.append(piece)
            i += 1
        assert b"".join(pieces) == data[start:]
        # Rewritten in the middle (not on a block boundary): only those bytes change.
        middle = start // 2
        handle.seek(middle)
        handle.write(b"\xff" * 19)
        handle.seek(0)
        expected = bytearray(data)
        expected[middle : middle + 19] = b"\xff" * 19
        assert handle.read() == bytes(expected)


def test_seek_and_tell_like_a_file() -> None:
    with EncryptedSpool() as handle:
        assert (handle.readable(), handle.writable(), handle.seekable()) == (True, True, True)
        assert handle.write(b"0123456789") == 10 and handle.tell() == 10
        assert handle.seek(3) == 3 and handle.read(4) == b"3456" and handle.tell() == 7
        assert handle.seek(-2, os.SEEK_CUR) == 5 and handle.read() == b"56789"
        assert handle.seek(-1, os.SEEK_END) == 9 and handle.read(5) == b"9"
        assert handle.seek(20) == 20 and handle.read() == b"" and handle.tell() == 20
        handle.write(b"!")  # past the end: the gap reads as zeros, as in a real file
        handle.seek(0)
        assert handle.read() == b"0123456789" + bytes(10) + b"!"
        assert handle.truncate(4) == 4 and handle.tell() == 21 and handle.seek(0, os.SEEK_END) == 4
        with pytest.raises(OSError):
            handle.seek(-1)
        with pytest.raises(OSError):
            handle.seek(-5, os.SEEK_END)
        with pytest.raises(ValueError):
            handle.seek(0, 7)
        with pytest.raises(io.UnsupportedOperation):
            handle.fileno()  # the descriptor holds ciphertext: nothing outside may read it
    assert handle.closed
    with pytest.raises(ValueError):
        handle.read()
    with pytest.raises(ValueError):
        handle.write(b"x")
    handle.close()  # twice is fine


def test_the_temporary_file_never_holds_the_plaintext() -> None:
    with EncryptedSpool() as handle:
        for _ in range(1000):
            handle.write(MARKER)
        handle.seek(5)
        handle.write(MARKER)  # rewritten mid-block: still encrypted
        raw = on_disk(handle)
        assert len(raw) == 1000 * len(MARKER)
        assert MARKER not in raw and MARKER[:8] not in raw
        handle.seek(0)
        assert handle.read(5 + len(MARKER)) == MARKER[:5] + MARKER
        # Two spools never share a key or a nonce: the same bytes are different noise.
        with EncryptedSpool() as other:
            other.write(MARKER * 1000)
            assert on_disk(other) != raw


def test_large_data_in_bounded_memory() -> None:
    size, piece = 8 * 1024 * 1024, 64 * 1024 + 3  # not a multiple of the block or the chunk
    written, read = hashlib.sha256(), hashlib.sha256()
    tracemalloc.start()
    try:
        with EncryptedSpool() as handle:
            for i in range(0, size, piece):
                data = hashlib.sha256(i.to_bytes(8, "big")).digest() * (piece // 32 + 1)
                data = data[: min(piece, size - i)]
                written.update(data)
                handle.write(data)
            assert handle.tell() == size
            handle.seek(0)
            while chunk := handle.read(spool_module.CHUNK):
                read.update(chunk)
            assert len(on_disk(handle, 1024)) == 1024
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read.hexdigest() == written.hexdigest()
    assert peak < 2 * 1024 * 1024, peak  # a few chunks, never the 8 MiB


# -- where the client reads and writes it ------------------------------------------------------


def test_the_readers_of_the_client_accept_a_spool(tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    cda = (
        b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
        b'<id root="1.2.3" extension="4"/><setId root="1.2.5"/><versionNumber value="2"/>'
        b'<recordTarget/><component><nonXMLBody><text mediaType="application/pdf" representation="B64">'
        + base64.b64encode(payload)
        + b"</text></nonXMLBody></component></ClinicalDocument>"
    )
    with spool("dmp-old-") as handle:
        handle.write(cda)
        handle.seek(0)
        identity = read_identity(handle)
        assert (identity.document_id, identity.set_id, identity.version) == ("1.2.3^4", "1.2.5", 2)
        handle.seek(0)
        with spool("dmp-piece-") as out:
            assert extract_body(handle, out) == "application/pdf"
            out.seek(0)
            copied = io.BytesIO()
            shutil.copyfileobj(out, copied, 4096)
            assert copied.getvalue() == payload


def test_mtom_attachments_are_received_into_spools() -> None:
    document = os.urandom(200_000) + MARKER
    request = build_mtom(b"<Envelope/>", "urn:test", [Part("doc@test", len(document), lambda: [document])])
    body = b"".join(request.chunks())
    reader = read_mtom(
        request.content_type, (body[i : i + 1000] for i in range(0, len(body), 1000)), spool_sink
    )
    part = reader.parts["doc@test"]
    try:
        assert isinstance(part.file, EncryptedSpool) and part.size == len(document)
        assert MARKER not in on_disk(part.file)
        part.file.seek(0)
        assert part.file.read() == document
    finally:
        part.file.close()


@pytest.fixture
def card_like_client(host: DmpHost, direct_client: DirectClient) -> DmpClient:
    return direct_client(host, "generaliste")


def test_send_replace_and_retrieve_leave_no_plaintext_temporary_file(
    card_like_client: DmpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = next(p for p in load_patients() if p.id == "P03")
    ins = Ins.parse(p.matricule, p.oid)
    traits = IdentityTraits.parse(p.birth_name, p.first_names, p.sex, p.birth_date, p.birth_place)
    created: list[str] = []
    on_close: list[bytes] = []
    real_temporary_file: Callable[..., Any] = tempfile.TemporaryFile
    real_close = EncryptedSpool.close

    def temporary_file(*args: Any, **kwargs: Any) -> Any:
        created.append(kwargs.get("prefix", ""))
        return real_temporary_file(*args, **kwargs)

    def close(self: EncryptedSpool) -> None:
        if not self.closed:
            on_close.append(on_disk(self))
        real_close(self)

    monkeypatch.setattr(tempfile, "TemporaryFile", temporary_file)
    monkeypatch.setattr(EncryptedSpool, "close", close)
    pdf = tmp_path / "cr.pdf"
    pdf.write_bytes(demo_pdf("Compte rendu"))
    first = card_like_client.send(ins, NewDocument(pdf, "application/pdf", "11488-4", "Compte rendu", traits))
    found = card_like_client.document_by_unique_id(ins, first.unique_id)
    card_like_client.send(
        ins, NewDocument(pdf, "application/pdf", "11488-4", "Compte rendu corrigé", traits), replaces=found
    )
    out = io.BytesIO()
    card_like_client.retrieve(ins, found, out)
    assert b"ClinicalDocument" in out.getvalue() and traits.birth_name.encode() in out.getvalue()
    client_files = [prefix for prefix in created if prefix != "dmp-host-"]  # the host's are its own
    assert set(client_files) == {"dmp-cda-", "dmp-old-", "dmp-piece-"}
    assert len(on_close) == len(client_files)  # each one an encrypted spool
    for raw in on_close:
        assert raw and b"ClinicalDocument" not in raw and traits.birth_name.encode() not in raw
