"""PIN rules with a fake token: tries shown first, one attempt per call, blocked card, PIN pads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pkcs11
import pkcs11.exceptions as p11
import pytest
from pkcs11 import TokenFlag

from app.card import errors
from app.card.cps import CpsToken, PinStatus
from app.card.worker import CardThread, card_thread_only


class FakeToken:
    """Counts login attempts and moves the PIN flags as a 3-try card does."""

    def __init__(self, pin: str = "1234", tries: int = 3, flags: TokenFlag | None = None) -> None:
        self.pin, self.tries, self.base = pin, tries, flags or TokenFlag(0)
        self.attempts: list[object] = []
        self.label = "FAKE"
        self.slot = self

    @property
    def flags(self) -> TokenFlag:
        flags = self.base
        if self.tries == 0:
            flags |= TokenFlag.USER_PIN_LOCKED
        elif self.tries == 1:
            flags |= TokenFlag.USER_PIN_FINAL_TRY
        elif self.tries == 2:
            flags |= TokenFlag.USER_PIN_COUNT_LOW
        return flags

    def get_token(self) -> FakeToken:
        return self

    def open(self, user_pin: object = None, rw: bool = False) -> object:
        if user_pin is None:
            return object()
        self.attempts.append(user_pin)
        if self.tries == 0:
            raise p11.PinLocked()
        if user_pin is pkcs11.PROTECTED_AUTH or user_pin == self.pin:
            self.tries = 3
            return object()
        self.tries -= 1
        if self.tries == 0:
            raise p11.PinLocked()
        raise p11.PinIncorrect()


def on_card_thread(func: Callable[[], Any]) -> Any:
    worker = CardThread()
    try:
        return worker.run(func)
    finally:
        worker.shutdown()


def make(fake: FakeToken) -> CpsToken:
    return CpsToken(lib=None, token=fake)  # type: ignore[arg-type]


def test_status_from_flags() -> None:
    assert PinStatus.from_flags(TokenFlag(0)) == PinStatus(3, False, False)
    assert PinStatus.from_flags(TokenFlag.USER_PIN_COUNT_LOW).tries_left == 2
    assert PinStatus.from_flags(TokenFlag.USER_PIN_FINAL_TRY).describe() == "dernier essai avant blocage"
    assert PinStatus.from_flags(TokenFlag.USER_PIN_LOCKED).locked
    assert PinStatus.from_flags(TokenFlag.PROTECTED_AUTHENTICATION_PATH).protected_path


def test_wrong_pins_count_down_then_block_one_attempt_per_login() -> None:
    fake = FakeToken()
    token = make(fake)
    shown: list[int | None] = []

    def prompt(status: PinStatus) -> str:
        shown.append(status.tries_left)
        return "9999"

    with pytest.raises(errors.PinIncorrect) as first:
        on_card_thread(lambda: token.login(prompt))
    assert first.value.tries_left == 2 and "Il reste 2 essais" in first.value.user_message
    with pytest.raises(errors.PinIncorrect) as second:
        on_card_thread(lambda: token.login(prompt))
    assert second.value.tries_left == 1 and "qu'un essai" in second.value.user_message
    with pytest.raises(errors.PinLocked):
        on_card_thread(lambda: token.login(prompt))
    assert shown == [3, 2, 1]
    assert len(fake.attempts) == 3  # exactly one C_Login per call: never retried by itself
    with pytest.raises(errors.PinLocked):
        on_card_thread(lambda: token.login(prompt))
    assert len(fake.attempts) == 3  # a blocked card is not even tried


def test_right_pin_logs_in_and_resets() -> None:
    fake = FakeToken(tries=2)
    token = make(fake)
    on_card_thread(lambda: token.login(lambda status: "1234"))
    assert token.logged_in and fake.tries == 3


@pytest.mark.parametrize("pin", ["12", "123456789", "12a4", " 1234", ""])
def test_malformed_pin_is_refused_without_burning_a_try(pin: str) -> None:
    fake = FakeToken()
    with pytest.raises(errors.PinFormat):
        on_card_thread(lambda: make(fake).login(lambda status: pin))
    assert fake.attempts == []


def test_cancelled_prompt() -> None:
    fake = FakeToken()
    with pytest.raises(errors.PinCancelled):
        on_card_thread(lambda: make(fake).login(lambda status: None))
    assert fake.attempts == []


def test_pin_pad_reader_asks_nothing() -> None:
    fake = FakeToken(flags=TokenFlag.PROTECTED_AUTHENTICATION_PATH)
    asked: list[PinStatus] = []
    on_card_thread(lambda: make(fake).login(asked.append))  # type: ignore[arg-type]
    assert asked == [] and fake.attempts == [pkcs11.PROTECTED_AUTH]


def test_card_access_outside_the_card_thread_is_a_bug() -> None:
    @card_thread_only
    def touch() -> str:
        return threading.current_thread().name

    with pytest.raises(RuntimeError):
        touch()
    assert on_card_thread(touch).startswith("carte")
