"""Structured (level 3) CDA documents of the seeded DMPs: the ANS examples in sandbox/data/structured/
(VSM, note de vaccination, biology report; SOURCES.md there) with the seeded document's ids and the
sandbox patient's identity put in place of the example's.

Each template is read once: the parts that change are replaced by placeholders with lxml, so a seeded
document is a few string replacements (seeding 2,000 documents stays fast). The patient's example
identity goes entirely: every ``patientRole/id`` but the INS, the address, telecom, guardian and
birthplace, and the used (CL) names.
"""

from __future__ import annotations

import functools
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

DATA = Path(__file__).resolve().parents[1] / "data" / "structured"
V3 = "urn:hl7-org:v3"
# The seeded family's typeCode → the example that stands for it.
TEMPLATES = {
    "60591-5": "VSM_1.4_2022.01.xml",  # Synthèse médicale ("Documents de synthèse")
    "87273-9": "VAC-NOTE_2023.01.xml",  # Note de vaccination ("Données de prévention : vaccination")
    "11502-2": "BIO-CR-BIO_2024.01_TSH_1.xml",  # CR d'examens biologiques ("Résultats laboratoire")
}
FIELDS = (
    "unique_id",
    "set_id",
    "version",
    "created",
    "title",
    "type_code",
    "type_scheme",
    "type_display",
    "oid",
    "matricule",
    "family",
    "first_names",
    "first_name",
    "sex",
    "birth",
)


def _q(tag: str) -> str:
    return f"{{{V3}}}{tag}"


def _mark(name: str) -> str:
    return f"@@{name.upper()}@@"


@functools.cache
def template(type_code: str) -> str | None:
    """The example for ``type_code`` with placeholders, or None when the family has none."""
    name = TEMPLATES.get(type_code)
    if name is None:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    doc = etree.parse(str(DATA / name), parser).getroot()
    _one(doc, "id").attrib.clear()
    _one(doc, "id").set("root", _mark("unique_id"))
    _one(doc, "setId").attrib.clear()
    _one(doc, "setId").set("root", _mark("set_id"))
    _one(doc, "versionNumber").set("value", _mark("version"))
    _one(doc, "effectiveTime").set("value", _mark("created"))
    _one(doc, "title").text = _mark("title")
    code = _one(doc, "code")
    code.attrib.clear()
    code.set("code", _mark("type_code"))
    code.set("codeSystem", _mark("type_scheme"))
    code.set("displayName", _mark("type_display"))
    role = _one(_one(doc, "recordTarget"), "patientRole")
    for child in list(role):
        if child.tag != _q("patient"):
            role.remove(child)
    ins = etree.Element(_q("id"), root=_mark("oid"), extension=_mark("matricule"))
    role.insert(0, ins)
    patient = _one(role, "patient")
    for child in list(patient):
        if child.tag in (_q("guardian"), _q("birthplace"), _q("addr"), _q("telecom"), _q("deceasedInd")):
            patient.remove(child)
    names = _one(patient, "name")
    names.clear()
    etree.SubElement(names, _q("family"), qualifier="BR").text = _mark("family")
    etree.SubElement(names, _q("given")).text = _mark("first_names")
    etree.SubElement(names, _q("given"), qualifier="BR").text = _mark("first_name")
    gender = _one(patient, "administrativeGenderCode")
    gender.attrib.clear()
    gender.set("code", _mark("sex"))
    gender.set("codeSystem", "2.16.840.1.113883.5.1")
    _one(patient, "birthTime").set("value", _mark("birth"))
    for comment in doc.iter(etree.Comment):  # upstream comments may name the example's patient
        parent = comment.getparent()
        if parent is not None:
            parent.remove(comment)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def _one(parent: etree._Element, tag: str) -> etree._Element:
    node = parent.find(_q(tag))
    if node is None:
        raise ValueError(f"sandbox structured template without {tag}")
    return node


def document(type_code: str, values: dict[str, str]) -> bytes | None:
    """The seeded structured document for ``type_code`` (None: the family stays level 1)."""
    text = template(type_code)
    if text is None:
        return None
    for name in FIELDS:
        text = text.replace(_mark(name), escape(values[name], {'"': "&quot;"}))
    return text.encode("utf-8")
