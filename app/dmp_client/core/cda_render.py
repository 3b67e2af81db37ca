"""Any received CDA (structured, level 3, or level 1) as readable text: a safe HTML subset for Qt's
QTextDocument (viewer, print, PDF export) and plain text (``dmp get --texte``).

The header is shown in French: the patient with the INS strict traits (birth name, first names, birth
date, sex, INS with its OID), author, custodian, dates of service and creation, legal authenticator,
document type. A structured body follows section by section: title, then the narrative block, read
against the CDA NarrativeBlock schema (``POCD_MT000040`` ``StrucDoc.*``: paragraph, list, table with
thead/tbody/tfoot and caption, content and its styleCode, br, sub/sup, footnote/footnoteRef, linkHtml,
renderMultiMedia) and nested sections. A level-1 body (``nonXMLBody``) is only named: the viewer shows
the PDF, text or image itself.

Safety: the input goes through the hardened parser (no DTD, no entities, no network, bounded size and
markup). Nothing of the input's markup reaches the output: the renderer writes its own tags from a
fixed list, escapes every text, keeps no attribute but bounded colspan/rowspan and enumerated
alignments, and uses one fixed style sheet (``STYLE``). Links are shown as text and never followed;
images are only the document's own inline base64 ``observationMedia`` of an allowed type and size,
returned beside the HTML (``Rendered.images``) under ``cda-media:N`` names the viewer registers
itself; an external reference is named « référence externe non chargée ». Nesting depth, table
rows and cells, images and the total output are bounded; beyond a bound the rest is dropped with a
« contenu tronqué » note, never a hang.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from app.dmp_client.core.errors import CdaNotRenderable, HostileXml, MalformedResponse, OtherPatientAnswer
from app.dmp_client.core.ns import HL7V3
from app.dmp_client.core.xml import parse_xml
from app.ins import Ins
from app.ins.codes import InsOid
from app.ins.ins import parse_cx

TRUNCATED = "contenu tronqué"
EXTERNAL = "référence externe non chargée"
# Inline images the viewer may show (renderMultiMedia → observationMedia/value, base64).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
# The one style sheet of the output (Qt's QTextDocument CSS subset); nothing else is ever emitted.
STYLE = (
    "body { font-family: sans-serif; }"
    " h1 { font-size: x-large; } h2 { font-size: large; } h3, h4, h5 { font-size: medium; }"
    " th { background-color: #e8e8e8; } .note { color: #7a4b00; } .entete { color: #303030; }"
)
_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "p", "ul", "ol", "li", "table", "caption", "tr"})
_TAGS |= frozenset({"th", "td", "b", "i", "u", "em", "sub", "sup", "br", "img", "hr", "small", "span"})
ALLOWED_TAGS = _TAGS | frozenset({"html", "head", "style", "body", "thead", "tbody", "tfoot"})


@dataclass(frozen=True)
class Limits:
    """The bounds of one rendering (generous for real documents: the ANS IPS-FR example is 1.5 MB)."""

    max_bytes: int = 64 * 1024 * 1024  # the document (a level-1 one carries its base64 body)
    max_nodes: int = 2_000_000  # markup items, as for every received XML
    max_depth: int = 40  # nested narrative elements and sections
    max_rows: int = 2_000  # rows of one table
    max_cells: int = 20_000  # cells of the whole document
    max_output: int = 4 * 1024 * 1024  # characters of text and markup written
    max_images: int = 20
    max_image_bytes: int = 2 * 1024 * 1024  # one decoded image


@dataclass(frozen=True)
class Rendered:
    """``html``: the safe HTML subset; ``text``: the same as plain text; ``images``: name → (media
    type, bytes) of the inline images the HTML names; ``body_media_type``: a level-1 body's type."""

    title: str
    html: str
    text: str
    structured: bool
    truncated: bool
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    body_media_type: str | None = None


def _q(tag: str) -> str:
    return f"{{{HL7V3}}}{tag}"


def _local(node: etree._Element) -> str:
    tag = node.tag
    if not isinstance(tag, str) or not tag.startswith(f"{{{HL7V3}}}"):
        return ""
    return tag[len(HL7V3) + 2 :]


# -- the intermediate form: blocks and inlines, written out twice (HTML and text) -----------------


@dataclass
class _Inline:
    text: str = ""
    styles: frozenset[str] = frozenset()  # b, i, u, em, sub, sup, note
    br: bool = False
    image: str = ""  # a cda-media:N name


@dataclass
class _Block:
    kind: str  # h, p, list, table, note, fields, hr
    level: int = 0
    inlines: list[_Inline] = field(default_factory=list)
    ordered: bool = False
    list_type: str = ""
    items: list[list[_Block]] = field(default_factory=list)
    caption: list[_Inline] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Cell:
    header: bool
    blocks: list[_Block]
    colspan: int = 1
    rowspan: int = 1
    align: str = ""


@dataclass
class _Row:
    part: str  # thead, tbody, tfoot
    cells: list[_Cell]


_STYLE_CODES = {"bold": "b", "italics": "i", "underline": "u", "emphasis": "em"}
_LIST_TYPES = {"arabic": "1", "littleroman": "i", "bigroman": "I", "littlealpha": "a", "bigalpha": "A"}
_ALIGN = frozenset({"left", "right", "center", "justify"})
_SPACES = re.compile(r"\s+")


class _Walker:
    def __init__(self, root: etree._Element, limits: Limits) -> None:
        self.limits = limits
        self.spent = 0
        self.cells = 0
        self.truncated = False
        self.full = False
        self.images: dict[str, tuple[str, bytes]] = {}
        self.footnotes: list[list[_Inline]] = []
        self.media: dict[str, etree._Element] = {}
        for node in root.iter(_q("observationMedia")):
            ident = node.get("ID")
            if ident and len(self.media) < 10_000:
                self.media.setdefault(ident, node)

    def spend(self, amount: int) -> bool:
        """Count ``amount`` characters of output; False once the budget is spent (from then on every
        loop stops and texts are dropped: what was written before stays, with the note)."""
        self.spent += amount
        if self.spent > self.limits.max_output:
            self.truncated = self.full = True
        return not self.full

    def text(self, value: str | None, styles: frozenset[str]) -> list[_Inline]:
        if not value:
            return []
        value = _SPACES.sub(" ", value)
        if not value.strip(" "):
            return [_Inline(" ", styles)] if value else []
        if not self.spend(len(value) + 8):
            return []
        return [_Inline(value, styles)]

    def note(self, text: str) -> _Inline:
        self.spent += len(text) + 32  # a note is always written (its size is bounded by the loops)
        return _Inline(f"[{text}]", frozenset({"note"}))

    # -- narrative ------------------------------------------------------------------------------

    def flow(self, node: etree._Element, depth: int, styles: frozenset[str] = frozenset()) -> list[_Block]:
        """The mixed content of ``node`` as blocks: loose text and inline elements gather into
        paragraphs, block elements (paragraph, list, table) stand on their own."""
        blocks: list[_Block] = []
        loose: list[_Inline] = []

        def close() -> None:
            if any(i.text.strip() or i.br or i.image for i in loose):
                blocks.append(_Block("p", inlines=list(loose)))
            loose.clear()

        loose += self.text(node.text, styles)
        for child in node:
            if self.full:
                break
            kind = _local(child)
            if depth >= self.limits.max_depth:
                self.truncated = True
                close()
                blocks.append(_Block("note", inlines=[self.note(f"{TRUNCATED} : imbrication trop profonde")]))
                return blocks
            if kind == "paragraph":
                close()
                blocks.append(self.paragraph(child, depth + 1, styles))
            elif kind == "list":
                close()
                blocks.append(self.list_block(child, depth + 1, styles))
            elif kind == "table":
                close()
                blocks.append(self.table(child, depth + 1))
            elif kind in ("caption",):
                close()
                blocks.append(_Block("p", inlines=self.inlines(child, depth + 1, styles | {"b"})))
            else:
                loose += self.inline(child, depth + 1, styles)
            loose += self.text(child.tail, styles)
        close()
        return blocks

    def paragraph(self, node: etree._Element, depth: int, styles: frozenset[str]) -> _Block:
        inlines: list[_Inline] = []
        for child in node:
            if self.full:
                break
            if _local(child) == "caption":
                inlines += self.inlines(child, depth + 1, styles | {"b"})
                inlines.append(_Inline(" ", styles))
        inlines += self.text(node.text, styles)
        for child in node:
            if self.full:
                break
            if _local(child) != "caption":
                inlines += self.inline(child, depth + 1, styles)
            inlines += self.text(child.tail, styles)
        return _Block("p", inlines=inlines)

    def inlines(self, node: etree._Element, depth: int, styles: frozenset[str]) -> list[_Inline]:
        """The content of an inline-only element (content, caption, sub, th text…)."""
        out = self.text(node.text, styles)
        for child in node:
            if self.full:
                break
            out += self.inline(child, depth + 1, styles)
            out += self.text(child.tail, styles)
        return out

    def inline(self, node: etree._Element, depth: int, styles: frozenset[str]) -> list[_Inline]:
        if depth >= self.limits.max_depth:
            self.truncated = True
            return [self.note(f"{TRUNCATED} : imbrication trop profonde")]
        if not isinstance(node.tag, str):
            return []  # a comment or processing instruction: never shown
        kind = _local(node)
        if kind == "br":
            self.spend(4)
            return [_Inline(br=True)]
        if kind == "content":
            return self.inlines(node, depth, styles | _styles(node.get("styleCode")))
        if kind in ("sub", "sup"):
            return self.inlines(node, depth, styles | {kind})
        if kind == "linkHtml":
            out = self.inlines(node, depth, styles | {"u"})
            href = (node.get("href") or "").strip()
            if re.match(r"(?i)(https?|mailto):", href):
                out.append(self.note(f"lien non suivi : {href[:200]}"))
            elif href and not href.startswith("#"):
                out.append(self.note("lien non suivi"))
            return out
        if kind == "footnote":
            self.footnotes.append(self.inlines(node, depth, frozenset()))
            return [_Inline(str(len(self.footnotes)), frozenset({"sup"}))]
        if kind == "footnoteRef":
            self.spend(8)
            return [_Inline("*", frozenset({"sup"}))]
        if kind == "renderMultiMedia":
            return self.multimedia(node, depth)
        if kind in ("paragraph", "list", "table"):  # a block inside an inline: flattened
            out = [_Inline(br=True)]
            for block in self.flow_one(node, depth, styles):
                out += _flatten(block)
            return out
        # Unknown or foreign elements (script, iframe, img, a…): their text only, as text.
        return self.inlines(node, depth, styles)

    def flow_one(self, node: etree._Element, depth: int, styles: frozenset[str]) -> list[_Block]:
        kind = _local(node)
        if kind == "paragraph":
            return [self.paragraph(node, depth, styles)]
        if kind == "list":
            return [self.list_block(node, depth, styles)]
        return [self.table(node, depth)]

    def list_block(self, node: etree._Element, depth: int, styles: frozenset[str]) -> _Block:
        codes = (node.get("styleCode") or "").lower().split()
        ordered = node.get("listType") == "ordered"
        block = _Block("list", ordered=ordered)
        if ordered:
            block.list_type = next((_LIST_TYPES[c] for c in codes if c in _LIST_TYPES), "1")
        for child in node:
            if self.full:
                break
            if _local(child) == "caption":
                block.caption = self.inlines(child, depth + 1, styles)
            elif _local(child) == "item":
                if len(block.items) >= self.limits.max_rows:
                    self.truncated = True
                    block.items.append([_Block("note", inlines=[self.note(TRUNCATED)])])
                    break
                if not self.spend(16):
                    break
                block.items.append(self.flow(child, depth + 1, styles))
        return block

    def table(self, node: etree._Element, depth: int) -> _Block:
        block = _Block("table")
        parts: list[tuple[str, etree._Element]] = []
        for child in node:
            if self.full:
                break
            kind = _local(child)
            if kind == "caption":
                block.caption = self.inlines(child, depth + 1, frozenset({"b"}))
            elif kind in ("thead", "tbody", "tfoot"):
                parts += [(kind, row) for row in child if _local(row) == "tr"]
            elif kind == "tr":  # not in the schema, but seen: read as body
                parts.append(("tbody", child))
        order = {"thead": 0, "tbody": 1, "tfoot": 2}
        parts.sort(key=lambda part: order[part[0]])  # stable: document order within each part
        for part, row in parts:
            if self.full:
                break
            if len(block.rows) >= self.limits.max_rows or self.cells >= self.limits.max_cells:
                self.truncated = True
                note = [_Block("note", inlines=[self.note(f"{TRUNCATED} : tableau trop grand")])]
                block.rows.append(_Row("tbody", [_Cell(False, note, colspan=1)]))
                break
            cells: list[_Cell] = []
            for cell in row:
                if self.full:
                    break
                kind = _local(cell)
                if kind not in ("th", "td"):
                    continue
                self.cells += 1
                if self.cells > self.limits.max_cells:
                    self.truncated = True
                    break
                if not self.spend(24):
                    break
                align = (cell.get("align") or "").lower()
                cells.append(
                    _Cell(
                        kind == "th",
                        self.flow(cell, depth + 1, frozenset({"b"}) if kind == "th" else frozenset()),
                        colspan=_span(cell.get("colspan")),
                        rowspan=_span(cell.get("rowspan")),
                        align=align if align in _ALIGN else "",
                    )
                )
            block.rows.append(_Row(part, cells))
        return block

    def multimedia(self, node: etree._Element, depth: int) -> list[_Inline]:
        out: list[_Inline] = []
        caption = [self.inlines(c, depth + 1, frozenset({"i"})) for c in node if _local(c) == "caption"]
        for ident in (node.get("referencedObject") or "").split()[:8]:
            media = self.media.get(ident)
            if media is None:
                out.append(self.note("image absente du document"))
                continue
            out.append(self.image(media))
        for part in caption:
            out += part
        return out

    def image(self, media: etree._Element) -> _Inline:
        value = media.find(_q("value"))
        if value is None:
            return self.note("image absente du document")
        media_type = (value.get("mediaType") or "").strip().lower()
        if value.find(_q("reference")) is not None or value.get("representation") != "B64":
            return self.note(EXTERNAL)
        if media_type not in IMAGE_TYPES:
            return self.note(f"pièce jointe non affichée ({media_type[:40] or 'type inconnu'})")
        if len(self.images) >= self.limits.max_images:
            self.truncated = True
            return self.note(f"{TRUNCATED} : trop d'images")
        encoded = "".join((value.text or "").split())
        if len(encoded) > self.limits.max_image_bytes * 4 // 3 + 4:
            return self.note("image trop volumineuse, non affichée")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return self.note("image illisible")
        if not _signature_matches(media_type, data):
            return self.note("image illisible")
        self.spend(64)
        name = f"cda-media:{len(self.images) + 1}"
        self.images[name] = (media_type, data)
        return _Inline(image=name)

    # -- sections -------------------------------------------------------------------------------

    def sections(self, body: etree._Element, out: list[_Block]) -> None:
        """The body's sections appended to ``out`` as they are read: what was read before the output
        bound was reached stays."""
        for component in body:
            if self.full:
                break
            if _local(component) == "component":
                for section in component:
                    if self.full:
                        break
                    if _local(section) == "section":
                        self.section(section, 1, out)

    def section(self, section: etree._Element, level: int, out: list[_Block]) -> None:
        if level > self.limits.max_depth:
            self.truncated = True
            out.append(_Block("note", inlines=[self.note(f"{TRUNCATED} : sections trop imbriquées")]))
            return
        title = section.find(_q("title"))
        heading = self.inlines(title, level, frozenset()) if title is not None else []
        if not any(i.text.strip() for i in heading):
            code = section.find(_q("code"))
            label = (code.get("displayName") or "") if code is not None else ""
            heading = self.text(label or "Section sans titre", frozenset())
        out.append(_Block("h", level=min(level + 1, 5), inlines=heading))
        text = section.find(_q("text"))
        if text is not None:
            out += self.flow(text, level)
        for component in section:
            if self.full:
                break
            if _local(component) == "component":
                for child in component:
                    if self.full:
                        break
                    if _local(child) == "section":
                        self.section(child, level + 1, out)


def _styles(code: str | None) -> frozenset[str]:
    return frozenset(_STYLE_CODES[c] for c in (code or "").lower().split() if c in _STYLE_CODES)


def _span(value: str | None) -> int:
    """colspan / rowspan: a small positive integer, anything else 1."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        return 1
    return min(max(int(value), 1), 50)


_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def _signature_matches(media_type: str, data: bytes) -> bool:
    return any(data.startswith(signature) for signature in _SIGNATURES[media_type])


def _flatten(block: _Block) -> list[_Inline]:
    out: list[_Inline] = list(block.caption)
    if block.kind in ("p", "h", "note"):
        out += block.inlines
    for item in block.items:
        for inner in item:
            out += _flatten(inner)
        out.append(_Inline(br=True))
    for row in block.rows:
        for cell in row.cells:
            for inner in cell.blocks:
                out += _flatten(inner)
            out.append(_Inline(" | "))
        out.append(_Inline(br=True))
    return out


# -- header ------------------------------------------------------------------------------------

_SEX = {"F": "Féminin", "M": "Masculin", "U": "Indéterminé", "UN": "Indéterminé"}


def _first(node: etree._Element | None, *path: str) -> etree._Element | None:
    for step in path:
        if node is None:
            return None
        node = node.find(_q(step))
    return node


def _all_text(node: etree._Element | None) -> str:
    if node is None or not isinstance(node.tag, str):
        return ""
    return _SPACES.sub(" ", "".join(node.itertext())).strip()[:500]


def hl7_date(value: str | None) -> str:
    """``20210401134745+0100`` → ``01/04/2021 13:47 (+0100)``; partial dates kept partial."""
    value = (value or "").strip()
    match = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?", value)
    if match is None:
        return value[:40]
    year, month, day, hour, minute, _second, zone = match.groups()
    date = "/".join(p for p in (day, month, year) if p)
    if hour:
        date += f" {hour}:{minute or '00'}"
    if zone:
        date += f" ({zone})"
    return date


def _person(node: etree._Element | None) -> str:
    """Given names then family names of an HL7 PN (prefix and suffix kept)."""
    if node is None:
        return ""
    name = node.find(_q("name"))
    if name is None:
        return ""
    parts = [
        _all_text(part)
        for kind in ("prefix", "given", "family", "suffix")
        for part in name
        if _local(part) == kind
    ]
    return " ".join(p for p in parts if p) or _all_text(name)


def _code_label(code: etree._Element | None) -> str:
    if code is None:
        return ""
    display = (code.get("displayName") or "").strip()
    value = (code.get("code") or "").strip()
    if display and value:
        return f"{display} ({value})"
    return display or value or (code.get("nullFlavor") or "")


def _organization(node: etree._Element | None) -> str:
    if node is None:
        return ""
    name = _all_text(node.find(_q("name")))
    ident = node.find(_q("id"))
    extension = ident.get("extension", "") if ident is not None else ""
    return f"{name} ({extension})" if name and extension else name or extension


def _ins(role: etree._Element | None) -> str:
    if role is None:
        return ""
    found: list[str] = []
    for ident in role.findall(_q("id")):
        root = ident.get("root", "")
        try:
            label = InsOid(root).label
        except ValueError:
            continue
        found.append(f"{ident.get('extension', '')} — {label}, OID {root}")
    return " ; ".join(found) or "aucun INS dans le document"


def _patient_fields(doc: etree._Element) -> list[tuple[str, str]]:
    role = _first(doc, "recordTarget", "patientRole")
    patient = _first(role, "patient")
    name = _first(patient, "name")
    birth_name = used_name = first_given = used_given = ""
    first_names: list[str] = []
    if name is not None:
        for part in name:
            qualifier, value = (part.get("qualifier") or "").upper(), _all_text(part)
            if _local(part) == "family":
                if "BR" in qualifier.split() or (not birth_name and not qualifier):
                    birth_name = birth_name or value
                elif "CL" in qualifier.split() or "SP" in qualifier.split():
                    used_name = used_name or value
            elif _local(part) == "given":
                if "BR" in qualifier.split():
                    first_given = first_given or value
                elif "CL" in qualifier.split():
                    used_given = used_given or value
                elif not qualifier:
                    first_names.append(value)
    sex = _first(patient, "administrativeGenderCode")
    sex_code = (sex.get("code") or "") if sex is not None else ""
    birth = _first(patient, "birthTime")
    place = _all_text(_first(patient, "birthplace", "place", "addr", "county"))
    fields = [
        ("Nom de naissance", birth_name),
        ("Prénom(s) de naissance", " ".join(first_names) or first_given),
        ("Premier prénom de naissance", first_given),
        ("Date de naissance", hl7_date(birth.get("value") if birth is not None else "")),
        ("Sexe", _SEX.get(sex_code.upper(), sex_code)),
        ("Lieu de naissance (code INSEE)", place),
        ("INS", _ins(role)),
    ]
    if used_name or used_given:
        fields.append(("Nom et prénom utilisés", f"{used_name} {used_given}".strip()))
    return [(label, value or "—") for label, value in fields]


def _header(doc: etree._Element) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    fields.append(("Type de document", _code_label(_first(doc, "code"))))
    fields.append(("Date de création", hl7_date(_attr(_first(doc, "effectiveTime"), "value"))))
    event = _first(doc, "documentationOf", "serviceEvent", "effectiveTime")
    low, high = _attr(_first(event, "low"), "value"), _attr(_first(event, "high"), "value")
    if low or high:
        span = hl7_date(low) + (f" au {hl7_date(high)}" if high else "")
        fields.append(("Date de l'acte", ("du " + span) if high else span))
    for author in doc.findall(_q("author"))[:5]:
        assigned = _first(author, "assignedAuthor")
        who = _person(_first(assigned, "assignedPerson"))
        device = _all_text(_first(assigned, "assignedAuthoringDevice", "softwareName"))
        specialty = _code_label(_first(assigned, "code"))
        org = _organization(_first(assigned, "representedOrganization"))
        text = ", ".join(p for p in (who or device, specialty, org) if p)
        when = hl7_date(_attr(_first(author, "time"), "value"))
        fields.append(("Auteur", f"{text} — le {when}" if when else text))
    custodian = _first(doc, "custodian", "assignedCustodian", "representedCustodianOrganization")
    fields.append(("Structure conservant le document", _organization(custodian)))
    legal = _first(doc, "legalAuthenticator")
    if legal is not None:
        who = _person(_first(legal, "assignedEntity", "assignedPerson"))
        when = hl7_date(_attr(_first(legal, "time"), "value"))
        fields.append(("Responsable du document", f"{who} — le {when}" if when else who))
    version = _attr(_first(doc, "versionNumber"), "value")
    if version:
        fields.append(("Version", version))
    return [(label, value or "—") for label, value in fields]


def _attr(node: etree._Element | None, name: str) -> str:
    return (node.get(name) or "") if node is not None else ""


# -- output ------------------------------------------------------------------------------------


_HTML_STYLES = ("b", "i", "u", "em", "sub", "sup")


def _html_inlines(inlines: list[_Inline]) -> str:
    out: list[str] = []
    for inline in inlines:
        if inline.br:
            out.append("<br/>")
            continue
        if inline.image:
            out.append(f'<img src="{inline.image}"/>')
            continue
        text = html.escape(inline.text, quote=True)
        for style in _HTML_STYLES:
            if style in inline.styles:
                text = f"<{style}>{text}</{style}>"
        if "note" in inline.styles:
            text = f'<span class="note">{text}</span>'
        out.append(text)
    return "".join(out)


def _html_blocks(blocks: list[_Block], out: list[str]) -> None:
    for block in blocks:
        if block.kind == "h":
            out.append(f"<h{block.level}>{_html_inlines(block.inlines)}</h{block.level}>")
        elif block.kind in ("p", "note"):
            out.append(f"<p>{_html_inlines(block.inlines)}</p>")
        elif block.kind == "hr":
            out.append("<hr/>")
        elif block.kind == "fields":
            out.append('<table class="entete" cellspacing="0" cellpadding="2">')
            for label, value in block.fields:
                out.append(f"<tr><td><b>{html.escape(label)} :</b></td><td>{html.escape(value)}</td></tr>")
            out.append("</table>")
        elif block.kind == "list":
            if block.caption:
                out.append(f"<p><b>{_html_inlines(block.caption)}</b></p>")
            tag = "ol" if block.ordered else "ul"
            out.append(f'<ol type="{block.list_type}">' if block.ordered else "<ul>")
            for item in block.items:
                out.append("<li>")
                _html_blocks(item, out)
                out.append("</li>")
            out.append(f"</{tag}>")
        elif block.kind == "table":
            out.append('<table border="1" cellspacing="0" cellpadding="3">')
            if block.caption:
                out.append(f"<caption>{_html_inlines(block.caption)}</caption>")
            for row in block.rows:
                out.append("<tr>")
                for cell in row.cells:
                    tag = "th" if cell.header else "td"
                    attributes = ""
                    if cell.colspan > 1:
                        attributes += f' colspan="{cell.colspan}"'
                    if cell.rowspan > 1:
                        attributes += f' rowspan="{cell.rowspan}"'
                    if cell.align:
                        attributes += f' align="{cell.align}"'
                    out.append(f"<{tag}{attributes}>")
                    _html_blocks(cell.blocks, out)
                    out.append(f"</{tag}>")
                out.append("</tr>")
            out.append("</table>")


def _text_inlines(inlines: list[_Inline]) -> str:
    out: list[str] = []
    for inline in inlines:
        if inline.br:
            out.append("\n")
        elif inline.image:
            out.append("[image]")
        elif "sup" in inline.styles and inline.text.strip():
            out.append(f"^{inline.text}")
        else:
            out.append(inline.text)
    return "\n".join(line.strip() for line in "".join(out).split("\n"))


def _text_blocks(blocks: list[_Block], out: list[str], indent: str = "") -> None:
    for block in blocks:
        if block.kind == "h":
            title = _text_inlines(block.inlines).strip()
            underline = "=" if block.level <= 2 else "-"
            out += ["", indent + title, indent + underline * min(len(title), 80)]
        elif block.kind in ("p", "note"):
            text = _text_inlines(block.inlines).strip()
            if text:
                out += [indent + line for line in text.split("\n")]
        elif block.kind == "hr":
            out.append(indent + "-" * 40)
        elif block.kind == "fields":
            out += [f"{indent}{label} : {value}" for label, value in block.fields]
        elif block.kind == "list":
            if block.caption:
                out.append(indent + _text_inlines(block.caption).strip())
            for number, item in enumerate(block.items, 1):
                inner: list[str] = []
                _text_blocks(item, inner, "")
                bullet = f"{number}. " if block.ordered else "- "
                lines = [line for line in inner if line.strip()] or [""]
                out.append(indent + bullet + lines[0])
                out += [indent + " " * len(bullet) + line for line in lines[1:]]
        elif block.kind == "table":
            if block.caption:
                out.append(indent + _text_inlines(block.caption).strip())
            for row in block.rows:
                texts = []
                for cell in row.cells:
                    inner = []
                    _text_blocks(cell.blocks, inner, "")
                    texts.append(" ".join(line.strip() for line in inner if line.strip()))
                out.append(indent + "| " + " | ".join(texts) + " |")


def _parse(data: bytes, limits: Limits) -> etree._Element:
    if len(data) > limits.max_bytes:
        raise CdaNotRenderable("Document trop volumineux pour être affiché.")
    try:
        root = parse_xml(data, max_bytes=limits.max_bytes, max_nodes=limits.max_nodes)
    except HostileXml:
        raise
    except MalformedResponse:
        raise CdaNotRenderable("Document CDA illisible (XML mal formé ou trop imbriqué).") from None
    if root.tag != _q("ClinicalDocument"):
        raise CdaNotRenderable("Ce fichier n'est pas un document CDA.")
    return root


def render(data: bytes, limits: Limits = Limits(), *, patient: Ins | None = None) -> Rendered:
    """Render a CDA document (see the module docstring). Raises only project errors.

    With ``patient``, the document must name that INS in ``recordTarget/patientRole/id``: a CDA about
    someone else is refused whole (:class:`OtherPatientAnswer`), never shown."""
    doc = _parse(data, limits)
    if patient is not None:
        wanted = patient.to_hl7v3_attributes()
        role = _first(doc, "recordTarget", "patientRole")
        ids = role.findall(_q("id")) if role is not None else []
        if not any(
            i.get("root") == wanted["root"] and i.get("extension") == wanted["extension"] for i in ids
        ):
            raise OtherPatientAnswer(
                "Ce document ne porte pas l'INS du patient demandé : il n'est pas affiché (vigilance sur "
                "l'identité)."
            )
    walker = _Walker(doc, limits)
    title = _all_text(doc.find(_q("title"))) or _code_label(doc.find(_q("code"))) or "Document sans titre"
    blocks: list[_Block] = [_Block("h", level=1, inlines=[_Inline(title[:300])])]
    blocks.append(_Block("h", level=3, inlines=[_Inline("Patient")]))
    blocks.append(_Block("fields", fields=_patient_fields(doc)))
    blocks.append(_Block("h", level=3, inlines=[_Inline("Document")]))
    blocks.append(_Block("fields", fields=_header(doc)))
    blocks.append(_Block("hr"))
    walker.spend(sum(len(v) + len(k) + 40 for b in blocks for k, v in b.fields) + len(title))
    body = _first(doc, "component", "structuredBody")
    non_xml = _first(doc, "component", "nonXMLBody", "text")
    media_type: str | None = None
    if body is not None:
        walker.sections(body, blocks)
        footnotes = walker.footnotes
        if footnotes:
            blocks.append(_Block("h", level=3, inlines=[_Inline("Notes")]))
            for number, note in enumerate(footnotes, 1):
                blocks.append(_Block("p", inlines=[_Inline(f"{number}. "), *note]))
    elif non_xml is not None:
        media_type = (non_xml.get("mediaType") or "").strip()
        label = f"Corps du document : fichier joint ({media_type or 'type inconnu'}), affiché à part."
        blocks.append(_Block("p", inlines=[_Inline(label, frozenset({"i"}))]))
    else:
        blocks.append(_Block("p", inlines=[_Inline("Document sans corps.", frozenset({"i"}))]))
    if walker.truncated:
        blocks.append(_Block("note", inlines=[_Inline(f"[{TRUNCATED}]", frozenset({"note", "b"}))]))
    out: list[str] = ["<html><head><style>", STYLE, "</style></head><body>"]
    _html_blocks(blocks, out)
    out.append("</body></html>")
    lines: list[str] = []
    _text_blocks(blocks, lines)
    text = "\n".join(lines).strip() + "\n"
    return Rendered(
        title=title[:300],
        html="".join(out),
        text=text,
        structured=body is not None,
        truncated=walker.truncated,
        images=dict(walker.images),
        body_media_type=media_type,
    )


STRUCTURED_BODY = "application/x-cda-structuredbody"
"""Internal marker (not a protocol value): a retrieved CDA whose body is a ``structuredBody``, so it has
no file to show beside it; the viewer renders the CDA itself."""
MAX_HEAD_ELEMENTS = 100_000  # elements read before the body starts; a CDA header holds a few hundred


def has_structured_body(source: BinaryIO) -> bool:
    """True if ``ClinicalDocument/component/structuredBody`` comes before any ``nonXMLBody``, read
    from the head only (the parse stops at the body), with the hardened parser's options."""
    depth = seen = 0
    events = etree.iterparse(
        source, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False
    )
    try:
        for event, node in events:
            if event == "end":
                depth -= 1
                continue
            depth += 1
            seen += 1
            if seen > MAX_HEAD_ELEMENTS or (seen == 1 and node.getroottree().docinfo.doctype):
                raise HostileXml()
            if depth == 1 and node.tag != _q("ClinicalDocument"):
                raise CdaNotRenderable("Ce fichier n'est pas un document CDA.")
            if depth == 3 and node.tag in (_q("structuredBody"), _q("nonXMLBody")):
                parent = node.getparent()
                if parent is not None and parent.tag == _q("component"):
                    return node.tag == _q("structuredBody")
    except etree.XMLSyntaxError:
        raise CdaNotRenderable("Document CDA illisible (XML mal formé ou trop imbriqué).") from None
    return False


def ins_from_cx(cx: str) -> Ins | None:
    """The INS of an XDS ``patientId`` (``matricule^^^&oid&ISO^NH``), None if it is not one."""
    try:
        found = parse_cx(cx)
    except ValueError:  # InsError
        return None
    return found if isinstance(found, Ins) else None


def tags_of(markup: str) -> Iterator[str]:
    """The tag names of an HTML output (for the tests' allow-list check)."""
    for match in re.finditer(r"</?([a-zA-Z0-9]+)", markup):
        yield match.group(1).lower()
