"""The sandbox Pro Santé Connect provider over real TLS: discovery, CIBA poll mode, tokens checked
against the JWKS with joserfc, userinfo, refresh, logout, revocation, and the injected faults."""

from __future__ import annotations

import hashlib
import time
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError
from joserfc.jwk import KeySet

from sandbox import cards
from sandbox.psc import phone, professionals
from sandbox.psc.server import (
    CIBA_GRANT,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    PscProvider,
)
from tests.psc.psc_helpers import client_tls

GP = cards.card("generaliste")


@pytest.fixture
def mtls(provider: PscProvider) -> Iterator[httpx.Client]:
    with httpx.Client(verify=client_tls(provider.config.pki_dir, True), timeout=10) as client:
        yield client


@pytest.fixture
def plain(provider: PscProvider) -> Iterator[httpx.Client]:
    with httpx.Client(verify=client_tls(provider.config.pki_dir, False), timeout=10) as client:
        yield client


def endpoints(client: httpx.Client, provider: PscProvider) -> dict[str, Any]:
    answer = client.get(provider.issuer + "/.well-known/openid-configuration")
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def ask(client: httpx.Client, provider: PscProvider, **overrides: str) -> httpx.Response:
    form = {
        "client_id": DEFAULT_CLIENT_ID,
        "scope": "openid all",
        "login_hint": GP.national_id,
        "binding_message": "42",
        "acr_values": "eidas1",
        "channel": "MOBILE",
        **overrides,
    }
    form = {k: v for k, v in form.items() if v != "-"}
    return client.post(endpoints(client, provider)["backchannel_authentication_endpoint"], data=form)


def poll(client: httpx.Client, provider: PscProvider, auth_req_id: str, **extra: str) -> httpx.Response:
    form = {"grant_type": CIBA_GRANT, "auth_req_id": auth_req_id, "client_id": DEFAULT_CLIENT_ID, **extra}
    return client.post(endpoints(client, provider)["token_endpoint"], data=form)


def keys(client: httpx.Client, provider: PscProvider) -> KeySet:
    return KeySet.import_key_set(client.get(endpoints(client, provider)["jwks_uri"]).json())


def validate(token: str, key_set: KeySet, provider: PscProvider, audience: str = DEFAULT_CLIENT_ID) -> Any:
    decoded = jwt.decode(token, key_set, algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    registry.validate(decoded.claims)
    return decoded.claims


def login(client: httpx.Client, provider: PscProvider, **overrides: str) -> dict[str, Any]:
    started = ask(client, provider, **overrides)
    assert started.status_code == 200, started.text
    provider.decide("approve", started.json()["auth_req_id"])
    tokens = poll(client, provider, started.json()["auth_req_id"], **_secret(overrides))
    assert tokens.status_code == 200, tokens.text
    data: dict[str, Any] = tokens.json()
    return data


def _secret(overrides: dict[str, str]) -> dict[str, str]:
    return {"client_secret": overrides["client_secret"]} if "client_secret" in overrides else {}


def thumbprint(pki: Path) -> str:
    der = x509.load_pem_x509_certificate((pki / "structure-auth.pem").read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    return urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


# -- discovery and the CIBA flow ----------------------------------------------------------------


def test_discovery_names_every_endpoint_under_the_issuer(plain: httpx.Client, provider: PscProvider) -> None:
    data = endpoints(plain, provider)
    assert data["issuer"] == provider.issuer
    for name in (
        "backchannel_authentication_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
        "revocation_endpoint",
    ):
        assert data[name].startswith(provider.issuer + "/protocol/openid-connect/")
    assert CIBA_GRANT in data["grant_types_supported"] and "refresh_token" in data["grant_types_supported"]
    assert data["backchannel_token_delivery_modes_supported"] == ["poll"]
    assert {"tls_client_auth", "client_secret_basic"} <= set(data["token_endpoint_auth_methods_supported"])
    root = plain.get(f"https://localhost:{provider.server_address[1]}/.well-known/openid-configuration")
    assert root.json() == data


def test_approved_on_the_phone_gives_tokens_verifiable_with_the_jwks(
    mtls: httpx.Client, provider: PscProvider
) -> None:
    started = ask(mtls, provider)
    assert started.status_code == 200
    ack = started.json()
    assert set(ack) == {"auth_req_id", "expires_in", "interval"} and ack["expires_in"] > 0
    pending = poll(mtls, provider, ack["auth_req_id"])
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")
    shown = provider.pending()
    assert [(p["national_id"], p["binding_message"], p["channel"]) for p in shown] == [
        (GP.national_id, "42", "MOBILE")
    ]
    provider.decide("approve", None)
    tokens = poll(mtls, provider, ack["auth_req_id"])
    assert tokens.status_code == 200 and tokens.headers["cache-control"] == "no-store"
    data = tokens.json()
    assert data["token_type"] == "Bearer" and data["expires_in"] > 0 and data["refresh_token"]
    key_set = keys(mtls, provider)
    claims = validate(data["id_token"], key_set, provider)
    assert claims["sub"] == professionals.subject(GP.national_id)
    assert claims["SubjectNameID"] == GP.national_id and claims["acr"] == "eidas1"
    access = jwt.decode(data["access_token"], key_set).claims
    assert access["cnf"] == {"x5t#S256": thumbprint(provider.config.pki_dir)}  # RFC 8705 binding
    again = poll(mtls, provider, ack["auth_req_id"])
    assert again.json()["error"] == "invalid_grant"  # an auth_req_id serves once


def test_userinfo_describes_the_professional_and_the_exercises(
    mtls: httpx.Client, plain: httpx.Client, provider: PscProvider
) -> None:
    data = login(mtls, provider)
    url = endpoints(mtls, provider)["userinfo_endpoint"]
    info = mtls.get(url, headers={"Authorization": f"Bearer {data['access_token']}"}).json()
    assert info["SubjectNameID"] == GP.national_id == info["preferred_username"]
    assert (info["given_name"], info["family_name"]) == (GP.given_name, GP.surname)
    assert info["SubjectRole"] == ["10^1.2.250.1.213.1.1.5.5"]
    exercise = info["SubjectRefPro"]["exercices"][0]
    assert (exercise["codeProfession"], exercise["codeSavoirFaire"]) == ("10", "SM54")
    situations = [
        (a["ancienIdentifiantDeLaStructure"], a["codeSecteurDactivite"]) for a in exercise["activities"]
    ]
    assert situations == [(s.structure_id, s.sector) for s in GP.situations]
    hospital = exercise["activities"][1]
    assert (
        hospital["numeroFinessSite"] == "990000017" and hospital["raisonSocialeSite"] == "CH DU BAC A SABLE"
    )
    assert info["Secteur_Activite"] == f"{GP.situations[0].sector}^1.2.250.1.71.4.2.4"
    # The token is bound to the structure's certificate: without it, userinfo refuses.
    refused = plain.get(url, headers={"Authorization": f"Bearer {data['access_token']}"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert mtls.get(url).status_code == 401


def test_client_secret_basic_without_a_certificate(plain: httpx.Client, provider: PscProvider) -> None:
    auth = httpx.BasicAuth(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    url = endpoints(plain, provider)["backchannel_authentication_endpoint"]
    form = {
        "scope": "openid all",
        "login_hint": GP.national_id,
        "binding_message": "07",
        "acr_values": "eidas1",
    }
    started = plain.post(url, data=form, auth=auth)
    assert started.status_code == 200, started.text
    provider.decide("approve", None)
    token_url = endpoints(plain, provider)["token_endpoint"]
    data = plain.post(
        token_url, data={"grant_type": CIBA_GRANT, "auth_req_id": started.json()["auth_req_id"]}, auth=auth
    ).json()
    assert "cnf" not in jwt.decode(data["access_token"], keys(plain, provider)).claims
    info = plain.get(
        endpoints(plain, provider)["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {data['access_token']}"},
    )
    assert info.status_code == 200
    wrong = plain.post(url, data=form, auth=httpx.BasicAuth(DEFAULT_CLIENT_ID, "faux"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    post = plain.post(
        url, data={**form, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    )
    assert post.status_code == 200  # client_secret_post


def test_refused_on_the_phone(mtls: httpx.Client, provider: PscProvider) -> None:
    auth_req_id = ask(mtls, provider).json()["auth_req_id"]
    provider.decide("refuse", auth_req_id)
    answer = poll(mtls, provider, auth_req_id)
    assert (answer.status_code, answer.json()["error"]) == (400, "access_denied")
    assert poll(mtls, provider, auth_req_id).json()["error"] == "invalid_grant"


def test_request_expires(mtls: httpx.Client, provider: PscProvider) -> None:
    provider.config.faults.expires_in = 1
    ack = ask(mtls, provider).json()
    assert ack["expires_in"] == 1
    time.sleep(1.2)
    assert poll(mtls, provider, ack["auth_req_id"]).json()["error"] == "expired_token"
    assert provider.pending() == []
    with pytest.raises(Exception, match="Aucune demande"):
        provider.decide("approve", None)


def test_polling_too_fast_gives_slow_down_and_a_longer_interval(
    mtls: httpx.Client, provider: PscProvider
) -> None:
    provider.config.faults.interval = 1
    ack = ask(mtls, provider).json()
    assert ack["interval"] == 1
    early = poll(mtls, provider, ack["auth_req_id"])
    assert early.json()["error"] == "slow_down"
    assert provider.requests[ack["auth_req_id"]].interval == 6  # CIBA §11: +5 s
    provider.requests[ack["auth_req_id"]].interval = 1  # (the test does not wait 6 s)
    time.sleep(1.1)
    assert poll(mtls, provider, ack["auth_req_id"]).json()["error"] == "authorization_pending"
    provider.config.faults.slow_down_polls = 1  # the injected fault, whatever the pace
    time.sleep(1.1)
    assert poll(mtls, provider, ack["auth_req_id"]).json()["error"] == "slow_down"


def test_automatic_phone_approves_or_refuses_after_its_delay(
    mtls: httpx.Client, provider: PscProvider
) -> None:
    faults = provider.config.faults
    faults.phone, faults.phone_delay = "approve", 0.3
    auth_req_id = ask(mtls, provider).json()["auth_req_id"]
    assert poll(mtls, provider, auth_req_id).json()["error"] == "authorization_pending"
    time.sleep(0.35)
    assert "id_token" in poll(mtls, provider, auth_req_id).json()
    faults.phone, faults.phone_delay = "refuse", 0.0
    auth_req_id = ask(mtls, provider).json()["auth_req_id"]
    assert poll(mtls, provider, auth_req_id).json()["error"] == "access_denied"


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"login_hint": professionals.UNKNOWN_ID}, 400, "unknown_user_id"),
        ({"login_hint": cards.card("secretaire").national_id}, 400, "unknown_user_id"),  # a CPE, not RPPS
        ({"login_hint": "-"}, 400, "invalid_request"),
        ({"binding_message": "4"}, 400, "invalid_binding_message"),
        ({"binding_message": "ABC"}, 400, "invalid_binding_message"),
        ({"scope": "all"}, 400, "invalid_scope"),
        ({"acr_values": "eidas2"}, 400, "invalid_request"),
        ({"channel": "SMS"}, 400, "invalid_request"),
        ({"client_id": "inconnu"}, 401, "invalid_client"),
    ],
)
def test_backchannel_request_errors(
    mtls: httpx.Client, provider: PscProvider, overrides: dict[str, str], status: int, error: str
) -> None:
    answer = ask(mtls, provider, **overrides)
    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_client_must_authenticate(plain: httpx.Client, mtls: httpx.Client, provider: PscProvider) -> None:
    answer = ask(plain, provider)  # client_id alone, no certificate, no secret
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")
    url = endpoints(mtls, provider)["backchannel_authentication_endpoint"]
    repeated = mtls.post(
        url,
        content=f"client_id={DEFAULT_CLIENT_ID}&scope=openid&login_hint=1&login_hint=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.json()["error"] == "invalid_request"
    json_body = mtls.post(url, json={"client_id": DEFAULT_CLIENT_ID})
    assert json_body.json()["error"] == "invalid_request"
    grant = mtls.post(endpoints(mtls, provider)["token_endpoint"], data={"client_id": DEFAULT_CLIENT_ID})
    assert grant.json()["error"] == "unsupported_grant_type"


# -- refresh, logout, revocation ----------------------------------------------------------------


def test_refresh_token_gives_new_tokens_and_is_rotated(mtls: httpx.Client, provider: PscProvider) -> None:
    data = login(mtls, provider)
    url = endpoints(mtls, provider)["token_endpoint"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": data["refresh_token"],
        "client_id": DEFAULT_CLIENT_ID,
    }
    fresh = mtls.post(url, data=form)
    assert fresh.status_code == 200
    assert fresh.json()["access_token"] != data["access_token"]
    validate(fresh.json()["id_token"], keys(mtls, provider), provider)
    assert mtls.post(url, data=form).json()["error"] == "invalid_grant"  # the used one is gone


def test_logout_ends_the_session(mtls: httpx.Client, provider: PscProvider) -> None:
    found = endpoints(mtls, provider)
    data = login(mtls, provider)
    bearer = {"Authorization": f"Bearer {data['access_token']}"}
    assert mtls.get(found["userinfo_endpoint"], headers=bearer).status_code == 200
    out = mtls.post(
        found["end_session_endpoint"],
        data={"client_id": DEFAULT_CLIENT_ID, "refresh_token": data["refresh_token"]},
    )
    assert out.status_code == 204
    assert mtls.get(found["userinfo_endpoint"], headers=bearer).status_code == 401
    form = {
        "grant_type": "refresh_token",
        "refresh_token": data["refresh_token"],
        "client_id": DEFAULT_CLIENT_ID,
    }
    assert mtls.post(found["token_endpoint"], data=form).json()["error"] == "invalid_grant"
    # The front-channel form: id_token_hint.
    second = login(mtls, provider)
    assert (
        mtls.get(found["end_session_endpoint"], params={"id_token_hint": second["id_token"]}).status_code
        == 204
    )
    assert (
        mtls.get(
            found["userinfo_endpoint"], headers={"Authorization": f"Bearer {second['access_token']}"}
        ).status_code
        == 401
    )


def test_revocation(mtls: httpx.Client, provider: PscProvider) -> None:
    found = endpoints(mtls, provider)
    data = login(mtls, provider)
    revoked = mtls.post(
        found["revocation_endpoint"], data={"client_id": DEFAULT_CLIENT_ID, "token": data["access_token"]}
    )
    assert revoked.status_code == 200
    bearer = {"Authorization": f"Bearer {data['access_token']}"}
    assert mtls.get(found["userinfo_endpoint"], headers=bearer).status_code == 401
    unknown = mtls.post(
        found["revocation_endpoint"], data={"client_id": DEFAULT_CLIENT_ID, "token": "inconnu"}
    )
    assert unknown.status_code == 200  # RFC 7009 §2.2


# -- faults for the client's ID token validation -------------------------------------------------


def test_wrong_signature_key(mtls: httpx.Client, provider: PscProvider) -> None:
    provider.config.faults.wrong_key = True
    data = login(mtls, provider)
    with pytest.raises(BadSignatureError):
        jwt.decode(data["id_token"], keys(mtls, provider))
    assert jwt.decode(data["id_token"], provider.wrong_key).claims["sub"]  # signed, by another key


@pytest.mark.parametrize(("fault", "claim"), [("wrong_issuer", "iss"), ("wrong_audience", "aud")])
def test_wrong_issuer_or_audience(mtls: httpx.Client, provider: PscProvider, fault: str, claim: str) -> None:
    setattr(provider.config.faults, fault, True)
    data = login(mtls, provider)
    with pytest.raises(InvalidClaimError, match=claim):
        validate(data["id_token"], keys(mtls, provider), provider)


def test_expired_tokens(mtls: httpx.Client, provider: PscProvider) -> None:
    provider.config.faults.expired_tokens = True
    data = login(mtls, provider)
    with pytest.raises(ExpiredTokenError):
        validate(data["id_token"], keys(mtls, provider), provider)
    bearer = {"Authorization": f"Bearer {data['access_token']}"}
    assert mtls.get(endpoints(mtls, provider)["userinfo_endpoint"], headers=bearer).status_code == 401


# -- the virtual phone through the admin endpoint -------------------------------------------------


def test_phone_approves_through_the_admin_endpoint(mtls: httpx.Client, provider: PscProvider) -> None:
    state, pki = provider.config.state_dir, provider.config.pki_dir
    assert phone.pending(state, pki) == []
    with pytest.raises(phone.PhoneError, match="Aucune demande"):
        phone.decide(state, pki, True)
    first = ask(mtls, provider).json()["auth_req_id"]
    second = ask(mtls, provider, binding_message="13").json()["auth_req_id"]
    assert {p["binding_message"] for p in phone.pending(state, pki)} == {"42", "13"}
    with pytest.raises(phone.PhoneError, match="--id"):
        phone.decide(state, pki, True)
    assert phone.decide(state, pki, False, second) == second
    assert phone.decide(state, pki, True) == first  # now the only one pending
    assert "id_token" in poll(mtls, provider, first).json()
    assert poll(mtls, provider, second).json()["error"] == "access_denied"
    changed = phone.set_faults(state, pki, {"phone": "approve", "phone_delay": 0})
    assert (changed["phone"], changed["phone_delay"]) == ("approve", 0.0)
    with pytest.raises(phone.PhoneError, match="Valeur refusée"):
        phone.set_faults(state, pki, {"phone": "peut-être"})
    base = f"https://localhost:{provider.server_address[1]}/sandbox/ecps"
    assert mtls.get(base).status_code == 401  # the admin endpoint needs its secret
