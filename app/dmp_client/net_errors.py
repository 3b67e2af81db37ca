"""The one mapping of the standard ``ssl`` module's and httpx's connection failures to the
transport's errors (used by transport.py): by exception type along the cause chain that httpx and
httpcore keep (``raise … from``), not by words of the message.

tlslite-ng's errors (card mode) are mapped by type in card_tls.py; PKCS#11's in app/card/cps.py
(``mapped_errors``); pyscard's in app/card/pcsc.py; sqlcipher3's in app/store/database.py.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

from app.dmp_client.errors import HostUnreachable, TlsError, TransportError

_CUT = (
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it was raised from (or during), at most 10 deep, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def connect_failure(error: BaseException) -> TransportError:
    """The error for a connection that could not be set up (httpx.ConnectError and its causes).

    A connection dropped mid-handshake (EOF, reset) is the network's fault and worth trying again
    (HostUnreachable); a certificate refused by either side is not (TlsError)."""
    chain = list(causes(error))
    if any(isinstance(c, _CUT) for c in chain):
        return HostUnreachable("Connexion coupée par le DMP pendant l'établissement du TLS.")
    verify = next((c for c in chain if isinstance(c, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        why = verify.verify_message or getattr(verify, "reason", None) or "?"
        return TlsError(f"Certificat du serveur DMP refusé : {why}.")
    refused = next((c for c in chain if isinstance(c, ssl.SSLError)), None)
    if refused is not None:
        why = getattr(refused, "reason", None) or type(refused).__name__
        return TlsError(f"Connexion TLS refusée ({why}).")
    return HostUnreachable()
