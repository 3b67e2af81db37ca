"""A small fake Pro Santé Connect provider for the client's unit tests, behind ``httpx.MockTransport``
(no socket). It follows CIBA Core 1.0 as the client does not: its own token signing (joserfc), its
own answers, switchable misbehaviour (wrong key, issuer, audience, expired token, slow_down...).
The end-to-end tests use the sandbox provider (sandbox/psc) over real TLS instead."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

ISSUER = "https://psc.test/auth/realms/esante-wallet"
CLIENT_ID = "client-dmp-test"
SECRET = "s3cret/with:chars"
RPPS = "899900012342"


def userinfo_for(sub: str, *, exercises: int = 1) -> dict[str, Any]:
    places = [
        ("1990000017", "SA01", "CH DU BAC A SABLE"),
        ("499900012342001", "SA07", "CABINET DU DR CARDIOLOGUE"),
    ]
    activities = [
        {"ancienIdentifiantDeLaStructure": sid, "codeSecteurDactivite": sector, "raisonSocialeSite": name}
        for sid, sector, name in places[:exercises]
    ]
    return {
        "sub": sub,
        "SubjectNameID": RPPS,
        "given_name": "PAUL",
        "family_name": "CARDIOLOGUE",
        "SubjectRefPro": {
            "exercices": [
                {
                    "codeProfession": "10",
                    "codeSavoirFaire": "SM04",
                    "prenomDexercice": "PAUL",
                    "nomDexercice": "CARDIOLOGUE",
                    "activities": activities,
                }
            ]
        },
    }


@dataclass
class FakePsc:
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    sign_key: RSAKey | None = None  # sign with another key than the published one
    issuer_claim: str = ISSUER
    audience: str = CLIENT_ID
    token_lifetime: int = 300
    expired: bool = False
    pending_polls: int = 1
    slow_down_polls: int = 0
    outcome: str = "approve"  # approve, deny, expire
    backchannel_error: str | None = None
    interval: int = 1
    expires_in: int = 120
    exercises: int = 1
    auth_req_claim: str | None = "match"  # match, other, absent
    client_auth: str = "secret"  # what the fake requires: secret or mtls (client_id in the form)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    polls: int = 0
    poll_times: list[float] = field(default_factory=list)
    sub: str = "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:" + RPPS
    auth_req_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    logged_out: bool = False
    clock: Any = time.time

    # -- tokens -------------------------------------------------------------------------------------

    def id_token(self, **overrides: Any) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer_claim,
            "aud": self.audience,
            "sub": self.sub,
            "iat": now - (self.token_lifetime + 100 if self.expired else 0),
            "exp": now + (-60 if self.expired else self.token_lifetime),
            "acr": "eidas1",
        }
        if self.auth_req_claim == "match":
            claims["urn:openid:params:jwt:claim:auth_req_id"] = self.auth_req_id
        elif self.auth_req_claim == "other":
            claims["urn:openid:params:jwt:claim:auth_req_id"] = "another"
        claims.update(overrides)
        key = self.sign_key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid or "k1"}, claims, key)

    def tokens(self) -> dict[str, Any]:
        return {
            "access_token": "at-" + uuid.uuid4().hex,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "refresh_token": "rt-" + uuid.uuid4().hex,
            "refresh_expires_in": 1800,
            "id_token": self.id_token(),
            "scope": "openid all",
        }

    # -- HTTP ---------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _client_ok(self, request: httpx.Request, form: dict[str, list[str]]) -> bool:
        if self.client_auth == "mtls":
            return form.get("client_id") == [CLIENT_ID]
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return unquote(user) == CLIENT_ID and unquote(password) == SECRET

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        form = parse_qs(request.content.decode()) if request.method == "POST" else {}
        self.requests.append((path, form))
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json=self.metadata())
        if path.endswith("/certs"):
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False) | {"use": "sig"}]})
        if path.endswith("/ciba"):
            if not self._client_ok(request, form):
                return httpx.Response(401, json={"error": "invalid_client"})
            if self.backchannel_error:
                return httpx.Response(400, json={"error": self.backchannel_error})
            return httpx.Response(
                200,
                json={
                    "auth_req_id": self.auth_req_id,
                    "expires_in": self.expires_in,
                    "interval": self.interval,
                },
            )
        if path.endswith("/token"):
            return self.token(request, form)
        if path.endswith("/userinfo"):
            if not request.headers.get("authorization", "").startswith("Bearer at-"):
                return httpx.Response(401)
            return httpx.Response(200, json=userinfo_for(self.sub, exercises=self.exercises))
        if path.endswith("/logout"):
            self.logged_out = True
            return httpx.Response(204)
        return httpx.Response(404)

    def token(self, request: httpx.Request, form: dict[str, list[str]]) -> httpx.Response:
        if not self._client_ok(request, form):
            return httpx.Response(401, json={"error": "invalid_client"})
        grant = form.get("grant_type", [""])[0]
        if grant == "refresh_token":
            if not form.get("refresh_token", [""])[0].startswith("rt-"):
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(200, json=self.tokens())
        if grant != "urn:openid:params:grant-type:ciba" or form.get("auth_req_id") != [self.auth_req_id]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.polls += 1
        self.poll_times.append(self.clock())
        if self.polls <= self.slow_down_polls:
            return httpx.Response(400, json={"error": "slow_down"})
        if self.polls <= self.slow_down_polls + self.pending_polls:
            return httpx.Response(400, json={"error": "authorization_pending"})
        if self.outcome == "deny":
            return httpx.Response(403, json={"error": "access_denied"})
        if self.outcome == "expire":
            return httpx.Response(400, json={"error": "expired_token"})
        return httpx.Response(200, json=self.tokens())

    def metadata(self) -> dict[str, Any]:
        base = ISSUER + "/protocol/openid-connect"
        return {
            "issuer": ISSUER,
            "backchannel_authentication_endpoint": base + "/ext/ciba",
            "token_endpoint": base + "/token",
            "jwks_uri": base + "/certs",
            "userinfo_endpoint": base + "/userinfo",
            "end_session_endpoint": base + "/logout",
            "backchannel_token_delivery_modes_supported": ["poll", "ping"],
            "grant_types_supported": ["urn:openid:params:grant-type:ciba", "refresh_token"],
        }


class FakeClock:
    """Epoch seconds that advance only when the client waits (``cancel.wait`` is patched)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
