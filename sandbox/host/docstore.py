"""Documents, submission sets and associations of the sandbox registry/repository (same SQLite file).

Seeded documents keep no content: their level-1 CDA is generated deterministically from the row
(``seeded_cda``), so seeding 2,000 documents stays well under a second. Submitted documents are
stored as files under ``<data>/documents/`` (streamed from the request spool, never held whole).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sandbox.host import structured
from sandbox.host.xds import (
    CONFIDENTIALITY_DMP,
    CONFIDENTIALITY_HL7,
    REPOSITORY_UNIQUE_ID,
    Coded,
    confidentiality_json,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS xds_document (
    entry_uuid TEXT PRIMARY KEY, lid TEXT NOT NULL, version INTEGER NOT NULL, latest INTEGER NOT NULL,
    unique_id TEXT NOT NULL, matricule TEXT NOT NULL, patient_oid TEXT NOT NULL, status TEXT NOT NULL,
    author_id TEXT, author_structure TEXT, submitter_mode TEXT, author_patient INTEGER NOT NULL DEFAULT 0,
    author_person TEXT, author_institution TEXT, author_specialty TEXT,
    mime_type TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, repository TEXT NOT NULL,
    class_code TEXT, class_scheme TEXT, class_display TEXT,
    type_code TEXT, type_scheme TEXT, type_display TEXT,
    format_code TEXT, format_scheme TEXT, practice_code TEXT, practice_scheme TEXT,
    facility_code TEXT, facility_scheme TEXT, confidentiality TEXT NOT NULL,
    creation_time TEXT, service_start TEXT, service_stop TEXT, submission_time TEXT, title TEXT,
    set_id TEXT, reference_ids TEXT, is_signature INTEGER NOT NULL DEFAULT 0, submission_set TEXT,
    extrinsic_xml TEXT, content_path TEXT, seed_index INTEGER
);
CREATE INDEX IF NOT EXISTS xds_document_patient ON xds_document (matricule, latest, status);
CREATE INDEX IF NOT EXISTS xds_document_unique ON xds_document (unique_id);
CREATE INDEX IF NOT EXISTS xds_document_lid ON xds_document (lid);
CREATE TABLE IF NOT EXISTS xds_submission_set (
    entry_uuid TEXT PRIMARY KEY, unique_id TEXT NOT NULL, source_id TEXT, matricule TEXT NOT NULL,
    patient_oid TEXT NOT NULL, submission_time TEXT, author_id TEXT, author_structure TEXT,
    author_person TEXT, content_type_code TEXT, content_type_scheme TEXT, title TEXT, status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS xds_submission_set_patient ON xds_submission_set (matricule);
CREATE TABLE IF NOT EXISTS xds_association (
    entry_uuid TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
    slots TEXT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS xds_association_source ON xds_association (source);
CREATE INDEX IF NOT EXISTS xds_association_target ON xds_association (target);
"""

TABLES = ("xds_document", "xds_submission_set", "xds_association")
DOCUMENT_COLUMNS = (
    "entry_uuid",
    "lid",
    "version",
    "latest",
    "unique_id",
    "matricule",
    "patient_oid",
    "status",
    "author_id",
    "author_structure",
    "submitter_mode",
    "author_patient",
    "author_person",
    "author_institution",
    "author_specialty",
    "mime_type",
    "hash",
    "size",
    "repository",
    "class_code",
    "class_scheme",
    "class_display",
    "type_code",
    "type_scheme",
    "type_display",
    "format_code",
    "format_scheme",
    "practice_code",
    "practice_scheme",
    "facility_code",
    "facility_scheme",
    "confidentiality",
    "creation_time",
    "service_start",
    "service_stop",
    "submission_time",
    "title",
    "set_id",
    "reference_ids",
    "is_signature",
    "submission_set",
    "extrinsic_xml",
    "content_path",
    "seed_index",
)
SET_COLUMNS = (
    "entry_uuid",
    "unique_id",
    "source_id",
    "matricule",
    "patient_oid",
    "submission_time",
    "author_id",
    "author_structure",
    "author_person",
    "content_type_code",
    "content_type_scheme",
    "title",
    "status",
)
INSERT_DOCUMENT = (
    f"INSERT INTO xds_document ({','.join(DOCUMENT_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(DOCUMENT_COLUMNS))})"
)
DEFAULT_COUNT = 8  # documents of an open or closed DMP without an explicit "documents" count
SEED_OID = "1.2.250.1.213.4.1.9.99"  # sandbox root for seeded uniqueIds (fictitious)
SEED_NAMESPACE = uuid.UUID("6f2d3c1a-2b4e-4c9a-9e61-5a0d7c3b1f00")
LOINC = "2.16.840.1.113883.6.1"
TRE_A05 = "1.2.250.1.213.1.1.4.12"
CLASS_SCHEME = "1.2.250.1.213.1.1.4.1"
IHE_FORMAT = "1.3.6.1.4.1.19376.1.2.3"
TRE_A01 = "1.2.250.1.213.1.1.4.9"
TRE_A00 = "1.2.250.1.213.1.1.4.6"
TRE_R02 = "1.2.250.1.71.4.2.4"

# (classCode, classDisplay, typeCode, typeScheme, typeDisplay, title)
FAMILIES = [
    ("10", "Compte rendu", "11488-4", LOINC, "CR de consultation", "Compte rendu de consultation"),
    ("10", "Compte rendu", "11502-2", LOINC, "CR d'examens biologiques", "Compte rendu de biologie"),
    ("10", "Compte rendu", "34874-8", LOINC, "CR opératoire", "Compte rendu opératoire"),
    ("11", "Synthèse", "60591-5", LOINC, "Synthèse médicale", "Volet de synthèse médicale"),
    ("11", "Synthèse", "34133-9", LOINC, "Synthèse d'épisode de soins", "Lettre de liaison de sortie"),
    ("31", "Imagerie médicale", "18748-4", LOINC, "CR d'imagerie médicale", "Compte rendu d'imagerie"),
    ("42", "Prescription", "57833-6", LOINC, "Prescription de produits de santé", "Ordonnance"),
    ("43", "Dispensation", "60593-1", LOINC, "Dispensation médicamenteuse", "Dispensation en officine"),
    (
        "44",
        "Plan de soins / protocole de soins",
        "PROT_ALD",
        TRE_A05,
        "Protocole de soins ALD",
        "Protocole ALD",
    ),
    ("52", "Certificat / déclaration", "87273-9", LOINC, "Note de vaccination", "Note de vaccination"),
    ("60", "Données de remboursement", "REMB", TRE_A05, "Données de remboursement", "Remboursements"),
    (
        "90",
        "Autres documents déposés par le patient",
        "EXPPAT_2",
        TRE_A05,
        "Autre document du patient",
        "Document personnel",
    ),
]
# Fictitious authors of seeded documents: (national id, family, given, specialty, structure, sector, practice)
AUTHORS = [
    (
        "899900012341",
        "MEDECIN-GENERALISTE",
        "CLAIRE",
        "G15_10/SM54",
        "499900012341001",
        "SA07",
        "AMBULATOIRE",
    ),
    ("899900012342", "CARDIOLOGUE", "PAUL", "G15_10/SM04", "1990000017", "SA01", "ETABLISSEMENT"),
    ("899900012344", "PHARMACIEN", "MARC", "G15_21", "1990000017", "SA01", "ETABLISSEMENT"),
    ("899900077771", "RADIOLOGUE", "ALICE", "G15_10/SM44", "1990000017", "SA01", "ETABLISSEMENT"),
    ("899900077772", "BIOLOGISTE", "HENRI", "G15_10/SM03", "499900077772001", "SA07", "AMBULATOIRE"),
]
STRUCTURE_AUTHOR = ("1990000017", "CH DU BAC A SABLE")


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")


def create(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


def documents_dir(store_path: Path) -> Path:
    return store_path.parent / "documents"


def insert_document(db: sqlite3.Connection, values: dict[str, Any]) -> None:
    row = [values.get(name) for name in DOCUMENT_COLUMNS]
    db.execute(
        INSERT_DOCUMENT,
        row,
    )


def insert_submission_set(db: sqlite3.Connection, values: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO xds_submission_set VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        tuple(values.get(k) for k in SET_COLUMNS),
    )


def insert_association(
    db: sqlite3.Connection, entry_uuid: str, kind: str, source: str, target: str, slots: dict[str, list[str]]
) -> None:
    db.execute(
        "INSERT INTO xds_association VALUES (?,?,?,?,?,?)",
        (entry_uuid, kind, source, target, json.dumps(slots), "Approved"),
    )


# -- seeding ---------------------------------------------------------------------------------------


def _seed_uuid(matricule: str, kind: str, index: int) -> str:
    return f"urn:uuid:{uuid.uuid5(SEED_NAMESPACE, f'{matricule}/{kind}/{index}')}"


def _seed_time(index: int, total: int) -> dt.datetime:
    """Spread over ~10 years before 2026-01-01, deterministically."""
    start = dt.datetime(2016, 1, 1, 8, 0, tzinfo=dt.UTC)
    span = 10 * 365 * 24 * 3600
    return start + dt.timedelta(seconds=(index * span) // max(total, 1) + (index * 7919) % 36000)


def seed(db: sqlite3.Connection, patients: Iterable[tuple[str, str, int, str, str, str, str]]) -> int:
    """Seed ``count`` documents per patient (matricule, oid, count, family, given, sex, birth date).

    Every 10 documents share one submission set. Every 25th document has an older Deprecated
    version (RPLC); every 40th is Archived; every 15th is MASQUE_PS; every 60th is Deleted."""
    total = 0
    for matricule, oid, count, family, given, sex, birth in patients:
        documents: list[tuple[Any, ...]] = []
        sets: list[tuple[Any, ...]] = []
        associations: list[tuple[Any, ...]] = []
        for index in range(count):
            row = seeded_row(matricule, oid, index, count)
            row["content_bytes"] = None
            content = seeded_cda(row, family, given, sex, birth)
            row["hash"] = hashlib.sha1(content).hexdigest()
            row["size"] = len(content)
            row.pop("content_bytes")
            documents.append(tuple(row.get(name) for name in DOCUMENT_COLUMNS))
            set_index = index // 10
            if index % 10 == 0:
                sets.append(
                    (
                        row["submission_set"],
                        f"{SEED_OID}.2.{_digits(matricule)}.{set_index}",
                        "1.2.250.1.213.4.1.9.99.3",
                        matricule,
                        oid,
                        row["submission_time"],
                        row["author_id"],
                        row["author_structure"],
                        row["author_person"],
                        "04",
                        "1.2.250.1.213.2.2",
                        "Lot de documents",
                        "Approved",
                    )
                )
            associations.append(
                (
                    _seed_uuid(matricule, "hm", index),
                    "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
                    row["submission_set"],
                    row["entry_uuid"],
                    json.dumps({"SubmissionSetStatus": ["Original"]}),
                    "Approved",
                )
            )
            if index % 25 == 24:  # an older version replaced by this one
                old = dict(row)
                old.update(
                    entry_uuid=_seed_uuid(matricule, "old", index),
                    lid=_seed_uuid(matricule, "old", index),
                    unique_id=f"{row['unique_id']}.0",
                    status="Deprecated",
                    seed_index=-(index + 1),
                )
                old_content = seeded_cda(old, family, given, sex, birth)
                old["hash"] = hashlib.sha1(old_content).hexdigest()
                old["size"] = len(old_content)
                documents.append(tuple(old.get(name) for name in DOCUMENT_COLUMNS))
                associations.append(
                    (
                        _seed_uuid(matricule, "rplc", index),
                        "urn:ihe:iti:2007:AssociationType:RPLC",
                        row["entry_uuid"],
                        old["entry_uuid"],
                        "{}",
                        "Approved",
                    )
                )
        db.executemany(
            INSERT_DOCUMENT,
            documents,
        )
        db.executemany("INSERT INTO xds_submission_set VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", sets)
        db.executemany("INSERT INTO xds_association VALUES (?,?,?,?,?,?)", associations)
        total += len(documents)
    return total


def _digits(matricule: str) -> str:
    return "".join(c if c.isdigit() else "0" for c in matricule)


def seeded_row(matricule: str, oid: str, index: int, total: int) -> dict[str, Any]:
    """The metadata of seeded document ``index`` (negative index: the replaced older version)."""
    base = index if index >= 0 else -index - 1
    family = FAMILIES[base % len(FAMILIES)]
    class_code, class_display, type_code, type_scheme, type_display, title = family
    patient_authored = class_code == "90"
    author = AUTHORS[(base * 7) % len(AUTHORS)]
    by_structure = base % 11 == 5 and not patient_authored
    created = _seed_time(base, total)
    stop = created + dt.timedelta(minutes=30)
    submitted = created + dt.timedelta(hours=2)
    confidentiality = [Coded("N", CONFIDENTIALITY_HL7, "Normal")]
    if base % 15 == 7 and not patient_authored:
        confidentiality.append(Coded("MASQUE_PS", CONFIDENTIALITY_DMP, "Masqué aux professionnels de santé"))
    status = "Approved"
    if base % 60 == 33:
        status = "Deleted"
    elif base % 40 == 17:
        status = "Archived"
    if patient_authored:
        author_id, author_structure, person, institution, specialty = "", "", "", "", "EXP_PATIENT"
        practice, facility = ("EXP_PATIENT", TRE_A00), ("EXP_PATIENT", TRE_A00)
        mode = "PATIENT"
    elif by_structure:
        author_id, author_structure = "", STRUCTURE_AUTHOR[0]
        person = ""
        institution = f"{STRUCTURE_AUTHOR[1]}^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^{STRUCTURE_AUTHOR[0]}"
        specialty, practice, facility, mode = "", ("ETABLISSEMENT", TRE_A01), ("SA01", TRE_R02), "INDIRECTE"
    else:
        national_id, family_name, given, specialty, structure, sector, practice_code = author
        author_id, author_structure = national_id, structure
        person = f"{national_id}^{family_name}^{given}^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
        institution = f"STRUCTURE {structure}^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^{structure}"
        practice, facility, mode = (practice_code, TRE_A01), (sector, TRE_R02), "DIRECTE"
    unique_id = f"{SEED_OID}.1.{_digits(matricule)}.{base}"
    entry = _seed_uuid(matricule, "doc", base)
    return {
        "entry_uuid": entry,
        "lid": entry,
        "version": 1,
        "latest": 1,
        "unique_id": unique_id,
        "matricule": matricule,
        "patient_oid": oid,
        "status": status,
        "author_id": author_id,
        "author_structure": author_structure,
        "submitter_mode": mode,
        "author_patient": int(patient_authored),
        "author_person": person,
        "author_institution": institution,
        "author_specialty": specialty,
        "mime_type": "text/xml",
        "repository": REPOSITORY_UNIQUE_ID,
        "class_code": class_code,
        "class_scheme": CLASS_SCHEME,
        "class_display": class_display,
        "type_code": type_code,
        "type_scheme": type_scheme,
        "type_display": type_display,
        "format_code": "urn:ihe:iti:xds-sd:text:2008",
        "format_scheme": IHE_FORMAT,
        "practice_code": practice[0],
        "practice_scheme": practice[1],
        "facility_code": facility[0],
        "facility_scheme": facility[1],
        "confidentiality": confidentiality_json(confidentiality),
        "creation_time": created.strftime("%Y%m%d%H%M%S"),
        "service_start": created.strftime("%Y%m%d%H%M%S"),
        "service_stop": stop.strftime("%Y%m%d%H%M%S"),
        "submission_time": submitted.strftime("%Y%m%d%H%M%S"),
        "title": f"{title} n° {base + 1}",
        "set_id": f"{unique_id}.9",
        "reference_ids": "[]",
        "is_signature": 0,
        "submission_set": _seed_uuid(matricule, "ss", base // 10),
        "extrinsic_xml": None,
        "content_path": None,
        "seed_index": index,
    }


_CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.2.8.2.1"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <templateId root="1.3.6.1.4.1.19376.1.2.20"/>
  <id root="{unique_id}"/>
  <code code="{type_code}" codeSystem="{type_scheme}" displayName="{type_display}"/>
  <title>{title}</title>
  <effectiveTime value="{created}+0000"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25" displayName="Normal"/>
  <languageCode code="fr-FR"/>
  <setId root="{set_id}"/>
  <versionNumber value="{version}"/>
  <recordTarget>
    <patientRole>
      <id root="{oid}" extension="{matricule}"/>
      <patient classCode="PSN">
        <name><family qualifier="BR">{family}</family><given>{given}</given></name>
        <administrativeGenderCode code="{sex}" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="{birth}"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="{created}+0000"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="{author_id}"/>
      <assignedPerson><name><family>{author_family}</family></name></assignedPerson>
    </assignedAuthor>
  </author>
  <custodian>
    <assignedCustodian>
      <representedCustodianOrganization>
        <id root="1.2.250.1.213.4.1" extension="DMP"/>
        <name>DMP (bac à sable)</name>
      </representedCustodianOrganization>
    </assignedCustodian>
  </custodian>
  <documentationOf>
    <serviceEvent>
      <effectiveTime><low value="{created}+0000"/><high value="{stop}+0000"/></effectiveTime>
      <performer typeCode="PRF">
        <assignedEntity>
          <id root="1.2.250.1.71.4.2.1" extension="{author_id}"/>
          <representedOrganization>
            <standardIndustryClassCode code="{practice}" codeSystem="{practice_scheme}"/>
          </representedOrganization>
        </assignedEntity>
      </performer>
    </serviceEvent>
  </documentationOf>
  <componentOf>
    <encompassingEncounter>
      <effectiveTime value="{created}+0000"/>
      <location>
        <healthCareFacility><code code="{facility}" codeSystem="{facility_scheme}"/></healthCareFacility>
      </location>
    </encompassingEncounter>
  </componentOf>
  <component>
    <nonXMLBody>
      <text mediaType="text/plain" representation="B64">{body}</text>
    </nonXMLBody>
  </component>
</ClinicalDocument>
"""


def hl7_date(iso: str) -> str:
    """``1969-03-00`` → ``196903``."""
    parts = (iso or "1970-01-01").split("-")
    while len(parts) > 1 and parts[-1] == "00":
        parts.pop()
    return "".join(parts)


def seeded_cda(row: dict[str, Any] | sqlite3.Row, family: str, given: str, sex: str, birth: str) -> bytes:
    """The deterministic CDA of a seeded document: level 1 (text/plain body), or for the VSM, vaccination
    note and biology families a structured ANS example with this patient's identity (structured.py)."""
    title = str(row["title"])
    index = int(row["seed_index"] or 0)
    structured_values = {
        "unique_id": str(row["unique_id"]),
        "set_id": str(row["set_id"]),
        "version": "2" if index >= 0 and index % 25 == 24 else "1",
        "created": f"{row['creation_time']}+0000",
        "title": title,
        "type_code": str(row["type_code"]),
        "type_scheme": str(row["type_scheme"]),
        "type_display": str(row["type_display"]),
        "oid": str(row["patient_oid"]),
        "matricule": str(row["matricule"]),
        "family": family,
        "first_names": given,
        "first_name": given.split(" ")[0] if given else "",
        "sex": sex,
        "birth": hl7_date(birth),
    }
    structured_cda = structured.document(str(row["type_code"]), structured_values)
    if structured_cda is not None:
        return structured_cda
    body = f"{title}\nDocument fictif du bac à sable DMP, créé le {row['creation_time']}.\n"
    author_id = row["author_id"] or "SANDBOX"
    values = {
        "unique_id": row["unique_id"],
        "type_code": row["type_code"],
        "type_scheme": row["type_scheme"],
        "type_display": row["type_display"],
        "title": title,
        "created": row["creation_time"],
        "stop": row["service_stop"],
        "set_id": row["set_id"],
        "version": "2"
        if int(row["seed_index"] or 0) >= 0 and int(row["seed_index"] or 0) % 25 == 24
        else "1",
        "oid": row["patient_oid"],
        "matricule": row["matricule"],
        "family": family,
        "given": given,
        "sex": sex,
        "birth": hl7_date(birth),
        "author_id": author_id,
        "author_family": (row["author_person"] or "^AUTEUR").split("^")[1] or "AUTEUR",
        "practice": row["practice_code"],
        "practice_scheme": row["practice_scheme"],
        "facility": row["facility_code"],
        "facility_scheme": row["facility_scheme"],
        "body": base64.b64encode(body.encode()).decode(),
    }
    return _CDA.format(**{k: escape(str(v), {'"': "&quot;"}) for k, v in values.items()}).encode()
