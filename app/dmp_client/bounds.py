"""One deadline and one size cap per exchange, whatever the host's pace.

Socket time-outs apply to one read: a host sending a byte every few seconds never trips them. Each
exchange therefore carries an :class:`ExchangeBudget` (a deadline covering connection, request,
headers and body, and a cap on the bytes read from the socket), and every socket operation of both
transports is given ``min(its own time-out, what is left of the deadline)`` and has its bytes
counted. The budget is held in a context variable set by the transport for the exchange: the
socket wrappers below read it on every call, so a keep-alive connection reused by the next
exchange gets that exchange's budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import ssl
import time
import typing
from collections.abc import Iterable, Iterator

import httpcore

from app.dmp_client.errors import ResponseTooLarge

# the [UNSURE] default cap, configurable by DMP_TAILLE_MAX_REPONSE_MO (defined apart from httpcore)
from app.dmp_client.limits import DEFAULT_MAX_RESPONSE_BYTES as DEFAULT_MAX_RESPONSE_BYTES


class ExchangeBudget:
    """What one exchange may still spend: seconds until its deadline, bytes read from the socket."""

    def __init__(self, seconds: float, max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.max_bytes = max_bytes
        self.received = 0

    def left(self, own_timeout: float | None = None) -> float:
        """The time-out for the next socket operation (``<= 0`` once the deadline has passed)."""
        remaining = self.deadline - time.monotonic()
        return remaining if own_timeout is None else min(own_timeout, remaining)

    def count(self, size: int) -> None:
        self.received += size
        if self.received > self.max_bytes:
            raise ResponseTooLarge(self.max_bytes)


_CURRENT: contextvars.ContextVar[ExchangeBudget | None] = contextvars.ContextVar(
    "dmp_exchange_budget", default=None
)


@contextlib.contextmanager
def exchange(budget: ExchangeBudget) -> Iterator[ExchangeBudget]:
    """Every socket operation of this thread, until the block ends, is bounded by ``budget``."""
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def current() -> ExchangeBudget | None:
    return _CURRENT.get()


def counted(chunks: Iterable[bytes], budget: ExchangeBudget) -> Iterator[bytes]:
    """The decoded body counted against the cap too (a compressed answer inflates past the socket
    count)."""
    decoded = 0
    for chunk in chunks:
        decoded += len(chunk)
        if decoded > budget.max_bytes:
            raise ResponseTooLarge(budget.max_bytes)
        yield chunk


def _within(timeout: float | None, expired: type[Exception]) -> float | None:
    """What an operation may wait: its own time-out, shortened to what is left of the current
    exchange (``expired`` raised when nothing is left); unchanged outside an exchange."""
    budget = current()
    if budget is None:
        return timeout
    left = budget.left(timeout)
    if left <= 0:
        raise expired("exchange deadline reached")
    return left


def _count(received: int) -> None:
    """Bytes read from the socket counted against the current exchange's cap, if any."""
    budget = current()
    if budget is not None:
        budget.count(received)


# --- the structure transport: httpx over httpcore, whose network backend is wrapped -----------------


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, _within(timeout, httpcore.ReadTimeout))
        _count(len(data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend with every operation bounded by the current exchange."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - the DMP is reached over TCP
        return _BoundedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# --- the card transport: tlslite over a raw socket, wrapped --------------------------------------


class BoundedSocket:
    """A TCP socket whose every ``recv``/``send`` is bounded by the current exchange (tlslite reads
    and writes the raw socket through these; everything else is passed through)."""

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self._sock = sock
        self._timeout = timeout

    def _arm(self) -> None:
        self._sock.settimeout(_within(self._timeout, TimeoutError))

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._arm()
        data = self._sock.recv(size, flags)
        _count(len(data))
        return data

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        self._arm()
        return self._sock.send(data, flags)

    def sendall(self, data: bytes | bytearray | memoryview, flags: int = 0) -> None:
        view = memoryview(data)
        while view:
            view = view[self.send(view, flags) :]

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self._sock, name)
