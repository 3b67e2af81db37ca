"""Temporary files for patient data: an anonymous temporary file whose bytes are encrypted.

A CDA being sent carries the patient's traits and the document; a retrieved document is the same.
They are staged on disk (bounded memory), but a plain temporary file leaves them readable there: a
real file in %TEMP% on Windows, unlinked yet plaintext on disk (and in backups of it, swap
aside) on Linux. :class:`EncryptedSpool` keeps only ciphertext on disk: AES-256 in CTR mode, with a
random key and nonce drawn per spool and held in memory only, never written anywhere. When the
spool is closed (or the process ends) the key is gone and the bytes left on disk are noise.

CTR is a stream cipher with random access: the keystream of byte ``i`` comes from the counter
block ``nonce + i // 16``, so any offset can be read or rewritten on its own, like a plain file.
There is no authentication tag: the file is our own, private and short-lived; what it protects
against is reading it, not tampering by someone who can already write to our temporary files.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from typing import TYPE_CHECKING, BinaryIO, cast

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

CHUNK = 256 * 1024  # encrypted and written (or read and decrypted) this much at a time
_BLOCK = 16  # AES block: one counter value per 16 bytes of keystream
_COUNTER = 1 << 128


class EncryptedSpool(io.BufferedIOBase):
    """A seekable, readable and writable binary file whose contents are encrypted on disk.

    Behaves like ``tempfile.TemporaryFile()`` opened ``w+b``: writing past the end fills the gap
    with zeros, ``truncate`` shrinks or extends (with zeros), reading past the end returns
    ``b""``. It has no ``fileno()``: the descriptor holds ciphertext, nothing outside may use it."""

    def __init__(self, prefix: str = "dmp-spool-", dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self._raw = tempfile.TemporaryFile(prefix=prefix, dir=dir)  # noqa: SIM115 (closed by close())
        self._algorithm: algorithms.AES | None = algorithms.AES(os.urandom(32))
        self._nonce = int.from_bytes(os.urandom(_BLOCK), "big")
        self._pos = 0  # our position, as tell() reports it
        self._raw_pos = 0  # the temporary file's, so that sequential access needs no seek
        self._size = 0
        self._scratch = bytearray()  # ciphertext only, reused: no fresh 256 KiB buffer per chunk

    # -- io.BufferedIOBase ----------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"whence value {whence} unsupported")
        if target < 0:  # as lseek answers
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is not None and size < -1:
            raise ValueError("read length must be non-negative or -1")
        left = self._size - self._pos
        count = left if size is None or size == -1 else min(size, left)
        if count <= 0:
            return b""
        data = self._raw_read(self._pos, count)
        self._pos += len(data)
        return data

    def read1(self, size: int | None = -1) -> bytes:
        return self.read(-1 if size is None or size < 0 else size)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readinto1(self, buffer: WriteableBuffer) -> int:
        return self.readinto(buffer)

    def write(self, data: ReadableBuffer) -> int:
        self._check_open()
        view = memoryview(data).cast("B")
        if not view:
            return 0  # even past the end: nothing written, nothing extended
        if self._pos > self._size:  # a real file reads zeros in the gap: write encrypted zeros
            self._zeros(self._size, self._pos)
        self._raw_write(self._pos, view)
        self._pos += len(view)
        self._size = max(self._size, self._pos)
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        size = self._pos if size is None else size
        if size < 0:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        if size > self._size:
            self._zeros(self._size, size)
        else:
            self._raw.truncate(size)
        self._size = size
        return size

    def flush(self) -> None:
        self._check_open()
        self._raw.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()  # flushes
        finally:
            self._raw.close()
            self._algorithm = None  # the key goes with the spool

    def detach(self) -> io.RawIOBase:
        raise io.UnsupportedOperation("an encrypted spool has no raw stream to give away")

    # -- encryption -----------------------------------------------------------------------------

    def _cipher(self, offset: int) -> CipherContext:
        """A keystream positioned at byte ``offset`` (its counter block, then the bytes skipped)."""
        if self._algorithm is None:
            raise ValueError("I/O operation on closed file.")
        counter = (self._nonce + offset // _BLOCK) % _COUNTER
        context = Cipher(self._algorithm, modes.CTR(counter.to_bytes(_BLOCK, "big"))).encryptor()
        if skip := offset % _BLOCK:
            context.update(bytes(skip))
        return context

    def _buffer(self) -> memoryview:
        if len(self._scratch) < CHUNK + _BLOCK:  # update_into wants room for a block more
            self._scratch = bytearray(CHUNK + _BLOCK)
        return memoryview(self._scratch)

    def _raw_write(self, offset: int, view: memoryview) -> None:
        context, out = self._cipher(offset), self._buffer()
        self._raw_seek(offset)
        for start in range(0, len(view), CHUNK):
            count = context.update_into(view[start : start + CHUNK], out)
            self._raw_pos += self._raw.write(out[:count])

    def _raw_read(self, offset: int, count: int) -> bytes:
        context, scratch = self._cipher(offset), self._buffer()
        self._raw_seek(offset)
        pieces = []
        while count > 0 and (got := self._raw.readinto(scratch[: min(count, CHUNK)])):
            pieces.append(context.update(scratch[:got]))
            self._raw_pos += got
            count -= got
        return b"".join(pieces)

    def _raw_seek(self, offset: int) -> None:
        if self._raw_pos != offset:
            self._raw.seek(offset)
            self._raw_pos = offset

    def _zeros(self, start: int, stop: int) -> None:
        """Bytes ``start`` to ``stop`` become (encrypted) zeros."""
        zeros = bytes(min(stop - start, CHUNK))
        for offset in range(start, stop, CHUNK):
            self._raw_write(offset, memoryview(zeros)[: min(CHUNK, stop - offset)])

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")


def spool(prefix: str = "dmp-spool-") -> BinaryIO:
    """An :class:`EncryptedSpool`, typed as the binary file the callers expect."""
    return cast(BinaryIO, EncryptedSpool(prefix))
