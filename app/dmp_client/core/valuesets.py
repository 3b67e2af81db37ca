"""The value sets behind XDS metadata, loaded from the files shipped in ``resources/spec/valuesets``.

Nothing is retyped: codes and display names come from the ANS SVS files (JDV_J01, J02, J04, J07,
J08) and from the derived tables (ASS_A12 media type → formatCode, ASS_X16 typeCode → classCode,
JDV_J57 class codes, JDV_J62 practice settings). ASS_X16 is partial: a typeCode it does not map is
refused rather than guessed.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from app.dmp_client.core.errors import LocalProtocolError

SVS = "urn:ihe:iti:svs:2008"


@dataclass(frozen=True)
class Concept:
    code: str
    code_system: str
    display_name: str


def resources_dir() -> Path:
    """``resources/`` next to the ``app`` package: a checkout, or ``sys._MEIPASS`` in the frozen
    application (installer/dmp.spec puts it there); ``$DMP_RESOURCES_DIR`` overrides both."""
    configured = os.environ.get("DMP_RESOURCES_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "resources"


def _valuesets() -> Path:
    return resources_dir() / "spec" / "valuesets"


def read_svs(path: Path) -> list[Concept]:
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    return [
        Concept(c.get("code", ""), c.get("codeSystem", ""), c.get("displayName", ""))
        for c in root.iter(f"{{{SVS}}}Concept")
    ]


def _read_csv(name: str) -> list[dict[str, str]]:
    text = (_valuesets() / "derived" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


class ValueSets:
    """Lookups over the shipped value sets (loaded once)."""

    def __init__(self) -> None:
        jdv = _valuesets() / "jdv-cisis"
        self.type_codes = {c.code: c for c in read_svs(jdv / "JDV_J07_XdsTypeCode_CISIS.xml")}
        self.author_specialties = {c.code: c for c in read_svs(jdv / "JDV_J01_XdsAuthorSpecialty_CISIS.xml")}
        self.facility_types = {
            c.code: c for c in read_svs(jdv / "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS.xml")
        }
        self.practice_settings = {
            c.code: c for c in read_svs(jdv / "JDV_J04_XdsPracticeSettingCode_CISIS.xml")
        }
        for row in _read_csv("JDV_J62_PracticeSettingCode_DMP.csv"):
            self.practice_settings.setdefault(
                row["code"], Concept(row["code"], row["codeSystem"], row["display_fr"])
            )
        self.confidentiality = {c.code: c for c in read_svs(jdv / "JDV_J08_XdsConfidentialityCode_CISIS.xml")}
        self.class_codes = {r["code"]: r for r in _read_csv("JDV_J57_ClassCode_DMP.csv")}
        self.type_to_class = {
            (r["typeCode"], r["typeCodeSystem"]): r["classCode"]
            for r in _read_csv("ASS_X16_TypeCode_to_ClassCode_DMP_PARTIAL.csv")
        }
        self.media_formats = {
            r["nonXMLBody_mediaType"]: r for r in _read_csv("ASS_A12_MediaType_to_XdsFormatCode.csv")
        }

    def type_code(self, code: str) -> Concept:
        if code not in self.type_codes:
            raise LocalProtocolError(f"Type de document inconnu du jeu de valeurs JDV_J07 : {code}.")
        return self.type_codes[code]

    def class_code(self, type_code: Concept) -> Concept:
        """The classCode ASS_X16 derives from the typeCode (refused when the table does not say)."""
        code = self.type_to_class.get((type_code.code, type_code.code_system))
        if code is None:  # the table's wildcard rows, e.g. PRESC-* and ATTEST-*
            code = next(
                (
                    c
                    for (t, s), c in self.type_to_class.items()
                    if t.endswith("*") and s == type_code.code_system and type_code.code.startswith(t[:-1])
                ),
                None,
            )
        if code is None or code not in self.class_codes:
            raise LocalProtocolError(
                f"Classe du type de document {type_code.code} inconnue (table ASS_X16 partielle)."
            )
        row = self.class_codes[code]
        return Concept(
            code,
            row.get("codeSystem", "1.2.250.1.213.1.1.4.1"),
            row.get("display_fr", "") or row.get("display", ""),
        )

    def format_code(self, media_type: str) -> Concept:
        row = self.media_formats.get(media_type)
        if row is None:
            raise LocalProtocolError(f"Format de document non pris en charge par le DMP : {media_type}.")
        return Concept(row["xds_formatCode"], row["formatCode_codingScheme"], row["xds_formatCode"])

    def lookup(self, table: dict[str, Concept], code: str, what: str) -> Concept:
        if code not in table:
            raise LocalProtocolError(f"Code {code} absent du jeu de valeurs {what}.")
        return table[code]


@functools.cache
def value_sets() -> ValueSets:
    return ValueSets()
