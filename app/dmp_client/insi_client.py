"""The INSi client: the protocol core's requests (app/dmp_client/core/insi.py) sent over the
existing mutual-TLS transports (app/dmp_client/transport.py): the structure's certificate through an
``ssl.SSLContext``, or the CPS card through the card TLS transport (an ``httpx.BaseTransport``).

Settings (docs/configuration.md): ``DMP_INSI_URL`` (the teleservice's address; the qualification one
in the WSDL is ``https://qualiflps-services-ps-tlsm.ameli.fr:443/lps``), ``DMP_INSI_IDAM`` (the CNDA
authorisation number), ``DMP_INSI_DELAI_S`` (60 s [UNSURE], the time-out of DmpConnect's public INSi
wrapper); the software's name and version are the DMP ones (``DMP_LPS_NOM``, the application's
version); the ``Instance`` UUID is made once per installation and kept beside the local store
(:func:`installation_instance`).

Searches are idempotent reads: the transport retries one connection failure within the deadline.
Transport failures become INSi errors (``INSI-*``) so the user is told which service failed.
"""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from lxml import etree

from app.dmp_client.core import insi
from app.dmp_client.core.errors import InsiMalformedResponse
from app.dmp_client.core.soap import SoapRequest
from app.dmp_client.errors import (
    HostUnreachable,
    HttpError,
    InsiHttpError,
    InsiNotConfigured,
    InsiTimeout,
    InsiTlsError,
    InsiUnreachable,
    ResponseTooLarge,
    Timeout,
    TlsError,
    TransportError,
)
from app.dmp_client.insi_settings import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT  # re-exported
from app.dmp_client.insi_settings import InsiSettings as InsiSettings
from app.dmp_client.insi_settings import split_url as split_url
from app.dmp_client.transport import Endpoint, Timeouts, Transport
from app.ins import IdentityTraits, Ins

INSTANCE_FILE = "insi-instance"  # beside the local store: the installation's ContexteLPS/LPS/Instance


def installation_instance(folder: Path) -> str:
    """The installation's INSi ``Instance`` UUID: read from ``folder/insi-instance``, made once (0600,
    never overwritten; a concurrent first start keeps the first one written). The file appears whole
    or not at all: written under a private temporary name, then linked to its name (a link never
    replaces an existing file), so a concurrent reader never sees it half written."""
    path = folder / INSTANCE_FILE
    for _ in range(2):
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
            value = str(uuid.uuid4())
            draft = folder / f".{INSTANCE_FILE}-{value}"
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(value + "\n")
            try:
                os.link(draft, path)
            except FileExistsError:
                continue  # another start made it first: read theirs
            finally:
                draft.unlink(missing_ok=True)
            return value
        except (OSError, UnicodeError):
            break
        try:
            return str(uuid.UUID(text))
        except ValueError:
            break
    raise InsiNotConfigured(
        f"L'identifiant d'installation INSi ({INSTANCE_FILE}, dossier des données locales) est illisible."
    )


class InsiClient:
    """Searches and verifications against one INSi address, over one mutual-TLS transport."""

    def __init__(
        self,
        transport: Transport,
        service: str,
        context: insi.InsiContext,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        security: Callable[[], etree._Element | None] | None = None,
    ) -> None:
        self.transport = transport
        self.service = service
        self.context = context
        self.timeout = timeout
        self.clock = clock
        # The seam for the professional's signed assertion (core/insi.py build_request) [UNSURE].
        self.security = security or (lambda: None)

    @classmethod
    def open(
        cls,
        settings: InsiSettings,
        tls: ssl.SSLContext | httpx.BaseTransport,
        trust_files: tuple[Path, ...],
        lps: tuple[str, str, str],
        emitter: str,
        *,
        proxy: str | None = None,
        connect_timeout: float = 15.0,
    ) -> InsiClient:
        """A client over a new transport. ``lps``: (name, version, instance UUID)."""
        base_url, service = settings.check()
        assert settings.idam is not None  # checked
        name, version, instance = lps
        context = insi.InsiContext(insi.LpsIdentity(settings.idam, version, name, instance), emitter)
        transport = Transport(
            Endpoint(base_url, trust_files, proxy),
            tls,
            Timeouts(query=settings.timeout, connect=connect_timeout),
            max_response_bytes=insi.MAX_ANSWER_BYTES,
        )
        return cls(transport, service, context, timeout=settings.timeout)

    def close(self) -> None:
        self.transport.close()

    def search(self, search: insi.TraitsSearch) -> insi.InsiResult:
        """One ``rechercherInsAvecTraitsIdentite``."""
        request = insi.search_by_traits(search, self.context, self.clock(), security=self.security())
        return self._exchange(request)

    def search_guided(self, traits: IdentityTraits) -> tuple[insi.InsiResult, insi.TraitsSearch]:
        """A search by traits following the prescribed steps: the first birth first name; on 02 (several)
        the other first names, then the birthplace code, as far as ``traits`` knows them. Returns the
        last answer and the search that gave it (its ``next_step`` says what to do when still 01/02)."""
        search: insi.TraitsSearch | None = insi.TraitsSearch.first_step(traits)
        while True:
            assert search is not None
            result = self.search(search)
            widened = search.widened(traits) if result.report is insi.Report.SEVERAL else None
            if widened is None:
                return result, search
            search = widened

    def search_with_vitale(self, beneficiary: insi.VitaleBeneficiary) -> insi.InsiResult:
        """One ``rechercherInsAvecCarteVitale`` for the chosen beneficiary (SANDBOX ONLY: see
        :class:`~app.dmp_client.core.insi.VitaleBeneficiary`); the answer must be that beneficiary's."""
        request = insi.search_with_vitale(beneficiary, self.context, self.clock(), security=self.security())
        return insi.check_vitale_answer(beneficiary, self._exchange(request))

    def verify(self, known: Ins, traits: IdentityTraits) -> insi.VerificationResult:
        """Check an INS held (from the EHR, or an earlier search) against INSi: a search with every trait,
        its answer compared with ``known`` (core/insi.py :func:`verify`). When every trait finds no one
        (01), the first search (name, first birth first name, sex, date) is asked too: a person whose
        traits changed in the referential (a first name added, the birthplace corrected) is then told
        as discordant, with the traits that differ, instead of "not found"."""
        complete = insi.TraitsSearch.complete(traits)
        verified = insi.verify(known, traits, self.search(complete))
        first = insi.TraitsSearch.first_step(traits)
        if verified.outcome is insi.Verification.NOT_FOUND and first != complete:
            widened = insi.verify(known, traits, self.search(first))
            if widened.result.report is insi.Report.FOUND:
                return widened
        return verified

    def _exchange(self, request: SoapRequest) -> insi.InsiResult:
        try:
            raw = self.transport.post(self.service, request, self.timeout, idempotent=True)
        except Timeout:
            raise InsiTimeout() from None
        except HttpError as error:
            status = error.code.rsplit("-", 1)[-1]
            raise InsiHttpError(f"Le téléservice INSi a répondu par une erreur HTTP {status}.") from None
        except TlsError:
            raise InsiTlsError() from None
        except ResponseTooLarge:
            raise InsiMalformedResponse("La réponse du téléservice INSi dépasse la taille admise.") from None
        except (HostUnreachable, TransportError):
            raise InsiUnreachable() from None
        return insi.parse_answer(raw.body, request)
