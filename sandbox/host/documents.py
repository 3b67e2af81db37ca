"""Document transactions: ITI-41 (TD2.1/TD2.2), ITI-43 (TD3.2) and ITI-57 (TD3.3a–d).

Business errors answer ``RegistryResponse status=…Failure`` with a ``RegistryErrorList``; only VIHF
and transport problems are SOAP faults. The repository's answers go out in MTOM (server.py).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from sandbox.host import docstore, mtom, rights, xds
from sandbox.host.cdacheck import CdaHeader, check_cda
from sandbox.host.faults import HostFault
from sandbox.host.reply import Reply
from sandbox.host.store import Store
from sandbox.host.vihf import Caller
from sandbox.host.xades import verify_submission_signature
from sandbox.host.xds import RIM, XDSB, XOP, Coded, XdsError, XdsErrors

PNR_ACTION = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
PNR_RESPONSE = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
RETRIEVE_ACTION = "urn:ihe:iti:2007:RetrieveDocumentSet"
RETRIEVE_RESPONSE = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"
UPDATE_ACTION = "urn:ihe:iti:2010:UpdateDocumentSet"
UPDATE_RESPONSE = "urn:ihe:iti:2010:UpdateDocumentSetResponse"  # resources/spec/wsdl/iti57.wsdl
META = "XDSRegistryMetadataError"


def _patient(caller: Caller) -> tuple[str, str]:
    if caller.patient_matricule is None or caller.patient_oid is None:
        raise HostFault("DMPVihfInvalid", "Identifiant du patient (resource-id) absent du VIHF.")
    return caller.patient_matricule, caller.patient_oid


def _failure(action: str, transaction: str, matricule: str, errors: list[XdsError]) -> Reply:
    mtom.current().result = "échec " + ",".join(sorted({e.code for e in errors}))
    return Reply(action, xds.registry_response(errors), transaction, matricule)


def new_uuid() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


# -- metadata ----------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One DocumentEntry as submitted."""

    node: etree._Element
    values: dict[str, str]
    codes: dict[str, Coded]
    confidentiality: list[Coded]
    reference_ids: list[str]
    is_signature: bool
    errors: list[XdsError] = field(default_factory=list)


SCHEMES = {
    "class": xds.DE_CLASS,
    "type": xds.DE_TYPE,
    "format": xds.DE_FORMAT,
    "practice": xds.DE_PRACTICE,
    "facility": xds.DE_FACILITY,
}


def parse_entry(node: etree._Element, matricule: str, oid: str) -> Entry:
    ident = node.get("id", "")
    errors: list[XdsError] = []

    def missing(what: str) -> None:
        errors.append(XdsError(META, f"DocumentEntry {ident} : {what} manquant ou invalide.", ident))

    codes: dict[str, Coded] = {}
    for key, scheme in SCHEMES.items():
        found = xds.coded(node, scheme)
        if len(found) != 1 or not found[0].code or not found[0].scheme:
            missing(f"{key}Code")
        else:
            codes[key] = found[0]
    is_signature = codes.get("class", Coded("", "")).code == xds.SIGNATURE_CLASS
    confidentiality = xds.coded(node, xds.DE_CONFIDENTIALITY)
    if not any(c.code == "N" and c.scheme == xds.CONFIDENTIALITY_HL7 for c in confidentiality):
        missing("confidentialityCode N")
    values = {
        "id": ident,
        "lid": node.get("lid", ""),
        "mimeType": node.get("mimeType", ""),
        "title": xds.name_of(node),
        "creationTime": xds.slot_value(node, "creationTime") or "",
        "serviceStartTime": xds.slot_value(node, "serviceStartTime") or "",
        "serviceStopTime": xds.slot_value(node, "serviceStopTime") or "",
        "languageCode": xds.slot_value(node, "languageCode") or "",
        "sourcePatientId": xds.slot_value(node, "sourcePatientId") or "",
        "hash": xds.slot_value(node, "hash") or "",
        "size": xds.slot_value(node, "size") or "",
        "repositoryUniqueId": xds.slot_value(node, "repositoryUniqueId") or "",
        "patientId": xds.external_id(node, xds.DE_PATIENT_ID) or "",
        "uniqueId": xds.external_id(node, xds.DE_UNIQUE_ID) or "",
    }
    if node.get("objectType") != xds.DOCUMENT_ENTRY_TYPE:
        missing("objectType (DocumentEntry stable)")
    for key in ("mimeType", "creationTime", "languageCode", "sourcePatientId", "uniqueId", "title"):
        if not values[key]:
            missing(key)
    for key in ("creationTime", "serviceStartTime", "serviceStopTime"):
        if values[key] and not (values[key].isdigit() and 4 <= len(values[key]) <= 14):
            missing(f"{key} (UTC aaaaMMjj[hhmmss])")
    authors = xds.classifications(node, xds.DE_AUTHOR)
    if not authors:
        missing("author")
    else:
        values["authorPerson"] = xds.slot_value(authors[0], "authorPerson") or ""
        values["authorInstitution"] = xds.slot_value(authors[0], "authorInstitution") or ""
        values["authorSpecialty"] = xds.slot_value(authors[0], "authorSpecialty") or ""
    patient = xds.parse_cx(values["patientId"])
    if patient is None:
        missing("patientId")
    elif patient != (matricule, oid):
        errors.append(
            XdsError(
                "XDSPatientIdDoesNotMatch", f"DocumentEntry {ident} : patientId différent du VIHF.", ident
            )
        )
    if not is_signature:
        sets = xds.value_sets()
        checks = [
            ("class", sets.class_codes),
            ("type", sets.type_codes),
            ("format", sets.format_codes),
            ("practice", sets.practice_codes),
            ("facility", sets.facility_codes),
        ]
        for key, allowed in checks:
            code = codes.get(key)
            if code is not None and (code.code, code.scheme) not in allowed:
                errors.append(
                    XdsError(
                        META, f"DocumentEntry {ident} : {key}Code {code.code} hors jeu de valeurs.", ident
                    )
                )
        for code in confidentiality:
            if (code.code, code.scheme) not in sets.confidentiality_codes:
                errors.append(
                    XdsError(META, f"DocumentEntry {ident} : confidentialityCode {code.code} inconnu.", ident)
                )
        expected = sets.type_to_class.get(codes["type"].code) if "type" in codes else None
        if expected and "class" in codes and expected != codes["class"].code:
            errors.append(
                XdsError(META, f"DocumentEntry {ident} : classCode incohérent avec le typeCode.", ident)
            )
    return Entry(
        node,
        values,
        codes,
        confidentiality,
        xds.slot_values(node, "urn:ihe:iti:xds:2013:referenceIdList"),
        is_signature,
        errors,
    )


@dataclass
class Submission:
    package: etree._Element
    values: dict[str, str]
    entries: list[Entry]
    associations: list[etree._Element]


def parse_submission(request: etree._Element, matricule: str, oid: str) -> Submission:
    object_list = request.find(f"{{{RIM}}}RegistryObjectList")
    if object_list is None:
        raise XdsErrors([XdsError(META, "RegistryObjectList absent.")])
    packages = object_list.findall(f"{{{RIM}}}RegistryPackage")
    node_classifications = [
        c
        for c in object_list.iter(f"{{{RIM}}}Classification")
        if c.get("classificationNode") == xds.SUBMISSION_SET_NODE
    ]
    set_ids = {c.get("classifiedObject") for c in node_classifications}
    sets = [p for p in packages if p.get("id") in set_ids]
    if len(sets) != 1:
        raise XdsErrors([XdsError(META, "Un et un seul SubmissionSet (RegistryPackage classifié) attendu.")])
    package = sets[0]
    values = {
        "id": package.get("id", ""),
        "submissionTime": xds.slot_value(package, "submissionTime") or "",
        "patientId": xds.external_id(package, xds.SS_PATIENT_ID) or "",
        "sourceId": xds.external_id(package, xds.SS_SOURCE_ID) or "",
        "uniqueId": xds.external_id(package, xds.SS_UNIQUE_ID) or "",
        "title": xds.name_of(package),
    }
    errors = []
    for key in ("submissionTime", "patientId", "sourceId", "uniqueId"):
        if not values[key]:
            errors.append(XdsError(META, f"SubmissionSet : {key} manquant."))
    content = xds.coded(package, xds.SS_CONTENT_TYPE)
    if len(content) != 1:
        errors.append(XdsError(META, "SubmissionSet : contentTypeCode manquant."))
    else:
        values["contentType"], values["contentTypeScheme"] = content[0].code, content[0].scheme
    authors = xds.classifications(package, xds.SS_AUTHOR)
    values["authorPerson"] = (xds.slot_value(authors[0], "authorPerson") or "") if authors else ""
    if values["patientId"] and xds.parse_cx(values["patientId"]) != (matricule, oid):
        errors.append(XdsError("XDSPatientIdDoesNotMatch", "SubmissionSet : patientId différent du VIHF."))
    if errors:
        raise XdsErrors(errors)
    entries = [parse_entry(e, matricule, oid) for e in object_list.findall(f"{{{RIM}}}ExtrinsicObject")]
    return Submission(package, values, entries, object_list.findall(f"{{{RIM}}}Association"))


def _schema_check(request: etree._Element, code: str) -> None:
    """The request against IHEXDSB/ebRS (xop:Include children removed, as XOP decoding would)."""
    checked = copy.deepcopy(request)
    for include in checked.iter(f"{{{XOP}}}Include"):
        parent = include.getparent()
        if parent is not None:
            parent.remove(include)
    errors = xds.schema_errors(xds.xds_schema(), checked)
    if errors:
        raise XdsErrors([XdsError(code, f"Requête non conforme au schéma XDS.b : {errors[0]}")])


# -- ITI-41 ------------------------------------------------------------------------------------------


Source = mtom.Part | bytes


def _document_sources(request: etree._Element) -> dict[str, Source]:
    exchange = mtom.current()
    sources: dict[str, Source] = {}
    for document in request.iterfind(f"{{{XDSB}}}Document"):
        ident = document.get("id", "")
        include = document.find(f"{{{XOP}}}Include")
        if ident in sources:
            raise XdsErrors([XdsError("XDSRepositoryMetadataError", f"Document {ident} en double.")])
        if include is not None:
            part = exchange.parts.get(mtom.content_id(include.get("href", "")))
            if part is None:
                raise XdsErrors([XdsError("XDSMissingDocument", f"Partie MTOM introuvable pour {ident}.")])
            sources[ident] = part
        else:
            try:
                sources[ident] = base64.b64decode("".join((document.text or "").split()), validate=True)
            except ValueError:
                raise XdsErrors(
                    [XdsError("XDSRepositoryMetadataError", f"Document {ident} illisible.")]
                ) from None
    return sources


def _digest(source: Source, algorithm: str) -> bytes:
    if isinstance(source, bytes):
        return hashlib.new(algorithm, source).digest()
    return source.digest(algorithm)


def _size(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else source.length


def provide_and_register(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    matricule, oid = _patient(caller)
    transaction = "TD2.2" if caller.mode == "DIRECTE" and not caller.professions else "TD2.1"
    try:
        rights.patient_open(store, matricule)
        if payload.tag != f"{{{XDSB}}}ProvideAndRegisterDocumentSetRequest":
            raise XdsError("XDSRepositoryMetadataError", "ProvideAndRegisterDocumentSetRequest attendu.")
        _schema_check(payload, "XDSRepositoryMetadataError")
        request = payload.find("{urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0}SubmitObjectsRequest")
        assert request is not None  # the schema requires it
        submission = parse_submission(request, matricule, oid)
        stored = _register(submission, _document_sources(payload), caller, store, matricule, oid)
    except XdsError as error:
        return _failure(PNR_RESPONSE, transaction, matricule, [error])
    except XdsErrors as errors:
        return _failure(PNR_RESPONSE, transaction, matricule, errors.errors)
    store.record_first_access(matricule, caller.national_id)
    mtom.current().result = f"OK ({stored} document(s))"
    return Reply(PNR_RESPONSE, xds.registry_response(), transaction, matricule)


def _register(
    submission: Submission,
    sources: dict[str, Source],
    caller: Caller,
    store: Store,
    matricule: str,
    oid: str,
) -> int:
    entries = submission.entries
    errors = [e for entry in entries for e in entry.errors]
    if errors:
        raise XdsErrors(errors)
    ids = {e.values["id"] for e in entries}
    if not entries or len(ids) != len(entries):
        raise XdsErrors([XdsError(META, "DocumentEntries absents ou identifiants en double.")])
    for ident in ids - set(sources):
        errors.append(
            XdsError("XDSMissingDocument", f"Aucun Document pour l'ExtrinsicObject {ident}.", ident)
        )
    for ident in set(sources) - ids:
        errors.append(
            XdsError("XDSMissingDocumentMetadata", f"Aucun ExtrinsicObject pour le Document {ident}.", ident)
        )
    signatures = [e for e in entries if e.is_signature]
    documents = [e for e in entries if not e.is_signature]
    if len(signatures) != 1:
        errors.append(XdsError(META, "Signature XAdES du lot obligatoire (une DocumentEntry de signature)."))
    if not documents:
        errors.append(XdsError(META, "Aucun document à verser."))
    if errors:
        raise XdsErrors(errors)
    db = store.connect()
    unique_ids = [e.values["uniqueId"] for e in entries]
    if len(set(unique_ids)) != len(unique_ids):
        raise XdsErrors([XdsError("XDSDuplicateUniqueIdInSubmission", "uniqueId en double dans le lot.")])
    for entry in entries:
        source = sources[entry.values["id"]]
        sha1 = _digest(source, "sha1").hex()
        entry.values["computedHash"], entry.values["computedSize"] = sha1, str(_size(source))
        if entry.values["hash"] and entry.values["hash"].lower() != sha1:
            errors.append(XdsError("XDSRepositoryMetadataError", "Slot hash différent du document reçu."))
        if entry.values["size"] and entry.values["size"] != entry.values["computedSize"]:
            errors.append(XdsError("XDSRepositoryMetadataError", "Slot size différent du document reçu."))
        existing = db.execute(
            "SELECT hash FROM xds_document WHERE unique_id = ? LIMIT 1", (entry.values["uniqueId"],)
        ).fetchone()
        if existing is not None:
            code = "XDSDuplicateUniqueIdInRegistry" if existing["hash"] == sha1 else "XDSNonIdenticalHash"
            errors.append(XdsError(code, f"uniqueId {entry.values['uniqueId']} déjà présent dans le DMP."))
    if errors:
        raise XdsErrors(errors)
    # Associations: HasMember for every entry, signs for the signature, RPLC for replacements.
    set_id = submission.values["id"]
    members: set[str] = set()
    replaces: dict[str, sqlite3.Row] = {}
    signed = False
    for association in submission.associations:
        kind, source_id, target_id = (
            association.get("associationType"),
            association.get("sourceObject"),
            association.get("targetObject"),
        )
        if kind == xds.HAS_MEMBER and source_id == set_id and target_id in ids:
            if xds.slot_value(association, "SubmissionSetStatus") != "Original":
                errors.append(XdsError(META, "HasMember sans SubmissionSetStatus=Original."))
            members.add(target_id or "")
        elif kind == xds.SIGNS and target_id == set_id and source_id == signatures[0].values["id"]:
            signed = True
        elif kind == xds.RPLC and source_id in {e.values["id"] for e in documents}:
            old = db.execute(
                "SELECT * FROM xds_document WHERE entry_uuid = ? AND matricule = ?", (target_id, matricule)
            ).fetchone()
            if old is None:
                errors.append(
                    XdsError("XDSUnresolvedReferenceException", "RPLC : document remplacé introuvable.")
                )
            elif old["status"] != "Approved" or not old["latest"]:
                errors.append(XdsError(META, "RPLC : la cible n'est pas la version courante (Approved)."))
            else:
                replaces[source_id or ""] = old
        else:
            errors.append(XdsError(META, f"Association non prise en charge ({kind})."))
    if members != ids:
        errors.append(XdsError(META, "Chaque DocumentEntry doit être membre du SubmissionSet (HasMember)."))
    if not signed:
        errors.append(XdsError(META, "Association signs (signature → SubmissionSet) manquante."))
    if errors:
        raise XdsErrors(errors)
    # Contents: CDA header checks, then the XAdES signature over the documents' bytes.
    headers = {}
    for entry in documents:
        source = sources[entry.values["id"]]
        if entry.values["mimeType"] == "text/xml":
            values = dict(entry.values)
            values.update(
                typeCode=entry.codes["type"].code,
                typeScheme=entry.codes["type"].scheme,
                facility=entry.codes["facility"].code,
                practice=entry.codes["practice"].code,
            )
            headers[entry.values["id"]] = check_cda(source, values, matricule, oid)
    for source_id, old in replaces.items():
        header = headers.get(source_id)
        if header is not None and old["set_id"] and header.set_id != old["set_id"]:
            raise XdsErrors(
                [XdsError(META, "RPLC : le setId du CDA doit être celui de la version remplacée.")]
            )
    exchange = mtom.current()
    signature_data = sources[signatures[0].values["id"]]
    verify_submission_signature(
        signature_data if isinstance(signature_data, bytes) else signature_data.read(),
        exchange.signer,
        exchange.trust,
        {e.values["uniqueId"]: _digester(sources[e.values["id"]]) for e in documents},
        submission.values["uniqueId"],
    )
    _store_submission(submission, sources, headers, replaces, caller, store, matricule, oid)
    return len(documents)


def _digester(source: Source) -> Callable[[str], bytes]:
    return lambda algorithm: _digest(source, algorithm)


def _author(caller: Caller) -> tuple[str, str, str]:
    """(author national id, author structure, submitter mode): indirect and CPE feeds are the structure's."""
    if caller.mode == "DIRECTE" and caller.professions:
        return caller.national_id, caller.structure_id, "DIRECTE"
    return "", caller.structure_id, "CPE" if caller.mode == "DIRECTE" else caller.mode


def _store_submission(
    submission: Submission,
    sources: dict[str, Source],
    headers: dict[str, CdaHeader],
    replaces: dict[str, sqlite3.Row],
    caller: Caller,
    store: Store,
    matricule: str,
    oid: str,
) -> None:
    folder = docstore.documents_dir(store.path)
    folder.mkdir(parents=True, exist_ok=True)
    uuids = {
        e.values["id"]: (e.values["id"] if e.values["id"].startswith("urn:uuid:") else new_uuid())
        for e in submission.entries
    }
    set_uuid = submission.values["id"] if submission.values["id"].startswith("urn:uuid:") else new_uuid()
    author_id, author_structure, mode = _author(caller)
    now = docstore.now_utc()
    written: list[Path] = []
    db = store.connect()
    db.execute("BEGIN IMMEDIATE")
    try:
        for entry in submission.entries:
            entry_uuid = uuids[entry.values["id"]]
            source = sources[entry.values["id"]]
            path = folder / f"{uuid.uuid4().hex}.bin"
            if isinstance(source, bytes):
                path.write_bytes(source)
            else:
                source.save(path)
            written.append(path)
            header = headers.get(entry.values["id"])
            node = copy.deepcopy(entry.node)
            node.set("id", entry_uuid)
            node.set("lid", entry_uuid)
            for child in node.iter(f"{{{RIM}}}Classification", f"{{{RIM}}}ExternalIdentifier"):
                for attribute in ("classifiedObject", "registryObject"):
                    if child.get(attribute) == entry.values["id"]:
                        child.set(attribute, entry_uuid)
            docstore.insert_document(
                db,
                {
                    "entry_uuid": entry_uuid,
                    "lid": entry_uuid,
                    "version": 1,
                    "latest": 1,
                    "unique_id": entry.values["uniqueId"],
                    "matricule": matricule,
                    "patient_oid": oid,
                    "status": "Approved",
                    "author_id": author_id,
                    "author_structure": author_structure,
                    "submitter_mode": mode,
                    "author_patient": 0,
                    "author_person": entry.values.get("authorPerson", ""),
                    "author_institution": entry.values.get("authorInstitution", ""),
                    "author_specialty": entry.values.get("authorSpecialty", ""),
                    "mime_type": entry.values["mimeType"],
                    "hash": entry.values["computedHash"],
                    "size": int(entry.values["computedSize"]),
                    "repository": xds.REPOSITORY_UNIQUE_ID,
                    **_code_columns(entry),
                    "confidentiality": xds.confidentiality_json(entry.confidentiality),
                    "creation_time": entry.values["creationTime"],
                    "service_start": entry.values["serviceStartTime"] or None,
                    "service_stop": entry.values["serviceStopTime"] or None,
                    "submission_time": submission.values["submissionTime"] or now,
                    "title": entry.values["title"],
                    "set_id": getattr(header, "set_id", None),
                    "reference_ids": json.dumps(entry.reference_ids),
                    "is_signature": int(entry.is_signature),
                    "submission_set": set_uuid,
                    "extrinsic_xml": etree.tostring(node).decode(),
                    "content_path": str(path),
                    "seed_index": None,
                },
            )
            docstore.insert_association(
                db, new_uuid(), xds.HAS_MEMBER, set_uuid, entry_uuid, {"SubmissionSetStatus": ["Original"]}
            )
        for source_id, old in replaces.items():
            db.execute("UPDATE xds_document SET status = 'Deprecated' WHERE lid = ?", (old["lid"],))
            docstore.insert_association(db, new_uuid(), xds.RPLC, uuids[source_id], old["entry_uuid"], {})
        signature = next(e for e in submission.entries if e.is_signature)
        docstore.insert_association(db, new_uuid(), xds.SIGNS, uuids[signature.values["id"]], set_uuid, {})
        docstore.insert_submission_set(
            db, _submission_set_row(submission, set_uuid, matricule, oid, author_id, author_structure)
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _code_columns(entry: Entry) -> dict[str, str]:
    columns: dict[str, str] = {}
    for key, prefix in (
        ("class", "class"),
        ("type", "type"),
        ("format", "format"),
        ("practice", "practice"),
        ("facility", "facility"),
    ):
        code = entry.codes[key]
        columns[f"{prefix}_code"] = code.code
        columns[f"{prefix}_scheme"] = code.scheme
        if prefix in ("class", "type"):
            columns[f"{prefix}_display"] = code.display
    return columns


# -- ITI-43 ------------------------------------------------------------------------------------------


def document_content(store: Store, row: sqlite3.Row) -> mtom.Outgoing:
    cid = mtom.new_cid()
    if row["content_path"]:
        return mtom.Outgoing(cid, row["mime_type"], path=Path(row["content_path"]))
    patient = store.patient(row["matricule"])
    assert patient is not None
    data = docstore.seeded_cda(
        row,
        patient["birth_name"] or "",
        patient["first_names"] or "",
        patient["sex"] or "U",
        patient["birth_date"] or "",
    )
    return mtom.Outgoing(cid, row["mime_type"], data=data)


def retrieve(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    matricule, _ = _patient(caller)
    response = etree.Element(f"{{{XDSB}}}RetrieveDocumentSetResponse", nsmap={"xdsb": XDSB, "rs": xds.RS})
    registry = etree.SubElement(response, f"{{{xds.RS}}}RegistryResponse")
    errors: list[XdsError] = []
    found = 0
    try:
        if payload.tag != f"{{{XDSB}}}RetrieveDocumentSetRequest":
            raise XdsError("XDSRepositoryError", "RetrieveDocumentSetRequest attendu.")
        _schema_check(payload, "XDSRepositoryError")
        patient = rights.patient_open(store, matricule)
        actor = rights.actor_of(caller, store, matricule)
        rights.check_consultation(actor, patient)
    except XdsError as error:
        errors.append(error)
    except XdsErrors as many:
        errors.extend(many.errors)
    if not errors:
        exchange = mtom.current()
        for request in payload.iterfind(f"{{{XDSB}}}DocumentRequest"):
            repository = (request.findtext(f"{{{XDSB}}}RepositoryUniqueId") or "").strip()
            unique_id = (request.findtext(f"{{{XDSB}}}DocumentUniqueId") or "").strip()
            if repository != xds.REPOSITORY_UNIQUE_ID:
                errors.append(
                    XdsError("XDSUnknownRepositoryId", f"Entrepôt inconnu : {repository}.", unique_id)
                )
                continue
            row = (
                store.connect()
                .execute(
                    "SELECT * FROM xds_document WHERE unique_id = ? AND matricule = ?"
                    " ORDER BY latest DESC, version DESC",
                    (unique_id, matricule),
                )
                .fetchone()
            )
            if row is None or not rights.visible(actor, row):
                errors.append(
                    XdsError("XDSDocumentUniqueIdError", f"Document inconnu : {unique_id}.", unique_id)
                )
                continue
            content = document_content(store, row)
            exchange.outgoing.append(content)
            node = etree.SubElement(response, f"{{{XDSB}}}DocumentResponse")
            etree.SubElement(node, f"{{{XDSB}}}RepositoryUniqueId").text = repository
            etree.SubElement(node, f"{{{XDSB}}}DocumentUniqueId").text = unique_id
            etree.SubElement(node, f"{{{XDSB}}}mimeType").text = row["mime_type"]
            document = etree.SubElement(node, f"{{{XDSB}}}Document")
            etree.SubElement(
                document, f"{{{XOP}}}Include", nsmap={"xop": XOP}, href=f"cid:{content.content_id}"
            )
            found += 1
    xds.fill_status(registry, errors, partial=found > 0)
    if errors:
        mtom.current().result = "échec " + ",".join(sorted({e.code for e in errors}))
    else:
        store.record_first_access(matricule, caller.national_id)
    return Reply(RETRIEVE_RESPONSE, response, "TD3.2", matricule)


# -- ITI-57 ------------------------------------------------------------------------------------------

TRANSITIONS = {
    ("Approved", "Archived"): "TD3.3d",
    ("Archived", "Approved"): "TD3.3d",
    ("Approved", "Deleted"): "TD3.3c",
    ("Archived", "Deleted"): "TD3.3c",
    ("Deprecated", "Deleted"): "TD3.3c",
}


def update_document_set(payload: etree._Element, caller: Caller, store: Store) -> Reply:
    matricule, oid = _patient(caller)
    transaction = "TD3.3"
    try:
        if payload.tag != f"{{{xds.LCM}}}SubmitObjectsRequest":
            raise XdsError(META, "SubmitObjectsRequest attendu.")
        _schema_check(payload, META)
        patient = rights.patient_open(store, matricule)
        actor = rights.actor_of(caller, store, matricule)
        submission = parse_submission(payload, matricule, oid)
        updates = [a for a in submission.associations if a.get("associationType") == xds.UPDATE_AVAILABILITY]
        if submission.entries and updates:
            raise XdsError(META, "Une mise à jour à la fois : métadonnées ou statut.")
        if updates:
            transaction = _update_status(updates, submission, actor, store, matricule)
        elif len(submission.entries) == 1:
            transaction = _update_metadata(submission, actor, store, matricule)
        else:
            raise XdsError(
                META, "Mise à jour : une DocumentEntry ou une association UpdateAvailabilityStatus."
            )
        del patient
    except XdsError as error:
        return _failure(UPDATE_RESPONSE, transaction, matricule, [error])
    except XdsErrors as errors:
        return _failure(UPDATE_RESPONSE, transaction, matricule, errors.errors)
    return Reply(UPDATE_RESPONSE, xds.registry_response(), transaction, matricule)


def _current(store: Store, entry_uuid: str, matricule: str) -> sqlite3.Row:
    row: sqlite3.Row | None = (
        store.connect()
        .execute(
            "SELECT * FROM xds_document WHERE (entry_uuid = ? OR lid = ?) AND matricule = ? AND latest = 1",
            (entry_uuid, entry_uuid, matricule),
        )
        .fetchone()
    )
    if row is None:
        raise XdsError("XDSUnresolvedReferenceException", "Document introuvable dans ce DMP.")
    return row


def _update_status(
    updates: list[etree._Element], submission: Submission, actor: rights.Actor, store: Store, matricule: str
) -> str:
    if len(updates) != 1:
        raise XdsError(META, "Une seule association UpdateAvailabilityStatus par requête.")
    association = updates[0]
    if association.get("sourceObject") != submission.values["id"]:
        raise XdsError(META, "UpdateAvailabilityStatus : la source doit être le SubmissionSet.")
    row = (
        store.connect()
        .execute(
            "SELECT * FROM xds_document WHERE entry_uuid = ? AND matricule = ?",
            (association.get("targetObject"), matricule),
        )
        .fetchone()
    )
    if row is None:
        raise XdsError("XDSUnresolvedReferenceException", "Document introuvable dans ce DMP.")
    original = xds.STATUSES.get(xds.slot_value(association, "OriginalStatus") or "")
    new = xds.STATUSES.get(xds.slot_value(association, "NewStatus") or "")
    if original is None or new is None:
        raise XdsError(META, "Slots OriginalStatus et NewStatus obligatoires (statuts connus).")
    if original != row["status"]:
        raise XdsError("XDSMetadataUpdateError", "OriginalStatus différent du statut actuel du document.")
    transaction = TRANSITIONS.get((original, new))
    if transaction is None:
        raise XdsError("XDSMetadataUpdateError", f"Changement de statut non permis ({original} → {new}).")
    if transaction == "TD3.3d":
        if actor.kind != "PS":
            raise XdsError(rights.DENIED, "Archivage réservé aux professionnels de santé.")
        if actor.purpose != "normal" and not actor.physician:
            raise XdsError(rights.DENIED, "Archivage hors mode normal réservé aux médecins.")
        rights.check_owner_or_mt(actor, row, "Archivage")
    else:
        rights.check_owner_or_mt(actor, row, "Suppression")
    db = store.connect()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("UPDATE xds_document SET status = ? WHERE entry_uuid = ?", (new, row["entry_uuid"]))
        _record_set(db, submission, actor, matricule, row["patient_oid"])
        docstore.insert_association(
            db,
            new_uuid(),
            xds.UPDATE_AVAILABILITY,
            _set_uuid(submission),
            row["entry_uuid"],
            {"OriginalStatus": [xds.STATUS_URN[original]], "NewStatus": [xds.STATUS_URN[new]]},
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return transaction


def _set_uuid(submission: Submission) -> str:
    ident = submission.values["id"]
    if not ident.startswith("urn:uuid:"):
        ident = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_OID, submission.values['uniqueId'])}"
        submission.values["id"] = ident
    return ident


def _record_set(
    db: sqlite3.Connection, submission: Submission, actor: rights.Actor, matricule: str, oid: str
) -> None:
    set_uuid = _set_uuid(submission)
    if db.execute(
        "SELECT 1 FROM xds_submission_set WHERE unique_id = ?", (submission.values["uniqueId"],)
    ).fetchone():
        raise XdsError("XDSDuplicateUniqueIdInRegistry", "uniqueId du SubmissionSet déjà utilisé.")
    author_id = actor.national_id if actor.kind == "PS" else ""
    docstore.insert_submission_set(
        db, _submission_set_row(submission, set_uuid, matricule, oid, author_id, actor.structure_id)
    )


def _submission_set_row(
    submission: Submission, set_uuid: str, matricule: str, oid: str, author_id: str, author_structure: str
) -> dict[str, Any]:
    """The stored SubmissionSet, for a feed (ITI-41) and for an update (ITI-57) alike."""
    return {
        "entry_uuid": set_uuid,
        "unique_id": submission.values["uniqueId"],
        "source_id": submission.values["sourceId"],
        "matricule": matricule,
        "patient_oid": oid,
        "submission_time": submission.values["submissionTime"],
        "author_id": author_id,
        "author_structure": author_structure,
        "author_person": submission.values["authorPerson"],
        "content_type_code": submission.values.get("contentType"),
        "content_type_scheme": submission.values.get("contentTypeScheme"),
        "title": submission.values["title"],
        "status": "Approved",
    }


def _update_metadata(submission: Submission, actor: rights.Actor, store: Store, matricule: str) -> str:
    entry = submission.entries[0]
    if entry.errors:
        raise XdsErrors(entry.errors)
    lid = entry.values["lid"]
    if not lid.startswith("urn:uuid:"):
        raise XdsError(META, "Nouvelle version : lid (urn:uuid) du document obligatoire.")
    current = _current(store, lid, matricule)
    if current["lid"] != lid:
        raise XdsError(META, "Le lid doit être l'identifiant logique du document.")
    members = [
        a
        for a in submission.associations
        if a.get("associationType") == xds.HAS_MEMBER
        and a.get("sourceObject") == submission.values["id"]
        and a.get("targetObject") == entry.values["id"]
    ]
    if len(members) != 1 or xds.slot_value(members[0], "SubmissionSetStatus") != "Original":
        raise XdsError(META, "HasMember (SubmissionSetStatus=Original) vers la nouvelle version obligatoire.")
    if xds.slot_value(members[0], "PreviousVersion") != str(current["version"]):
        raise XdsError("XDSMetadataVersionError", "PreviousVersion différent de la version courante.")
    if entry.values["uniqueId"] != current["unique_id"]:
        raise XdsError("XDSMetadataUpdateError", "Le uniqueId ne peut pas changer.")
    changed = [
        key
        for key, column in (("class", "class_code"), ("type", "type_code"), ("format", "format_code"))
        if entry.codes[key].code != current[column]
    ]
    if changed:
        raise XdsError("XDSMetadataUpdateError", "Seule la confidentialité peut être modifiée.")
    before = {c.code for c in xds.confidentiality_list(current["confidentiality"])}
    after = {c.code for c in entry.confidentiality}
    added, removed = after - before, before - after
    if actor.kind != "PS" or actor.purpose != "normal":
        raise XdsError(
            rights.DENIED, "Masquage et visibilité : mode normal, professionnel de santé en direct."
        )
    if not (actor.authorized or actor.treating_doctor or rights.owns(actor, current)):
        raise XdsError(rights.DENIED, "Le professionnel n'est pas autorisé sur ce DMP.")
    if added - {xds.MASQUE_PS}:
        raise XdsError(
            "XDSMetadataUpdateError", "Un document rendu visible ne peut pas être masqué de nouveau."
        )
    if not added and not removed:
        raise XdsError("XDSMetadataUpdateError", "Aucune modification de confidentialité.")
    if xds.MASQUE_PS in removed:
        rights.check_owner_or_mt(actor, current, "Démasquage")
    transaction = "TD3.3a" if xds.MASQUE_PS in added | removed else "TD3.3b"
    new_uuid_value = entry.values["id"] if entry.values["id"].startswith("urn:uuid:") else new_uuid()
    node = copy.deepcopy(entry.node)
    node.set("id", new_uuid_value)
    for child in node.iter(f"{{{RIM}}}Classification", f"{{{RIM}}}ExternalIdentifier"):
        for attribute in ("classifiedObject", "registryObject"):
            if child.get(attribute) == entry.values["id"]:
                child.set(attribute, new_uuid_value)
    db = store.connect()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("UPDATE xds_document SET latest = 0, status = 'Deprecated' WHERE lid = ?", (lid,))
        values = dict(current)
        values.update(
            entry_uuid=new_uuid_value,
            version=int(current["version"]) + 1,
            latest=1,
            status=current["status"],
            confidentiality=xds.confidentiality_json(entry.confidentiality),
            extrinsic_xml=etree.tostring(node).decode() if current["extrinsic_xml"] else None,
            submission_set=_set_uuid(submission),
        )
        docstore.insert_document(db, values)
        _record_set(db, submission, actor, matricule, current["patient_oid"])
        docstore.insert_association(
            db,
            new_uuid(),
            xds.HAS_MEMBER,
            _set_uuid(submission),
            new_uuid_value,
            {"SubmissionSetStatus": ["Original"], "PreviousVersion": [str(current["version"])]},
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return transaction
