"""The INS: a matricule (NIR or NIA, 15 characters with key) qualified by its OID.

Wire forms (dmp-interface.md §10):
- HL7v2 CX, used in XDS metadata and in the VIHF: ``207058575627097^^^&1.2.250.1.213.1.4.10&ISO^NH``
  (type ``NH`` required);
- HL7v3 ``id``, used in CDA and patient messages: ``<id root="1.2.250.1.213.1.4.10" extension="…"/>``.
An INS-C (OID .2) found in a response is parsed into :class:`~app.ins.insc.InsC`, which has no
formatting method: the client never sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.ins.codes import (
    FICTITIOUS_OIDS,
    HL7_IDENTIFIER_TYPE,
    HL7_UNIVERSAL_ID_TYPE,
    MATRICULE_OIDS,
    InsOid,
)
from app.ins.errors import InsError, InsErrorCode
from app.ins.insc import InsC
from app.ins.nir import Nir

_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def quoteattr(value: str) -> str:
    """An XML attribute value in double quotes (``xml.sax.saxutils.quoteattr``'s escapes without
    importing it: it pulls urllib, http.client and email into the GUI's start-up, ~20 ms)."""
    return '"' + value.translate(_ATTRIBUTE_ESCAPES) + '"'


@dataclass(frozen=True, slots=True)
class Ins:
    """A patient's INS as sent to the DMP. Its repr shows the OID label, never the number."""

    matricule: Nir = field(repr=False)
    oid: InsOid

    def __post_init__(self) -> None:
        if self.oid not in MATRICULE_OIDS:
            raise InsError(
                InsErrorCode.OID_LEGACY,
                "L'INS-C n'est plus un identifiant à transmettre : utilisez le matricule INS (NIR ou NIA).",
            )

    @classmethod
    def parse(cls, matricule: str, oid: str) -> Ins:
        """Build an INS from a 15-character matricule (key required) and an OID string."""
        return cls(Nir.parse(matricule, require_key=True), parse_oid(oid))

    @property
    def is_fictitious(self) -> bool:
        """True for test and demonstration patients (.10 and .11)."""
        return self.oid in FICTITIOUS_OIDS

    @property
    def is_nia(self) -> bool:
        return self.oid is InsOid.NIA

    def to_cx(self) -> str:
        """HL7v2 CX form: ``matricule^^^&OID&ISO^NH``."""
        return f"{self.matricule.value}^^^&{self.oid.value}&{HL7_UNIVERSAL_ID_TYPE}^{HL7_IDENTIFIER_TYPE}"

    def to_hl7v3_attributes(self) -> dict[str, str]:
        """The ``root`` and ``extension`` attributes of an HL7v3 ``II`` (``id``) element."""
        return {"root": self.oid.value, "extension": self.matricule.value}

    def to_hl7v3_xml(self, tag: str = "id") -> str:
        """The HL7v3 element as text, e.g. ``<id root="…" extension="…"/>``."""
        attributes = self.to_hl7v3_attributes()
        return f"<{tag} root={quoteattr(attributes['root'])} extension={quoteattr(attributes['extension'])}/>"


def parse_oid(text: str) -> InsOid:
    """Map an OID string onto a known patient-identifier authority."""
    try:
        return InsOid(text.strip())
    except ValueError:
        raise InsError(
            InsErrorCode.OID_UNKNOWN,
            "L'autorité d'affectation (OID) n'est pas celle d'un INS (NIR, NIA, test, démo ou INS-C).",
        ) from None


def parse_cx(text: str) -> Ins | InsC:
    """Parse an HL7v2 CX patient identifier, tolerating trailing components (``^^date``)."""
    components = text.strip().split("^")
    if len(components) < 5 or "\\" in text:
        raise _cx_error("il faut « matricule^^^&OID&ISO^NH »")
    identifier, check_digit, scheme, authority, id_type = components[:5]
    if check_digit or scheme:
        raise _cx_error("les composants 2 et 3 doivent être vides")
    if id_type != HL7_IDENTIFIER_TYPE:
        raise _cx_error("le type d'identifiant (composant 5) doit être NH")
    parts = authority.split("&")
    if len(parts) != 3 or parts[2] != HL7_UNIVERSAL_ID_TYPE or not parts[1]:
        raise _cx_error("l'autorité d'affectation doit être « &OID&ISO »")
    return _from_oid_and_value(parse_oid(parts[1]), identifier, InsErrorCode.CX_SYNTAX)


def parse_hl7v3_id(root: str, extension: str) -> Ins | InsC:
    """Parse the ``root``/``extension`` pair of an HL7v3 ``id`` carrying a patient identifier."""
    if not root or not extension:
        raise InsError(
            InsErrorCode.HL7V3_SYNTAX,
            "Identifiant HL7v3 incomplet : les attributs root (OID) et extension sont obligatoires.",
        )
    return _from_oid_and_value(parse_oid(root), extension, InsErrorCode.HL7V3_SYNTAX)


def _from_oid_and_value(oid: InsOid, value: str, syntax: InsErrorCode) -> Ins | InsC:
    if not value or "".join(value.split()) != value:
        raise InsError(syntax, "Identifiant patient reçu vide ou contenant des espaces.")
    if oid is InsOid.INS_C:
        return InsC.parse(value)
    return Ins(Nir.parse(value, require_key=True), oid)


def _cx_error(detail: str) -> InsError:
    return InsError(InsErrorCode.CX_SYNTAX, f"Identifiant patient HL7v2 (CX) mal formé : {detail}.")


PatientIdentifier = Ins | InsC
"""What a response may carry as the patient's identifier."""
