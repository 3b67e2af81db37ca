"""XDS.b metadata on the host side: constants, value sets, schemas, ebRIM reading and writing.

Written from IHE ITI TF vol. 3 and dmp-interface.md §5 only (no code shared with the client).
The schemas are the published ones in ``resources/spec/xds-xsd``; the value sets are loaded from the
files shipped in ``resources/spec/valuesets`` (never retyped here).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
XDSB = "urn:ihe:iti:xds-b:2007"
XOP = "http://www.w3.org/2004/08/xop/include"
SVS = "urn:ihe:iti:svs:2008"
NS = {"rim": RIM, "rs": RS, "lcm": LCM, "query": QUERY, "xdsb": XDSB, "xop": XOP}

REPOSITORY_UNIQUE_ID = "1.2.250.1.213.4.1.1.1.2"

DOCUMENT_ENTRY_TYPE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
CLASSIFICATION_OBJECT = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
REGISTRY_PACKAGE_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
ASSOCIATION_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"

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

HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
UPDATE_AVAILABILITY = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"

SIGNATURE_CLASS = "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1"

APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
ARCHIVED = "urn:asip:ci-sis:2010:StatusType:Archived"
DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"
STATUSES = {APPROVED: "Approved", DEPRECATED: "Deprecated", ARCHIVED: "Archived", DELETED: "Deleted"}
STATUS_URN = {short: urn for urn, short in STATUSES.items()}

SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
PARTIAL = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"

CONFIDENTIALITY_DMP = "1.2.250.1.213.1.1.4.13"
CONFIDENTIALITY_HL7 = "2.16.840.1.113883.5.25"
MASQUE_PS = "MASQUE_PS"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_LEGAL = "INVISIBLE_REPRESENTANTS_LEGAUX"


def spec_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "resources" / "spec"


class XdsError(Exception):
    """One XDS business error, returned in a RegistryErrorList (not a SOAP fault)."""

    def __init__(self, code: str, context: str, location: str = "") -> None:
        super().__init__(context)
        self.code = code
        self.context = context
        self.location = location


class XdsErrors(Exception):
    def __init__(self, errors: list[XdsError]) -> None:
        super().__init__("; ".join(e.context for e in errors))
        self.errors = errors


# -- schemas ---------------------------------------------------------------------------------------

_XDS_DRIVER = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  targetNamespace="urn:ihe:iti:xds-b:2007">
  <xs:include schemaLocation="xcf.xsd"/>
  <xs:include schemaLocation="IHEXDSB.xsd"/>
</xs:schema>"""


@cache
def xds_schema() -> etree.XMLSchema:
    """IHEXDSB.xsd with ebRS 3.0 (lcm, query, rim, rs). rim.xsd imports xcf.xsd for the same
    namespace as IHEXDSB.xsd, which lxml would load only once: a driver includes both."""
    driver = etree.fromstring(_XDS_DRIVER, base_url=str(spec_dir() / "xds-xsd" / "IHE" / "driver.xsd"))
    return etree.XMLSchema(driver)


@cache
def cda_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(spec_dir() / "cda-xsd" / "cda" / "CDA_extended.xsd")))


def schema_errors(schema: etree.XMLSchema, node: etree._Element, limit: int = 3) -> list[str]:
    if schema.validate(node):
        return []
    return [f"ligne {e.line} : {e.message}" for e in list(schema.error_log)[:limit]]


# -- value sets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueSets:
    class_codes: frozenset[tuple[str, str]]
    type_codes: frozenset[tuple[str, str]]
    format_codes: frozenset[tuple[str, str]]
    practice_codes: frozenset[tuple[str, str]]
    facility_codes: frozenset[tuple[str, str]]
    confidentiality_codes: frozenset[tuple[str, str]]
    type_to_class: dict[str, str] = field(default_factory=dict)


def _svs(path: Path) -> set[tuple[str, str]]:
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    return {(c.get("code", ""), c.get("codeSystem", "")) for c in tree.iter(f"{{{SVS}}}Concept")}


def _csv(path: Path, code: str = "code", system: str = "codeSystem") -> set[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {(row[code], row[system]) for row in csv.DictReader(handle)}


@cache
def value_sets() -> ValueSets:
    folder = spec_dir() / "valuesets"
    jdv, derived = folder / "jdv-cisis", folder / "derived"
    with (derived / "ASS_X16_TypeCode_to_ClassCode_DMP_PARTIAL.csv").open(encoding="utf-8") as handle:
        type_to_class = {row["typeCode"]: row["classCode"] for row in csv.DictReader(handle)}
    formats = _csv(derived / "JDV_J10_XdsFormatCode_CISIS.csv", "code", "xds_codingScheme")
    formats |= _csv(
        derived / "ASS_A12_MediaType_to_XdsFormatCode.csv", "xds_formatCode", "formatCode_codingScheme"
    )
    formats.add(("http://www.w3.org/2000/09/xmldsig#", "URN"))
    return ValueSets(
        class_codes=frozenset(_csv(derived / "JDV_J57_ClassCode_DMP.csv")),
        type_codes=frozenset(_svs(jdv / "JDV_J07_XdsTypeCode_CISIS.xml")),
        format_codes=frozenset(formats),
        practice_codes=frozenset(
            _csv(derived / "JDV_J62_PracticeSettingCode_DMP.csv")
            | _svs(jdv / "JDV_J04_XdsPracticeSettingCode_CISIS.xml")
        ),
        facility_codes=frozenset(_svs(jdv / "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS.xml")),
        confidentiality_codes=frozenset(_svs(jdv / "JDV_J08_XdsConfidentialityCode_CISIS.xml")),
        type_to_class=type_to_class,
    )


# -- ebRIM reading ---------------------------------------------------------------------------------


def slot_values(node: etree._Element, name: str) -> list[str]:
    return [
        (v.text or "").strip()
        for v in node.xpath("rim:Slot[@name=$n]/rim:ValueList/rim:Value", namespaces=NS, n=name)
    ]


def slot_value(node: etree._Element, name: str) -> str | None:
    values = slot_values(node, name)
    return values[0] if values else None


def name_of(node: etree._Element) -> str:
    found = node.find(f"{{{RIM}}}Name/{{{RIM}}}LocalizedString")
    return found.get("value", "") if found is not None else ""


@dataclass(frozen=True)
class Coded:
    code: str
    scheme: str
    display: str = ""


def classifications(node: etree._Element, scheme: str) -> list[etree._Element]:
    return [c for c in node.iterfind(f"{{{RIM}}}Classification") if c.get("classificationScheme") == scheme]


def coded(node: etree._Element, scheme: str) -> list[Coded]:
    return [
        Coded(c.get("nodeRepresentation", ""), slot_value(c, "codingScheme") or "", name_of(c))
        for c in classifications(node, scheme)
    ]


def external_id(node: etree._Element, scheme: str) -> str | None:
    for ext in node.iterfind(f"{{{RIM}}}ExternalIdentifier"):
        if ext.get("identificationScheme") == scheme:
            return ext.get("value")
    return None


def parse_cx(value: str) -> tuple[str, str] | None:
    """``matricule^^^&OID&ISO[^NH]`` → (matricule, OID)."""
    parts = value.split("^")
    if len(parts) < 4:
        return None
    authority = parts[3].split("&")
    if len(authority) < 3 or authority[2] != "ISO" or not parts[0]:
        return None
    return parts[0], authority[1]


def patient_cx(matricule: str, oid: str) -> str:
    return f"{matricule}^^^&{oid}&ISO^NH"


# -- ebRIM writing ---------------------------------------------------------------------------------


def rim(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{RIM}}}{tag}", attrib=attributes)


def add_slot(parent: etree._Element, name: str, values: list[str]) -> etree._Element:
    slot = rim(parent, "Slot", name=name)
    value_list = rim(slot, "ValueList")
    for value in values:
        rim(value_list, "Value").text = value
    return slot


def add_name(parent: etree._Element, text: str) -> None:
    rim(rim(parent, "Name"), "LocalizedString", value=text)


def add_classification(
    parent: etree._Element, scheme: str, obj: str, ident: str, code: Coded | None = None
) -> etree._Element:
    node = rim(parent, "Classification", classificationScheme=scheme, classifiedObject=obj, id=ident)
    if code is not None:
        node.set("nodeRepresentation", code.code)
        add_slot(node, "codingScheme", [code.scheme])
        add_name(node, code.display or code.code)
    else:
        node.set("nodeRepresentation", "")
    node.set("objectType", CLASSIFICATION_OBJECT)
    return node


def add_external_id(
    parent: etree._Element, scheme: str, obj: str, ident: str, value: str, label: str
) -> None:
    node = rim(
        parent,
        "ExternalIdentifier",
        identificationScheme=scheme,
        registryObject=obj,
        value=value,
        id=ident,
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier",
    )
    add_name(node, label)


def registry_response(errors: list[XdsError] | None = None, *, partial: bool = False) -> etree._Element:
    response = etree.Element(f"{{{RS}}}RegistryResponse", nsmap={"rs": RS})
    fill_status(response, errors, partial=partial)
    return response


def fill_status(response: etree._Element, errors: list[XdsError] | None, *, partial: bool = False) -> None:
    response.set("status", PARTIAL if errors and partial else FAILURE if errors else SUCCESS)
    if errors:
        error_list = etree.SubElement(response, f"{{{RS}}}RegistryErrorList")
        for error in errors:
            node = etree.SubElement(
                error_list,
                f"{{{RS}}}RegistryError",
                errorCode=error.code,
                codeContext=error.context,
                severity=SEVERITY_ERROR,
            )
            if error.location:
                node.set("location", error.location)


def confidentiality_json(codes: list[Coded]) -> str:
    return json.dumps([[c.code, c.scheme, c.display] for c in codes])


def confidentiality_list(text: str) -> list[Coded]:
    return [Coded(*item) for item in json.loads(text or "[]")]
