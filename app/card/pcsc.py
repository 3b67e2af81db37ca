"""PC/SC through pyscard: the readers, what card each holds, and insertion/removal events.

The monitor polls the readers' state every ``interval`` seconds on its own thread (pyscard's
``CardMonitor`` does the same with a fixed period) and reports changes through a callback, which
runs on the monitor thread: a Qt bridge re-emits it as a signal. A reader that disappears (unplugged)
reports its card as removed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from smartcard import scard

from app.card.atr import CardKind, classify_atr
from app.card.errors import CardError, CardWatchLost, NoReader

log = logging.getLogger(__name__)

_NO_SERVICE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}


@dataclass(frozen=True)
class ReaderState:
    name: str
    atr: bytes | None

    @property
    def kind(self) -> CardKind | None:
        return None if self.atr is None else classify_atr(self.atr)[0]

    @property
    def label(self) -> str:
        return "aucune carte" if self.atr is None else classify_atr(self.atr)[1]


class CardEvent(StrEnum):
    INSERTED = "insérée"
    REMOVED = "retirée"


class PcscContext:
    """A PC/SC context: list the readers and read their state without connecting to the cards."""

    def __init__(self) -> None:
        result, self._handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if result != scard.SCARD_S_SUCCESS:
            raise NoReader("Le service PC/SC (pcscd) ne répond pas.")

    def close(self) -> None:
        scard.SCardReleaseContext(self._handle)

    def reader_names(self) -> list[str]:
        result, names = scard.SCardListReaders(self._handle, [])
        if result in _NO_SERVICE:
            return []
        if result != scard.SCARD_S_SUCCESS:
            raise NoReader(
                f"Lecture de la liste des lecteurs impossible ({scard.SCardGetErrorMessage(result)})."
            )
        return list(names)

    def states(self) -> list[ReaderState]:
        names = self.reader_names()
        if not names:
            return []
        result, found = scard.SCardGetStatusChange(
            self._handle, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        )
        if result not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
            return [ReaderState(name, None) for name in names]
        return [
            ReaderState(name, bytes(atr) if event & scard.SCARD_STATE_PRESENT and atr else None)
            for name, event, atr in found
        ]


def list_readers() -> list[ReaderState]:
    """Every reader and its card; raises NoReader when PC/SC has none."""
    context = PcscContext()
    try:
        states = context.states()
    finally:
        context.close()
    if not states:
        raise NoReader()
    return states


def transmit(reader: str, apdus: list[bytes]) -> list[tuple[bytes, int]]:
    """Send APDUs to the card in ``reader`` in one exclusive connection; (data, status word) each."""
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.System import readers

    from app.card.errors import CardRemoved, NoCard

    match = [r for r in readers() if str(r) == reader]
    if not match:
        raise NoReader(f"Le lecteur « {reader} » n'est plus connecté.")
    connection = match[0].createConnection()
    try:
        connection.connect()
    except NoCardException:
        raise NoCard("Aucune carte dans le lecteur.") from None
    except CardConnectionException as error:
        raise NoCard(f"Carte inaccessible ({error}).") from None
    try:
        out = []
        for apdu in apdus:
            data, sw1, sw2 = connection.transmit(list(apdu))
            out.append((bytes(data), (sw1 << 8) | sw2))
        return out
    except CardConnectionException:
        raise CardRemoved() from None
    finally:
        with contextlib.suppress(CardConnectionException):
            connection.disconnect()


Listener = Callable[[str, CardEvent, bytes | None], None]


class ReaderMonitor:
    """Polls the readers and calls ``listener(reader, event, atr)`` on every insertion or removal.

    An unexpected error while watching ends the thread, but never silently: it is logged, kept in
    :attr:`error` (a :class:`CardWatchLost`) and passed to ``on_error`` (the card session ends on it:
    a removal could no longer be seen)."""

    def __init__(
        self,
        listener: Listener,
        interval: float = 0.2,
        on_error: Callable[[CardError], None] | None = None,
    ) -> None:
        self._listener = listener
        self._interval = interval
        self._on_error = on_error
        self._stop = threading.Event()
        self._known: dict[str, bytes | None] = {}
        self._thread = threading.Thread(target=self._run, name="pcsc-monitor", daemon=True)
        self.ready = threading.Event()
        self.error: CardError | None = None  # why the readers cannot be watched (no pcscd)

    def start(self) -> None:
        self._thread.start()
        self.ready.wait(timeout=5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def snapshot(self) -> dict[str, bytes | None]:
        return dict(self._known)

    def _run(self) -> None:
        try:
            context = PcscContext()
        except CardError as error:  # no PC/SC service: said once, the thread ends quietly
            self.error = error
            self.ready.set()
            return
        try:
            self._known = {s.name: s.atr for s in context.states()}
            self.ready.set()
            while not self._stop.wait(self._interval):
                self._poll(context)
        except Exception as error:  # the thread's end is reported, never silent
            self._failed(error)
        finally:
            with contextlib.suppress(Exception):
                context.close()

    def _failed(self, error: Exception) -> None:
        log.error("reader monitor stopped: %s", type(error).__name__, exc_info=error)
        lost = CardWatchLost()
        lost.__cause__ = error
        self.error = lost
        self.ready.set()
        if self._on_error is not None:
            try:
                self._on_error(lost)
            except Exception:
                log.exception("reader monitor: the error handler failed")

    def _poll(self, context: PcscContext) -> None:
        current = {s.name: s.atr for s in context.states()}
        for name in self._known.keys() | current.keys():
            before, after = self._known.get(name), current.get(name)
            if before is not None and after != before:
                self._listener(name, CardEvent.REMOVED, before)
            if after is not None and after != before:
                self._listener(name, CardEvent.INSERTED, after)
        self._known = current
