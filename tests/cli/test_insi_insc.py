"""Issue 17 item 5: the INS-C stays computable (``dmp ins insc``) and parseable, labelled as the legacy
identifier, and is never sent as the patient's identity: a Vitale beneficiary whose INS-C is computable
goes through INSi, is qualified, and is fed to the DMP; no byte sent to INSi or to the DMP carries the
INS-C or its OID."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from app.card.patient_sources import Beneficiary
from app.dmp_client.client import DmpClient
from app.dmp_client.documents import NewDocument
from app.ins import Ins, InsC, InsError, Nir, parse_hl7v3_id
from app.services import qualification as q
from app.services.identity import DocumentType, IdentityLifecycle, IdentityStatus
from app.store.database import Database
from app.store.keys import KeyStore
from sandbox.insi.server import InsiConfig
from sandbox.training.demo import demo_pdf
from tests.cli_helpers import run
from tests.services.qualification_helpers import insi_settings, running_insi
from tests.store.conftest import MemoryKeyring

INSC = "1541187387477485562488"  # P03's INS-C (ins-and-cards.md §1.3: JEAN, 500801, 150081505104018)
INSC_OID = "1.2.250.1.213.1.4.2"
LABEL = "INS-C (identifiant historique, jamais utilisé pour alimenter)"


def test_dmp_ins_insc_labels_the_legacy_identifier() -> None:
    assert run("ins", "insc", "--prenom", "JEAN", "--naissance", "500801", "--nir", "150081505104018") == (
        0,
        f"{LABEL} : {INSC}\n",
        "",
    )
    status, out, _ = run(
        "ins",
        "insc",
        "--prenom",
        "JEAN",
        "--naissance",
        "500801",
        "--nir",
        "150081505104018",
        "--valeur-seule",
    )
    assert (status, out) == (0, f"{INSC}\n")
    status, _, err = run("ins", "insc", "--csv", "-", "--valeur-seule")
    assert status == 2 and "DMP-USAGE" in err


def test_the_insc_parses_but_never_becomes_an_ins() -> None:
    assert isinstance(parse_hl7v3_id(INSC_OID, INSC), InsC)
    with pytest.raises(InsError):
        Ins.parse("150081505104018", INSC_OID)
    status, _, err = run("identite", "statut", "--ins", INSC, "--oid", INSC_OID)
    assert status == 2 and "ERREUR" in err


def test_the_insc_is_never_sent_to_insi_nor_to_the_dmp(
    pki_dir: Path, tmp_path: Path, structure_client: DmpClient
) -> None:
    jean = Beneficiary(1, "BERNARD", "JEAN", "500801", Nir.parse("150081505104018"))
    insc = jean.insc()
    assert insc is not None and insc.value == INSC  # computable from the card
    card = q.VitaleRead((jean,), dt.datetime.now(dt.UTC))
    db = Database.open(tmp_path / "base", KeyStore(backend=MemoryKeyring()))
    sent: list[bytes] = []
    try:
        life = IdentityLifecycle(db)
        with running_insi(InsiConfig(pki_dir / "pki")) as host:
            client = q.open_insi(insi_settings(host, pki_dir, tmp_path / "store"))
            post = client.transport.post

            def recording(service, request, timeout, **kw):  # type: ignore[no-untyped-def]
                sent.append(request.body)
                return post(service, request, timeout, **kw)

            client.transport.post = recording  # type: ignore[method-assign]
            try:
                outcome = q.Qualification(life, client, "Dr Test").from_vitale(card)
            finally:
                client.close()
        assert outcome.ins is not None and outcome.strict is not None
        q.check_document(life, outcome.ins, DocumentType.CNI, "Dr Test")
        assert life.status(outcome.ins) is IdentityStatus.QUALIFIEE
        stored = life.get(outcome.ins)
        assert stored is not None
        life.require_qualified(outcome.ins, stored.traits)  # may feed: qualifiée with these traits
        traces = tmp_path / "traces"
        structure_client.transport.trace_dir = traces
        pdf = tmp_path / "cr.pdf"
        pdf.write_bytes(demo_pdf("Compte rendu (test INS-C)"))
        structure_client.status(outcome.ins)
        structure_client.send(
            outcome.ins, NewDocument(pdf, "application/pdf", "11488-4", "CR", stored.traits)
        )
    finally:
        db.close()
    sent += [p.read_bytes() for p in sorted(traces.iterdir())]
    assert len(sent) >= 3  # INSi's search, TD0.2 and TD2.1 (requests and answers)
    for data in sent:
        assert INSC.encode() not in data and INSC_OID.encode() not in data
    assert any(b"150081505104018" in data for data in sent)  # the INS is what goes


def test_dmp_vitale_read_labels_the_insc(tmp_path: Path) -> None:
    context = tmp_path / "contexte.json"
    jean = {"nom": "BERNARD", "prenom": "JEAN", "naissance": "500801", "nir": "150081505104018"}
    context.write_text(json.dumps({"beneficiaires": [jean]}), encoding="utf-8")
    status, out, _ = run("vitale", "read", "--contexte", str(context))
    assert status == 0 and f"{LABEL} : {INSC}" in out
