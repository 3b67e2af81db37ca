"""The sandbox Pro Santé Connect provider: OpenID Connect with CIBA in poll mode, over TLS on loopback.

Endpoints (Keycloak-shaped paths under the realm, as in the PSC discovery document that
``ansforge/psc-edc-proxy-esante`` mocks in its tests):

- ``GET  {issuer}/.well-known/openid-configuration`` (also at ``/.well-known/openid-configuration``);
- ``POST {issuer}/protocol/openid-connect/ext/ciba/auth``: the backchannel authentication request
  (CIBA Core 1.0 §7): ``scope`` (must hold ``openid``; the proxy sends ``openid all``),
  ``login_hint`` (the national id, "8" + 11 digits), ``binding_message`` (two digits, the proxy's
  OpenAPI), ``acr_values`` (``eidas1``), ``channel`` (``CARD`` or ``MOBILE``, the proxy's OpenAPI);
  answer ``auth_req_id``, ``expires_in``, ``interval`` (§7.3); errors of §13;
- ``POST {issuer}/protocol/openid-connect/token``: ``grant_type=urn:openid:params:grant-type:ciba``
  with ``auth_req_id`` (§10.1) answering ``authorization_pending``, ``slow_down`` (the interval then
  grows by 5 s, §11), ``expired_token``, ``access_denied``, ``invalid_grant``; and the
  ``refresh_token`` grant (RFC 6749 §6);
- ``GET  {issuer}/protocol/openid-connect/certs``: the JWKS (RS256 key of the test PKI folder);
- ``GET|POST {issuer}/protocol/openid-connect/userinfo`` with the Bearer access token;
- ``GET|POST {issuer}/protocol/openid-connect/logout`` (end session: ``id_token_hint`` or a
  ``refresh_token`` with client authentication) and ``POST .../revoke`` (RFC 7009).

Client authentication: ``tls_client_auth`` (RFC 8705: the structure's ORG AUTH_CLI certificate,
matched by subject DN) and/or ``client_secret_basic`` / ``client_secret_post``. Access tokens are
bound to the client certificate when one authenticated the client (``cnf.x5t#S256``, RFC 8705 §3).

The "virtual e-CPS phone" is an administrative endpoint under ``/sandbox/`` (a bearer secret kept
in ``<state dir>/admin-token``), used by ``dmp-sandbox ecps``; an automatic phone (approve or refuse
after a delay) serves tests and the demo. Every [UNSURE] choice is a :class:`PscConfig` or
:class:`PscFaults` field and is listed in docs/sandbox-psc.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from sandbox.https_server import QuietHandler, TlsServer, pki_server_context
from sandbox.psc import professionals

REALM = "/auth/realms/esante-wallet"  # the realm path of PSC's discovery document (public mock)
DISCOVERY = "/.well-known/openid-configuration"
OIDC = "/protocol/openid-connect"
CIBA_PATH = f"{OIDC}/ext/ciba/auth"
TOKEN_PATH = f"{OIDC}/token"
JWKS_PATH = f"{OIDC}/certs"
USERINFO_PATH = f"{OIDC}/userinfo"
LOGOUT_PATH = f"{OIDC}/logout"
REVOKE_PATH = f"{OIDC}/revoke"
ADMIN_PREFIX = "/sandbox"
CIBA_GRANT = "urn:openid:params:grant-type:ciba"
REFRESH_GRANT = "refresh_token"
SIGNING_KEY_FILE = "psc-signing.key"
ADMIN_TOKEN_FILE = "admin-token"
DEFAULT_CLIENT_ID = "dmp-client-bac-a-sable"
DEFAULT_CLIENT_SECRET = "secret-du-bac-a-sable"  # sandbox only
MAX_BODY = 64 * 1024
POLL_SLACK = 0.05  # seconds of tolerance on the polling interval
PHONE_MODES = ("manual", "approve", "refuse")


@dataclass
class PscFaults:
    """What the provider (and the professional's phone) does; changeable while it runs."""

    latency: float = 0.0  # seconds before every answer
    phone: str = "manual"  # "manual" (dmp-sandbox ecps), "approve" or "refuse" automatically
    phone_delay: float = 2.0  # seconds before the automatic phone answers
    expires_in: int = 120  # lifetime of a backchannel request [UNSURE: PSC's value is not public]
    interval: int = 5  # the polling interval (CIBA's default is 5 s)
    slow_down_polls: int = 0  # the next N polls answer slow_down whatever their pace
    wrong_key: bool = False  # tokens signed with a key that is not the JWKS's (same kid)
    wrong_issuer: bool = False  # tokens with another "iss"
    wrong_audience: bool = False  # ID tokens for another client ("aud")
    expired_tokens: bool = False  # tokens issued already expired ("exp" in the past)
    access_token_lifetime: int = 120  # [UNSURE] PSC's lifetimes are not public
    refresh_token_lifetime: int = 1800


@dataclass(frozen=True)
class PscClient:
    client_id: str
    secret: str | None  # client_secret_basic / client_secret_post
    tls_subject: str | None  # tls_client_auth: the certificate's subject DN (RFC 4514)


@dataclass
class PscConfig:
    pki_dir: Path
    state_dir: Path  # the admin token and the provider's URL are written here
    faults: PscFaults = field(default_factory=PscFaults)
    clients: tuple[PscClient, ...] = ()  # empty: the sandbox client (secret + structure certificate)
    public_host: str = "localhost"  # the issuer's host name (the test PKI's server certificate)
    acr_values: tuple[str, ...] = ("eidas1",)
    channels: tuple[str, ...] = ("CARD", "MOBILE")
    require_channel: bool = False  # [UNSURE] the proxy always sends one; PSC's rule is not public
    binding_message: str = r"\d{2}"  # two digits 00-99 (the proxy's OpenAPI) [UNSURE for PSC]
    bind_tokens_to_certificate: bool = True  # RFC 8705 cnf when the client used its certificate
    rotate_refresh_tokens: bool = True  # a refresh grant invalidates the refresh token it used


@dataclass
class AuthRequest:
    auth_req_id: str
    client_id: str
    national_id: str
    binding_message: str
    channel: str
    scope: str
    acr: str
    created: float
    expires_at: float
    interval: int
    thumbprint: str | None
    last_poll: float
    status: str = "pending"  # pending, approved, refused, used


@dataclass
class PscSession:
    sid: str
    client_id: str
    national_id: str
    scope: str
    acr: str
    auth_time: int
    thumbprint: str | None
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    ended: bool = False


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def load_signing_key(pki_dir: Path) -> RSAKey:
    """The provider's RS256 key, generated once into the test PKI folder."""
    path = pki_dir / SIGNING_KEY_FILE
    if not path.exists():
        key = RSAKey.generate_key(2048, private=True)
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        temporary.write_bytes(key.as_pem(private=True))
        temporary.chmod(0o600)
        with contextlib.suppress(FileExistsError):  # another process made it first: keep that one
            os.link(temporary, path)
        temporary.unlink(missing_ok=True)
    return RSAKey.import_key(path.read_bytes())


def thumbprint_s256(der: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _half_hash(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


class PscProvider(TlsServer):
    def __init__(self, address: tuple[str, int], config: PscConfig) -> None:
        super().__init__(address, PscHandler)
        self.config = config
        self.context = provider_context(config.pki_dir)
        self.key = load_signing_key(config.pki_dir)
        self.kid = self.key.thumbprint()
        self.wrong_key = RSAKey.generate_key(2048, private=True)  # the "wrong signature key" fault
        self.clients = {c.client_id: c for c in (config.clients or (default_client(config.pki_dir),))}
        self.lock = threading.Lock()
        self.requests: dict[str, AuthRequest] = {}
        self.sessions: dict[str, PscSession] = {}
        self.access: dict[str, tuple[str, float]] = {}  # access token -> (sid, expiry)
        self.refresh: dict[str, str] = {}  # refresh token -> sid
        self.admin_token = secrets.token_urlsafe(24)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        token_file = config.state_dir / ADMIN_TOKEN_FILE
        token_file.write_text(self.admin_token + "\n")
        token_file.chmod(0o600)
        (config.state_dir / "url").write_text(self.issuer + "\n")

    @property
    def issuer(self) -> str:
        return f"https://{self.config.public_host}:{self.server_address[1]}{REALM}"

    # -- discovery, keys, tokens ------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "backchannel_authentication_endpoint": base + CIBA_PATH,
            "token_endpoint": base + TOKEN_PATH,
            "userinfo_endpoint": base + USERINFO_PATH,
            "jwks_uri": base + JWKS_PATH,
            "end_session_endpoint": base + LOGOUT_PATH,
            "revocation_endpoint": base + REVOKE_PATH,
            "grant_types_supported": [CIBA_GRANT, REFRESH_GRANT],
            "backchannel_token_delivery_modes_supported": ["poll"],
            "backchannel_user_code_parameter_supported": False,
            "token_endpoint_auth_methods_supported": [
                "tls_client_auth",
                "client_secret_basic",
                "client_secret_post",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "tls_client_auth",
                "client_secret_basic",
                "client_secret_post",
            ],
            "tls_client_certificate_bound_access_tokens": self.config.bind_tokens_to_certificate,
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
            "acr_values_supported": list(self.config.acr_values),
            "scopes_supported": ["openid", "all", "scope_all"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "sid",
                "preferred_username",
                "given_name",
                "family_name",
                "SubjectNameID",
            ],
        }

    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def _sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        faults = self.config.faults
        # The wrong key claims the published kid: only the signature check can catch it.
        key = self.wrong_key if faults.wrong_key else self.key
        return jwt.encode({"alg": "RS256", "kid": self.kid, "typ": typ}, claims, key)

    def _issue(self, session: PscSession) -> dict[str, Any]:
        """Access, ID and refresh tokens for this session (under the lock)."""
        faults = self.config.faults
        now = int(time.time())
        lifetime = faults.access_token_lifetime
        exp = now - 60 if faults.expired_tokens else now + lifetime
        iat = exp - lifetime if faults.expired_tokens else now
        issuer = "https://autre-fournisseur.invalid" + REALM if faults.wrong_issuer else self.issuer
        profile = professionals.find(session.national_id)
        assert profile is not None
        access_claims: dict[str, Any] = {
            "iss": issuer,
            "sub": professionals.subject(session.national_id),
            "aud": session.client_id,
            "azp": session.client_id,
            "exp": exp,
            "iat": iat,
            "jti": str(uuid.uuid4()),
            "scope": session.scope,
            "sid": session.sid,
            "acr": session.acr,
            "preferred_username": session.national_id,
        }
        if session.thumbprint and self.config.bind_tokens_to_certificate:
            access_claims["cnf"] = {"x5t#S256": session.thumbprint}
        access_token = self._sign(access_claims, "at+jwt")
        id_claims = {
            "iss": issuer,
            "sub": professionals.subject(session.national_id),
            "aud": "autre-client" if faults.wrong_audience else session.client_id,
            "azp": session.client_id,
            "exp": exp,
            "iat": iat,
            "auth_time": session.auth_time,
            "jti": str(uuid.uuid4()),
            "acr": session.acr,
            "sid": session.sid,
            "at_hash": _half_hash(access_token),
            "preferred_username": session.national_id,
            "SubjectNameID": session.national_id,
            "given_name": profile.given_name,
            "family_name": profile.surname,
        }
        id_token = self._sign(id_claims)
        refresh_token = secrets.token_urlsafe(32)
        session.access_tokens.add(access_token)
        session.refresh_tokens[refresh_token] = time.time() + faults.refresh_token_lifetime
        self.access[access_token] = (session.sid, float(exp))
        self.refresh[refresh_token] = session.sid
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "refresh_token": refresh_token,
            "refresh_expires_in": faults.refresh_token_lifetime,
            "id_token": id_token,
            "scope": session.scope,
            "session_state": session.sid,
        }

    def end_session(self, sid: str) -> None:
        """Revoke every token of the session (under the lock)."""
        session = self.sessions.get(sid)
        if session is None:
            return
        session.ended = True
        for token in session.access_tokens:
            self.access.pop(token, None)
        for token in session.refresh_tokens:
            self.refresh.pop(token, None)

    # -- the professional's phone ---------------------------------------------------------------

    def _apply_phone(self, request: AuthRequest, now: float) -> None:
        faults = self.config.faults
        late = now - request.created >= faults.phone_delay
        if request.status == "pending" and faults.phone != "manual" and late:
            request.status = "approved" if faults.phone == "approve" else "refused"

    def pending(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self.lock:
            return [
                {
                    "auth_req_id": r.auth_req_id,
                    "national_id": r.national_id,
                    "binding_message": r.binding_message,
                    "channel": r.channel,
                    "expires_in": max(0, int(r.expires_at - now)),
                }
                for r in self.requests.values()
                if r.status == "pending" and r.expires_at > now
            ]

    def decide(self, decision: str, auth_req_id: str | None) -> str:
        """The phone's answer to one pending request (the only one when no id is given)."""
        now = time.monotonic()
        with self.lock:
            live = [r for r in self.requests.values() if r.status == "pending" and r.expires_at > now]
            if auth_req_id:
                chosen = [r for r in live if r.auth_req_id == auth_req_id]
                if not chosen:
                    raise OAuthError("not_found", "Aucune demande en attente avec cet identifiant.", 404)
            else:
                if not live:
                    raise OAuthError("not_found", "Aucune demande d'authentification en attente.", 404)
                if len(live) > 1:
                    raise OAuthError("ambiguous", "Plusieurs demandes en attente : précisez --id.", 409)
                chosen = live
            chosen[0].status = "approved" if decision == "approve" else "refused"
            return chosen[0].auth_req_id

    # -- grants ---------------------------------------------------------------------------------

    def backchannel(self, client: PscClient, thumbprint: str | None, form: dict[str, str]) -> dict[str, Any]:
        config, faults = self.config, self.config.faults
        scope = form.get("scope", "")
        if "openid" not in scope.split():
            raise OAuthError("invalid_scope", "Le scope doit contenir openid.")
        for hint in ("login_hint_token", "id_token_hint"):
            if hint in form:
                raise OAuthError("invalid_request", f"{hint} n'est pas pris en charge : utilisez login_hint.")
        national_id = form.get("login_hint", "")
        if not national_id:
            raise OAuthError("invalid_request", "login_hint (identifiant national) absent.")
        if not professionals.NATIONAL_ID.fullmatch(national_id):
            raise OAuthError("unknown_user_id", "Identifiant national attendu : 8 suivi de 11 chiffres.")
        if professionals.find(national_id) is None:
            raise OAuthError("unknown_user_id", "Professionnel inconnu de Pro Santé Connect.")
        binding = form.get("binding_message", "")
        if not re.fullmatch(config.binding_message, binding):
            raise OAuthError("invalid_binding_message", "binding_message attendu : deux chiffres.")
        acr = form.get("acr_values", "")
        chosen_acr = next((a for a in acr.split() if a in config.acr_values), None)
        if chosen_acr is None:
            raise OAuthError("invalid_request", f"acr_values attendu : {' '.join(config.acr_values)}.")
        channel = form.get("channel", "")
        if channel and channel not in config.channels:
            raise OAuthError("invalid_request", f"channel attendu : {' ou '.join(config.channels)}.")
        if not channel and config.require_channel:
            raise OAuthError("invalid_request", "channel absent.")
        if "user_code" in form:  # backchannel_user_code_parameter_supported is false
            raise OAuthError("invalid_request", "user_code n'est pas pris en charge.")
        now = time.monotonic()
        request = AuthRequest(
            auth_req_id=secrets.token_urlsafe(24),
            client_id=client.client_id,
            national_id=national_id,
            binding_message=binding,
            channel=channel or "MOBILE",
            scope=scope,
            acr=chosen_acr,
            created=now,
            expires_at=now + faults.expires_in,
            interval=faults.interval,
            thumbprint=thumbprint,
            last_poll=now,
        )
        with self.lock:
            self._forget_old(now)
            self.requests[request.auth_req_id] = request
        return {
            "auth_req_id": request.auth_req_id,
            "expires_in": faults.expires_in,
            "interval": faults.interval,
        }

    def _forget_old(self, now: float) -> None:
        for key in [k for k, r in self.requests.items() if r.expires_at < now - 600]:
            del self.requests[key]

    def poll(self, client: PscClient, thumbprint: str | None, form: dict[str, str]) -> dict[str, Any]:
        faults = self.config.faults
        auth_req_id = form.get("auth_req_id", "")
        now = time.monotonic()
        with self.lock:
            request = self.requests.get(auth_req_id)
            if request is None or request.client_id != client.client_id or request.status == "used":
                raise OAuthError("invalid_grant", "auth_req_id inconnu, déjà utilisé ou d'un autre client.")
            if now > request.expires_at:
                raise OAuthError("expired_token", "La demande d'authentification a expiré.")
            early = request.interval and now - request.last_poll + POLL_SLACK < request.interval
            request.last_poll = now
            if faults.slow_down_polls > 0 or early:
                if faults.slow_down_polls > 0:
                    faults.slow_down_polls -= 1
                request.interval += 5  # CIBA Core §11: at least 5 s more for every later poll
                raise OAuthError("slow_down", f"Interrogez moins souvent (intervalle {request.interval} s).")
            self._apply_phone(request, now)
            if request.status == "pending":
                raise OAuthError("authorization_pending", "En attente de la validation sur le téléphone.")
            if request.status == "refused":
                request.status = "used"
                raise OAuthError("access_denied", "Authentification refusée par le professionnel.")
            request.status = "used"
            session = PscSession(
                sid=str(uuid.uuid4()),
                client_id=client.client_id,
                national_id=request.national_id,
                scope=request.scope,
                acr=request.acr,
                auth_time=int(time.time()),
                thumbprint=request.thumbprint,
            )
            self.sessions[session.sid] = session
            return self._issue(session)

    def refresh_grant(self, client: PscClient, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        with self.lock:
            sid = self.refresh.get(token)
            session = self.sessions.get(sid) if sid else None
            if session is None or session.ended or session.client_id != client.client_id:
                raise OAuthError(
                    "invalid_grant", "Jeton de rafraîchissement inconnu, révoqué ou d'un autre client."
                )
            if session.refresh_tokens.get(token, 0) < time.time():
                raise OAuthError("invalid_grant", "Jeton de rafraîchissement expiré.")
            if self.config.rotate_refresh_tokens:
                session.refresh_tokens.pop(token, None)
                self.refresh.pop(token, None)
            return self._issue(session)

    def userinfo_of(self, token: str, thumbprint: str | None) -> dict[str, Any]:
        with self.lock:
            found = self.access.get(token)
            session = self.sessions.get(found[0]) if found else None
            if found is None or session is None or session.ended:
                raise OAuthError("invalid_token", "Jeton d'accès inconnu ou révoqué.", 401)
            if found[1] < time.time():
                raise OAuthError("invalid_token", "Jeton d'accès expiré.", 401)
            if (
                session.thumbprint
                and self.config.bind_tokens_to_certificate
                and thumbprint != session.thumbprint
            ):
                raise OAuthError("invalid_token", "Jeton lié à un autre certificat client (RFC 8705).", 401)
            profile = professionals.find(session.national_id)
        assert profile is not None
        return professionals.userinfo(profile)

    def logout(self, client: PscClient | None, form: dict[str, str]) -> None:
        with self.lock:
            if form.get("refresh_token"):
                if client is None:
                    raise OAuthError("invalid_client", "Authentification du client requise.", 401)
                sid = self.refresh.get(form["refresh_token"])
                session = self.sessions.get(sid) if sid else None
                if session is None or session.client_id != client.client_id:
                    raise OAuthError("invalid_grant", "Session inconnue ou déjà terminée.")
                self.end_session(session.sid)
                return
            hint = form.get("id_token_hint", "")
            if not hint:
                raise OAuthError("invalid_request", "id_token_hint ou refresh_token attendu.")
            try:
                claims = jwt.decode(hint, self.key).claims
            except (JoseError, ValueError):
                raise OAuthError("invalid_request", "id_token_hint illisible ou mal signé.") from None
            sid = str(claims.get("sid", ""))
            if sid not in self.sessions:
                raise OAuthError("invalid_request", "Session inconnue.")
            self.end_session(sid)

    def revoke(self, client: PscClient, form: dict[str, str]) -> None:
        token = form.get("token", "")
        if not token:
            raise OAuthError("invalid_request", "token absent.")
        with self.lock:
            sid = self.refresh.get(token)
            if sid is not None:
                session = self.sessions.get(sid)
                if session is not None and session.client_id == client.client_id:
                    self.end_session(sid)  # RFC 7009 §2.1: the grant's access tokens go too
                return
            found = self.access.get(token)
            session = self.sessions.get(found[0]) if found else None
            if session is not None and session.client_id == client.client_id:
                self.access.pop(token, None)
                session.access_tokens.discard(token)

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change fault fields by name (the admin endpoint); types are checked."""
        faults = self.config.faults
        known = {f.name: f for f in fields(faults)}
        with self.lock:
            for name, value in changes.items():
                if name not in known:
                    raise OAuthError("invalid_request", f"Champ inconnu : {name}.")
                current = getattr(faults, name)
                if isinstance(current, bool):
                    ok = isinstance(value, bool)
                elif isinstance(current, int):
                    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
                elif isinstance(current, float):
                    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
                else:
                    ok = isinstance(value, str) and (name != "phone" or value in PHONE_MODES)
                if not ok:
                    raise OAuthError("invalid_request", f"Valeur refusée pour {name} : {value!r}.")
                setattr(faults, name, float(value) if isinstance(current, float) else value)
            return {f: getattr(faults, f) for f in known}


def default_client(pki_dir: Path) -> PscClient:
    """The sandbox's registered client: a secret, and the structure's ORG AUTH_CLI certificate."""
    certificate = x509.load_pem_x509_certificate((pki_dir / "structure-auth.pem").read_bytes())
    return PscClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, certificate.subject.rfc4514_string())


def provider_context(pki_dir: Path) -> ssl.SSLContext:
    """TLS 1.2+ with the test PKI's server certificate; a client certificate is optional (mTLS
    client authentication) and checked against the test PKI when sent."""
    return pki_server_context(pki_dir, ssl.CERT_OPTIONAL)


class PscHandler(QuietHandler):
    server: PscProvider

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    # -- plumbing -------------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        if self.server.config.faults.latency:
            time.sleep(self.server.config.faults.latency)
        try:
            body = self._body() if method == "POST" else b""
        except OAuthError as error:
            self.close_connection = True
            self._error(error)
            return
        path = urlsplit(self.path).path
        try:
            if path.startswith(ADMIN_PREFIX + "/"):
                self._admin(method, path.removeprefix(ADMIN_PREFIX), body)
                return
            if not path.startswith(REALM) and path != DISCOVERY:
                self._json(404, {"error": "not_found"})
                return
            endpoint = path.removeprefix(REALM) or "/"
            self._endpoint(method, endpoint, body)
        except OAuthError as error:
            self._error(error)

    def _endpoint(self, method: str, endpoint: str, body: bytes) -> None:
        server = self.server
        if endpoint == DISCOVERY and method == "GET":
            self._json(200, server.discovery(), cache=True)
        elif endpoint == JWKS_PATH and method == "GET":
            self._json(200, server.jwks(), cache=True)
        elif endpoint == CIBA_PATH and method == "POST":
            form = self._form(body)
            client = self._client(form)
            self._json(200, server.backchannel(client, self._bound_thumbprint(client), form))
        elif endpoint == TOKEN_PATH and method == "POST":
            form = self._form(body)
            client = self._client(form)
            grant = form.get("grant_type", "")
            if grant == CIBA_GRANT:
                self._json(200, server.poll(client, self._bound_thumbprint(client), form))
            elif grant == REFRESH_GRANT:
                self._json(200, server.refresh_grant(client, form))
            else:
                raise OAuthError(
                    "unsupported_grant_type", f"grant_type non pris en charge : {grant or '(absent)'}."
                )
        elif endpoint == USERINFO_PATH and method in ("GET", "POST"):
            self._json(200, server.userinfo_of(self._bearer(), self._peer_thumbprint()))
        elif endpoint == LOGOUT_PATH and method in ("GET", "POST"):
            form = self._form(body) if method == "POST" else self._query()
            server.logout(self._client(form) if "refresh_token" in form else None, form)
            self._send(204, b"", "text/plain")
        elif endpoint == REVOKE_PATH and method == "POST":
            form = self._form(body)
            server.revoke(self._client(form), form)
            self._send(200, b"", "text/plain")
        else:
            self._json(404 if method == "GET" else 405, {"error": "not_found"})

    def _admin(self, method: str, endpoint: str, body: bytes) -> None:
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), self.server.admin_token.encode()):
            raise OAuthError("unauthorized", "Jeton d'administration du bac à sable requis.", 401)
        data = self._json_body(body) if method == "POST" else {}
        if endpoint == "/ecps" and method == "GET":
            self._json(200, {"pending": self.server.pending()})
        elif endpoint in ("/ecps/approve", "/ecps/refuse") and method == "POST":
            auth_req_id = data.get("auth_req_id")
            if auth_req_id is not None and not isinstance(auth_req_id, str):
                raise OAuthError("invalid_request", "auth_req_id doit être une chaîne.")
            decision = "approve" if endpoint.endswith("approve") else "refuse"
            self._json(200, {"auth_req_id": self.server.decide(decision, auth_req_id), "decision": decision})
        elif endpoint == "/faults" and method in ("GET", "POST"):
            self._json(200, self.server.set_faults(data))
        else:
            self._json(404, {"error": "not_found"})

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise OAuthError("invalid_request", "Content-Length invalide.", 411) from None
        if length < 0 or length > MAX_BODY:
            raise OAuthError("invalid_request", "Requête trop grande.", 413)
        return self.rfile.read(length)

    def _form(self, body: bytes) -> dict[str, str]:
        kind = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "Corps attendu : application/x-www-form-urlencoded.")
        return _single(body.decode("utf-8", "replace"))

    def _query(self) -> dict[str, str]:
        return _single(urlsplit(self.path).query)

    def _json_body(self, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            raise OAuthError("invalid_request", "JSON attendu.") from None
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "Objet JSON attendu.")
        return data

    def _peer_der(self) -> bytes | None:
        der: bytes | None = self.connection.getpeercert(binary_form=True)
        return der or None

    def _peer_thumbprint(self) -> str | None:
        der = self._peer_der()
        return thumbprint_s256(der) if der else None

    def _bound_thumbprint(self, client: PscClient) -> str | None:
        """The certificate the tokens are bound to: the one that authenticated the client."""
        der = self._peer_der()
        if der and client.tls_subject and _subject(der) == client.tls_subject:
            return thumbprint_s256(der)
        return None

    def _client(self, form: dict[str, str]) -> PscClient:
        """Client authentication: Basic, then client_secret_post, then tls_client_auth."""
        clients = self.server.clients
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
                client_id, _, secret = decoded.partition(":")
                client_id, secret = unquote(client_id), unquote(secret)
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "En-tête Basic illisible.", 401) from None
            client = clients.get(client_id)
            if client is None or client.secret is None or not _same(secret, client.secret):
                raise OAuthError("invalid_client", "Client inconnu ou secret incorrect.", 401)
            if form.get("client_id", client_id) != client_id:
                raise OAuthError("invalid_request", "client_id différent de celui de l'en-tête Basic.")
            return client
        client_id = form.get("client_id", "")
        client = clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", "Client inconnu ou non authentifié.", 401)
        if "client_secret" in form:
            if client.secret is None or not _same(form["client_secret"], client.secret):
                raise OAuthError("invalid_client", "Secret du client incorrect.", 401)
            return client
        der = self._peer_der()
        if der and client.tls_subject and _subject(der) == client.tls_subject:
            return client
        raise OAuthError("invalid_client", "Authentification du client absente (mTLS ou secret).", 401)

    def _bearer(self) -> str:
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            raise OAuthError("invalid_token", "Jeton d'accès (Bearer) absent.", 401)
        return header[7:].strip()

    def _error(self, error: OAuthError) -> None:
        payload = {"error": error.error, "error_description": error.description}
        extra = {}
        if error.status == 401:
            scheme = "Bearer" if error.error == "invalid_token" else "Basic"
            extra["WWW-Authenticate"] = f'{scheme} realm="esante-wallet", error="{error.error}"'
        self._json(error.status, payload, headers=extra)

    def _json(
        self,
        status: int,
        payload: dict[str, Any],
        *,
        cache: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json", cache=cache, headers=headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        cache: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if not cache:
            self.send_header("Cache-Control", "no-store")  # RFC 6749 §5.1
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _single(text: str) -> dict[str, str]:
    """Form parameters, each at most once (RFC 6749 §3.1)."""
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=50)
    except ValueError:
        raise OAuthError("invalid_request", "Paramètres de formulaire mal formés.") from None
    repeated = [name for name, values in parsed.items() if len(values) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"Paramètre répété : {repeated[0]}.")
    return {name: values[0] for name, values in parsed.items()}


def _subject(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def serve_in_thread(provider: PscProvider) -> threading.Thread:
    thread = threading.Thread(target=provider.serve_forever, name="psc-provider", daemon=True)
    thread.start()
    return thread
