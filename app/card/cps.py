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
from app.card.tlv import parse_tlv
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
        raise errors.Pkcs11Failure(f"Erreur de la carte ({type(error).__name__}).") from error


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
    def open(
        cls,
        module_path: str,
        token_label: str | None = None,
        *,
        reader: str | None = None,
        card_serial: str | None = None,
    ) -> CpsToken:
        """Load the module and pick the CPS token: by label; else the one whose slot is ``reader``
        (middlewares such as the Cryptolib name slots after readers); else the one whose
        ``CPS_ID_CARD`` carries ``card_serial``; else the only CPS token present."""
        with mapped_errors():
            lib = pkcs11.lib(module_path)
            slots = list(lib.get_slots(token_present=True))
        if not slots:
            raise errors.NoCard()
        found = []
        for slot in slots:
            with mapped_errors():
                token = slot.get_token()
            if token_label is not None and token.label != token_label:
                continue
            if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                continue  # e.g. SoftHSM's spare slot
            candidate = cls(lib, token)
            try:
                is_cps = candidate._looks_like_cps()
            except errors.CardError:
                is_cps = False  # another kind of token (or one we cannot open): not ours
            if is_cps:
                found.append((slot, candidate))
            else:
                candidate.close()
        chosen = cls._choose(found, reader, card_serial)
        for _, other in found:
            if other is not chosen:
                other.close()
        return chosen

    @staticmethod
    def _choose(found: list[tuple[Any, CpsToken]], reader: str | None, card_serial: str | None) -> CpsToken:
        if not found:
            raise errors.CardNotRecognized()
        by_reader = [c for slot, c in found if reader and reader in str(slot.slot_description)]
        if by_reader:
            return by_reader[0]
        if card_serial is not None:
            by_serial = [c for _, c in found if c.card_serial() == card_serial]
            if by_serial:
                return by_serial[0]
            raise errors.CardNotRecognized("Aucun jeton PKCS#11 ne correspond à la carte insérée.")
        if len(found) == 1:
            return found[0][1]
        raise errors.CardAmbiguous()

    def card_serial(self) -> str | None:
        """The card number from ``CPS_ID_CARD`` (tag 0x81 in the sandbox layout)."""
        value = self._data("CPS_ID_CARD")
        if value is None:
            return None
        serial = parse_tlv(value).get(0x81)
        return serial.decode("ascii", "replace") if serial else None

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
            if isinstance(error.__cause__, p11.UserAlreadyLoggedIn):
                raise errors.SessionAlreadyOpen() from None
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
        return self._sign_on_card(is_signature_certificate, "de signature", data, Mechanism.SHA256_RSA_PKCS)

    @card_thread_only
    def authenticate(self, digest_info: bytes) -> bytes:
        """Raw PKCS#1 v1.5 (``CKM_RSA_PKCS``, the card pads) over a DigestInfo with the
        authentication key: what a TLS 1.2 CertificateVerify needs (the CPS3 path)."""
        return self._sign_on_card(
            is_authentication_certificate, "d'authentification", digest_info, Mechanism.RSA_PKCS
        )

    def _sign_on_card(
        self, chooser: Callable[[x509.Certificate], bool], what: str, data: bytes, mechanism: Mechanism
    ) -> bytes:
        """Sign with the private key paired (by CKA_ID) with the certificate ``chooser`` picks."""
        if self._user is None:
            raise errors.CardError("Le code porteur est nécessaire pour utiliser la carte.")
        key_id, _ = self._certificate(chooser, what)
        with mapped_errors():
            key: Any = self._user.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            return bytes(key.sign(data, mechanism=mechanism))

    @card_thread_only
    def close(self) -> None:
        """Log out and close the sessions; errors of a card already gone are ignored here."""
        for session in (self._user, self._public):
            if session is not None:
                with suppress(p11.PKCS11Error):
                    session.close()
        self._user = self._public = None
