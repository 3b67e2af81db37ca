"""One session service for every way of connecting (card, structure, e-CPS / Pro Santé Connect
in AIR): connect, the DmpClient with its journal and journal-failure handler, purpose change,
the upload queue's credentials and disconnect with the purge the settings ask for.

The command line (``app.cli``), the store's sender and the GUI's workspace all go through it. A new
authentication mode is one more :class:`Login` (its ``open`` returns an :class:`Opened`); callers do
not change. Every method may block (card, network): the GUI calls them off its thread; a lock makes
them safe from several threads. No Qt here (``app.services`` layer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.config.settings import Settings
from app.dmp_client.core.context import AuthMode, Purpose
from app.errors import DmpClientError
from app.store.local_store import LocalStore
from app.store.request import SendMode
from app.store.sender import CredentialsUnavailable

if TYPE_CHECKING:  # the card stack (pkcs11), the client (httpx, the signature), JOSE: at first use
    from app.card.cps import PinPrompt
    from app.card.identity import Professional, SituationChooser
    from app.card.session import CardSession
    from app.dmp_client.client import DmpClient
    from app.dmp_client.core.psc import PscSession
    from app.dmp_client.psc_client import PscClient

JournalFailure = Callable[[Exception], None]


class NotConnected(DmpClientError):
    code = "POSTE-NON-CONNECTE"
    user_message = "Connectez-vous d'abord (carte CPS ou certificat de la structure)."


@dataclass(frozen=True)
class Connection:
    """Who is connected, as the GUI shows it."""

    mode: AuthMode
    purpose: Purpose
    actor_id: str
    display_name: str
    structure: str
    situation: str
    card_reader: str | None = None
    professional: Professional | None = None

    @property
    def physician(self) -> bool:
        return bool(self.professional and self.professional.profession_code == "10")


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True)
class Opened:
    """What a :class:`Login` opens: the client, who it is, and a card session to close at the end
    (its end is a card-session end: the cache is purged when the settings say so)."""

    client: DmpClient
    connection: Connection
    card: Closable | None = None


class Login(Protocol):
    """One way of connecting. ``send_mode`` is the upload queue's mode its entries go with."""

    @property
    def send_mode(self) -> SendMode: ...

    def open(self, settings: Settings, purpose: Purpose) -> Opened: ...


@dataclass(frozen=True)
class CardLogin:
    """Direct mode: the CPS (PIN asked through ``prompt``) and the situation d'exercice: a number,
    or a chooser asked after the PIN with the card's situations (the GUI's dialog)."""

    prompt: PinPrompt
    situation: int | SituationChooser = 1
    send_mode: SendMode = SendMode.CARD

    def open(self, settings: Settings, purpose: Purpose) -> Opened:
        from app.dmp_client import factory  # deferred: card, TLS and PKCS#11 stacks

        client, card = factory.card_client(settings, self.prompt, self.situation, purpose)
        try:
            who = card.professional()
            actor = client.session.actor  # the situation chosen, by number or by the chooser
            where = (actor.structure_id, actor.sector)
            chosen = next(s for s in card.situations() if (s.structure_id, s.sector) == where)
        except BaseException:
            client.close()
            card.close()
            raise
        place = chosen.structure_name or chosen.structure_id
        connection = Connection(
            AuthMode.DIRECT,
            purpose,
            who.national_id,
            who.display_name,
            place,
            f"n° {chosen.number} — {place}",
            card.reader,
            who,
        )
        return Opened(client, connection, card)


@dataclass(frozen=True)
class StructureLogin:
    """Indirect mode: the structure's certificates from the settings."""

    send_mode: SendMode = SendMode.STRUCTURE

    def open(self, settings: Settings, purpose: Purpose) -> Opened:
        from app.dmp_client import factory  # deferred: see CardLogin

        client = factory.structure_client(settings, purpose)
        creds = settings.structure
        actor = client.session.actor
        connection = Connection(
            AuthMode.INDIRECT,
            purpose,
            actor.national_id,
            actor.display_name,
            creds.structure_name if creds and creds.structure_name else actor.structure_id,
            "certificat de la structure",
        )
        return Opened(client, connection)


class EcpsHolder:
    """The e-CPS session behind an AIR connection: refreshed before it expires (before each DMP
    exchange; PSC-SESSION-EXPIREE when it cannot be: log in again), told to ``on_refresh`` (the
    command line keeps it in the keyring), ended at disconnection when ``logout``."""

    def __init__(
        self,
        psc: PscClient,
        session: PscSession,
        *,
        logout: bool,
        on_refresh: Callable[[PscSession], None] | None = None,
    ) -> None:
        self.psc, self.session, self.logout = psc, session, logout
        self.on_refresh = on_refresh
        self.lock = threading.Lock()

    def ensure(self) -> None:
        with self.lock:
            fresh = self.psc.fresh(self.session)
            if fresh is not self.session:
                self.session = fresh
                if self.on_refresh is not None:
                    self.on_refresh(fresh)

    def close(self) -> None:
        try:
            if self.logout:
                self.psc.logout(self.session)
        finally:
            self.psc.close()


@dataclass(frozen=True)
class EcpsLogin:
    """AIR (authentification indirecte renforcée): a professional logged in with e-CPS through Pro
    Santé Connect (``session``, from :meth:`PscClient.login`: the caller shows the code and the
    wait), the exercise chosen in its userinfo (1-based; ``None``: the only one), the structure's
    certificates from the settings (ORG TLS, ORG SIGN VIHF). Consultation only: an AIR session
    never sends queued documents (``send_mode`` is nominal). ``logout``: end the PSC session at
    disconnection (the GUI; the command line keeps it for the next command)."""

    psc: PscClient
    session: PscSession
    situation: int | None = None
    logout: bool = True
    on_refresh: Callable[[PscSession], None] | None = None
    send_mode: SendMode = SendMode.STRUCTURE

    def open(self, settings: Settings, purpose: Purpose) -> Opened:
        from app.dmp_client import factory  # deferred: see CardLogin
        from app.dmp_client.actors import actor_from_psc

        identity = self.session.identity
        chosen = identity.situation(self.situation)
        actor = actor_from_psc(identity, chosen)
        holder = EcpsHolder(self.psc, self.session, logout=self.logout, on_refresh=self.on_refresh)
        holder.ensure()  # an expired session is refused now, not at the first request
        client = factory.air_client(settings, actor, settings.air, settings.air_transactions, purpose)
        client.before_exchange = holder.ensure
        place = chosen.structure_name or chosen.structure_id
        connection = Connection(
            AuthMode.INDIRECT_REINFORCED,
            purpose,
            actor.national_id,
            actor.display_name,
            place,
            f"e-CPS (AIR) — {chosen.label}",
        )
        return Opened(client, connection, holder)


@dataclass(frozen=True)
class AttachedLogin:
    """A client built elsewhere (tests with software card keys; a caller's own set-up)."""

    opened: Opened
    send_mode: SendMode = SendMode.CARD

    def open(self, settings: Settings, purpose: Purpose) -> Opened:
        return self.opened


class DmpSession:
    """At most one open connection. ``store``'s journal records every transaction (``None``: no
    journal, e.g. the base could not be opened); ``on_journal_failure`` is told when a journal
    entry could not be written; ``trace_dir`` (when given) records every exchange."""

    def __init__(
        self,
        settings: Settings,
        store: LocalStore | None = None,
        *,
        on_journal_failure: JournalFailure | None = None,
        trace_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.on_journal_failure = on_journal_failure
        self.trace_dir = trace_dir
        self.lock = threading.RLock()
        self._client: DmpClient | None = None
        self._card: Closable | None = None
        self._login: Login | None = None
        self.connection: Connection | None = None

    # -- connect, purpose, disconnect ---------------------------------------------------------

    def connect(self, login: Login, purpose: Purpose = Purpose.NORMAL) -> Connection:
        """Close any open connection, then open ``login``'s."""
        with self.lock:
            self.disconnect()
            opened = login.open(self.settings, purpose)
            self._attach(opened.client)
            self._card, self._login, self.connection = opened.card, login, opened.connection
            return opened.connection

    def _attach(self, client: DmpClient) -> None:
        client.vihf_reuse_seconds = self.settings.vihf_reuse_seconds  # [UNSURE] 0 (off) by default
        client.journal = self.store.journal if self.store is not None else None
        if self.on_journal_failure is not None:
            client.on_journal_failure = self.on_journal_failure
        if self.trace_dir is not None:
            client.transport.trace_dir = self.trace_dir
        self._client = client

    @property
    def client(self) -> DmpClient:
        with self.lock:
            if self._client is None:
                raise NotConnected()
            return self._client

    @property
    def card(self) -> CardSession | None:
        """The open card session of a card login (INSi goes over the same card), else None."""
        with self.lock:
            card = self._card
        if card is None:
            return None
        from app.card.session import CardSession as Card  # deferred: the card stack

        return card if isinstance(card, Card) else None

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def send_mode(self) -> SendMode | None:
        return self._login.send_mode if self._login is not None else None

    def with_purpose(self, purpose: Purpose) -> Connection:
        """Normal, break-glass or centre-15 access on the open connection: the same TLS session,
        card and situation (no new PIN); the journal and its failure handler stay attached."""
        with self.lock:
            if self._client is None or self.connection is None:
                raise NotConnected()
            if self.connection.purpose is not purpose:
                self._client = self._client.with_purpose(purpose)
                self.connection = replace(self.connection, purpose=purpose)
            return self.connection

    def disconnect(self) -> None:
        """Close the client and the card; a card session's end purges the cache when the settings
        ask for it (``DMP_CACHE_PURGE_FIN_SESSION``)."""
        with self.lock:
            client, card = self._client, self._card
            self._client, self._card, self._login, self.connection = None, None, None, None
            try:
                if client is not None:
                    client.close()
            finally:
                if card is not None:
                    try:
                        card.close()
                    finally:
                        if self.store is not None:
                            self.store.cache.end_of_session()

    def close(self) -> None:
        self.disconnect()

    def __enter__(self) -> DmpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- the upload queue ---------------------------------------------------------------------

    def credentials(self) -> SessionCredentials:
        """The upload queue's credentials for this open connection only (never opens another)."""
        return SessionCredentials(self)


def _check_professional(mode: SendMode, professional: str | None, client: DmpClient) -> None:
    if mode is SendMode.CARD and professional and client.session.actor.national_id != professional:
        raise CredentialsUnavailable(
            "Ce document doit être envoyé avec la carte du professionnel qui l'a confié : la carte "
            "insérée est celle d'un autre professionnel."
        )


class SessionCredentials:
    """The sender's credentials from one open session (the GUI): its client for the entries of
    its mode (card entries: the same card holder); a pulled card is its owner's business."""

    def __init__(self, session: DmpSession) -> None:
        self.session = session

    def client(self, mode: SendMode, professional: str | None) -> DmpClient:
        with self.session.lock:
            if not self.session.connected:
                raise CredentialsUnavailable()
            connection = self.session.connection
            if connection is not None and connection.mode is AuthMode.INDIRECT_REINFORCED:
                raise CredentialsUnavailable(
                    "Une session e-CPS (AIR) ne permet que la consultation : les documents en file "
                    "partiront avec la carte CPS ou le certificat de la structure."
                )
            if mode is not self.session.send_mode:
                raise CredentialsUnavailable(
                    "Ce document doit être envoyé avec la carte du professionnel qui l'a confié."
                )
            client = self.session.client
        _check_professional(mode, professional, client)
        return client

    def invalidate(self, mode: SendMode) -> None:
        return None


class QueueCredentials:
    """The sender's credentials opening one session per mode at first need (the command line):
    the structure's certificate, or the card (a refused PIN is never asked again in the same run).
    ``logins`` gives the login of a mode."""

    def __init__(
        self,
        settings: Settings,
        store: LocalStore | None,
        logins: Callable[[SendMode], Login],
        *,
        on_journal_failure: JournalFailure | None = None,
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
        self.settings, self.store, self.logins = settings, store, logins
        self.on_journal_failure = on_journal_failure
        self.refusals = refusals
        self._sessions: dict[SendMode, DmpSession] = {}
        self._refused: Exception | None = None
        self._lock = threading.Lock()

    def client(self, mode: SendMode, professional: str | None) -> DmpClient:
        with self._lock:
            session = self._sessions.get(mode)
            if session is None:
                session = self._open(mode)
            client = session.client
        _check_professional(mode, professional, client)
        return client

    def _open(self, mode: SendMode) -> DmpSession:
        if mode is SendMode.CARD and self._refused is not None:
            raise self._refused
        session = DmpSession(self.settings, self.store, on_journal_failure=self.on_journal_failure)
        try:
            session.connect(self.logins(mode))
        except self.refusals as error:
            if mode is SendMode.CARD:
                self._refused = error  # never retried automatically
            raise
        self._sessions[mode] = session
        return session

    def invalidate(self, mode: SendMode) -> None:
        with self._lock:
            session = self._sessions.pop(mode, None)
        if session is not None:
            session.disconnect()

    def close(self) -> None:
        for mode in list(self._sessions):
            self.invalidate(mode)
