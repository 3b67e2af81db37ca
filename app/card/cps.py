"""The CPS card through its PKCS#11 module: identity, situations, PIN login, signature.

Every method runs on the card thread. The PIN is asked once per call to :meth:`CpsToken.login`
and is never retried automatically: a wrong PIN burns a try on a real card.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pkcs11
import pkcs11.exceptions as p11
from cryptography import x509
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag

from app.card import errors
from app.card.identity import (
    Professional,
    Situation,
    is_authentication_certificate,
    is_signature_certificate,
    professional_from,
    situation_from,
)
from app.card.worker import card_thread_only

CPS_MAX_PIN_TRIES = 3  # usual CPS value [unverified]; PKCS#11 only exposes low / final / locked flags
_PIN_FORMAT = re.compile(r"\d{4,8}")
_REMOVED = (
    p11.DeviceRemoved,
    p11.TokenNotPresent,
    p11.DeviceError,
    p11.SessionClosed,
    p11.SessionHandleInvalid,
)


@dataclass(frozen=True)
class PinStatus:
    tries_left: int | None
    locked: bool
    protected_path: bool

    @classmethod
    def from_flags(cls, flags: TokenFlag, max_tries: int = CPS_MAX_PIN_TRIES) -> PinStatus:
        locked = bool(flags & TokenFlag.USER_PIN_LOCKED)
        if locked:
            tries: int | None = 0
        elif flags & TokenFlag.USER_PIN_FINAL_TRY:
            tries = 1
        elif flags & TokenFlag.USER_PIN_COUNT_LOW:
            tries = max_tries - 1
        else:
            tries = max_tries
        return cls(tries, locked, bool(flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH))

    def describe(self) -> str:
        if self.locked:
            return "carte bloquée"
        if self.protected_path:
            return "code porteur saisi sur le lecteur"
        if self.tries_left == 1:
            return "dernier essai avant blocage"
        return f"{self.tries_left} essais restants"


PinPrompt = Callable[[PinStatus], str | None]


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Translate python-pkcs11 exceptions into the client's card errors."""
    try:
        yield
    except _REMOVED as error:
        raise errors.CardRemoved() from error
    except p11.PinLocked as error:
        raise errors.PinLocked() from error
    except p11.PKCS11Error as error:
        raise errors.CardError(
            f"Erreur de la carte ({type(error).__name__}).", code="CARTE-PKCS11"
        ) from error


class CpsToken:
    """One CPS token of a PKCS#11 module. Holds at most one logged-in session."""

    def __init__(self, lib: Any, token: pkcs11.Token, max_tries: int = CPS_MAX_PIN_TRIES) -> None:
        self._lib = lib
        self._token = token
        self._slot = token.slot
        self._max_tries = max_tries
        self._public: pkcs11.Session | None = None
        self._user: pkcs11.Session | None = None

    @classmethod
    @card_thread_only
    def open(cls, module_path: str, token_label: str | None = None) -> CpsToken:
        """Load the module and pick the token: by label, or the first one holding CPS objects."""
        with mapped_errors():
            lib = pkcs11.lib(module_path)
            tokens = [slot.get_token() for slot in lib.get_slots(token_present=True)]
        for token in tokens:
            if token_label is not None and token.label != token_label:
                continue
            candidate = cls(lib, token)
            if candidate._looks_like_cps():
                return candidate
            candidate.close()
        raise errors.NoCard() if not tokens else errors.CardNotRecognized()

    @property
    def label(self) -> str:
        return str(self._token.label)

    def _session(self) -> pkcs11.Session:
        if self._user is not None:
            return self._user
        if self._public is None:
            with mapped_errors():
                self._public = self._token.open()
        return self._public

    def _looks_like_cps(self) -> bool:
        with mapped_errors():
            return any(True for _ in self._session().get_objects({Attribute.LABEL: "CPS_ID_CARD"}))

    @card_thread_only
    def pin_status(self) -> PinStatus:
        """Fresh token flags (they change after every login attempt)."""
        with mapped_errors():
            flags = self._slot.get_token().flags
        return PinStatus.from_flags(flags, self._max_tries)

    @card_thread_only
    def login(self, prompt: PinPrompt) -> None:
        """Ask the PIN once (after showing the tries left) and log in; never retries by itself."""
        if self._user is not None:
            return
        status = self.pin_status()
        if status.locked:
            raise errors.PinLocked()
        pin: object = pkcs11.PROTECTED_AUTH if status.protected_path else prompt(status)
        if pin is None:
            raise errors.PinCancelled()
        if isinstance(pin, str) and not _PIN_FORMAT.fullmatch(pin):
            raise errors.PinFormat()  # refused before C_Login: a malformed PIN burns no try
        try:
            with mapped_errors():
                self._user = self._token.open(user_pin=pin)
        except errors.CardError as error:
            if isinstance(error.__cause__, p11.PinIncorrect):
                after = self.pin_status()
                if after.locked:
                    raise errors.PinLocked() from None
                raise errors.PinIncorrect(after.tries_left) from None
            raise

    @property
    def logged_in(self) -> bool:
        return self._user is not None

    def _certificates(self) -> list[tuple[bytes, x509.Certificate]]:
        with mapped_errors():
            found = self._session().get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
            raw = [(bytes(o[Attribute.ID]), bytes(o[Attribute.VALUE])) for o in found]
        try:
            return [(key_id, x509.load_der_x509_certificate(der)) for key_id, der in raw]
        except ValueError:
            raise errors.CardDataError("Un certificat de la carte est illisible.") from None

    def _certificate(
        self, chooser: Callable[[x509.Certificate], bool], what: str
    ) -> tuple[bytes, x509.Certificate]:
        for key_id, cert in self._certificates():
            if chooser(cert):
                return key_id, cert
        raise errors.CardDataError(f"Certificat {what} absent de la carte.")

    @card_thread_only
    def authentication_certificate(self) -> x509.Certificate:
        return self._certificate(is_authentication_certificate, "d'authentification")[1]

    @card_thread_only
    def signature_certificate(self) -> x509.Certificate:
        return self._certificate(is_signature_certificate, "de signature")[1]

    def _data(self, label: str) -> bytes | None:
        with mapped_errors():
            for obj in self._session().get_objects(
                {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: label}
            ):
                return bytes(obj[Attribute.VALUE])
        return None

    @card_thread_only
    def professional(self) -> Professional:
        """The holder's identity: readable without the PIN."""
        cert = self.authentication_certificate()
        return professional_from(
            cert, self._data("CPS_ID_CARD"), self._data("CPS_NAME_PS"), self._data("CPS_INFO_PS")
        )

    @card_thread_only
    def situations(self) -> tuple[Situation, ...]:
        """The situations d'exercice (PIN-protected objects): log in first."""
        if self._user is None:
            raise errors.CardError("Le code porteur est nécessaire pour lire les situations d'exercice.")
        with mapped_errors():
            objects = [
                (str(o[Attribute.LABEL]), bytes(o[Attribute.VALUE]))
                for o in self._user.get_objects({Attribute.CLASS: ObjectClass.DATA})
            ]
        found = [
            situation_from(label, value) for label, value in objects if label.startswith("CPS_ACTIVITY_")
        ]
        return tuple(sorted(found, key=lambda s: s.number))

    @card_thread_only
    def sign(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 with SHA-256 by the signature key; the key never leaves the card."""
        if self._user is None:
            raise errors.CardError("Le code porteur est nécessaire pour signer.")
        key_id, _ = self._certificate(is_signature_certificate, "de signature")
        with mapped_errors():
            key: Any = self._user.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            return bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))

    @card_thread_only
    def close(self) -> None:
        """Log out and close the sessions; errors of a card already gone are ignored here."""
        for session in (self._user, self._public):
            if session is not None:
                with suppress(p11.PKCS11Error):
                    session.close()
        self._user = self._public = None
