"""The PSC client (CIBA poll mode) against a fake provider: request shape (CIBA Core §7.1 and the
ANS proxy's parameters), poll outcomes (§11), ID token validation (signature, issuer, audience,
expiry, auth_req_id), userinfo, refresh and logout."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import unquote

import httpx
import pytest
from joserfc.jwk import RSAKey

from app.dmp_client.core import psc
from app.dmp_client.core.errors import (
    PscBadRpps,
    PscClientRefused,
    PscExpired,
    PscInvalidToken,
    PscMalformedResponse,
    PscNoSituation,
    PscRefused,
    PscRequestRefused,
    PscUnknownProfessional,
)
from app.dmp_client.errors import (
    PscCancelled,
    PscNotConfigured,
    PscSecretMissing,
    PscSessionExpired,
    PscUnreachable,
)
from app.dmp_client.options import PscSettings
from app.dmp_client.psc_client import PscClient
from tests.psc.fake_psc import CLIENT_ID, ISSUER, RPPS, SECRET, FakeClock, FakePsc


class FastEvent(threading.Event):
    """``wait`` advances the fake clock instead of sleeping; ``cancel_after`` sets it after n waits."""

    def __init__(self, clock: FakeClock, cancel_after: int | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []
        self.cancel_after = cancel_after

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.clock.now += timeout or 0.0
        if self.cancel_after is not None and len(self.waits) >= self.cancel_after:
            self.set()
        return self.is_set()


def make(fake: FakePsc, clock: FakeClock, **settings: object) -> PscClient:
    fake.clock = clock
    base = {"url": ISSUER, "client_id": CLIENT_ID, "client_auth": "secret"}
    return PscClient(
        PscSettings(**(base | settings)),  # type: ignore[arg-type]
        secret=SECRET,
        transport=fake.transport(),
        clock=clock,
    )


def login(fake: FakePsc, clock: FakeClock | None = None, **settings: object) -> psc.PscSession:
    clock = clock or FakeClock()
    with make(fake, clock, **settings) as client:
        return client.login(RPPS, cancel=FastEvent(clock))


def test_backchannel_request_carries_the_documented_parameters() -> None:
    fake = FakePsc()
    clock = FakeClock()
    with make(fake, clock) as client:
        pending = client.start(RPPS)
    form = next(f for p, f in fake.requests if p.endswith("/ciba"))
    assert form["login_hint"] == [RPPS]
    assert form["scope"] == ["openid all"]
    assert form["acr_values"] == ["eidas1"]
    assert form["channel"] == ["MOBILE"]
    assert len(form["binding_message"][0]) == 2 and form["binding_message"][0].isdigit()
    assert pending.binding_message == form["binding_message"][0]
    assert pending.deadline == clock.now + 120
    assert pending.request.interval == 1


def test_approved_login_gives_a_validated_session_and_identity() -> None:
    fake = FakePsc(pending_polls=2)
    session = login(fake)
    assert fake.polls == 3
    polls = [f for p, f in fake.requests if p.endswith("/token")]
    assert polls[0]["grant_type"] == ["urn:openid:params:grant-type:ciba"]
    who = session.identity
    assert who.national_id == RPPS and who.display_name == "PAUL CARDIOLOGUE"
    situation = who.situation(None)
    assert (situation.profession_code, situation.specialty_code) == ("10", "SM04")
    assert (situation.structure_id, situation.sector) == ("1990000017", "SA01")


def test_poll_honours_interval_and_slow_down() -> None:
    fake = FakePsc(slow_down_polls=2, pending_polls=1, interval=2)
    clock = FakeClock()
    start = clock.now
    login(fake, clock)
    gaps = [b - a for a, b in zip([start, *fake.poll_times], fake.poll_times, strict=False)]
    assert gaps[0] >= 2  # the interval
    assert gaps[1] >= 7 and gaps[2] >= 12  # +5 s after each slow_down (CIBA Core §11)


def test_refused_on_the_phone() -> None:
    with pytest.raises(PscRefused) as error:
        login(FakePsc(outcome="deny"))
    assert error.value.code == "PSC-REFUS"
    assert "refusée" in error.value.user_message


def test_expired_by_the_provider() -> None:
    with pytest.raises(PscExpired):
        login(FakePsc(outcome="expire"))


def test_expired_by_the_clock_without_any_answer() -> None:
    fake = FakePsc(pending_polls=10_000, expires_in=10, interval=3)
    with pytest.raises(PscExpired):
        login(fake)
    assert fake.polls <= 4  # never polled past expires_in


def test_unknown_professional() -> None:
    with pytest.raises(PscUnknownProfessional) as error:
        login(FakePsc(backchannel_error="unknown_user_id"))
    assert error.value.code == "PSC-PRO-INCONNU"


def test_other_backchannel_errors_name_the_code_only() -> None:
    with pytest.raises(PscRequestRefused, match="invalid_binding_message"):
        login(FakePsc(backchannel_error="invalid_binding_message"))


def test_wrong_client_secret_is_a_client_refusal() -> None:
    fake = FakePsc()
    clock = FakeClock()
    fake.clock = clock
    client = PscClient(
        PscSettings(url=ISSUER, client_id=CLIENT_ID, client_auth="secret"),
        secret="wrong",
        transport=fake.transport(),
        clock=clock,
    )
    with pytest.raises(PscClientRefused):
        client.start(RPPS)


def test_mtls_client_auth_sends_the_client_id_and_no_secret() -> None:
    fake = FakePsc(client_auth="mtls")
    clock = FakeClock()
    fake.clock = clock
    client = PscClient(
        PscSettings(url=ISSUER, client_id=CLIENT_ID, client_auth="mtls"),
        transport=fake.transport(),
        clock=clock,
    )
    session = client.login(RPPS, cancel=FastEvent(clock))
    assert session.identity.national_id == RPPS
    assert all("client_secret" not in f for _, f in fake.requests)


def test_secret_mode_without_secret_and_missing_settings() -> None:
    with pytest.raises(PscSecretMissing):
        PscClient(PscSettings(url=ISSUER, client_id=CLIENT_ID, client_auth="secret"))
    with pytest.raises(PscNotConfigured):
        PscClient(PscSettings(url=None, client_id=CLIENT_ID))
    with pytest.raises(PscNotConfigured):
        PscClient(PscSettings(url="http://psc.test", client_id=CLIENT_ID), secret="x")


def test_cancel_stops_the_wait() -> None:
    fake = FakePsc(pending_polls=10_000)
    clock = FakeClock()
    with make(fake, clock) as client, pytest.raises(PscCancelled):
        client.login(RPPS, cancel=FastEvent(clock, cancel_after=3))
    assert fake.polls <= 2


def test_wait_reports_the_time_left() -> None:
    fake = FakePsc(pending_polls=3, interval=2, expires_in=60)
    clock = FakeClock()
    left: list[float] = []
    with make(fake, clock) as client:
        client.login(RPPS, cancel=FastEvent(clock), on_wait=left.append)
    assert left[0] == 60 and left == sorted(left, reverse=True) and left[-1] > 0


def test_bad_rpps_is_refused_before_sending() -> None:
    fake = FakePsc()
    with make(fake, FakeClock()) as client, pytest.raises(PscBadRpps):
        client.start("12345")
    assert not any(p.endswith("/ciba") for p, _ in fake.requests)


# -- ID token validation -------------------------------------------------------------------------


def test_wrong_signature_is_refused() -> None:
    fake = FakePsc(sign_key=RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    with pytest.raises(PscInvalidToken) as error:
        login(fake)
    assert error.value.code == "PSC-JETON-INVALIDE"
    assert sum(p.endswith("/certs") for p, _ in fake.requests) == 2  # the JWKS fetched again once


def test_wrong_issuer_is_refused() -> None:
    with pytest.raises(PscInvalidToken, match="émetteur"):
        login(FakePsc(issuer_claim="https://evil.test/realm"))


def test_wrong_audience_is_refused() -> None:
    with pytest.raises(PscInvalidToken, match="destinataire"):
        login(FakePsc(audience="another-client"))


def test_expired_token_is_refused() -> None:
    with pytest.raises(PscInvalidToken, match="expiré"):
        login(FakePsc(expired=True))


def test_another_requests_token_is_refused() -> None:
    with pytest.raises(PscInvalidToken, match="autre demande"):
        login(FakePsc(auth_req_claim="other"))


def test_auth_req_id_claim_required_only_when_configured() -> None:
    assert login(FakePsc(auth_req_claim="absent")).identity.national_id == RPPS
    with pytest.raises(PscInvalidToken, match="CIBA"):
        login(FakePsc(auth_req_claim="absent"), require_auth_req_id=True)


def test_unsigned_token_is_refused() -> None:
    fake = FakePsc()
    keys = psc.parse_jwks(json.dumps({"keys": [fake.key.as_dict(private=False)]}).encode())

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = (
        part({"alg": "none"}) + "." + part({"iss": ISSUER, "aud": CLIENT_ID, "sub": "x", "exp": 2**40}) + "."
    )
    with pytest.raises(PscInvalidToken):
        psc.validate_id_token(token, keys, psc.Expected(ISSUER, CLIENT_ID), 1_800_000_000)


# -- answers that cannot be used -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"auth_req_id": ""}',
        b'{"auth_req_id": "x", "expires_in": -1}',
        b"{" * 100_000,
    ],
)
def test_malformed_backchannel_answers(body: bytes) -> None:
    with pytest.raises(PscMalformedResponse):
        psc.parse_backchannel_response(200, body)


def test_oversized_answer_is_refused() -> None:
    with pytest.raises(PscMalformedResponse, match="volumineuse"):
        psc.load_json(b" " * (psc.MAX_ANSWER_BYTES + 1), "x")


def test_discovery_with_another_issuer_is_refused() -> None:
    fake = FakePsc()
    data = fake.metadata() | {"issuer": "https://evil.test"}
    with pytest.raises(PscInvalidToken):
        psc.parse_metadata(json.dumps(data).encode(), ISSUER)


def test_discovery_with_plain_http_endpoint_is_refused() -> None:
    data = FakePsc().metadata() | {"token_endpoint": "http://psc.test/token"}
    with pytest.raises(PscMalformedResponse, match="non sécurisée"):
        psc.parse_metadata(json.dumps(data).encode(), ISSUER)


def test_provider_unreachable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = PscClient(
        PscSettings(url=ISSUER, client_id=CLIENT_ID, client_auth="secret"),
        secret=SECRET,
        transport=httpx.MockTransport(down),
    )
    with pytest.raises(PscUnreachable) as error:
        client.start(RPPS)
    assert error.value.code == "PSC-INJOIGNABLE"


# -- identity, refresh, logout ---------------------------------------------------------------------


def test_several_exercises_let_the_caller_choose() -> None:
    who = login(FakePsc(exercises=2)).identity
    with pytest.raises(PscNoSituation, match="2 situations"):
        who.situation(None)
    assert who.situation(2).sector == "SA07"
    with pytest.raises(PscNoSituation):
        who.situation(3)


def test_userinfo_of_another_subject_is_refused() -> None:
    with pytest.raises(PscInvalidToken):
        psc.parse_userinfo({"sub": "other", "SubjectNameID": RPPS}, id_token_subject="me")


def test_refresh_before_expiry_and_expired_refresh() -> None:
    fake = FakePsc(token_lifetime=60)
    clock = FakeClock()
    with make(fake, clock) as client:
        session = client.login(RPPS, cancel=FastEvent(clock))
        assert client.fresh(session) is session  # plenty left
        clock.now += 45  # 15 s left, below the 30 s margin
        renewed = client.fresh(session)
        assert renewed is not session and renewed.tokens.access_token != session.tokens.access_token
        assert renewed.identity == session.identity
        clock.now += 4000  # the refresh token's life (1800 s) is over too
        with pytest.raises(PscSessionExpired):
            client.fresh(renewed)


def test_refresh_for_another_professional_is_refused() -> None:
    fake = FakePsc(token_lifetime=60)
    clock = FakeClock()
    with make(fake, clock) as client:
        session = client.login(RPPS, cancel=FastEvent(clock))
        fake.sub = "someone-else"
        clock.now += 45
        with pytest.raises(PscInvalidToken):
            client.fresh(session)


def test_stored_session_round_trip_and_check() -> None:
    fake = FakePsc()
    clock = FakeClock()
    with make(fake, clock) as client:
        session = client.login(RPPS, cancel=FastEvent(clock))
        again = psc.PscSession.from_json(session.to_json())
        assert again == session
        assert client.check(again) == session


def test_logout_calls_the_end_session_endpoint() -> None:
    fake = FakePsc()
    clock = FakeClock()
    with make(fake, clock) as client:
        session = client.login(RPPS, cancel=FastEvent(clock))
        assert client.logout(session) is True
    assert fake.logged_out
    form = next(f for p, f in fake.requests if p.endswith("/logout"))
    assert form["refresh_token"] == [session.tokens.refresh_token]


def test_secret_is_form_encoded_in_basic_auth() -> None:
    fake = FakePsc()
    login(fake)  # SECRET has "/" and ":": accepted once urlencoded (RFC 6749 §2.3.1)
    assert unquote("s3cret%2Fwith%3Achars") == SECRET
