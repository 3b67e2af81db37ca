"""ebRIM 3.0 building blocks shared by ITI-41, ITI-18 and ITI-57 (IHE ITI TF-3 §4, dmp-interface.md §5).

Small typed helpers that write ``rim:`` elements in the order the schema wants (Slot*, Name?,
Description?, VersionInfo?, Classification*, ExternalIdentifier*), the HL7 v2 data types the XDS
slots carry (XCN, XON, CX) with their escaping, and the IHE constants.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from lxml import etree

from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.ns import q

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
XDSB = "urn:ihe:iti:xds-b:2007"
XOP = "http://www.w3.org/2004/08/xop/include"
NSMAP = {"rim": RIM, "lcm": LCM, "rs": RS, "query": QUERY, "xdsb": XDSB}

DOCUMENT_ENTRY_TYPE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
CLASSIFICATION_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
EXTERNAL_ID_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"
ASSOCIATION_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"
PACKAGE_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"


class Scheme:
    """Classification and identification schemes (IHE ITI TF-3 Table 4.2.5-1)."""

    DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
    DE_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
    DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
    DE_EVENT = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
    DE_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
    DE_FACILITY = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
    DE_PRACTICE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
    DE_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
    DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
    DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
    SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
    SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
    SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
    SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
    SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"


class Status:
    APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
    DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
    ARCHIVED = "urn:asip:ci-sis:2010:StatusType:Archived"
    DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"


class AssociationType:
    HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
    REPLACE = "urn:ihe:iti:2007:AssociationType:RPLC"
    SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
    UPDATE_AVAILABILITY = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"


PS_ID_ROOT = "1.2.250.1.71.4.2.1"
STRUCTURE_ID_ROOT = "1.2.250.1.71.4.2.2"


def new_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def xds_time(moment: dt.datetime) -> str:
    """XDS times are UTC ``yyyyMMddHHmmss`` (dmp-interface.md §5.2, DMPi EX_3.1-1070)."""
    if moment.tzinfo is None:
        raise LocalProtocolError("Date sans fuseau horaire : impossible de la convertir en UTC.")
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")


_XDS_TIME_LENGTHS = frozenset((4, 6, 8, 10, 12, 14))


def parse_xds_time(text: str) -> dt.datetime | None:
    """``yyyy[MM[dd[HH[mm[ss]]]]]`` in UTC; ``None`` when unreadable (shown as unknown, never guessed).
    Sliced by hand (strptime cost 11 % of a listing's CPU); out-of-range fields are refused by datetime."""
    digits = text.strip()
    if len(digits) not in _XDS_TIME_LENGTHS or not (digits.isascii() and digits.isdigit()):
        return None
    n = len(digits)
    try:
        return dt.datetime(
            int(digits[0:4]),
            int(digits[4:6]) if n >= 6 else 1,
            int(digits[6:8]) if n >= 8 else 1,
            int(digits[8:10]) if n >= 10 else 0,
            int(digits[10:12]) if n >= 12 else 0,
            int(digits[12:14]) if n >= 14 else 0,
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None


_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def hl7_escape(text: str) -> str:
    """HL7 v2 escaping of the delimiters inside one component."""
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def hl7_unescape(text: str) -> str:
    for raw, escaped in reversed(_ESCAPES):
        text = text.replace(escaped, raw)
    return text


def xcn(national_id: str, family: str, given: str) -> str:
    """A professional as XCN: ``IdNat^NOM^Prénom^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS``."""
    return f"{national_id}^{hl7_escape(family)}^{hl7_escape(given)}^^^^^^&{PS_ID_ROOT}&ISO^D^^^IDNPS"


def xon(name: str, structure_id: str) -> str:
    """A structure as XON: ``RAISON SOCIALE^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^IdNat_Struct``."""
    return f"{hl7_escape(name)}^^^^^&{STRUCTURE_ID_ROOT}&ISO^IDNST^^^{structure_id}"


def q_rim(tag: str) -> str:
    return q(RIM, tag)


def rim(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, q(RIM, tag), attrib=attributes)


def slot(parent: etree._Element, name: str, values: Iterable[str]) -> etree._Element:
    node = rim(parent, "Slot", name=name)
    value_list = rim(node, "ValueList")
    for value in values:
        rim(value_list, "Value").text = value
    return node


def localized(parent: etree._Element, tag: str, text: str) -> etree._Element:
    node = rim(parent, tag)
    rim(node, "LocalizedString", value=text, charset="UTF-8").set(
        "{http://www.w3.org/XML/1998/namespace}lang", "fr-FR"
    )
    return node


def coded(
    parent: etree._Element, scheme: str, target: str, code: str, code_system: str, display: str
) -> etree._Element:
    """A coded classification: nodeRepresentation = code, slot codingScheme, name = display."""
    node = rim(
        parent,
        "Classification",
        id=new_id(),
        objectType=CLASSIFICATION_TYPE,
        classificationScheme=scheme,
        classifiedObject=target,
        nodeRepresentation=code,
    )
    slot(node, "codingScheme", [code_system])
    localized(node, "Name", display or code)
    return node


def external_id(parent: etree._Element, scheme: str, target: str, value: str, name: str) -> etree._Element:
    node = rim(
        parent,
        "ExternalIdentifier",
        id=new_id(),
        objectType=EXTERNAL_ID_TYPE,
        identificationScheme=scheme,
        registryObject=target,
        value=value,
    )
    localized(node, "Name", name)
    return node


def association(
    parent: etree._Element, kind: str, source: str, target: str, slots: dict[str, str] | None = None
) -> etree._Element:
    node = rim(
        parent,
        "Association",
        id=new_id(),
        objectType=ASSOCIATION_TYPE,
        associationType=kind,
        sourceObject=source,
        targetObject=target,
    )
    for name, value in (slots or {}).items():
        slot(node, name, [value])
    return node
