"""A card session: the CPS token, its reader, and the end of the session when the card is pulled out.

PKCS#11 tokens from SoftHSM (the sandbox) or from middlewares that hide empty slots do not say in
which PC/SC reader they sit, so the session watches the reader that held a CPS-class card when it
started (or the configured one). When that card leaves, the session ends at once: waiting callers
get :class:`CardRemoved` within the monitor's period plus pcscd's own polling (well under a second),
and the token's sessions are closed on the card thread.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from app.card.atr import CardKind, classify_atr
from app.card.cps import CpsToken, PinPrompt
from app.card.errors import CardError, CardRemoved, CardWatchLost, NoCard
from app.card.identity import Professional, Situation
from app.card.pcsc import CardEvent, ReaderMonitor, transmit
from app.card.tlv import parse_tlv
from app.card.worker import CardThread

T = TypeVar("T")
CPS_KINDS = (CardKind.CPS3, CardKind.CPS4)
_WAIT_STEP = 0.05


class CardSession:
    """Everything a signed-in professional does with the card goes through :meth:`call`."""

    def __init__(
        self,
        module_path: str,
        *,
        token_label: str | None = None,
        reader: str | None = None,
        watch_removal: bool = True,
        on_removed: Callable[[], None] | None = None,
        sandbox: bool = False,
    ) -> None:
        """``sandbox`` (training mode, ``Settings.is_sandbox``): the inserted card's serial is read with
        the sandbox's APDUs (:func:`sandbox_card_serial`) to pick its SoftHSM token; never otherwise."""
        self._thread = CardThread()
        self._removed = threading.Event()
        self._ended_by: CardRemoved = CardRemoved()
        self._on_removed = on_removed
        self._reader = reader
        self._monitor: ReaderMonitor | None = None
        try:
            if watch_removal:
                self._monitor = ReaderMonitor(self._card_event, on_error=self._watch_lost)
                self._monitor.start()
                self._reader = reader or self._find_cps_reader()
            probe = sandbox and self._reader is not None  # never a sandbox APDU to a real card
            serial = self._thread.run(sandbox_card_serial, self._reader) if probe else None
            self.token: CpsToken = self._thread.run(
                functools.partial(CpsToken.open, reader=self._reader, card_serial=serial),
                module_path,
                token_label,
            )
        except BaseException:  # a failed connection leaves no monitor or card thread behind
            if self._monitor is not None:
                self._monitor.stop()
            self._thread.shutdown()
            raise

    @property
    def reader(self) -> str | None:
        return self._reader

    @property
    def ended(self) -> bool:
        return self._removed.is_set()

    def _find_cps_reader(self) -> str:
        assert self._monitor is not None
        holding = [
            name
            for name, atr in self._monitor.snapshot().items()
            if atr and classify_atr(atr)[0] in CPS_KINDS
        ]
        if not holding:
            self._monitor.stop()
            raise NoCard()
        return holding[0]

    def _card_event(self, reader: str, event: CardEvent, atr: bytes | None) -> None:
        if reader == self._reader and event is CardEvent.REMOVED:
            self._end(CardRemoved())

    def _watch_lost(self, error: CardError) -> None:
        """The monitor stopped on an unexpected error: a removal would go unseen, so the session ends."""
        self._end(error if isinstance(error, CardRemoved) else CardWatchLost())

    def _end(self, why: CardRemoved) -> None:
        if self._removed.is_set():
            return
        self._ended_by = why
        self._removed.set()
        if hasattr(self, "token"):
            self._thread.submit(self.token.close)
        if self._on_removed:
            self._on_removed()

    def call(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func`` on the card thread; raise CardRemoved as soon as the card leaves (CardWatchLost
        when the session ended because the reader could no longer be watched)."""
        if self._removed.is_set():
            raise self._ended()
        future: Future[T] = self._thread.submit(func, *args)
        while True:
            try:
                return future.result(timeout=_WAIT_STEP)
            except TimeoutError:
                if self._removed.is_set():
                    raise self._ended() from None

    def _ended(self) -> CardRemoved:
        """A fresh error of the kind that ended the session (a removal, or the watch lost)."""
        return type(self._ended_by)()

    def professional(self) -> Professional:
        return self.call(self.token.professional)

    def login(self, prompt: PinPrompt) -> None:
        self.call(self.token.login, prompt)

    def situations(self) -> tuple[Situation, ...]:
        return self.call(self.token.situations)

    def sign(self, data: bytes) -> bytes:
        return self.call(self.token.sign, data)

    def authenticate(self, digest_info: bytes) -> bytes:
        return self.call(self.token.authenticate, digest_info)

    def close(self, wait: bool = False) -> None:
        """End the session; ``wait`` also waits for work still running on the card thread."""
        if not self._removed.is_set():
            with contextlib.suppress(CardRemoved):
                self._thread.run(self.token.close)
        if self._monitor:
            self._monitor.stop()
        self._thread.shutdown(wait)


SANDBOX_CPS_AID = b"\xf0SBXCPS"


def sandbox_card_serial(reader: str) -> str | None:
    """The serial of a sandbox virtual CPS (sandbox APDU layout); None for any other card.

    Training mode only (``CardSession(sandbox=True)``): the sandbox's PKCS#11 tokens (SoftHSM) do not
    name the PC/SC reader their card sits in, so the card in the watched reader is asked its serial to
    pick the matching token. It stays here rather than behind app.services.training because it is
    the card session's own PC/SC path, below the services layer the seam lives in (docs/architecture.md);
    outside sandbox mode it never runs, so no real card ever receives the sandbox's SELECT."""
    select = bytes([0x00, 0xA4, 0x04, 0x00, len(SANDBOX_CPS_AID)]) + SANDBOX_CPS_AID
    answers = transmit(reader, [select, bytes([0x00, 0xB0, 0x00, 0x00, 0x00])])
    if answers[0][1] != 0x9000 or answers[1][1] != 0x9000:
        return None
    serial = parse_tlv(answers[1][0]).get(0x90)
    return serial.decode("ascii", "replace") if serial else None


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until true or ``timeout`` seconds (used by the tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(_WAIT_STEP)
    return condition()
