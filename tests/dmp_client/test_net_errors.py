"""ssl/httpx connection failures mapped by type along the cause chain (app/dmp_client/net_errors.py),
never by words of the message; the real cases (untrusted host, dropped handshake) are in
test_host_structure.py and test_rogue_transport.py."""

from __future__ import annotations

import ssl

import httpcore
import httpx
import pytest

from app.dmp_client.errors import HostUnreachable, TlsError
from app.dmp_client.net_errors import connect_failure


def _as_httpx(cause: BaseException, text: str = "échec") -> httpx.ConnectError:
    """httpx.ConnectError from httpcore.ConnectError from ``cause``, as httpx and httpcore raise them."""
    try:
        try:
            try:
                raise cause
            except BaseException as error:
                raise httpcore.ConnectError(text) from error
        except httpcore.ConnectError as error:
            raise httpx.ConnectError(text) from error
    except httpx.ConnectError as error:
        return error


def _verify_failed() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    return error


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (_verify_failed(), TlsError),
        (ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"), TlsError),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), HostUnreachable),
        (ConnectionResetError(104, "Connection reset by peer"), HostUnreachable),
        (ConnectionRefusedError(111, "Connection refused"), HostUnreachable),
        (OSError(113, "No route to host"), HostUnreachable),
    ],
)
def test_the_cause_chain_decides(cause: BaseException, expected: type) -> None:
    assert type(connect_failure(_as_httpx(cause))) is expected


def test_the_verify_message_is_said() -> None:
    mapped = connect_failure(_as_httpx(_verify_failed()))
    assert mapped.code == "DMP-TLS" and "self-signed certificate" in str(mapped)


def test_words_in_the_message_decide_nothing() -> None:
    # Before: "SSL" or "certificate" anywhere in the text made any failure a TLS refusal (a host
    # name such as ssl.example or a proxy's message could), and "connection reset" a dropped one.
    for text in ("SSL certificate", "certificate verify failed", "connection reset"):
        refused = _as_httpx(ConnectionRefusedError(111, "refused"), text)
        assert type(connect_failure(refused)) is HostUnreachable
