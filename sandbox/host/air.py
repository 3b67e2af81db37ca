"""The host's rules for reinforced indirect authentication (AIR) and for plain indirect mode.

Sources: issue 18 (the requirements quoted publicly, SEL-MP-037 EX_AIR-010…100: AIR is for
consultation only, only for professionals of the national directory, a VIHF lives 30 s and serves
one request, ORG AUTH_CLI mutual TLS, the VIHF signed by the structure), dmp-interface.md §3.1 (plain
indirect mode — the structure certificate — may search only "the reference of a document", e.g. to
delete it, and may not retrieve documents: TD3.1 metadata search and TD3.2 are for direct CPS/CPF)
and §4.3 (AIR: structure certificates for TLS and the VIHF). The refusal code is the DMP's
``DMPAccessDeniedByRightsService`` (§12), sent as a SOAP fault (``soap:Sender``), as the host refuses
other transactions by the rights matrix; the real host may answer a RegistryError instead [UNSURE].
Expired and replayed VIHFs are refused with the
host's ``DMPVihfInvalid`` [UNSURE: the DMP's code is not public]. Everything [UNSURE] is a field of
:class:`AirRules` and is listed in docs/sandbox-psc.md.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from sandbox import cards
from sandbox.host import documents, queries
from sandbox.host.faults import HostFault
from sandbox.host.vihf import PROFESSIONS_NEEDING_SPECIALTY, SAML, WSSE, Caller, is_client_auth
from sandbox.host.xds import QUERY, RIM

DENIED = "DMPAccessDeniedByRightsService"
AIR = "INDIRECTE_RENFORCEE"
INDIRECT = "INDIRECTE"
DEMOGRAPHICS = "urn:hl7-org:v3:PRPA_IN201307UV02"  # TD0.2 / TD1.3a

# The "Consultation" profile: TD0.2 (does the DMP exist, is the PS authorised: needed before any
# consultation [UNSURE whether AIR may send it]), TD3.1 and TD3.2.
CONSULTATION = frozenset(
    {
        ("patients", DEMOGRAPHICS),
        ("registry", queries.ACTION),
        ("repository", documents.RETRIEVE_ACTION),
    }
)


@dataclass
class AirRules:
    """The documented rules, on by default. ``enforce=False`` is the former sandbox: AIR treated as
    plain indirect, and plain indirect allowed every stored query on the structure's documents."""

    enforce: bool = True
    validity: float = 30.0  # seconds a VIHF lives (EX_AIR), from its IssueInstant
    clock_skew: float = 5.0  # an IssueInstant this far in the future is accepted [UNSURE]
    single_use: bool = True  # an AIR VIHF (its assertion ID) serves one request
    air_transactions: frozenset[tuple[str, str]] = CONSULTATION
    # "Find the reference of a document" (dmp-interface.md §3.1) as a stored query [UNSURE]: any
    # stored query (None) or these query ids, answering references only (returnType ObjectRef: the
    # entryUUIDs of the structure's own documents, what deleting one needs), not metadata (LeafClass).
    indirect_reference_queries: frozenset[str] | None = None
    indirect_reference_object_ref_only: bool = True
    # Structure's certificates by their role in the test PKI's subjects ("<FINESS> ORG AUTH_CLI" /
    # "... ORG SIGN") [UNSURE: the real certificate profiles].
    tls_suffix: str = "ORG AUTH_CLI"
    signer_suffix: str = "ORG SIGN"
    # [UNSURE] the AuthnContextDecl values the DMP accepts in AIR (DRIMbox: APP_BROWSER_AUTH; the
    # CNAM kit: ...:Password; "AIR simplifié": CONF_EXI_PGSSIS). Empty: not checked.
    accepted_authn_decls: frozenset[str] = frozenset()


@dataclass
class ReplayCache:
    """Assertion IDs already used, kept as long as their VIHF could still be valid."""

    seen: dict[str, float] = field(default_factory=dict)  # ID -> monotonic time it can be forgotten
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_use(self, assertion_id: str, keep: float) -> bool:
        now = time.monotonic()
        with self.lock:
            for old in [k for k, until in self.seen.items() if until < now]:
                del self.seen[old]
            if assertion_id in self.seen:
                return False
            self.seen[assertion_id] = now + keep
            return True


def _refuse(reason: str) -> None:
    raise HostFault(DENIED, reason)


def _cn(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _instant(text: str | None) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return value if value.tzinfo else None


def check(
    rules: AirRules,
    replay: ReplayCache,
    header: etree._Element | None,
    caller: Caller,
    service: str,
    action: str,
    payload: etree._Element,
    tls_cert: x509.Certificate,
    signer: x509.Certificate | None,
) -> None:
    """Raise the host's refusal for a request that AIR or plain indirect mode may not send
    (after :func:`sandbox.host.vihf.check_vihf` accepted the VIHF itself)."""
    if not rules.enforce:
        return
    if caller.mode == AIR:
        _check_air(rules, replay, header, caller, service, action, tls_cert, signer)
    elif caller.mode == INDIRECT:
        _check_indirect(rules, service, action, payload)


def _check_indirect(rules: AirRules, service: str, action: str, payload: etree._Element) -> None:
    if (service, action) == ("repository", documents.RETRIEVE_ACTION):
        _refuse(
            "Consultation de documents impossible en authentification indirecte : utilisez la carte CPS "
            "ou l'authentification indirecte renforcée (AIR).",
        )
    if (service, action) != ("registry", queries.ACTION):
        return
    query = payload.find(f"{{{RIM}}}AdhocQuery")
    option = payload.find(f"{{{QUERY}}}ResponseOption")
    return_type = option.get("returnType", "ObjectRef") if option is not None else "ObjectRef"
    query_id = query.get("id", "") if query is not None else ""
    allowed = rules.indirect_reference_queries
    if (allowed is not None and query_id not in allowed) or (
        rules.indirect_reference_object_ref_only and return_type != "ObjectRef"
    ):
        _refuse(
            "Recherche de documents impossible en authentification indirecte (seule la recherche de la "
            "référence d'un document est permise) : utilisez la carte CPS ou l'AIR.",
        )


def _check_air(
    rules: AirRules,
    replay: ReplayCache,
    header: etree._Element | None,
    caller: Caller,
    service: str,
    action: str,
    tls_cert: x509.Certificate,
    signer: x509.Certificate | None,
) -> None:
    assertion = header.find(f"{{{WSSE}}}Security/{{{SAML}}}Assertion") if header is not None else None
    assert assertion is not None  # check_vihf found it
    # ORG AUTH_CLI mutual TLS and a VIHF signed by the structure (check_vihf checked both are
    # issued by the organisations CA and that the signer is a signature certificate).
    if not (is_client_auth(tls_cert) and _cn(tls_cert).endswith(rules.tls_suffix)):
        raise HostFault(
            "DMPInvalidCertificate", "AIR : le certificat TLS doit être l'ORG AUTH_CLI de la structure."
        )
    if signer is None or not _cn(signer).endswith(rules.signer_suffix):
        raise HostFault("DMPInvalidCertificate", "AIR : le VIHF doit être signé par la structure (ORG SIGN).")
    _check_lifetime(rules, assertion)
    if rules.accepted_authn_decls:
        decls = {
            (node.text or "").strip()
            for node in assertion.iter(f"{{{SAML}}}AuthnContextDecl", f"{{{SAML}}}AuthnContextDeclRef")
        }
        if not decls & rules.accepted_authn_decls:
            raise HostFault(
                "DMPVihfInvalid", "AIR : méthode d'authentification primaire (AuthnContextDecl) non admise."
            )
    # Only professionals of the national directory (EX_AIR): here, the virtual cards' PS holders.
    holder = next(
        (c for c in cards.load_cards() if c.national_id == caller.national_id and c.profession), None
    )
    if holder is None:
        raise HostFault(DENIED, "AIR : professionnel inconnu de l'annuaire national (RPPS).")
    if caller.professions != [holder.profession]:
        raise HostFault(
            "DMPVihfInvalid", "AIR : profession du VIHF absente ou différente de celle de l'annuaire."
        )
    if holder.profession in PROFESSIONS_NEEDING_SPECIALTY and not caller.specialties:
        raise HostFault(
            "DMPVihfInvalid",
            "Aucune spécialité dans le vihf. Spécialité obligatoire pour les Médecins et Pharmaciens",
        )
    if (service, action) not in rules.air_transactions:
        raise HostFault(DENIED, "AIR : seules les transactions de consultation sont permises.")
    if rules.single_use and not replay.first_use(
        assertion.get("ID", ""), rules.validity + rules.clock_skew + 60
    ):
        raise HostFault("DMPVihfInvalid", "AIR : ce VIHF a déjà servi (un VIHF ne sert qu'une requête).")


def _check_lifetime(rules: AirRules, assertion: etree._Element) -> None:
    issued = _instant(assertion.get("IssueInstant"))
    if issued is None:
        raise HostFault("DMPVihfInvalid", "AIR : IssueInstant du VIHF absent ou mal formé (UTC attendu).")
    now = dt.datetime.now(dt.UTC)
    age = (now - issued).total_seconds()
    if age > rules.validity:
        raise HostFault(
            "DMPVihfInvalid", f"AIR : VIHF expiré (émis il y a {age:.0f} s, {rules.validity:.0f} s au plus)."
        )
    if age < -rules.clock_skew:
        raise HostFault("DMPVihfInvalid", "AIR : VIHF émis dans le futur (horloge du poste ?).")
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    if conditions is not None:
        not_after = _instant(conditions.get("NotOnOrAfter"))
        if conditions.get("NotOnOrAfter") is not None and (not_after is None or not_after <= now):
            raise HostFault("DMPVihfInvalid", "AIR : VIHF expiré (Conditions/NotOnOrAfter).")
