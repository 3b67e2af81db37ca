"""Document commands over the facade: ``dmp find``, ``get``, ``send``, ``mask``, ``unmask``, ``visible``,
``archive``, ``unarchive``, ``delete`` (TD2.1, TD3.1, TD3.2, TD3.3)."""

from __future__ import annotations

import argparse
import datetime as dt
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from app.card import pkcs11_module
from app.card.session import CardSession
from app.cli.dmp import auth_mode, common_options, ins_of, open_client, open_session
from app.config.settings import Settings
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.iti18 import DocumentInfo, FindDocuments
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.core.registry import RegistryErrorItem
from app.dmp_client.core.structured.documents import KINDS, check_patient, parse_handoff
from app.dmp_client.core.structured.model import VaccinationHandoff
from app.dmp_client.core.valuesets import Concept, value_sets
from app.dmp_client.documents import NewDocument
from app.errors import InputFileError, UsageError
from app.ins import IdentityTraits, Ins
from app.services.training import sandbox_patient
from app.store.errors import CacheEmpty, StoreError
from app.store.local_store import LocalStore
from app.store.request import SendMode, UploadRequest

STATUSES = {
    "actif": Status.APPROVED,
    "archive": Status.ARCHIVED,
    "remplace": Status.DEPRECATED,
    "supprime": Status.DELETED,
}
STATUS_LABELS = {v: k for k, v in STATUSES.items()}
MEDIA = {".pdf": "application/pdf", ".txt": "text/plain", ".rtf": "text/rtf", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff"}  # fmt: skip
FLAGS = {
    "MASQUE_PS": "masqué aux PS",
    "INVISIBLE_PATIENT": "invisible patient",
    "INVISIBLE_REPRESENTANTS_LEGAUX": "invisible représentants",
}


def _document_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--document", required=True, help="identifiant unique (uniqueId) du document")


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    find = subparsers.add_parser("find", help="TD3.1 : rechercher les documents du DMP")
    common_options(find)
    find.add_argument("--depuis", help="créés depuis (AAAA-MM-JJ ; défaut : 2 ans)")
    find.add_argument("--jusqu-a", dest="until", help="créés jusqu'au (AAAA-MM-JJ)")
    find.add_argument(
        "--statut", choices=sorted(STATUSES), action="append", help="statut(s) (défaut : actif)"
    )
    find.add_argument("--classe", action="append", help="classCode (ex. 10, 11, 31)")
    find.add_argument("--type", dest="types", action="append", help="typeCode LOINC / TRE_A05")
    find.add_argument(
        "--hors-ligne", action="store_true", help="afficher la dernière liste gardée en cache (avec son âge)"
    )
    find.set_defaults(handler=run_find)

    get = subparsers.add_parser("get", help="TD3.2 : récupérer un document")
    common_options(get)
    _document_option(get)
    get.add_argument("--sortie", type=Path, required=True, help="fichier où écrire le document (CDA)")
    get.set_defaults(handler=run_get)

    send = subparsers.add_parser(
        "send", help="TD2.1 : déposer un document (CDA de niveau 1, ou VSM / note de vaccination structurés)"
    )
    common_options(send, ins_required=False)
    send.add_argument("fichier", type=Path, nargs="?", help="PDF, texte, RTF, JPEG ou TIFF")
    send.add_argument("--type", dest="type_code", help="typeCode (ex. 11488-4 ; obligatoire pour un fichier)")
    send.add_argument("--titre", help="titre du document (obligatoire pour un fichier)")
    structured = send.add_mutually_exclusive_group()
    structured.add_argument(
        "--vsm",
        type=Path,
        help="synthèse médicale (VSM) structurée, depuis les données JSON du logiciel métier",
    )
    structured.add_argument(
        "--vaccination",
        type=Path,
        help="notes de vaccination structurées (une par vaccination), depuis le JSON",
    )
    send.add_argument("--masque-ps", action="store_true", help="masquer aux autres professionnels")
    send.add_argument("--invisible-patient", action="store_true", help="invisible au patient (annonce)")
    send.add_argument(
        "--invisible-representants", action="store_true", help="invisible aux représentants légaux"
    )
    send.add_argument("--replace", help="uniqueId du document dont celui-ci est la nouvelle version")
    send.add_argument("--cadre", default="AMBULATOIRE", help="practiceSettingCode (JDV_J04)")
    send.add_argument("--etablissement", default="SA07", help="healthcareFacilityTypeCode (JDV_J02)")
    send.add_argument(
        "--en-file",
        action="store_true",
        help="confier le document à la file d'envoi durable (envoyé par « dmp queue drain »)",
    )
    send.add_argument("--professionnel", help="(--en-file, mode carte) identifiant national du porteur")
    send.add_argument("--patient", help="patient du bac à sable (P01…P07) : INS et traits")
    for name, what in (
        ("nom", "nom de naissance"),
        ("prenoms", "prénoms de naissance"),
        ("sexe", "F ou M"),
        ("naissance", "date de naissance AAAA-MM-JJ"),
        ("lieu", "code INSEE du lieu de naissance"),
    ):
        send.add_argument(f"--{name}", help=f"trait INS : {what}")
    send.set_defaults(handler=run_send)

    for name, help_text, handler in (
        ("mask", "TD3.3a : masquer le document aux autres professionnels", run_mask),
        ("unmask", "TD3.3a : démasquer le document", run_unmask),
        ("visible", "TD3.3b : rendre le document visible au patient", run_visible),
        ("archive", "TD3.3d : archiver le document", run_archive),
        ("unarchive", "TD3.3d : désarchiver le document", run_unarchive),
        ("delete", "TD3.3c : supprimer le document", run_delete),
    ):
        command = subparsers.add_parser(name, help=help_text)
        common_options(command)
        _document_option(command)
        if name == "visible":
            command.add_argument("--representants", action="store_true", help="aux représentants légaux")
        command.set_defaults(handler=handler)


def _date(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").astimezone()
    except ValueError:
        raise UsageError(f"Date invalide : {text} (AAAA-MM-JJ attendu).") from None


def describe(document: DocumentInfo) -> str:
    when = document.creation_time.astimezone().strftime("%d/%m/%Y %H:%M") if document.creation_time else "?"
    kind = document.type_code.display_name if document.type_code else "?"
    flags = [FLAGS[c] for c in sorted(document.confidentiality_codes) if c in FLAGS]
    status = STATUS_LABELS.get(document.status, document.status.rsplit(":", 1)[-1])
    extra = f" [{', '.join(flags)}]" if flags else ""
    return f"{when}  {status:8}  {kind} — {document.title}{extra}\n    {document.unique_id}"


def run_find(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    if args.hors_ligne:
        return _find_offline(settings, ins, out)
    with open_session(args, settings, err) as (client, store):
        search = None
        if args.depuis or args.until or args.statut or args.classe or args.types:
            search = FindDocuments(
                ins,
                statuses=tuple(STATUSES[s] for s in (args.statut or ["actif"])),
                class_codes=tuple(Concept(c, "1.2.250.1.213.1.1.4.1", "") for c in args.classe or []),
                type_codes=tuple(value_sets().type_code(t) for t in args.types or []),
                creation_from=_date(args.depuis),
                creation_to=_date(args.until),
            )
        documents = client.find_documents(ins, search)
        lines = [describe(document) for document in documents]
        if search is None and store is not None:  # kept for offline use, inside the card session
            try:
                store.cache.put_list(ins, [{"text": line} for line in lines])
            except StoreError as error:  # a convenience: said, never the command's failure
                _cache_warning(err)(error, "non mis à jour")
    print(f"{len(documents)} document(s)", file=out)
    for line in lines:
        print(line, file=out)
    return 0


def _find_offline(settings: Settings, ins: Ins, out: TextIO) -> int:
    with LocalStore.open(settings.store) as store:
        cached = store.cache.get_list(ins)
        now = store.cache.clock()
    if cached is None:
        raise CacheEmpty("Aucune liste récente de ce patient dans le cache local.")
    minutes = int(cached.age(now) // 60)
    print(f"{len(cached.documents)} document(s) — liste du cache local, vieille de {minutes} min", file=out)
    for item in cached.documents:
        print(item["text"], file=out)
    return 0


def run_get(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_session(args, settings, err) as (client, store):
        # The metadata query checks the rights online; the bytes may then come from the cache (a
        # uniqueId always names the same bytes).
        document = client.document_by_unique_id(ins, args.document)
        partial = args.sortie.with_name(args.sortie.name + ".partiel")
        try:
            with partial.open("w+b") as handle:
                if store is None:
                    size, cached = client.retrieve(ins, document, handle), False
                else:
                    size, cached = store.cache.fetch_document(
                        ins,
                        document.unique_id,
                        handle,
                        lambda out: client.retrieve(ins, document, out),
                        _cache_warning(err),
                    )
                    if cached:
                        client.check_copy(ins, document, handle)  # the cached bytes are the checked entry's
            origin = "cache local" if cached else "DMP"
            partial.replace(args.sortie)
        except BaseException:
            partial.unlink(missing_ok=True)  # no half-written copy of a medical document left behind
            raise
    print(f"Document enregistré : {args.sortie} ({size} octets, {origin})", file=out)
    return 0


def _cache_warning(err: TextIO) -> Callable[[StoreError, str], None]:
    def warn(error: StoreError, what: str) -> None:
        print(f"ATTENTION : cache local {what} ({error.code}).", file=err)

    return warn


def _traits(args: argparse.Namespace, settings: Settings) -> tuple[Ins, IdentityTraits]:
    if args.patient:
        if not settings.is_sandbox:
            raise UsageError("--patient n'existe que dans le bac à sable.")
        found = sandbox_patient(args.patient)
        if found is None or found.traits is None:
            raise UsageError(f"Patient du bac à sable inconnu : {args.patient}.")
        return found.ins, found.traits
    if not (args.ins and args.nom and args.prenoms and args.sexe and args.naissance):
        raise UsageError(
            "Indiquez --ins et les traits INS (--nom, --prenoms, --sexe, --naissance, --lieu), "
            "ou --patient dans le bac à sable."
        )
    traits = IdentityTraits.parse(args.nom, args.prenoms, args.sexe, args.naissance, args.lieu)
    return ins_of(args, settings), traits


def run_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.load()
    if args.vsm or args.vaccination:
        return _send_structured(args, settings, out, err)
    if args.fichier is None or not args.type_code or not args.titre:
        raise UsageError("Indiquez le fichier, --type et --titre (ou --vsm / --vaccination et leur JSON).")
    ins, traits = _traits(args, settings)
    media = MEDIA.get(args.fichier.suffix.lower()) or mimetypes.guess_type(args.fichier.name)[0] or ""
    visibility = {
        flag
        for flag, wanted in (
            (Visibility.MASKED_FROM_PS, args.masque_ps),
            (Visibility.INVISIBLE_TO_PATIENT, args.invisible_patient),
            (Visibility.INVISIBLE_TO_REPRESENTATIVES, args.invisible_representants),
        )
        if wanted
    }
    document = NewDocument(
        args.fichier,
        media,
        args.type_code,
        args.titre,
        traits,
        facility_type=args.etablissement,
        practice_setting=args.cadre,
        visibility=frozenset(visibility),
    )
    if args.en_file:
        return _enqueue(args, settings, ins, document, out)  # the queue checks the identity's status
    with LocalStore.open(settings.store) as store:  # only a qualifiée identity feeds (issue 17)
        store.identities.require_qualified(ins, traits)
    with open_client(args, settings, err) as client:
        replaced = client.document_by_unique_id(ins, args.replace) if args.replace else None
        sent = client.send(ins, document, replaces=replaced)
    print(f"Document déposé (version {sent.version}, {sent.size} octets) : {sent.unique_id}", file=out)
    _say_warnings(sent.warnings, err)
    return 0


def _send_structured(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """``--vsm`` / ``--vaccination``: the structured documents built from the EHR's hand-off (issue 19;
    docs/structured-documents.md), sent like every document (directly, or ``--en-file``)."""
    kind, path = ("VSM", args.vsm) if args.vsm else ("VAC-NOTE", args.vaccination)
    if args.fichier is not None:
        raise UsageError("--vsm / --vaccination remplacent le fichier : n'indiquez pas les deux.")
    try:
        data = path.read_bytes()
    except OSError:
        raise InputFileError(f"Le fichier ne peut pas être lu : {path}") from None
    parsed = parse_handoff(kind, data)
    if args.patient or args.ins:
        ins, traits = _traits(args, settings)
        check_patient(parsed.patient, ins, traits)  # the hand-off names no other patient
    elif parsed.patient is not None:
        ins, traits = parsed.patient.ins, parsed.patient.traits
    else:
        raise UsageError(
            "Les données ne nomment pas le patient : indiquez --patient ou --ins et les traits INS."
        )
    count = len(parsed.vaccinations) if isinstance(parsed, VaccinationHandoff) else 1
    if args.replace and count != 1:
        raise UsageError("--replace remplace un seul document : une seule vaccination à la fois.")
    volet = KINDS[kind]
    documents = [
        NewDocument(
            path,
            "text/xml",
            volet.type_code,
            volet.title,
            traits,
            facility_type=args.etablissement,
            practice_setting=args.cadre,
            author=parsed.author,
            structured=kind,
            item=item,
        )
        for item in range(count)
    ]
    if args.en_file:
        for document in documents:  # the queue checks the identity's status
            _enqueue(args, settings, ins, document, out, source=path)
        return 0
    with LocalStore.open(settings.store) as store:  # only a qualifiée identity feeds (issue 17)
        store.identities.require_qualified(ins, traits)
    with open_client(args, settings, err) as client:
        replaced = client.document_by_unique_id(ins, args.replace) if args.replace else None
        for document in documents:
            sent = client.send(ins, document, replaces=replaced)
            print(
                f"{volet.title} déposée (version {sent.version}, {sent.size} octets) : {sent.unique_id}",
                file=out,
            )
            _say_warnings(sent.warnings, err)
    return 0


def _say_warnings(warnings: Iterable[RegistryErrorItem], err: TextIO) -> None:
    """Warning-severity RegistryErrors of a success: said, not a failure."""
    for warning in warnings:
        print(f"AVERTISSEMENT du DMP : {warning.said()}", file=err)


def _card_holder(settings: Settings) -> str:
    """The national id of the card in the reader (read without the PIN)."""
    session = CardSession(pkcs11_module.discover(settings.pkcs11_module), sandbox=settings.is_sandbox)
    try:
        return session.professional().national_id
    finally:
        session.close()


def _enqueue(
    args: argparse.Namespace,
    settings: Settings,
    ins: Ins,
    document: NewDocument,
    out: TextIO,
    source: Path | None = None,
) -> int:
    mode = SendMode.STRUCTURE if auth_mode(args, settings) == "structure" else SendMode.CARD
    professional = None
    if mode is SendMode.CARD:
        # The entry is bound to this professional: only their card may sign and send it.
        professional = args.professionnel or _card_holder(settings)
    request = UploadRequest.from_document(document, ins, mode, professional, args.replace)
    source = source or args.fichier
    try:
        handle = source.open("rb")
    except OSError:
        raise InputFileError(f"Le fichier ne peut pas être lu : {source}") from None
    with handle, LocalStore.open(settings.store) as store:
        entry = store.queue.enqueue(request, handle, source_name=source.name)
    print(f"Document confié à la file d'envoi : entrée #{entry.id} (uniqueId {entry.unique_id})", file=out)
    return 0


def _visibility(args: argparse.Namespace, err: TextIO, add: set[Visibility], remove: set[Visibility]) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        document = client.document_by_unique_id(ins, args.document)
        _say_warnings(client.set_visibility(ins, document, add=add, remove=remove), err)
    return 0


def run_mask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _visibility(args, err, {Visibility.MASKED_FROM_PS}, set())
    print("Document masqué aux autres professionnels.", file=out)
    return 0


def run_unmask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _visibility(args, err, set(), {Visibility.MASKED_FROM_PS})
    print("Document démasqué.", file=out)
    return 0


def run_visible(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    flag = Visibility.INVISIBLE_TO_REPRESENTATIVES if args.representants else Visibility.INVISIBLE_TO_PATIENT
    _visibility(args, err, set(), {flag})
    print("Document rendu visible.", file=out)
    return 0


def _status(args: argparse.Namespace, out: TextIO, err: TextIO, new: str, done: str) -> int:
    settings = Settings.load()
    ins = ins_of(args, settings)
    with open_client(args, settings, err) as client:
        _say_warnings(client.set_status(ins, client.document_by_unique_id(ins, args.document), new), err)
    print(done, file=out)
    return 0


def run_archive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _status(args, out, err, Status.ARCHIVED, "Document archivé.")


def run_unarchive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _status(args, out, err, Status.APPROVED, "Document désarchivé.")


def run_delete(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _status(args, out, err, Status.DELETED, "Document supprimé.")
