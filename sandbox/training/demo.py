"""``dmp demo``: the product's main job run against the embedded sandbox.

It first identifies every sandbox patient as the client does before any DMP exchange (the INS
checked and formatted for XDS/VIHF (CX) and CDA (HL7v3), the INS traits checked against what the
matricule encodes). With the card rig up (``make run``), it then lists the virtual readers, the
CPS holder and the Vitale beneficiaries (with the legacy INS-C where computable: labelled as the
historical identifier, never the one that feeds). Before any DMP exchange, when the sandbox INSi host
is configured (the rig exports DMP_INSI_URL and DMP_INSI_IDAM), the INSi step (:func:`insi_step`)
qualifies P03 and P01 (INSi, then an identity document check SIMULATED and labelled as such), shows a
refusal and a 02, and searches each Vitale beneficiary with the card. It then runs TD0.2 and
TD0.3 with the GP's card and TD0.2 with the structure's certificate, the GP's main job on P03
(send, find, retrieve and compare, mask, replace, archive) and the secretariat's job through the
durable queue, and without a card reader (:func:`ecps_step`) an e-CPS login through the rig's
Pro Santé Connect provider (its virtual phone in automatic approval) and a consultation of P01's DMP
in AIR. It needs the sandbox: it reads the sandbox's fictitious patients.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import os
import tempfile
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.card import pkcs11_module
from app.card.pcsc import list_readers
from app.card.session import CardSession
from app.cli.dmp import add_trace_option
from app.config.settings import Settings
from app.dmp_client.client import DmpClient
from app.dmp_client.core.cda import extract_body
from app.dmp_client.core.ebrim import Status
from app.dmp_client.core.metadata import Visibility
from app.dmp_client.documents import NewDocument
from app.dmp_client.factory import card_client, structure_client
from app.errors import USER_FACING_ERRORS, DemoCheckFailed, DmpClientError
from app.ins import BirthDate, IdentityTraits, Ins, InsError, Sex, compute_insc
from app.services.identity import DocumentType, IdentityLifecycle, IdentityStatus
from app.services.qualification import (
    InsiOutcome,
    Outcome,
    Qualification,
    check_document,
    open_insi,
    read_vitale,
)
from sandbox.patients import SandboxPatient, load_patients
from sandbox.training.patients import sandbox_patient
from sandbox.training.vitale import SandboxVitaleCard

if TYPE_CHECKING:
    from app.dmp_client.psc_client import PendingLogin
    from app.store.database import Database

# Issue 17 item 5: the INS-C is shown as the legacy identifier it is, never the identity that feeds.
INSC_LEGACY = "INS-C (identifiant historique, jamais utilisé pour alimenter"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser("demo", help="démonstration sur le bac à sable (patients fictifs)")
    add_trace_option(demo)
    demo.set_defaults(handler=run, trace=None)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = _patients(out)
    rig = bool(os.environ.get(pkcs11_module.ENV_VARIABLE))
    if rig:
        _cards(out)
    settings = Settings.load()
    if settings.is_sandbox and settings.insi.url and settings.insi.idam:  # the rig exports both
        status = max(status, insi_step(settings, out, vitale=rig))
    if rig:
        status = max(status, _exchanges(out, args.trace))
        if settings.psc.url:  # the rig's Pro Santé Connect provider (DMP_PSC_URL)
            folder = Path(os.environ.get("DMP_SANDBOX_DIR", ""))
            status = max(status, ecps_step(settings, out, rig_dir=folder))
    else:
        print("\n(banc de cartes non monté : « make run » le monte avant la démonstration)", file=out)
    return status


DEMO_CHECKER = "démonstration (pièce simulée)"


def _simulated_check(life: IdentityLifecycle, ins: Ins, out: TextIO) -> str:
    """DEMONSTRATION ONLY: a document check recorded without any real document, so that the demo's
    patients can be fed; a real user checks the patient's identity document (dmp identite valider)."""
    view = check_document(life, ins, DocumentType.CNI, DEMO_CHECKER)
    print(
        "     [DÉMONSTRATION] vérification de pièce d'identité SIMULÉE (aucune pièce réelle contrôlée) "
        f"→ {view.status.value}",
        file=out,
    )
    return view.status.value


def insi_step(settings: Settings, out: TextIO, *, vitale: bool = False) -> int:
    """Before any DMP exchange: the sandbox INSi host (real mutual TLS, the structure's certificate)
    gives the demo patients their INS, the identity document check is simulated, and only then the
    DMP is fed. P03 (the main job) is a manual entry searched by traits; P01 (the secretariat's
    queue) an EHR hand-off verified; P07 a hand-off refused (her traits changed in the referential);
    homonyms give 02; with the rig, each beneficiary of the virtual Vitale card is searched with it."""
    from app.store.local_store import LocalStore

    print("\nTéléservice INSi du bac à sable (TLS mutuel, certificat de la structure)", file=out)
    failures = 0
    try:
        with LocalStore.open(settings.store) as store, closing(open_insi(settings)) as client:
            life = IdentityLifecycle(store.db)
            flows = Qualification(life, client, "demonstration")
            p03 = _traits("P03")
            typed = IdentityTraits(p03.birth_name, (p03.first_name,), p03.sex, p03.birth_date)
            found = flows.from_traits(typed)
            print(f"  P03 saisie manuelle → INSi par traits : {_said(found)}", file=out)
            if found.ins != _ins("P03"):
                failures += 1
            else:
                failures += _simulated_check(life, found.ins, out) != "qualifiée"
            handed = flows.from_handoff(_ins("P01"), _traits("P01"), IdentityStatus.QUALIFIEE)
            print(
                f"  P01 INS reçu du logiciel métier (annoncé qualifiée) → INSi : {_said(handed)}",
                file=out,
            )
            for warning in handed.warnings:
                print(f"     ATTENTION : {warning}", file=out)
            if handed.ins != _ins("P01"):
                failures += 1
            else:
                failures += _simulated_check(life, handed.ins, out) != "qualifiée"
            changed = flows.from_handoff(_ins("P07"), _traits("P07"), IdentityStatus.QUALIFIEE)
            print(f"  P07 INS reçu, traits modifiés dans le référentiel → {_said(changed)}", file=out)
            failures += changed.outcome is not Outcome.REFUSED
            martin = IdentityTraits("MARTIN", ("LOUIS",), Sex.MALE, BirthDate.parse("1972-02-29"))
            several = flows.from_traits(martin)
            print(f"  homonymes MARTIN LOUIS → {several.outcome.value} : {several.next_step}", file=out)
            failures += several.outcome is not Outcome.SEVERAL
            if vitale:
                failures += _vitale_step(settings, flows, out)
    except USER_FACING_ERRORS as error:
        print(f"  ERREUR: {error}", file=out)
        return 1
    if failures:
        print(f"  ÉCHEC : {failures} résultat(s) INSi inattendu(s).", file=out)
        return 1
    print("  INSi : identités de P01 et P03 qualifiées avant tout échange avec le DMP.", file=out)
    return 0


def _vitale_step(settings: Settings, flows: Qualification, out: TextIO) -> int:
    """Each beneficiary of the virtual Vitale card: the INSi search with the card (sandbox only)."""
    card = read_vitale(settings)
    failures = 0
    for beneficiary in card.beneficiaries:
        outcome = flows.from_vitale(card, beneficiary.rank)
        print(f"  Vitale rang {beneficiary.rank} → INSi avec la carte Vitale : {_said(outcome)}", file=out)
        failures += outcome.ins is None
    return failures


def _said(outcome: InsiOutcome) -> str:
    if outcome.ins is None:
        return f"{outcome.outcome.value} ({outcome.message})"
    return f"{outcome.outcome.value}, INS {outcome.ins.matricule.grouped()}, statut {outcome.status.value}"


def _traits(pid: str) -> IdentityTraits:
    patient = sandbox_patient(pid)
    assert patient is not None and patient.traits is not None
    return patient.traits


def _cards(out: TextIO) -> None:
    """The virtual readers, the CPS holder (public data, no PIN) and the Vitale card's beneficiaries."""
    print("\nCartes (banc virtuel : pcscd + lecteurs vpcd + jetons SoftHSM2)", file=out)
    try:
        for reader in list_readers():
            print(f"  {reader.name} : {reader.label}", file=out)
        session = CardSession(pkcs11_module.discover(), sandbox=True)
        try:
            who = session.professional()
        finally:
            session.close()
        specialty = f", spécialité {who.specialty_code}" if who.specialty_code else ""
        print(
            f"  CPS : {who.display_name}, {who.profession_label}{specialty}, id. {who.national_id}", file=out
        )
        for b in SandboxVitaleCard().beneficiaries():
            insc = b.insc()
            print(
                f"  Vitale rang {b.rank} : {b.first_name}, {INSC_LEGACY}) "
                f"{insc.value if insc else 'non calculable'}",
                file=out,
            )
    except USER_FACING_ERRORS as error:
        print(f"  ERREUR: {error}", file=out)


def _exchanges(out: TextIO, trace: Path | None = None) -> int:
    """TD0.2 and TD0.3 with the sandbox GP's card (direct mode) and the hospital's certificate;
    with ``trace``, every exchange of the demo (these, the main job's, the queue's) traced there."""
    settings = dataclasses.replace(Settings.load(), trace_dir=trace)
    pin = os.environ.get("DMP_SANDBOX_PIN")
    if not settings.is_sandbox or not pin:
        return 0
    print("\nÉchanges avec l'hôte DMP du bac à sable (TLS mutuel, VIHF signé)", file=out)
    steps = 0
    try:
        client, card = card_client(settings, lambda status: pin)
        try:
            for pid in ("P03", "P07", "P05", "P02"):
                steps += _status_step(client, pid, out)
            client.set_authorization(_ins("P07"))
            print("  TD0.3 P07 : autorisation enregistrée", file=out)
            steps += _status_step(client, "P07", out)
            client.set_authorization(_ins("P07"), add=False)
            print("  TD0.3 P07 : autorisation retirée (le bac à sable reste dans son état initial)", file=out)
        finally:
            client.close()
            card.close()
        structure = structure_client(settings)
        try:
            print("  mode indirect (certificat de la structure) :", file=out)
            steps += _status_step(structure, "P01", out)
        finally:
            structure.close()
    except USER_FACING_ERRORS as error:
        print(f"  ERREUR: {error}", file=out)
        return 1
    print(f"  {steps} échanges réussis.", file=out)
    return max(_main_job(settings, pin, out), _queue_job(settings, out))


def ecps_step(settings: Settings, out: TextIO, *, rig_dir: Path | None = None) -> int:
    """Without a card reader: the sandbox GP logs in with e-CPS through the sandbox Pro Santé Connect
    provider (CIBA: the code to check, the virtual phone in automatic approval), chooses the
    hospital's exercise, and consults P01's DMP in AIR (TD3.1 with a VIHF signed by the structure,
    over the structure's ORG TLS) — a send is refused there before sending —; the disconnection ends
    the PSC session. ``rig_dir``: the sandbox folder whose provider's virtual phone (``psc/``, the
    test PKI in ``pki/``) is put in automatic approval."""
    from app.dmp_client.core.errors import AirTransactionRefused
    from app.services import ecps
    from app.services.session import DmpSession, EcpsLogin
    from sandbox import cards
    from sandbox.psc import phone

    print(
        "\nConnexion e-CPS (Pro Santé Connect, CIBA) et consultation en AIR, sans lecteur de carte", file=out
    )
    gp = cards.card("generaliste")
    if rig_dir is not None:
        try:
            phone.set_faults(rig_dir / "psc", rig_dir / "pki", {"phone": "approve", "phone_delay": 2.0})
            print("  téléphone e-CPS virtuel : approbation automatique après 2 s", file=out)
        except phone.PhoneError as error:
            print(f"  téléphone e-CPS virtuel non réglé ({error}) : « dmp-sandbox ecps approuver »", file=out)
    step = "connexion e-CPS"
    try:
        psc = ecps.open_psc(settings)
        try:

            def show(pending: PendingLogin) -> None:
                print(
                    f"  1. demande envoyée pour {gp.national_id} : code à vérifier "
                    f"« {pending.binding_message} » (canal {pending.channel.value}), en attente de la "
                    "validation…",
                    file=out,
                )

            session = psc.login(gp.national_id, on_pending=show)
        except BaseException:
            psc.close()
            raise
        who = session.identity
        structure = settings.structure.structure_id if settings.structure else ""
        numbers = [n for n, s in enumerate(who.situations, 1) if s.structure_id == structure]
        chosen = numbers[0] if numbers else 1
        print(
            f"  2. validé sur le téléphone : {who.display_name}, {len(who.situations)} situation(s) "
            f"d'exercice, n° {chosen} choisie ({who.situation(chosen).label})",
            file=out,
        )
        with DmpSession(settings) as dmp:
            step = "session AIR"
            connection = dmp.connect(EcpsLogin(psc, session, chosen))
            print(f"  3. session ouverte : {connection.situation} (VIHF INDIRECTE_RENFORCEE)", file=out)
            step = "TD3.1 recherche (AIR)"
            found = dmp.client.find_documents(_ins("P01"))
            print(f"  4. {step} P01 : {len(found)} document(s) trouvé(s)", file=out)
            step = "TD2.1 refusé en AIR"
            with tempfile.TemporaryDirectory(prefix="dmp-demo-") as folder:
                try:
                    dmp.client.send(_ins("P01"), _report_for("P01", Path(folder), "Compte rendu (AIR)"))
                    raise DemoCheckFailed("Un dépôt a été accepté en AIR.")
                except AirTransactionRefused as refused:
                    print(f"  5. dépôt en AIR refusé avant l'envoi [{refused.code}]", file=out)
        print("  6. déconnexion : session Pro Santé Connect fermée", file=out)
    except USER_FACING_ERRORS as error:
        print(f"  ÉCHEC à l'étape « {step} » : {error}", file=out)
        return 1
    print("  Connexion e-CPS et consultation AIR réussies.", file=out)
    return 0


def _report_for(pid: str, folder: Path, title: str) -> NewDocument:
    """A (never sent) one-page report for ``pid``: what the AIR refusal is shown with."""
    patient = sandbox_patient(pid)
    assert patient is not None and patient.traits is not None
    path = folder / "air.pdf"
    path.write_bytes(demo_pdf(title))
    return NewDocument(path, "application/pdf", "11488-4", title, patient.traits)


def _main_job(settings: Settings, pin: str, out: TextIO) -> int:
    """The GP's main job on P03: status, authorisation, send a PDF report, find it, retrieve it and
    compare the bytes, mask it, replace it with a new version, archive it."""
    print("\nParcours principal (carte CPS du médecin généraliste, patient P03)", file=out)
    ins = _ins("P03")
    step = "connexion"
    try:
        client, card = card_client(settings, lambda status: pin)
        try:
            step = "TD0.2 statut"
            status = client.status(ins)
            print(f"  1. {step} : DMP {'actif' if status.exists else 'absent'}", file=out)
            step = "TD0.3 autorisation"
            result = client.set_authorization(ins)
            print(f"  2. {step} : {result.status} {result.context}".rstrip(), file=out)
            with tempfile.TemporaryDirectory(prefix="dmp-demo-") as folder:
                pdf = Path(folder) / "compte-rendu.pdf"
                pdf.write_bytes(demo_pdf("Compte rendu de consultation (démonstration)"))
                step = "TD2.1 dépôt"
                sent = client.send(ins, _report(pdf, "Compte rendu de consultation"))
                print(f"  3. {step} : PDF de {pdf.stat().st_size} octets déposé ({sent.unique_id})", file=out)
                step = "TD3.1 recherche"
                found = next(d for d in client.find_documents(ins) if d.unique_id == sent.unique_id)
                print(f"  4. {step} : retrouvé « {found.title} »", file=out)
                step = "TD3.2 récupération"
                cda, back = Path(folder) / "cda.xml", Path(folder) / "retour.pdf"
                with cda.open("wb") as handle:
                    client.retrieve(ins, found, handle)
                with cda.open("rb") as source, back.open("wb") as target:
                    extract_body(source, target)
                if back.read_bytes() != pdf.read_bytes():
                    raise DemoCheckFailed("Le document récupéré diffère du document déposé.")
                print(
                    f"  5. {step} : CDA de {cda.stat().st_size} octets, PDF identique octet pour octet",
                    file=out,
                )
                step = "TD3.3a masquage"
                client.set_visibility(ins, found, add={Visibility.MASKED_FROM_PS})
                print(f"  6. {step} : document masqué aux autres professionnels", file=out)
                step = "TD2.1 nouvelle version"
                current = client.document_by_unique_id(ins, sent.unique_id)
                pdf.write_bytes(demo_pdf("Compte rendu de consultation (version corrigée)"))
                replaced = client.send(
                    ins, _report(pdf, "Compte rendu de consultation (corrigé)"), replaces=current
                )
                old = client.document_by_unique_id(ins, sent.unique_id)
                print(
                    f"  7. {step} : version {replaced.version} déposée, l'ancienne est "
                    f"{'remplacée' if old.status == Status.DEPRECATED else old.status}",
                    file=out,
                )
                step = "TD3.3d archivage"
                newest = client.document_by_unique_id(ins, replaced.unique_id)
                client.set_status(ins, newest, Status.ARCHIVED)
                archived = client.document_by_unique_id(ins, replaced.unique_id)
                if archived.status != Status.ARCHIVED:
                    raise DemoCheckFailed("Le document n'a pas été archivé.")
                print(f"  8. {step} : nouvelle version archivée", file=out)
        finally:
            client.close()
            card.close()
    except (DmpClientError, InsError, StopIteration) as error:
        print(f"  ÉCHEC à l'étape « {step} » : {error or 'document introuvable'}", file=out)
        return 1
    print("  Parcours principal réussi.", file=out)
    return 0


def _queue_job(settings: Settings, out: TextIO) -> int:
    """The secretariat's job: reports confided to the durable queue (encrypted base, key in the
    system keyring), then sent with the structure's certificate; the journal records each action."""
    from app.cli.store import cli_credentials
    from app.store.local_store import LocalStore
    from app.store.queue import State
    from app.store.request import SendMode, UploadRequest

    print("\nFile d'envoi du secrétariat (base locale chiffrée, certificat de la structure, P01)", file=out)
    patient = sandbox_patient("P01")
    assert patient is not None and patient.traits is not None
    traits = patient.traits
    try:
        with LocalStore.open(settings.store) as store:
            life = IdentityLifecycle(store.db)
            if life.status(_ins("P01")) is IdentityStatus.QUALIFIEE:  # by the INSi step above
                print("  0. identité de P01 : qualifiée (étape INSi ci-dessus)", file=out)
            else:  # the job run alone (tests): the sandbox's stand-in for INSi, a simulated document
                status = qualify_demo_identity(store.db, _ins("P01"), traits)
                print(
                    f"  0. identité de P01 : INSi (bac à sable) et pièce d'identité vérifiée → {status}",
                    file=out,
                )
            ids = []
            for number in (1, 2, 3):
                request = UploadRequest(
                    _ins("P01"),
                    traits,
                    "application/pdf",
                    "11488-4",
                    f"Compte rendu {number}",
                    SendMode.STRUCTURE,
                )
                pdf = io.BytesIO(demo_pdf(f"Compte rendu d'hospitalisation n° {number} (démonstration)"))
                ids.append(store.queue.enqueue(request, pdf).id)
            print(
                f"  1. {len(ids)} comptes rendus confiés à la file (entrées {ids[0]} à {ids[-1]})", file=out
            )
            credentials = cli_credentials(
                settings, argparse.Namespace(pin_stdin=False, situation=1), out, store
            )
            try:
                report = store.sender(credentials).drain((SendMode.STRUCTURE,))
            finally:
                credentials.close()
            print(f"  2. envoi de la file : {report.summary()}", file=out)
            if any(store.queue.get(i).state is not State.SENT for i in ids):
                print("  ÉCHEC : des entrées restent dans la file (dmp queue list)", file=out)
                return 1
            sends = sum(1 for row in store.journal.rows() if row.transaction == "TD2.1")
            print(
                f"  3. journal local : {sends} dépôt(s) journalisé(s) en tout (patients pseudonymisés)",
                file=out,
            )
    except USER_FACING_ERRORS as error:
        print(f"  ÉCHEC de la file d'envoi : {error}", file=out)
        return 1
    print("  File d'envoi réussie.", file=out)
    return 0


def qualify_demo_identity(db: Database, ins: Ins, traits: IdentityTraits, by: str = "demonstration") -> str:
    """Only a qualifiée identity feeds the DMP: the INSi answer (here the sandbox's stand-in for the
    teleservice, until the sandbox INSi host is called) and an identity document checked, through
    the lifecycle (app.services.identity). Sandbox patients only (the demo, benches, screenshots)."""
    from app.services.identity import DocumentCheck, DocumentType, IdentityLifecycle, InsiAnswer

    now = dt.datetime.now(dt.UTC)
    life = IdentityLifecycle(db)
    life.record_insi(ins, traits, InsiAnswer(ins, traits, "BAC-A-SABLE-INSI", now), by)
    return life.check_document(ins, traits, DocumentCheck(DocumentType.CNI, by, now)).status.value


def _report(path: Path, title: str) -> NewDocument:
    patient = sandbox_patient("P03")
    assert patient is not None and patient.traits is not None
    return NewDocument(path, "application/pdf", "11488-4", title, patient.traits)


def demo_pdf(text: str) -> bytes:
    """A small valid one-page PDF (built here so the demo needs no file)."""
    content = f"BT /F1 14 Tf 60 760 Td ({text.encode('latin-1', 'replace').decode('latin-1')}) Tj ET".encode(
        "latin-1"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010d} 00000 n \n".encode()
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(pdf)


def _ins(pid: str) -> Ins:
    patient = sandbox_patient(pid)
    assert patient is not None
    return patient.ins


def _status_step(client: DmpClient, pid: str, out: TextIO) -> int:
    status = client.status(_ins(pid))
    state = {"active": "actif", "terminated": "fermé", "none": "aucun DMP"}[status.state.value]
    yes_no = {True: "oui", False: "non"}
    extra = ""
    if status.exists:
        extra = (
            f", autorisé : {yes_no[status.authorized]}, médecin traitant : {yes_no[status.treating_doctor]}"
        )
    print(f"  TD0.2 {pid} : DMP {state}{extra}", file=out)
    return 1


def _patients(out: TextIO) -> int:
    patients = load_patients()
    print("Bac à sable DMP : patients fictifs (INS de test, OID 1.2.250.1.213.1.4.10)\n", file=out)
    failures = 0
    for patient in patients:
        try:
            _show(patient, out)
        except InsError as error:
            failures += 1
            print(f"{patient.id} : identité refusée : {error}\n", file=out)
    print(f"{len(patients) - failures}/{len(patients)} identité(s) vérifiée(s).", file=out)
    return 0 if failures == 0 else 1


def _show(patient: SandboxPatient, out: TextIO) -> None:
    ins = Ins.parse(patient.matricule, patient.oid)
    traits = IdentityTraits.parse(
        patient.birth_name, patient.first_names, patient.sex, patient.birth_date, patient.birth_place
    )
    print(f"{patient.id}  {traits.birth_name} {' '.join(traits.first_names)}", file=out)
    print(
        f"     {traits.sex.value}, né(e) le {traits.birth_date.to_french()}, lieu {traits.birth_place}",
        file=out,
    )
    print(f"     {ins.oid.label} : {ins.matricule.grouped()}", file=out)
    print(f"     XDS/VIHF (CX) : {ins.to_cx()}", file=out)
    print(f"     CDA (HL7v3)   : {ins.to_hl7v3_xml()}", file=out)
    conflicts = traits.inconsistencies_with(ins.matricule)
    if conflicts:
        print(f"     ATTENTION : incohérence avec le matricule ({', '.join(conflicts)})", file=out)
    vitale = patient.vitale
    if vitale.nir_own:
        insc = compute_insc(vitale.first_name, vitale.birth_date, vitale.nir_own)
        print(f"     {INSC_LEGACY} ; Vitale, rang {vitale.rank}) : {insc.value}", file=out)
    else:
        print(
            f"     {INSC_LEGACY}) : non calculable (rang {vitale.rank} : le NIR propre du bénéficiaire "
            "n'est pas sur la carte)",
            file=out,
        )
    print(file=out)
