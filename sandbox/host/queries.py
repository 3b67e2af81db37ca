"""ITI-18 Registry Stored Query (TD3.1): FindDocuments, FindSubmissionSets, GetDocuments,
GetDocumentsAndAssociations, GetAssociations, GetSubmissionSetAndContents, GetRelatedDocuments,
FindDocumentsByReferenceId; ``returnType`` ObjectRef or LeafClass.

Parameter values use the ebRS syntax: ``'text'`` (``''`` escapes a quote), ``('a','b')`` lists,
bare numbers for times. Several ``Value`` elements of one slot are OR-ed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable

from lxml import etree

from sandbox.host import mtom, rights, xds
from sandbox.host.faults import HostFault
from sandbox.host.reply import Reply
from sandbox.host.store import Store
from sandbox.host.vihf import Caller
from sandbox.host.xds import QUERY, RIM, RS, Coded, XdsError

ACTION = "urn:ihe:iti:2007:RegistryStoredQuery"
RESPONSE = "urn:ihe:iti:2007:RegistryStoredQueryResponse"
FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
FIND_SUBMISSION_SETS = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
GET_DOCUMENTS = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
GET_ASSOCIATIONS = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
GET_DOCUMENTS_AND_ASSOCIATIONS = "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a"
GET_SUBMISSION_SET_AND_CONTENTS = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
GET_RELATED_DOCUMENTS = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6"
FIND_BY_REFERENCE_ID = "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492"
MAX_LEAF_CLASS = 5000
PARAM_ERROR = "XDSStoredQueryParamNumber"


def parse_value(text: str) -> list[str]:
    """One ebRS parameter value → its items (a list or a single string / number)."""
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    items: list[str] = []
    position = 0
    while position < len(text):
        while position < len(text) and text[position] in " ,\t\r\n":
            position += 1
        if position >= len(text):
            break
        if text[position] == "'":
            position += 1
            item = []
            while True:
                if position >= len(text):
                    raise XdsError(
                        "XDSRegistryError", "Valeur de paramètre mal formée (apostrophe non fermée)."
                    )
                if text[position] == "'":
                    if text[position + 1 : position + 2] == "'":
                        item.append("'")
                        position += 2
                        continue
                    position += 1
                    break
                item.append(text[position])
                position += 1
            items.append("".join(item))
        else:
            end = position
            while end < len(text) and text[end] not in ",":
                end += 1
            token = text[position:end].strip()
            if not token.replace(".", "").isdigit():
                raise XdsError(
                    "XDSRegistryError", "Valeur de paramètre mal formée (chaîne sans apostrophes)."
                )
            items.append(token)
            position = end
    return items


class Params:
    def __init__(self, query: etree._Element) -> None:
        self.values: dict[str, list[str]] = {}
        for slot in query.iterfind(f"{{{RIM}}}Slot"):
            name = slot.get("name", "")
            for value in slot.iterfind(f"{{{RIM}}}ValueList/{{{RIM}}}Value"):
                self.values.setdefault(name, []).extend(parse_value(value.text or ""))

    def get(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def one(self, name: str) -> str | None:
        values = self.get(name)
        if len(values) > 1:
            raise XdsError(PARAM_ERROR, f"Le paramètre {name} n'accepte qu'une valeur.")
        return values[0] if values else None

    def required(self, name: str) -> list[str]:
        values = self.get(name)
        if not values:
            raise XdsError(PARAM_ERROR, f"Paramètre obligatoire manquant : {name}.")
        return values


def _codes(values: list[str]) -> list[tuple[str, str | None]]:
    result = []
    for value in values:
        code, _, scheme = value.partition("^^")
        result.append((code, scheme or None))
    return result


def _status_filter(values: list[str]) -> list[str]:
    statuses = [xds.STATUSES[v] for v in values if v in xds.STATUSES]
    if not statuses:
        raise XdsError(PARAM_ERROR, "Statut de document inconnu.")
    return statuses


def _like(pattern: str) -> str:
    return pattern.replace("\\", "\\\\")


# -- building ----------------------------------------------------------------------------------------


# The ExtrinsicObject of a row is a pure function of the row's columns: built once per row value
# and kept as bytes (bounded), so a listing re-parses ~5 KB per entry instead of building ~70
# elements in Python (the host's main cost per GetDocumentsAndAssociations). Any change of the row
# (status, latest, version...) is another key, hence a new build.
_EXTRINSIC_MAX = 10_000
_extrinsic_built: dict[tuple[object, ...], bytes] = {}


def extrinsic(row: sqlite3.Row) -> etree._Element:
    """The ExtrinsicObject of a document version (the stored one when it was submitted)."""
    key = tuple(row)
    built = _extrinsic_built.get(key)
    if built is None:
        built = etree.tostring(_build_extrinsic(row))
        if len(_extrinsic_built) >= _EXTRINSIC_MAX:
            _extrinsic_built.clear()
        _extrinsic_built[key] = built
    return etree.fromstring(built)


def _build_extrinsic(row: sqlite3.Row) -> etree._Element:
    status = xds.STATUS_URN[row["status"]]
    if row["extrinsic_xml"]:
        node = etree.fromstring(row["extrinsic_xml"])
        node.set("status", status)
        node.set("id", row["entry_uuid"])
        node.set("lid", row["lid"])
        for slot in list(node.iterfind(f"{{{RIM}}}Slot")):
            if slot.get("name") in ("hash", "size", "repositoryUniqueId"):
                node.remove(slot)
        anchor = node.find(f"{{{RIM}}}Slot")
        extra = etree.Element(f"{{{RIM}}}Dummy")
        xds.add_slot(extra, "hash", [row["hash"]])
        xds.add_slot(extra, "size", [str(row["size"])])
        xds.add_slot(extra, "repositoryUniqueId", [row["repository"]])
        for slot in reversed(list(extra)):
            if anchor is not None:
                anchor.addprevious(slot)
            else:
                node.insert(0, slot)
        _version_info(node, row)
        return node
    ident = row["entry_uuid"]
    node = etree.Element(
        f"{{{RIM}}}ExtrinsicObject",
        id=ident,
        lid=row["lid"],
        objectType=xds.DOCUMENT_ENTRY_TYPE,
        status=status,
        mimeType=row["mime_type"],
        nsmap={"rim": RIM},
    )
    xds.add_slot(node, "creationTime", [row["creation_time"]])
    xds.add_slot(node, "hash", [row["hash"]])
    xds.add_slot(node, "languageCode", ["fr-FR"])
    xds.add_slot(node, "repositoryUniqueId", [row["repository"]])
    if row["service_start"]:
        xds.add_slot(node, "serviceStartTime", [row["service_start"]])
    if row["service_stop"]:
        xds.add_slot(node, "serviceStopTime", [row["service_stop"]])
    xds.add_slot(node, "size", [str(row["size"])])
    xds.add_slot(node, "sourcePatientId", [xds.patient_cx(row["matricule"], row["patient_oid"])])
    references = json.loads(row["reference_ids"] or "[]")
    if references:
        xds.add_slot(node, "urn:ihe:iti:xds:2013:referenceIdList", references)
    xds.add_name(node, row["title"] or "")
    _version_info(node, row)
    author = xds.add_classification(node, xds.DE_AUTHOR, ident, f"{ident}-author")
    if row["author_person"]:
        xds.add_slot(author, "authorPerson", [row["author_person"]])
    if row["author_institution"]:
        xds.add_slot(author, "authorInstitution", [row["author_institution"]])
    if row["author_specialty"]:
        xds.add_slot(author, "authorSpecialty", [row["author_specialty"]])
    if row["author_patient"]:
        xds.add_slot(
            author, "authorRole", ["EXP_PATIENT^Expression personnelle du patient^1.2.250.1.213.1.1.4.6"]
        )
    for scheme, key, label in (
        (xds.DE_CLASS, "class", "classCode"),
        (xds.DE_TYPE, "type", "typeCode"),
        (xds.DE_FORMAT, "format", "formatCode"),
        (xds.DE_FACILITY, "facility", "facilityCode"),
        (xds.DE_PRACTICE, "practice", "practiceSettingCode"),
    ):
        display = row[f"{key}_display"] if key in ("class", "type") else None
        code = Coded(row[f"{key}_code"], row[f"{key}_scheme"], display or row[f"{key}_code"])
        xds.add_classification(node, scheme, ident, f"{ident}-{label}", code)
    for index, code in enumerate(xds.confidentiality_list(row["confidentiality"])):
        xds.add_classification(node, xds.DE_CONFIDENTIALITY, ident, f"{ident}-conf{index}", code)
    xds.add_external_id(
        node,
        xds.DE_PATIENT_ID,
        ident,
        f"{ident}-pid",
        xds.patient_cx(row["matricule"], row["patient_oid"]),
        "XDSDocumentEntry.patientId",
    )
    xds.add_external_id(
        node, xds.DE_UNIQUE_ID, ident, f"{ident}-uid", row["unique_id"], "XDSDocumentEntry.uniqueId"
    )
    return node


def _version_info(node: etree._Element, row: sqlite3.Row) -> None:
    existing = node.find(f"{{{RIM}}}VersionInfo")
    if existing is not None:
        node.remove(existing)
    info = etree.Element(f"{{{RIM}}}VersionInfo", versionName=str(row["version"]))
    anchor = None
    for tag in ("Description", "Name"):
        anchor = node.find(f"{{{RIM}}}{tag}")
        if anchor is not None:
            break
    if anchor is not None:
        anchor.addnext(info)
    else:
        last_slot = node.findall(f"{{{RIM}}}Slot")
        if last_slot:
            last_slot[-1].addnext(info)
        else:
            node.insert(0, info)


def package(row: sqlite3.Row) -> etree._Element:
    ident = row["entry_uuid"]
    node = etree.Element(
        f"{{{RIM}}}RegistryPackage",
        id=ident,
        lid=ident,
        objectType=xds.REGISTRY_PACKAGE_TYPE,
        status=xds.STATUS_URN[row["status"]],
        nsmap={"rim": RIM},
    )
    xds.add_slot(node, "submissionTime", [row["submission_time"] or ""])
    xds.add_name(node, row["title"] or "")
    author = xds.add_classification(node, xds.SS_AUTHOR, ident, f"{ident}-author")
    if row["author_person"]:
        xds.add_slot(author, "authorPerson", [row["author_person"]])
    if row["content_type_code"]:
        xds.add_classification(
            node,
            xds.SS_CONTENT_TYPE,
            ident,
            f"{ident}-ct",
            Coded(row["content_type_code"], row["content_type_scheme"] or "", row["content_type_code"]),
        )
    xds.add_external_id(
        node, xds.SS_UNIQUE_ID, ident, f"{ident}-uid", row["unique_id"], "XDSSubmissionSet.uniqueId"
    )
    xds.add_external_id(
        node, xds.SS_SOURCE_ID, ident, f"{ident}-src", row["source_id"] or "", "XDSSubmissionSet.sourceId"
    )
    xds.add_external_id(
        node,
        xds.SS_PATIENT_ID,
        ident,
        f"{ident}-pid",
        xds.patient_cx(row["matricule"], row["patient_oid"]),
        "XDSSubmissionSet.patientId",
    )
    return node


def association(row: sqlite3.Row) -> etree._Element:
    node = etree.Element(
        f"{{{RIM}}}Association",
        id=row["entry_uuid"],
        objectType=xds.ASSOCIATION_TYPE,
        associationType=row["type"],
        sourceObject=row["source"],
        targetObject=row["target"],
        nsmap={"rim": RIM},
    )
    node.set("status", xds.APPROVED)
    for name, values in json.loads(row["slots"]).items():
        xds.add_slot(node, name, values)
    return node


# -- the queries -------------------------------------------------------------------------------------


# Lookups by id go through the id's own index ("+matricule": SQLite would otherwise pick the patient
# index and scan the patient's whole record, ~2 ms for P01 per batch of 20); the rows come in the
# order the patient index gave them before.
_BY_PATIENT_ORDER = "ORDER BY latest, status, rowid"


class Context:
    def __init__(self, actor: rights.Actor, store: Store, matricule: str) -> None:
        self.actor = actor
        self.db = store.connect()
        self.matricule = matricule

    def documents(self, sql: str, args: Iterable[object]) -> list[sqlite3.Row]:
        rows = self.db.execute(sql, tuple(args)).fetchall()
        return [r for r in rows if rights.visible(self.actor, r)]

    def by_ids(self, params: Params) -> list[sqlite3.Row]:
        uuids = params.get("$XDSDocumentEntryEntryUUID")
        unique_ids = params.get("$XDSDocumentEntryUniqueId")
        if bool(uuids) == bool(unique_ids):
            raise XdsError(
                PARAM_ERROR, "$XDSDocumentEntryEntryUUID ou $XDSDocumentEntryUniqueId (un seul des deux)."
            )
        if uuids:
            marks = ",".join("?" * len(uuids))
            return self.documents(
                f"SELECT * FROM xds_document WHERE +matricule = ? AND entry_uuid IN ({marks}) "
                f"{_BY_PATIENT_ORDER}",
                [self.matricule, *uuids],
            )
        marks = ",".join("?" * len(unique_ids))
        return self.documents(
            f"SELECT * FROM xds_document WHERE +matricule = ? AND +latest = 1 AND unique_id IN ({marks}) "
            f"{_BY_PATIENT_ORDER}",
            [self.matricule, *unique_ids],
        )

    def associations_of(self, uuids: list[str], kinds: list[str] | None = None) -> list[sqlite3.Row]:
        if not uuids:
            return []
        marks = ",".join("?" * len(uuids))
        rows = self.db.execute(
            f"SELECT * FROM xds_association WHERE source IN ({marks}) OR target IN ({marks})",
            (*uuids, *uuids),
        ).fetchall()
        return [r for r in rows if kinds is None or r["type"] in kinds]


def _check_patient(params: Params, name: str, matricule: str) -> None:
    value = params.one(name)
    if value is None:
        raise XdsError(PARAM_ERROR, f"Paramètre obligatoire manquant : {name}.")
    parsed = xds.parse_cx(value)
    if parsed is None or parsed[0] != matricule:
        raise XdsError("XDSPatientIdDoesNotMatch", "Le patient de la requête n'est pas celui du VIHF.")


def _find_documents(params: Params, context: Context, reference: bool = False) -> list[sqlite3.Row]:
    _check_patient(params, "$XDSDocumentEntryPatientId", context.matricule)
    statuses = _status_filter(params.required("$XDSDocumentEntryStatus"))
    where = ["matricule = ?", "latest = 1", f"status IN ({','.join('?' * len(statuses))})"]
    args: list[object] = [context.matricule, *statuses]
    for name, column in (
        ("$XDSDocumentEntryClassCode", "class"),
        ("$XDSDocumentEntryTypeCode", "type"),
        ("$XDSDocumentEntryFormatCode", "format"),
        ("$XDSDocumentEntryPracticeSettingCode", "practice"),
        ("$XDSDocumentEntryHealthcareFacilityTypeCode", "facility"),
    ):
        codes = _codes(params.get(name))
        if codes:
            clauses = []
            for code, scheme in codes:
                clauses.append(f"({column}_code = ?" + (f" AND {column}_scheme = ?)" if scheme else ")"))
                args.extend([code, scheme] if scheme else [code])
            where.append("(" + " OR ".join(clauses) + ")")
    for name, column, operator in (
        ("$XDSDocumentEntryCreationTimeFrom", "creation_time", ">="),
        ("$XDSDocumentEntryCreationTimeTo", "creation_time", "<"),
        ("$XDSDocumentEntryServiceStartTimeFrom", "service_start", ">="),
        ("$XDSDocumentEntryServiceStartTimeTo", "service_start", "<"),
        ("$XDSDocumentEntryServiceStopTimeFrom", "service_stop", ">="),
        ("$XDSDocumentEntryServiceStopTimeTo", "service_stop", "<"),
    ):
        value = params.one(name)
        if value is not None:
            if not value.isdigit():
                raise XdsError("XDSRegistryError", f"Date mal formée pour {name}.")
            where.append(f"{column} {operator} ?")
            args.append(value)
    authors = params.get("$XDSDocumentEntryAuthorPerson")
    if authors:
        where.append("(" + " OR ".join("author_person LIKE ? ESCAPE '\\'" for _ in authors) + ")")
        args.extend(_like(a) for a in authors)
    rows = context.documents(
        f"SELECT * FROM xds_document WHERE {' AND '.join(where)} ORDER BY creation_time DESC", args
    )
    confidentiality = {c for c, _ in _codes(params.get("$XDSDocumentEntryConfidentialityCode"))}
    if confidentiality:
        rows = [
            r
            for r in rows
            if confidentiality & {c.code for c in xds.confidentiality_list(r["confidentiality"])}
        ]
    if reference:
        wanted = set(params.required("$XDSDocumentEntryReferenceIdList"))
        rows = [r for r in rows if wanted & set(json.loads(r["reference_ids"] or "[]"))]
    return rows


def stored_query(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    if caller.patient_matricule is None:
        raise HostFault("DMPVihfInvalid", "Identifiant du patient (resource-id) absent du VIHF.")
    matricule = caller.patient_matricule
    response = etree.Element(f"{{{QUERY}}}AdhocQueryResponse", nsmap={"query": QUERY, "rim": RIM, "rs": RS})
    try:
        if payload.tag != f"{{{QUERY}}}AdhocQueryRequest":
            raise XdsError("XDSRegistryError", "AdhocQueryRequest attendu.")
        errors = xds.schema_errors(xds.xds_schema(), payload)
        if errors:
            raise XdsError("XDSRegistryError", f"Requête non conforme au schéma : {errors[0]}")
        option = payload.find(f"{{{QUERY}}}ResponseOption")
        return_type = option.get("returnType", "ObjectRef") if option is not None else "ObjectRef"
        if return_type not in ("ObjectRef", "LeafClass"):
            raise XdsError("XDSRegistryError", f"returnType non pris en charge : {return_type}.")
        query = payload.find(f"{{{RIM}}}AdhocQuery")
        assert query is not None
        patient = rights.patient_open(store, matricule)
        actor = rights.actor_of(caller, store, matricule)
        if actor.kind == "PS":
            rights.check_consultation(actor, patient)
        context = Context(actor, store, matricule)
        objects = run(query.get("id", ""), Params(query), context)
    except XdsError as error:
        xds.fill_status(response, [error])
        etree.SubElement(response, f"{{{RIM}}}RegistryObjectList")  # required by query.xsd, even empty
        mtom.current().result = f"échec {error.code}"
        return Reply(RESPONSE, response, "TD3.1", matricule)
    xds.fill_status(response, None)
    object_list = etree.SubElement(response, f"{{{RIM}}}RegistryObjectList")
    if return_type == "ObjectRef":
        for _, row in objects:
            etree.SubElement(object_list, f"{{{RIM}}}ObjectRef", id=row["entry_uuid"])
    else:
        if len(objects) > MAX_LEAF_CLASS:
            response.remove(object_list)
            xds.fill_status(
                response, [XdsError("XDSTooManyResults", "Trop de résultats : affinez la recherche.")]
            )
            etree.SubElement(response, f"{{{RIM}}}RegistryObjectList")
            mtom.current().result = "échec XDSTooManyResults"
            return Reply(RESPONSE, response, "TD3.1", matricule)
        for kind, row in objects:
            object_list.append(BUILDERS[kind](row))
    store.record_first_access(matricule, caller.national_id)
    mtom.current().result = f"OK ({len(objects)} objet(s))"
    return Reply(RESPONSE, response, "TD3.1", matricule)


BUILDERS: dict[str, Callable[[sqlite3.Row], etree._Element]] = {
    "doc": extrinsic,
    "set": package,
    "assoc": association,
}
Result = list[tuple[str, sqlite3.Row]]


def run(query_id: str, params: Params, context: Context) -> Result:
    handler = QUERIES.get(query_id)
    if handler is None:
        raise XdsError("XDSUnknownStoredQuery", f"Requête stockée inconnue : {query_id}.")
    return handler(params, context)


def _find_documents_query(params: Params, context: Context) -> Result:
    return [("doc", r) for r in _find_documents(params, context)]


def _find_by_reference(params: Params, context: Context) -> Result:
    return [("doc", r) for r in _find_documents(params, context, reference=True)]


def _get_documents(params: Params, context: Context) -> Result:
    return [("doc", r) for r in context.by_ids(params)]


def _get_documents_and_associations(params: Params, context: Context) -> Result:
    docs = context.by_ids(params)
    result: Result = [("doc", r) for r in docs]
    result += [("assoc", a) for a in context.associations_of([d["entry_uuid"] for d in docs])]
    return result


def _get_associations(params: Params, context: Context) -> Result:
    uuids = params.required("$uuid")
    visible = context.documents(
        f"SELECT * FROM xds_document WHERE matricule = ? AND entry_uuid IN ({','.join('?' * len(uuids))})",
        [context.matricule, *uuids],
    )
    marks = ",".join("?" * len(uuids))
    sets = context.db.execute(
        f"SELECT entry_uuid FROM xds_submission_set WHERE matricule = ? AND entry_uuid IN ({marks})",
        (context.matricule, *uuids),
    ).fetchall()
    allowed = [d["entry_uuid"] for d in visible] + [s["entry_uuid"] for s in sets]
    return [("assoc", a) for a in context.associations_of(allowed)]


def _sets(params: Params, context: Context) -> list[sqlite3.Row]:
    uuids = params.get("$XDSSubmissionSetEntryUUID")
    unique_ids = params.get("$XDSSubmissionSetUniqueId")
    if bool(uuids) == bool(unique_ids):
        raise XdsError(PARAM_ERROR, "$XDSSubmissionSetEntryUUID ou $XDSSubmissionSetUniqueId attendu.")
    column, values = ("entry_uuid", uuids) if uuids else ("unique_id", unique_ids)
    marks = ",".join("?" * len(values))
    rows = context.db.execute(
        f"SELECT * FROM xds_submission_set WHERE matricule = ? AND {column} IN ({marks})",
        (context.matricule, *values),
    ).fetchall()
    return [
        r for r in rows if context.actor.kind == "PS" or r["author_structure"] == context.actor.structure_id
    ]


def _get_submission_set_and_contents(params: Params, context: Context) -> Result:
    result: Result = []
    for row in _sets(params, context):
        result.append(("set", row))
        members = context.db.execute(
            "SELECT * FROM xds_association WHERE source = ? AND type = ?", (row["entry_uuid"], xds.HAS_MEMBER)
        ).fetchall()
        targets = [m["target"] for m in members]
        marks = ",".join("?" * len(targets))
        docs = (
            context.documents(
                f"SELECT * FROM xds_document WHERE +matricule = ? AND entry_uuid IN ({marks}) "
                f"{_BY_PATIENT_ORDER}",
                [context.matricule, *targets],
            )
            if targets
            else []
        )
        shown = {d["entry_uuid"] for d in docs}
        result += [("doc", d) for d in docs]
        result += [("assoc", m) for m in members if m["target"] in shown]
    return result


def _find_submission_sets(params: Params, context: Context) -> Result:
    _check_patient(params, "$XDSSubmissionSetPatientId", context.matricule)
    statuses = _status_filter(params.required("$XDSSubmissionSetStatus"))
    where = ["matricule = ?", f"status IN ({','.join('?' * len(statuses))})"]
    args: list[object] = [context.matricule, *statuses]
    for name, column, operator in (
        ("$XDSSubmissionSetSubmissionTimeFrom", "submission_time", ">="),
        ("$XDSSubmissionSetSubmissionTimeTo", "submission_time", "<"),
    ):
        value = params.one(name)
        if value is not None:
            where.append(f"{column} {operator} ?")
            args.append(value)
    sources = params.get("$XDSSubmissionSetSourceId")
    if sources:
        where.append(f"source_id IN ({','.join('?' * len(sources))})")
        args.extend(sources)
    author = params.one("$XDSSubmissionSetAuthorPerson")
    if author:
        where.append("author_person LIKE ? ESCAPE '\\'")
        args.append(_like(author))
    content = _codes(params.get("$XDSSubmissionSetContentType"))
    if content:
        where.append(f"content_type_code IN ({','.join('?' * len(content))})")
        args.extend(c for c, _ in content)
    if context.actor.kind != "PS":
        where.append("author_structure = ?")
        args.append(context.actor.structure_id)
    rows = context.db.execute(
        f"SELECT * FROM xds_submission_set WHERE {' AND '.join(where)} ORDER BY submission_time DESC",
        tuple(args),
    ).fetchall()
    return [("set", r) for r in rows]


def _get_related_documents(params: Params, context: Context) -> Result:
    kinds = params.required("$AssociationTypes")
    docs = context.by_ids(params)
    if not docs:
        return []
    uuids = [d["entry_uuid"] for d in docs]
    associations = context.associations_of(uuids, kinds)
    if not associations:
        return []
    related = {a["source"] for a in associations} | {a["target"] for a in associations}
    others = context.documents(
        f"SELECT * FROM xds_document WHERE matricule = ? AND entry_uuid IN ({','.join('?' * len(related))})",
        [context.matricule, *related],
    )
    seen = {d["entry_uuid"] for d in others}
    return (
        [("doc", d) for d in others]
        + [("doc", d) for d in docs if d["entry_uuid"] not in seen]
        + [("assoc", a) for a in associations]
    )


QUERIES: dict[str, Callable[[Params, Context], Result]] = {
    FIND_DOCUMENTS: _find_documents_query,
    FIND_BY_REFERENCE_ID: _find_by_reference,
    GET_DOCUMENTS: _get_documents,
    GET_DOCUMENTS_AND_ASSOCIATIONS: _get_documents_and_associations,
    GET_ASSOCIATIONS: _get_associations,
    GET_SUBMISSION_SET_AND_CONTENTS: _get_submission_set_and_contents,
    FIND_SUBMISSION_SETS: _find_submission_sets,
    GET_RELATED_DOCUMENTS: _get_related_documents,
}
