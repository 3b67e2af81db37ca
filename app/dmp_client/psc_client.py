"""The Pro Santé Connect client (e-CPS, OpenID Connect CIBA in poll mode) over httpx.

The protocol's pure parts (requests, answers, validation) are in app/dmp_client/core/psc.py; this
module does the exchanges: discovery (``<DMP_PSC_URL>/.well-known/openid-configuration``), the JWKS,
the backchannel authentication request, the token endpoint polled at the provider's ``interval``
(+5 s on ``slow_down``) until ``expires_in`` (cancellable), the userinfo, the refresh before expiry
and the logout. The software authenticates itself (EX_AIR: "applications calling the token server
authenticate") either by mutual TLS with the structure's certificate (RFC 8705 ``tls_client_auth``:
``client_id`` in the form, the provider's mTLS endpoint aliases when announced) or by a client
secret kept in the system keyring (``client_secret_basic``, as ansforge/psc-edc-proxy-esante does).

Every failure is a project error: PSC-INJOIGNABLE (network, TLS, time-out, 5xx), the provider's
refusals (PSC-REFUS, PSC-EXPIRE, PSC-PRO-INCONNU, PSC-CLIENT-REFUSE…), PSC-JETON-INVALIDE, PSC-ANNULE.
No token, RPPS id or name is logged.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from joserfc.jwk import KeySet

from app.dmp_client.core import psc
from app.dmp_client.core.errors import PscError, PscExpired, PscInvalidToken
from app.dmp_client.core.psc_params import CLIENT_AUTH_MODES, Channel
from app.dmp_client.errors import (
    PscCancelled,
    PscNotConfigured,
    PscSecretMissing,
    PscSessionExpired,
    PscUnreachable,
)
from app.dmp_client.options import PscSettings

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"  # OpenID Connect Discovery 1.0 §4
TICK = 1.0  # the waiting caller is told the time left about every second


@dataclass(frozen=True)
class PendingLogin:
    """A backchannel request acknowledged: show ``binding_message`` and ``channel`` to the user."""

    request: psc.AuthRequest
    binding_message: str
    channel: Channel
    deadline: float  # epoch seconds (expires_in after the acknowledgement)


@dataclass
class _Cache:
    metadata: psc.ProviderMetadata | None = None
    keys: KeySet | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class PscClient:
    """One provider, one software client. ``tls``: the structure's client-certificate context for
    mTLS client authentication (``client_auth`` = mtls); ``secret``: the client secret (= secret).
    ``transport`` replaces the network (tests); ``clock`` gives epoch seconds."""

    def __init__(
        self,
        settings: PscSettings,
        *,
        tls: ssl.SSLContext | None = None,
        secret: str | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer, self.client_id = settings.check()
        self.settings = settings
        self.clock = clock
        self.mtls = settings.client_auth == "mtls"
        if settings.client_auth not in CLIENT_AUTH_MODES:
            raise PscNotConfigured("DMP_PSC_AUTH_CLIENT doit valoir « mtls » ou « secret ».")
        if not self.mtls and not secret:
            raise PscSecretMissing()
        auth = None
        if not self.mtls and secret:
            # RFC 6749 §2.3.1: both form-urlencoded before the Basic scheme
            auth = httpx.BasicAuth(quote(self.client_id, safe=""), quote(secret, safe=""))
        verify: ssl.SSLContext | bool = tls if tls is not None else _server_context(settings.trust_files)
        self._http = httpx.Client(
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._auth = auth  # on the provider's client-authenticated endpoints only (not userinfo)
        self._cache = _Cache()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PscClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, str, bytes]:
        try:
            with self._http.stream(method, url, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > psc.MAX_ANSWER_BYTES:
                        break  # load_json refuses it
                status, content_type = response.status_code, response.headers.get("content-type", "")
        except httpx.TimeoutException:
            raise PscUnreachable("Pro Santé Connect n'a pas répondu dans le délai prévu.") from None
        except (httpx.TransportError, ssl.SSLError, OSError) as error:
            log.warning("PSC exchange failed (%s)", type(error).__name__)
            raise PscUnreachable() from None
        if status >= 500:
            raise PscUnreachable(f"Pro Santé Connect est indisponible (HTTP {status}).")
        return status, content_type, bytes(body)

    def _get(self, url: str, **kwargs: Any) -> bytes:
        status, _, body = self._request("GET", url, **kwargs)
        if status != 200:
            raise PscUnreachable(f"Pro Santé Connect a répondu HTTP {status}.")
        return body

    def _post(self, endpoint: str, form: dict[str, str]) -> tuple[int, bytes]:
        url = self.metadata().endpoint(endpoint, mtls=self.mtls)
        if self.mtls:
            form = {**form, "client_id": self.client_id}  # RFC 8705 §2
        headers = {"Accept": "application/json"}
        kwargs: dict[str, Any] = {"auth": self._auth} if self._auth is not None else {}
        status, _, body = self._request("POST", url, data=form, headers=headers, **kwargs)
        return status, body

    # -- discovery and keys ------------------------------------------------------------------------

    def metadata(self) -> psc.ProviderMetadata:
        with self._cache.lock:
            if self._cache.metadata is None:
                body = self._get(self.issuer + DISCOVERY_PATH)
                self._cache.metadata = psc.parse_metadata(body, self.issuer)
            return self._cache.metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        metadata = self.metadata()
        with self._cache.lock:
            if self._cache.keys is None or refresh:
                self._cache.keys = psc.parse_jwks(self._get(metadata.jwks_uri))
            return self._cache.keys

    def _expected(self) -> psc.Expected:
        return psc.Expected(self.metadata().issuer, self.client_id, self.settings.leeway)

    def _validated(self, check: Callable[[KeySet], dict[str, Any]]) -> dict[str, Any]:
        """``check`` against the JWKS; once more against a fresh JWKS (the provider rotated its keys)."""
        try:
            return check(self.keys())
        except PscInvalidToken:
            return check(self.keys(refresh=True))

    # -- CIBA login ----------------------------------------------------------------------------------

    def start(
        self, rpps: str, *, channel: Channel | None = None, binding_message: str | None = None
    ) -> PendingLogin:
        """Send the backchannel authentication request: the professional's phone (or card) asks to
        approve a login showing ``binding_message`` (two random digits unless given)."""
        binding = binding_message if binding_message is not None else f"{secrets.randbelow(100):02d}"
        chosen = channel or self.settings.channel
        request = psc.BackchannelRequest(
            psc.check_rpps(rpps), binding, chosen, self.settings.acr_values, self.settings.scope
        )
        status, body = self._post("backchannel_authentication_endpoint", request.form())
        ack = psc.parse_backchannel_response(status, body)
        return PendingLogin(ack, binding, chosen, self.clock() + ack.expires_in)

    def wait(
        self,
        pending: PendingLogin,
        *,
        cancel: threading.Event | None = None,
        on_wait: Callable[[float], None] | None = None,
    ) -> psc.PscSession:
        """Poll the token endpoint at the provider's interval (+5 s on ``slow_down``) until the
        professional approves (the session), refuses (PSC-REFUS), or time runs out (PSC-EXPIRE);
        ``cancel`` set: PSC-ANNULE. ``on_wait`` is told the seconds left about every second."""
        cancel = cancel or threading.Event()
        interval = pending.request.interval
        form = psc.token_poll_form(pending.request.auth_req_id)
        while True:
            next_poll = self.clock() + interval
            while (now := self.clock()) < next_poll:
                left = pending.deadline - now
                if left <= 0:
                    raise PscExpired()
                if on_wait is not None:
                    on_wait(left)
                if cancel.wait(min(TICK, next_poll - now, left)):
                    raise PscCancelled()
            if cancel.is_set():
                raise PscCancelled()
            if self.clock() >= pending.deadline:
                raise PscExpired()
            status, body = self._post("token_endpoint", form)
            outcome = psc.parse_token_response(status, body, self.clock())
            if outcome is psc.PollState.PENDING:
                continue
            if outcome is psc.PollState.SLOW_DOWN:
                interval += psc.SLOW_DOWN_STEP
                continue
            assert isinstance(outcome, psc.Tokens)
            return self._establish(outcome, pending.request.auth_req_id)

    def login(
        self,
        rpps: str,
        *,
        on_pending: Callable[[PendingLogin], None] | None = None,
        cancel: threading.Event | None = None,
        on_wait: Callable[[float], None] | None = None,
        channel: Channel | None = None,
    ) -> psc.PscSession:
        """:meth:`start`, tell ``on_pending`` (show the code), then :meth:`wait`."""
        pending = self.start(rpps, channel=channel)
        if on_pending is not None:
            on_pending(pending)
        return self.wait(pending, cancel=cancel, on_wait=on_wait)

    def _establish(self, tokens: psc.Tokens, auth_req_id: str) -> psc.PscSession:
        now = self.clock()
        claims = self._validated(
            lambda keys: psc.validate_id_token(
                tokens.id_token,
                keys,
                self._expected(),
                now,
                auth_req_id=auth_req_id,
                require_auth_req_id=self.settings.require_auth_req_id,
            )
        )
        identity = self.userinfo(tokens, str(claims["sub"]))
        return psc.PscSession(tokens, identity)

    # -- userinfo, refresh, logout -------------------------------------------------------------------

    def userinfo(self, tokens: psc.Tokens, subject: str) -> psc.PscIdentity:
        url = self.metadata().endpoint("userinfo_endpoint", mtls=self.mtls)
        headers = {
            "Authorization": f"Bearer {tokens.access_token}",
            "Accept": "application/json, application/jwt",
        }
        status, content_type, body = self._request("GET", url, headers=headers)
        if status == 401:
            raise PscSessionExpired()
        if status != 200:
            raise PscUnreachable(
                f"Pro Santé Connect a répondu HTTP {status} (informations du professionnel)."
            )
        if content_type.split(";")[0].strip().lower() == "application/jwt":  # OIDC Core §5.3.2 signed
            text = body.decode("ascii", "replace").strip()
            now = self.clock()
            data = self._validated(
                lambda keys: psc.decode_jwt(
                    text, keys, self._expected(), now, what="informations", require_exp=False
                )
            )
        else:
            data = psc.load_json(body, "informations du professionnel")
        return psc.parse_userinfo(data, id_token_subject=subject)

    def refresh(self, session: psc.PscSession) -> psc.PscSession:
        """New tokens with the refresh token (the same professional, checked); PSC-SESSION-EXPIREE
        when there is none, it expired, or the provider refuses it (re-authenticate with e-CPS)."""
        now = self.clock()
        if not session.can_refresh(now) or session.tokens.refresh_token is None:
            raise PscSessionExpired()
        status, body = self._post("token_endpoint", psc.refresh_form(session.tokens.refresh_token))
        try:
            outcome = psc.parse_token_response(status, body, self.clock(), previous=session.tokens)
        except PscError:
            raise PscSessionExpired() from None
        if not isinstance(outcome, psc.Tokens):
            raise PscSessionExpired()
        self._validated(
            lambda keys: psc.validate_id_token(
                outcome.id_token, keys, self._expected(), now, subject=session.identity.subject
            )
        )
        return psc.PscSession(outcome, session.identity)

    def fresh(self, session: psc.PscSession) -> psc.PscSession:
        """``session`` when more than ``refresh_margin`` is left, else refreshed (or PSC-SESSION-EXPIREE)."""
        if session.expires_in(self.clock()) > self.settings.refresh_margin:
            return session
        return self.refresh(session)

    def check(self, session: psc.PscSession) -> psc.PscSession:
        """A stored session's ID token validated again (signature, issuer, audience, expiry), else
        refreshed: what ``dmp ecps statut`` and the next command use."""
        now = self.clock()
        try:
            self._validated(
                lambda keys: psc.validate_id_token(
                    session.tokens.id_token, keys, self._expected(), now, subject=session.identity.subject
                )
            )
        except PscInvalidToken:
            return self.refresh(session)
        return self.fresh(session)

    def logout(self, session: psc.PscSession) -> bool:
        """End the provider's session (end_session_endpoint with the refresh token and the ID token
        as hint [UNSURE]: Keycloak's back-channel logout form). False when the provider announces no
        logout endpoint or refuses: the local session is forgotten anyway by the caller."""
        endpoint = self.metadata().end_session_endpoint
        if not endpoint:
            return False
        form = {"id_token_hint": session.tokens.id_token}
        if session.tokens.refresh_token:
            form["refresh_token"] = session.tokens.refresh_token
        try:
            status, _ = self._post("end_session_endpoint", form)
        except PscUnreachable:
            return False
        return status in (200, 204, 302)


def _server_context(trust_files: tuple[Path, ...]) -> ssl.SSLContext:
    """Server verification only (client secret mode): the configured roots, or the system's."""
    context = ssl.create_default_context()
    if trust_files:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        for path in trust_files:
            context.load_verify_locations(path)
    return context


def mtls_context(
    trust_files: tuple[Path, ...], certificate: Path, key: Path, password: str | None
) -> ssl.SSLContext:
    """The structure's certificate as the software's client authentication to PSC (RFC 8705)."""
    from app.dmp_client import structure_keys  # PEM, encrypted PEM, PKCS#12
    from app.dmp_client.transport import Endpoint

    context = structure_keys.tls_context(Endpoint("https://psc", trust_files), certificate, key, password)
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED  # the DMP's TLS 1.2 limit is not PSC's
    context.set_ciphers("DEFAULT")
    if not trust_files:
        context.load_default_certs()
    return context
