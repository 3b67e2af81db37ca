"""The structured documents the EHR hands over with its patient context (issue 19), without Qt:
``dmp-gui --contexte`` may carry, beside its ``beneficiaires``, a ``documents_structures`` object
with the same hand-off JSON as ``dmp send --vsm`` and ``--vaccination`` (docs/structured-documents.md,
"Depuis l'application de bureau").

- :func:`structured_from_context` takes them out of the context (shape and size checked at once;
  the content is parsed when a document is prepared);
- :func:`prepare` (off the GUI thread) checks that the hand-off names the patient on screen and
  that this identity is qualifiée, pins each document's identity (uniqueId, setId, creation time)
  and builds it exactly as the queue's sender will (the same hand-off bytes, the same builder, the
  same pinned ids: the same bytes), then renders it for the preview (``core/cda_render``);
- :func:`enqueue_prepared` confides the pinned requests and the hand-off bytes to the durable queue,
  drained like every upload.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from app.dmp_client.core.cda_render import Rendered, render
from app.dmp_client.core.errors import StructuredHandoffInvalid
from app.dmp_client.core.structured.build import VAC_NOTE, VSM, Volet, write_structured
from app.dmp_client.core.structured.documents import KINDS as VOLETS
from app.dmp_client.core.structured.documents import build_from_handoff, check_patient, parse_handoff
from app.dmp_client.core.structured.handoff import MAX_BYTES
from app.dmp_client.core.structured.model import VaccinationHandoff
from app.errors import LocalStoreUnavailable
from app.services.workspace import Patient, Workspace
from app.store.queue import Entry
from app.store.request import IncompleteRequest, UploadRequest

CONTEXT_KEY = "documents_structures"
# The context's keys, named after the command line's options (dmp send --vsm / --vaccination)
KINDS: dict[str, Volet] = {"vsm": VSM, "vaccination": VAC_NOTE}
LABELS = {VSM.name: "Synthèse médicale (VSM)", VAC_NOTE.name: "Note de vaccination"}
MAX_VACCINATIONS = 100  # notes prepared from one hand-off (each is its own document)


def _refused(problem: str) -> StructuredHandoffInvalid:
    return StructuredHandoffInvalid(f"Contexte du logiciel métier refusé : {problem}.")


@dataclass(frozen=True)
class StructuredData:
    """One structured hand-off of the context: its kind (``VSM`` or ``VAC-NOTE``), its JSON bytes
    (what the queue keeps and the sender builds from) and how many documents it announces."""

    kind: str
    data: bytes = dataclasses.field(repr=False)
    count: int

    @property
    def label(self) -> str:
        return LABELS[self.kind]


def structured_from_context(context: Mapping[str, object]) -> dict[str, StructuredData]:
    """The context's structured hand-offs by kind (none: an empty dict, as before issue 19). A
    ``documents_structures`` that is not an object, an unknown key, a hand-off that is not an object
    or is larger than the builder takes: refused (StructuredHandoffInvalid), nothing kept."""
    raw = context.get(CONTEXT_KEY)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _refused(f"« {CONTEXT_KEY} » doit être un objet JSON (clés vsm, vaccination)")
    unknown = sorted(str(key) for key in raw if key not in KINDS)
    if unknown:
        raise _refused(f"« {CONTEXT_KEY}.{unknown[0][:40]} » est inconnu (clés admises : vsm, vaccination)")
    found = {}
    for key, handoff in raw.items():
        where = f"{CONTEXT_KEY}.{key}"
        if not isinstance(handoff, dict):
            raise _refused(f"« {where} » doit être un objet JSON (le même que pour dmp send --{key})")
        data = json.dumps(handoff, ensure_ascii=False).encode("utf-8")
        if len(data) > MAX_BYTES:
            raise _refused(f"« {where} » dépasse {MAX_BYTES // 1_000_000} Mo")
        volet = KINDS[key]
        count = 1
        if volet is VAC_NOTE:
            listed = handoff.get("vaccinations")
            count = len(listed) if isinstance(listed, list) else 0
            if not 1 <= count <= MAX_VACCINATIONS:
                raise _refused(f"« {where}.vaccinations » doit lister de 1 à {MAX_VACCINATIONS} vaccinations")
        found[volet.name] = StructuredData(volet.name, data, count)
    return found


@dataclass(frozen=True)
class PreparedDocument:
    """One document as it will be sent: the pinned request, the built CDA and its rendering."""

    request: UploadRequest
    cda: bytes = dataclasses.field(repr=False)
    rendered: Rendered = dataclasses.field(repr=False)
    label: str  # what tells it apart among the hand-off's documents (a note's vaccine and date)


@dataclass(frozen=True)
class Prepared:
    source: StructuredData
    patient: Patient
    documents: tuple[PreparedDocument, ...]
    seconds: float  # parse + build + render, for every document


def prepare(workspace: Workspace, patient: Patient | None, source: StructuredData) -> Prepared:
    """Build and render every document of ``source`` for ``patient`` (blocks: off the GUI thread).

    Refused before anything is built: no patient or no INS traits; a hand-off that does not name
    its patient, or names another one (StructuredHandoffOtherPatient, identity vigilance); an
    identity that is not qualifiée here (IdentityNotQualified, its usual message); not connected.
    A missing or malformed field: StructuredHandoffInvalid naming it."""
    started = time.perf_counter()
    if patient is None or patient.traits is None:
        missing = "aucun patient n'est ouvert" if patient is None else "traits d'identité INS inconnus"
        raise IncompleteRequest(f"Document refusé : {missing}.")
    ins, traits = patient.ins, patient.traits
    parsed = parse_handoff(source.kind, source.data)
    if parsed.patient is None:
        raise StructuredHandoffInvalid(
            "Données du logiciel métier refusées : « patient » est obligatoire dans le contexte de "
            "l'application (le document doit nommer son patient : INS et traits)."
        )
    check_patient(parsed.patient, ins, traits)  # the patient on screen, or nothing
    workspace.require_qualified(ins, traits)
    mode, professional = workspace.send_mode()
    count = len(parsed.vaccinations) if isinstance(parsed, VaccinationHandoff) else 1
    now = parsed.created or dt.datetime.now().astimezone()
    volet = VOLETS[source.kind]
    documents = []
    for item in range(count):
        request = UploadRequest(
            ins, traits, "text/xml", volet.type_code, volet.title, mode, professional,
            author=parsed.author, structured=source.kind, item=item,
        ).pinned(now)  # fmt: skip
        request.check()
        assert request.created is not None
        built = build_from_handoff(
            source.kind,
            source.data,
            item=item,
            ins=ins,
            traits=traits,
            document_id=request.document_id,
            set_id=request.set_id,
            version=1,
            created=request.created,
            replaces=None,
            practice_setting=request.practice_setting,
            facility_type=request.facility_type,
            author=request.author,
        )  # as the sender builds it (app/dmp_client/documents.py, DocumentTransactions._structured)
        out = io.BytesIO()
        write_structured(built.element, out)
        cda = out.getvalue()
        label = volet.title
        if isinstance(parsed, VaccinationHandoff):
            act = parsed.vaccinations[item]
            label = f"{act.vaccine_cis.display or act.vaccine_atc.display} — {act.date:%d/%m/%Y}"
        documents.append(PreparedDocument(request, cda, render(cda, patient=ins), label))
    return Prepared(source, patient, tuple(documents), time.perf_counter() - started)


def enqueue_prepared(workspace: Workspace, prepared: Prepared) -> list[Entry]:
    """The prepared documents into the durable queue (their hand-off bytes, encrypted like every
    queued document); the queue checks the identity's status again. Blocks: off the GUI thread."""
    store = workspace.store
    if store is None:
        raise LocalStoreUnavailable("La base locale n'est pas disponible : envoi impossible.")
    name = "contexte-vsm.json" if prepared.source.kind == VSM.name else "contexte-vaccination.json"
    return [
        store.queue.enqueue(document.request, io.BytesIO(prepared.source.data), source_name=name)
        for document in prepared.documents
    ]
