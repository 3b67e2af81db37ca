"""Pro Santé Connect (PSC), e-CPS: the pure parts of the OpenID Connect CIBA client (poll mode).

No I/O here (the exchanges are in app/dmp_client/psc_client.py): request builders, answer parsers,
the token and userinfo models and the validation rules. Sources (docs/authentication.md):

- OpenID Connect CIBA Core 1.0: the backchannel authentication request (§7.1: ``scope`` with
  ``openid``, ``login_hint``, ``binding_message``, ``acr_values``), its answer (§7.3: ``auth_req_id``,
  ``expires_in``, ``interval`` — 5 s when absent), its errors (§13: ``unknown_user_id``,
  ``access_denied``, ``invalid_client``…), the token request (§10.1: grant
  ``urn:openid:params:grant-type:ciba``), the poll errors (§11: ``authorization_pending``,
  ``slow_down`` — wait 5 s more, ``expired_token``, ``access_denied``) and the ID token's
  ``urn:openid:params:jwt:claim:auth_req_id`` claim (§10.1.1).
- ansforge/psc-edc-proxy-esante (the ANS's example e-santé proxy): ``scope "openid all"``,
  ``acr_values eidas1``, ``channel`` (CARD or MOBILE), the RPPS national id as ``login_hint``, a
  binding message of two digits 00–99 chosen by the software and shown to the user; the token
  answer's ``refresh_expires_in`` (Keycloak).
- ansforge/DRIM-M_DRIMbox (Backend dmp/request/BaseRequest.java): the userinfo claims an AIR VIHF is
  made of — ``SubjectNameID``; ``SubjectRefPro.exercices[]`` with ``codeProfession``,
  ``codeSavoirFaire``, ``prenomDexercice``, ``nomDexercice`` and ``activities[]`` with
  ``ancienIdentifiantDeLaStructure``, ``codeSecteurDactivite``, ``raisonSocialeSite``.

Tokens are validated with joserfc (signature against the provider's JWKS, issuer, audience,
expiry): no hand-written cryptography. Answers are bounded (size, depth of use) and every failure
is a project error (PSC-*).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

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
from app.dmp_client.core.psc_params import DEFAULT_ACR, DEFAULT_SCOPE, Channel

GRANT_CIBA = "urn:openid:params:grant-type:ciba"  # CIBA Core §10.1
GRANT_REFRESH = "refresh_token"  # RFC 6749 §6
AUTH_REQ_ID_CLAIM = "urn:openid:params:jwt:claim:auth_req_id"  # CIBA Core §10.1.1
DEFAULT_INTERVAL = 5.0  # CIBA Core §7.3: "If no value is provided, clients MUST use 5"
SLOW_DOWN_STEP = 5.0  # CIBA Core §11 slow_down: "increase the interval ... by at least 5 seconds"
MAX_ANSWER_BYTES = 1024 * 1024  # [UNSURE] bound on any PSC answer (discovery, JWKS, tokens, userinfo)
MAX_EXERCISES = 64  # bound on the userinfo's exercises and activities read
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
)  # never "none"/HS*

_RPPS = re.compile(r"8\d{11}")
_BINDING = re.compile(r"\d{2}")


def check_rpps(text: str) -> str:
    """The professional's RPPS national id, ``8`` followed by 11 digits (spaces ignored)."""
    value = "".join(text.split())
    if not _RPPS.fullmatch(value):
        raise PscBadRpps()
    return value


def check_binding_message(text: str) -> str:
    if not _BINDING.fullmatch(text):
        raise PscRequestRefused("Le code de liaison e-CPS doit comporter deux chiffres (00 à 99).")
    return text


# -- JSON answers -------------------------------------------------------------------------------


def load_json(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object of at most :data:`MAX_ANSWER_BYTES`, or PSC-REPONSE-ILLISIBLE."""
    if len(body) > MAX_ANSWER_BYTES:
        raise PscMalformedResponse(f"Réponse de Pro Santé Connect trop volumineuse ({what}).")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PscMalformedResponse(
            f"Réponse de Pro Santé Connect illisible ({what} : JSON attendu)."
        ) from None
    if not isinstance(data, dict):
        raise PscMalformedResponse(f"Réponse de Pro Santé Connect illisible ({what} : objet JSON attendu).")
    return data


def _text(data: Mapping[str, Any], name: str, what: str, *, required: bool = True) -> str:
    value = data.get(name)
    if isinstance(value, str) and value:
        return value
    if value is None and not required:
        return ""
    raise PscMalformedResponse(f"Réponse de Pro Santé Connect incomplète ({what} : « {name} » manquant).")


def _number(data: Mapping[str, Any], name: str, what: str, default: float | None = None) -> float:
    value = data.get(name)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value > 10**7:
        raise PscMalformedResponse(f"Réponse de Pro Santé Connect incomplète ({what} : « {name} » invalide).")
    return float(value)


# -- discovery (OpenID Connect Discovery 1.0 §3, CIBA Core §4) ------------------------------------


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    backchannel_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    end_session_endpoint: str | None = None
    # RFC 8705 §5: the endpoints to use with mutual-TLS client authentication, when they differ
    mtls_aliases: Mapping[str, str] = field(default_factory=dict)

    def endpoint(self, name: str, *, mtls: bool) -> str:
        """``name`` (e.g. ``token_endpoint``), through its mTLS alias when the client uses mTLS."""
        if mtls and name in self.mtls_aliases:
            return self.mtls_aliases[name]
        value: str | None = getattr(self, _FIELDS[name])
        if not value:
            raise PscMalformedResponse(f"Pro Santé Connect n'annonce pas de point d'accès « {name} ».")
        return value


_FIELDS = {
    "backchannel_authentication_endpoint": "backchannel_endpoint",
    "token_endpoint": "token_endpoint",
    "jwks_uri": "jwks_uri",
    "userinfo_endpoint": "userinfo_endpoint",
    "end_session_endpoint": "end_session_endpoint",
}


def _https(url: str, what: str, allow_http: bool) -> str:
    if url.startswith("https://") or (allow_http and url.startswith("http://")):
        return url
    raise PscMalformedResponse(f"Pro Santé Connect annonce une adresse non sécurisée ({what}).")


def parse_metadata(body: bytes, expected_issuer: str | None, *, allow_http: bool = False) -> ProviderMetadata:
    """The provider's metadata; its ``issuer`` must be the configured one (Discovery §4.3)."""
    data = load_json(body, "découverte")
    issuer = _text(data, "issuer", "découverte")
    if expected_issuer is not None and issuer.rstrip("/") != expected_issuer.rstrip("/"):
        raise PscInvalidToken("Pro Santé Connect annonce un autre émetteur que celui configuré (découverte).")
    urls: dict[str, str] = {}
    for name in _FIELDS:
        optional = name == "end_session_endpoint"
        value = _text(data, name, "découverte", required=not optional)
        urls[name] = _https(value, name, allow_http) if value else ""
    aliases_raw = data.get("mtls_endpoint_aliases")
    aliases: dict[str, str] = {}
    if isinstance(aliases_raw, dict):
        for name in _FIELDS:
            alias = aliases_raw.get(name)
            if isinstance(alias, str) and alias:
                aliases[name] = _https(alias, name, allow_http)
    modes = data.get("backchannel_token_delivery_modes_supported")
    if isinstance(modes, list) and modes and "poll" not in modes:
        raise PscMalformedResponse("Pro Santé Connect n'annonce pas le mode « poll » de CIBA.")
    return ProviderMetadata(
        issuer,
        urls["backchannel_authentication_endpoint"],
        urls["token_endpoint"],
        urls["jwks_uri"],
        urls["userinfo_endpoint"],
        urls["end_session_endpoint"] or None,
        aliases,
    )


def parse_jwks(body: bytes) -> KeySet:
    data = load_json(body, "JWKS")
    keys = data.get("keys")
    if not isinstance(keys, list) or not keys:
        raise PscMalformedResponse("Réponse de Pro Santé Connect illisible (JWKS sans clé).")
    usable = [
        k
        for k in keys
        if isinstance(k, dict) and k.get("use", "sig") == "sig" and k.get("kty") in ("RSA", "EC")
    ]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError, KeyError):
        raise PscMalformedResponse("Réponse de Pro Santé Connect illisible (JWKS).") from None


# -- the backchannel authentication request (CIBA Core §7) ----------------------------------------


@dataclass(frozen=True)
class BackchannelRequest:
    login_hint: str  # the RPPS national id ("8" + 11 digits)
    binding_message: str  # two digits, shown to the professional and on the phone
    channel: Channel = Channel.MOBILE
    acr_values: str = DEFAULT_ACR
    scope: str = DEFAULT_SCOPE

    def form(self) -> dict[str, str]:
        check_rpps(self.login_hint)
        check_binding_message(self.binding_message)
        if "openid" not in self.scope.split():
            raise PscRequestRefused("La portée de la demande e-CPS doit contenir « openid » (CIBA §7.1).")
        return {
            "scope": self.scope,
            "login_hint": self.login_hint,
            "binding_message": self.binding_message,
            "acr_values": self.acr_values,
            "channel": self.channel.value,
        }


@dataclass(frozen=True)
class AuthRequest:
    """The provider's acknowledgement: what to poll with, until when, how often."""

    auth_req_id: str
    expires_in: float
    interval: float


_ERRORS: Mapping[str, Callable[[str | None], Exception]] = {
    "access_denied": PscRefused,
    "expired_token": PscExpired,
    "expired_login_hint_token": PscExpired,
    "unknown_user_id": PscUnknownProfessional,
    "invalid_client": PscClientRefused,
    "unauthorized_client": PscClientRefused,
}


def _oauth_error(data: Mapping[str, Any]) -> Exception:
    error = data.get("error")
    if not isinstance(error, str) or not error:
        return PscMalformedResponse("Pro Santé Connect a répondu par une erreur sans code.")
    make = _ERRORS.get(error)
    if make is not None:
        return make(None)
    # the provider's own text is not shown (it may echo the login hint); its code is
    return PscRequestRefused(f"Pro Santé Connect a refusé la demande (code « {error[:40]} »).")


def parse_backchannel_response(status: int, body: bytes) -> AuthRequest:
    data = load_json(body, "demande e-CPS")
    if status != 200 or "error" in data:
        raise _oauth_error(data)
    return AuthRequest(
        _text(data, "auth_req_id", "demande e-CPS"),
        _number(data, "expires_in", "demande e-CPS"),
        max(_number(data, "interval", "demande e-CPS", DEFAULT_INTERVAL), 1.0),
    )


# -- the token endpoint (CIBA Core §10, §11; RFC 6749 §5, §6) ---------------------------------------


def token_poll_form(auth_req_id: str) -> dict[str, str]:
    return {"grant_type": GRANT_CIBA, "auth_req_id": auth_req_id}


def refresh_form(refresh_token: str) -> dict[str, str]:
    return {"grant_type": GRANT_REFRESH, "refresh_token": refresh_token}


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    expires_at: float  # epoch seconds (access token)
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    token_type: str = "Bearer"
    scope: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "id_token": self.id_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "refresh_expires_at": self.refresh_expires_at,
            "token_type": self.token_type,
            "scope": self.scope,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        refresh = data.get("refresh_token")
        refresh_at = data.get("refresh_expires_at")
        return cls(
            _text(data, "access_token", "session"),
            _text(data, "id_token", "session"),
            float(data["expires_at"]) if isinstance(data.get("expires_at"), int | float) else 0.0,
            refresh if isinstance(refresh, str) and refresh else None,
            float(refresh_at) if isinstance(refresh_at, int | float) else None,
            _text(data, "token_type", "session", required=False) or "Bearer",
            _text(data, "scope", "session", required=False),
        )


class PollState(StrEnum):
    PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"


def parse_token_response(
    status: int, body: bytes, now: float, *, previous: Tokens | None = None
) -> Tokens | PollState:
    """A token answer: the tokens, or a poll state to wait on; an error is raised as its PSC-* error.
    ``previous``: on a refresh, the tokens the answer may leave out (ID token, refresh token)."""
    data = load_json(body, "jeton")
    if status != 200 or "error" in data:
        error = data.get("error")
        if error == PollState.PENDING.value:
            return PollState.PENDING
        if error == PollState.SLOW_DOWN.value:
            return PollState.SLOW_DOWN
        raise _oauth_error(data)
    token_type = _text(data, "token_type", "jeton")
    if token_type.lower() not in ("bearer", "dpop"):
        raise PscMalformedResponse("Pro Santé Connect a rendu un jeton d'un type inconnu.")
    id_token = data.get("id_token")
    if not (isinstance(id_token, str) and id_token):
        if previous is None:
            raise PscMalformedResponse(
                "Réponse de Pro Santé Connect incomplète (jeton : « id_token » manquant)."
            )
        id_token = previous.id_token
    refresh = data.get("refresh_token")
    refresh_token = (
        refresh if isinstance(refresh, str) and refresh else (previous.refresh_token if previous else None)
    )
    refresh_in = data.get("refresh_expires_in")
    refresh_at = (
        now + _number(data, "refresh_expires_in", "jeton")
        if isinstance(refresh_in, int | float) and not isinstance(refresh_in, bool) and refresh_in > 0
        else None
    )
    return Tokens(
        _text(data, "access_token", "jeton"),
        id_token,
        now + _number(data, "expires_in", "jeton", 60.0),
        refresh_token,
        refresh_at,
        token_type,
        _text(data, "scope", "jeton", required=False),
    )


# -- ID token and signed userinfo validation (OpenID Connect Core §3.1.3.7, §5.3.2) ---------------


@dataclass(frozen=True)
class Expected:
    """What a token from this provider for this client must say."""

    issuer: str
    client_id: str
    leeway: int = 30  # seconds of clock difference tolerated on exp/iat/nbf
    algorithms: Sequence[str] = SIGNING_ALGORITHMS


def decode_jwt(
    token: str, keys: KeySet, expected: Expected, now: float, *, what: str, require_exp: bool = True
) -> dict[str, Any]:
    """A signed JWT's claims, after checking the signature against ``keys`` (the provider's JWKS),
    ``iss``, ``aud`` (and ``azp`` when several audiences), ``exp`` (required), ``iat``/``nbf``."""
    if not isinstance(token, str) or len(token) > MAX_ANSWER_BYTES or token.count(".") != 2:
        raise PscInvalidToken(f"Jeton de Pro Santé Connect mal formé ({what}).")
    try:
        decoded = jwt.decode(token, keys, algorithms=list(expected.algorithms))
    except JoseError as error:  # bad signature, unknown key, algorithm not allowed, bad header
        raise PscInvalidToken(
            f"Signature du jeton de Pro Santé Connect refusée ({what} : {error.error})."
        ) from None
    except (ValueError, TypeError, KeyError):
        raise PscInvalidToken(f"Jeton de Pro Santé Connect mal formé ({what}).") from None
    claims = dict(decoded.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=expected.leeway,
        iss={"essential": True, "value": expected.issuer},
        aud={"essential": True, "value": expected.client_id},
        exp={"essential": require_exp},
        sub={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        reason = {
            "expired_token": "jeton expiré",
            "invalid_claim": "émetteur, destinataire ou date invalide",
            "missing_claim": "information obligatoire absente",
        }.get(error.error, error.error)
        detail = f" ({getattr(error, 'claim', '')})" if getattr(error, "claim", "") else ""
        raise PscInvalidToken(f"Jeton de Pro Santé Connect refusé ({what} : {reason}{detail}).") from None
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != expected.client_id:
        raise PscInvalidToken(f"Jeton de Pro Santé Connect refusé ({what} : azp n'est pas ce logiciel).")
    return claims


def validate_id_token(
    token: str,
    keys: KeySet,
    expected: Expected,
    now: float,
    *,
    auth_req_id: str | None = None,
    require_auth_req_id: bool = False,
    nonce: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """The ID token's claims. CIBA has no nonce in the request; its ID token carries the
    ``auth_req_id`` (§10.1.1): checked when present, required when ``require_auth_req_id``
    ([UNSURE] whether PSC's Keycloak sets it: setting DMP_PSC_EXIGER_AUTH_REQ_ID). On a refresh the
    new ID token must be the same person's (``subject``, OIDC Core §12.2) and carry the same nonce
    when one was given."""
    claims = decode_jwt(token, keys, expected, now, what="jeton d'identité")
    if auth_req_id is not None:
        got = claims.get(AUTH_REQ_ID_CLAIM)
        if got is None and require_auth_req_id:
            raise PscInvalidToken("Jeton d'identité sans l'identifiant de la demande e-CPS (CIBA §10.1.1).")
        if got is not None and got != auth_req_id:
            raise PscInvalidToken("Jeton d'identité d'une autre demande e-CPS que celle envoyée.")
    if nonce is not None and claims.get("nonce") != nonce:
        raise PscInvalidToken("Jeton d'identité refusé (nonce différent de celui envoyé).")
    if subject is not None and claims.get("sub") != subject:
        raise PscInvalidToken("Jeton d'identité d'un autre professionnel que celui connecté.")
    return claims


# -- the professional's identity (userinfo) ----------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """One exercise and activity of the professional: what an AIR VIHF says of where and how."""

    profession_code: str  # TRE_G15 (codeProfession)
    specialty_code: str | None  # TRE_R01 savoir-faire (codeSavoirFaire)
    given_name: str  # prenomDexercice
    family_name: str  # nomDexercice
    structure_id: str  # ancienIdentifiantDeLaStructure: the VIHF's Identifiant_Structure
    structure_name: str  # raisonSocialeSite
    sector: str  # codeSecteurDactivite (TRE_R02): the VIHF's Secteur_Activite

    @property
    def label(self) -> str:
        return f"{self.structure_name or self.structure_id} ({self.sector})"


@dataclass(frozen=True)
class PscIdentity:
    national_id: str  # SubjectNameID ("8" + RPPS): the VIHF's NameID
    subject: str  # the token's "sub"
    given_name: str
    family_name: str
    situations: tuple[Situation, ...]

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip().upper() or self.national_id

    def situation(self, index: int | None) -> Situation:
        """The exercise chosen (1-based); with ``None``, the only one (several: the caller chooses)."""
        if not self.situations:
            raise PscNoSituation()
        if index is None:
            if len(self.situations) > 1:
                raise PscNoSituation(
                    f"Ce professionnel a {len(self.situations)} situations d'exercice : choisissez-en une."
                )
            return self.situations[0]
        if not 1 <= index <= len(self.situations):
            raise PscNoSituation(f"Pas de situation d'exercice n° {index} (1 à {len(self.situations)}).")
        return self.situations[index - 1]


def _opt(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_userinfo(data: Mapping[str, Any], *, id_token_subject: str) -> PscIdentity:
    """The professional from the userinfo claims; its ``sub`` must be the ID token's (OIDC Core
    §5.3.2: otherwise the answer is not used)."""
    if data.get("sub") != id_token_subject:
        raise PscInvalidToken("Informations du professionnel d'un autre sujet que le jeton d'identité.")
    national_id = _opt(data, "SubjectNameID") or _opt(data, "preferred_username")  # [UNSURE] fallback
    national_id = check_rpps(national_id) if national_id else ""
    if not national_id:
        raise PscMalformedResponse("Informations du professionnel sans identifiant national (SubjectNameID).")
    ref = data.get("SubjectRefPro")
    exercises = ref.get("exercices") if isinstance(ref, dict) else None
    situations: list[Situation] = []
    for exercise in exercises if isinstance(exercises, list) else []:
        if not isinstance(exercise, dict) or len(situations) >= MAX_EXERCISES:
            continue
        profession = _opt(exercise, "codeProfession")
        activities = exercise.get("activities")
        for activity in activities if isinstance(activities, list) else []:
            if not isinstance(activity, dict) or len(situations) >= MAX_EXERCISES:
                continue
            structure = _opt(activity, "ancienIdentifiantDeLaStructure")
            sector = _opt(activity, "codeSecteurDactivite")
            if not (profession and structure and sector):
                continue  # not enough for a VIHF: never guessed
            situations.append(
                Situation(
                    profession,
                    _opt(exercise, "codeSavoirFaire") or None,
                    _opt(exercise, "prenomDexercice") or _opt(data, "given_name"),
                    _opt(exercise, "nomDexercice") or _opt(data, "family_name"),
                    structure,
                    _opt(activity, "raisonSocialeSite"),
                    sector,
                )
            )
    return PscIdentity(
        national_id,
        id_token_subject,
        _opt(data, "given_name"),
        _opt(data, "family_name"),
        tuple(situations),
    )


@dataclass(frozen=True)
class PscSession:
    """A professional logged in with e-CPS: the validated tokens and identity (never re-validated
    from storage without the provider's keys: :meth:`from_json` is for the CLI's keyring copy,
    whose tokens are validated again before use)."""

    tokens: Tokens
    identity: PscIdentity

    def expires_in(self, now: float) -> float:
        return self.tokens.expires_at - now

    def can_refresh(self, now: float) -> bool:
        t = self.tokens
        return bool(t.refresh_token) and (t.refresh_expires_at is None or t.refresh_expires_at > now)

    def to_json(self) -> dict[str, Any]:
        who = self.identity
        return {
            "tokens": self.tokens.to_json(),
            "identity": {
                "national_id": who.national_id,
                "subject": who.subject,
                "given_name": who.given_name,
                "family_name": who.family_name,
                "situations": [s.__dict__ for s in who.situations],
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PscSession:
        try:
            who = data["identity"]
            situations = tuple(Situation(**s) for s in who["situations"])
            identity = PscIdentity(
                check_rpps(who["national_id"]),
                who["subject"],
                who["given_name"],
                who["family_name"],
                situations,
            )
            return cls(Tokens.from_json(data["tokens"]), identity)
        except (KeyError, TypeError, AttributeError):
            raise PscMalformedResponse("Session e-CPS enregistrée illisible : reconnectez-vous.") from None
