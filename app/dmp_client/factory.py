"""Assemble a DmpClient from settings: the card (direct mode) or the structure's certificates."""

from __future__ import annotations

import ssl

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from app.card import pkcs11_module
from app.card.cps import PinPrompt
from app.card.errors import SituationUnknown
from app.card.identity import SituationChooser
from app.card.session import CardSession
from app.card.signer import CardSigner
from app.dmp_client import structure_keys
from app.dmp_client.actors import actor_from_card, structure_actor
from app.dmp_client.card_tls import CardTlsTransport
from app.dmp_client.client import DmpClient, Session
from app.dmp_client.core.cda import Author, Organization, Person
from app.dmp_client.core.context import NON_PS_ROLE_CODE_SYSTEM, Actor, AirAuthn, AuthMode, Code, Purpose
from app.dmp_client.core.signing import SoftwareKeySigner
from app.dmp_client.core.valuesets import value_sets
from app.dmp_client.errors import ClientConfigError, TlsError
from app.dmp_client.options import ClientSettings as Settings
from app.dmp_client.transport import Endpoint, Transport


def check_configured(settings: Settings) -> None:
    """What a real installation must set itself (the sandbox's values are defaults in sandbox mode
    only): the host's address and the software's homologation number, named when missing."""
    if not settings.host_url:
        raise ClientConfigError(
            "Réglage DMP_HOST_URL (« Adresse des services du DMP ») absent : à configurer."
        )
    if not settings.software.homologation:
        raise ClientConfigError(
            "Réglage DMP_LPS_HOMOLOGATION (« Numéro d'homologation du logiciel ») absent : à configurer."
        )


def _endpoint(settings: Settings) -> Endpoint:
    check_configured(settings)
    if not settings.trust_files:
        raise TlsError("Aucune autorité de confiance configurée pour vérifier le serveur du DMP.")
    return Endpoint(settings.host_url, settings.trust_files, settings.proxy)


def author_of(
    national_id: str,
    given: str,
    family: str,
    profession: str | None,
    specialty: str | None,
    structure_id: str,
    structure_name: str,
) -> Author | None:
    """The XDS/CDA author: the professional, the JDV_J01 profession/specialty, the structure."""
    if not profession:
        return None  # a CPE holder is not an author: the document names the professional
    table = value_sets().author_specialties
    code = f"G15_{profession}/{specialty}" if specialty else f"G15_{profession}"
    concept = table.get(code) or value_sets().lookup(table, f"G15_{profession}", "JDV_J01")
    return Author(Person(national_id, given, family), concept, Organization(structure_id, structure_name))


def parse_author(
    text: str | None, structure_id: str, structure_name: str, *, what: str = "L'auteur"
) -> Author | None:
    """An author written ``IdNat|Prénom|NOM|G15_xx/SMyy`` (JDV_J01 profession, optional specialty),
    working for the given structure; ``None`` for an empty text. ``what`` names the setting in the
    message when the text has the wrong shape; an unknown profession raises the value sets' error."""
    if not text:
        return None
    parts = text.split("|")
    if len(parts) != 4 or not parts[3].startswith("G15_"):
        raise ClientConfigError(f"{what} doit avoir la forme IdNat|Prénom|NOM|G15_xx/SMyy.")
    profession, _, specialty = parts[3][4:].partition("/")
    return author_of(
        parts[0], parts[1], parts[2], profession, specialty or None, structure_id, structure_name
    )


def _configured_author(text: str | None, structure_id: str, structure_name: str) -> Author | None:
    return parse_author(text, structure_id, structure_name, what="DMP_STRUCTURE_AUTEUR")


def _structure_keys(settings: Settings) -> tuple[Endpoint, ssl.SSLContext, SoftwareKeySigner]:
    """The DMP endpoint, the TLS context with ORG AUTH_CLI and the ORG SIGN signer (indirect, AIR)."""
    creds = settings.structure
    if creds is None:
        raise ClientConfigError("Aucun certificat de structure n'est configuré.")
    endpoint = _endpoint(settings)
    # PEM, encrypted PEM or PKCS#12; the password from the keyring (app/dmp_client/structure_keys.py)
    tls = structure_keys.tls_context(endpoint, creds.auth_cert, creds.auth_key, creds.key_password)
    key, _, _ = structure_keys.load_key_and_certificate(creds.sign_key, creds.key_password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ClientConfigError("La clé de signature de la structure n'est pas RSA.")
    signer = SoftwareKeySigner(key, structure_keys.load_certificate(creds.sign_cert, creds.key_password))
    return endpoint, tls, signer


def structure_client(settings: Settings, purpose: Purpose = Purpose.NORMAL) -> DmpClient:
    """Indirect mode: TLS with ORG AUTH_CLI, VIHF signed with ORG SIGN."""
    endpoint, tls, signer = _structure_keys(settings)
    creds = settings.structure
    assert creds is not None
    roles = (Code("SECRETARIAT_MEDICAL", NON_PS_ROLE_CODE_SYSTEM),)
    actor = structure_actor(creds.user_id, creds.user_name, creds.structure_id, creds.sector, roles)
    author = _configured_author(creds.author, creds.structure_id, creds.structure_name)
    session = Session(actor, AuthMode.INDIRECT, settings.software, settings.sender_oid, purpose, author)
    transport = Transport(endpoint, tls, settings.timeouts, settings.max_response_bytes)
    transport.trace_dir = settings.trace_dir
    return DmpClient(transport, signer, session)


def air_client(
    settings: Settings,
    actor: Actor,
    air: AirAuthn,
    air_transactions: tuple[str, ...],
    purpose: Purpose = Purpose.NORMAL,
) -> DmpClient:
    """AIR (authentification indirecte renforcée): the professional logged in with e-CPS (``actor``
    from the Pro Santé Connect userinfo and the exercise chosen), mutual TLS with the structure's
    ORG AUTH_CLI certificate, a fresh VIHF per request signed by the structure's ORG SIGN key with
    ``Authentification_mode=INDIRECTE_RENFORCEE`` (docs/authentication.md). Consultation only."""
    endpoint, tls, signer = _structure_keys(settings)
    session = Session(
        actor,
        AuthMode.INDIRECT_REINFORCED,
        settings.software,
        settings.sender_oid,
        purpose,
        None,  # AIR does not feed: no author
        air,
        air_transactions,
    )
    transport = Transport(endpoint, tls, settings.timeouts, settings.max_response_bytes)
    transport.trace_dir = settings.trace_dir
    return DmpClient(transport, signer, session)


def card_client(
    settings: Settings,
    prompt: PinPrompt,
    situation: int | SituationChooser = 1,
    purpose: Purpose = Purpose.NORMAL,
) -> tuple[DmpClient, CardSession]:
    """Direct mode: PIN once, TLS and VIHF with the card's keys, the chosen situation d'exercice
    (a number, or a chooser asked after the PIN with the card's situations, e.g. the GUI's dialog)."""
    card = CardSession(pkcs11_module.discover(settings.pkcs11_module), sandbox=settings.is_sandbox)
    try:
        card.login(prompt)
        who = card.professional()
        situations = card.situations()
        number = situation(situations) if callable(situation) else situation
        chosen = next((s for s in situations if s.number == number), None)
        if chosen is None:
            raise SituationUnknown(f"La carte n'a pas de situation d'exercice n° {number}.")
        signer = CardSigner(card)
        endpoint = _endpoint(settings)
        tls = card_tls_transport(settings, card, signer.authentication_certificate)
        author = author_of(
            who.national_id,
            who.given_name,
            who.surname,
            who.profession_code,
            who.specialty_code,
            chosen.structure_id,
            chosen.structure_name,
        )
        session = Session(
            actor_from_card(who, chosen),
            AuthMode.DIRECT,
            settings.software,
            settings.sender_oid,
            purpose,
            author,
        )
        transport = Transport(endpoint, tls, settings.timeouts, settings.max_response_bytes)
        transport.trace_dir = settings.trace_dir
        return DmpClient(transport, signer, session), card
    except BaseException:
        card.close()
        raise


# -- INSi over the same credentials (app/services/qualification.py) -----------------------------------


def _roots(settings: Settings) -> list[x509.Certificate]:
    if not settings.trust_files:
        raise TlsError("Aucune autorité de confiance configurée pour vérifier le téléservice INSi.")
    return [
        cert for path in settings.trust_files for cert in x509.load_pem_x509_certificates(path.read_bytes())
    ]


def insi_card_transport(settings: Settings, card: CardSession) -> CardTlsTransport:
    """The card TLS transport for INSi over an open (logged-in) card session: the same card and
    authentication key as the DMP's, a transport of its own (closing it leaves the DMP's open)."""
    signer = CardSigner(card)
    return CardTlsTransport(
        signer.authentication_certificate,
        card.authenticate,
        _roots(settings),
        settings.timeouts.query,
        proxy=settings.proxy,
    )


def insi_structure_tls(settings: Settings) -> tuple[ssl.SSLContext, str]:
    """The structure's ORG AUTH_CLI TLS context for INSi, and the structure's identifier (Emetteur)."""
    creds = settings.structure
    if creds is None:
        raise ClientConfigError("Aucun certificat de structure n'est configuré.")
    if not settings.trust_files:
        raise TlsError("Aucune autorité de confiance configurée pour vérifier le téléservice INSi.")
    endpoint = Endpoint("insi", settings.trust_files, settings.proxy)
    tls = structure_keys.tls_context(endpoint, creds.auth_cert, creds.auth_key, creds.key_password)
    return tls, creds.structure_id


def card_tls_transport(
    settings: Settings,
    card: CardSession,
    certificate: x509.Certificate | None = None,
    timeout: float | None = None,
) -> CardTlsTransport:
    """The card TLS transport of a logged-in card session, for any of the card's mutual-TLS
    services (the DMP in :func:`card_client`, INSi through ``InsiClient.open``): the card's
    authentication key and ``certificate`` (read from the card when not given), the configured
    IGC-Santé roots, DMP_PROXY (a CONNECT tunnel, the card's TLS end to end); ``timeout`` per read
    (the DMP query time-out by default)."""
    if certificate is None:
        certificate = card.call(card.token.authentication_certificate)
    roots = [
        cert for path in settings.trust_files for cert in x509.load_pem_x509_certificates(path.read_bytes())
    ]
    return CardTlsTransport(
        certificate,
        card.authenticate,
        roots,
        settings.timeouts.query if timeout is None else timeout,
        proxy=settings.proxy,
    )
