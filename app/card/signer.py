"""The card as a signer: VIHF and XAdES signatures with the CPS signature key (direct mode)."""

from __future__ import annotations

from cryptography import x509

from app.card.session import CardSession


class CardSigner:
    """Satisfies the protocol core's ``Signer``: SHA-256 RSA PKCS#1 v1.5 on the card."""

    def __init__(self, session: CardSession) -> None:
        self._session = session
        self._certificate = session.call(session.token.signature_certificate)
        self._auth_certificate = session.call(session.token.authentication_certificate)

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def authentication_certificate(self) -> x509.Certificate:
        return self._auth_certificate

    def sign(self, data: bytes) -> bytes:
        return self._session.sign(data)
