"""``make run``'s demo (``dmp demo``) has the INSi step before the DMP exchanges: the sandbox INSi host
in-process (real mutual TLS), without the card rig (the rig's own run is the device tests')."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ins import Nir
from app.services.identity import IdentityLifecycle, IdentityStatus
from app.services.training import sandbox_patient
from app.store.local_store import LocalStore, StoreSettings
from sandbox.training.vitale import SandboxVitaleCard
from tests.cli_helpers import run


def test_the_demo_qualifies_through_insi_before_any_dmp_exchange(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DMP_PKCS11_MODULE", raising=False)
    status, out, err = run("demo")
    assert status == 0, out + err
    step = out[out.index("Téléservice INSi du bac à sable") :]
    assert (
        "P03 saisie manuelle → INSi par traits : trouvée, INS 1 50 08 15 051 040 18, statut récupérée" in step
    )
    assert step.count("[DÉMONSTRATION] vérification de pièce d'identité SIMULÉE") == 2
    assert "P01 INS reçu du logiciel métier (annoncé qualifiée) → INSi : confirmée" in step
    assert "P07 INS reçu, traits modifiés dans le référentiel → refusée" in step
    assert "homonymes MARTIN LOUIS → plusieurs identités : Plusieurs identités trouvées" in step
    assert "INSi : identités de P01 et P03 qualifiées avant tout échange avec le DMP." in step
    with LocalStore.open(StoreSettings(cli_env / "store")) as store:
        life = IdentityLifecycle(store.db)
        for pid in ("P01", "P03"):
            found = sandbox_patient(pid)
            assert found is not None and life.status(found.ins) is IdentityStatus.QUALIFIEE
            events = life.history(found.ins)
            assert [e.how["etape"] for e in events] == ["INSI", "PIECE"]
            assert events[-1].set_by == "démonstration (pièce simulée)"  # labelled as a demo


def test_the_virtual_vitale_card_header_gives_the_holder() -> None:
    header = b"\x90\x05VSP04" + b"\x92\x0f285127505612353" + b"\x91\x01\x02"
    assert SandboxVitaleCard._holder([(b"", 0x9000), (header, 0x9000)]) == Nir.parse("285127505612353")
    assert SandboxVitaleCard._holder([(b"", 0x9000), (b"\x90\x01X", 0x9000)]) is None
    from app.card.errors import VitaleError

    with pytest.raises(VitaleError):
        SandboxVitaleCard._holder([(b"", 0x6A82), (b"", 0x6A82)])
