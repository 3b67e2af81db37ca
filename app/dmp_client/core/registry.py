"""``rs:RegistryResponse`` (ITI-41, ITI-57, inside ITI-18/43 answers): success, partial success or
failure with its ``RegistryErrorList`` turned into a typed error carrying the DMP's code."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from app.dmp_client.core.ebrim import RS
from app.dmp_client.core.errors import MalformedResponse, RemoteError
from app.dmp_client.core.ns import q

SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
PARTIAL = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"


@dataclass(frozen=True)
class RegistryErrorItem:
    code: str
    context: str
    severity: str
    location: str

    def said(self) -> str:
        """As the user reads it: the host's text (else its code), then the code in brackets."""
        return f"{self.context or self.code} [{self.code}]"


class RegistryFailure(RemoteError):
    """The registry or repository refused the request (XDS errors, or a DMP code in errorCode)."""

    def __init__(self, errors: tuple[RegistryErrorItem, ...]) -> None:
        self.errors = errors
        first = next((e for e in errors if is_error(e)), errors[0] if errors else None)
        code = first.code if first else "XDSRegistryError"
        context = first.context if first else "Échec sans détail"
        super().__init__(code, context, subcode=code)


def registry_errors(node: etree._Element) -> tuple[RegistryErrorItem, ...]:
    return tuple(
        RegistryErrorItem(
            e.get("errorCode", ""),
            e.get("codeContext", "") or (e.text or "").strip(),
            e.get("severity", ""),
            e.get("location", ""),
        )
        for e in node.iter(q(RS, "RegistryError"))
    )


def is_error(item: RegistryErrorItem) -> bool:
    """Error severity: the attribute's default in ebRS 3.0 rs.xsd when absent, and any value not a
    warning (``…:ErrorSeverityType:Warning``); some hosts write the bare word."""
    severity = item.severity.rsplit(":", 1)[-1]
    return severity != "Warning"


def check_status(node: etree._Element) -> tuple[RegistryErrorItem, ...]:
    """Raise on Failure, and on any Error-severity RegistryError whatever the status (ebRS 3.0 §2.1.3,
    ITI TF-3 4.2.4: a Success carrying an Error is not a success); return the warnings of a success
    or partial success, for the caller to pass on."""
    status = node.get("status", "")
    errors = registry_errors(node)
    if status == FAILURE or (status not in (SUCCESS, PARTIAL) and errors):
        raise RegistryFailure(errors)
    if status not in (SUCCESS, PARTIAL):
        raise MalformedResponse(f"Statut de réponse XDS inconnu : {status or 'absent'}.")
    if any(is_error(e) for e in errors):
        raise RegistryFailure(errors)
    return errors


def parse_registry_response(payload: etree._Element) -> tuple[RegistryErrorItem, ...]:
    if payload.tag != q(RS, "RegistryResponse"):
        raise MalformedResponse(f"RegistryResponse attendue, reçu {etree.QName(payload).localname}.")
    return check_status(payload)
