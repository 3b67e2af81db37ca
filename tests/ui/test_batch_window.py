"""The main window feeds the batch's patient directory: a patient opened on the left and the EHR's
hand-off are known to the secretariat's rows afterwards (not only while shown on the left)."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from app.services.patients import CONTEXT, OPENED, find_ins
from tests.ui.conftest import sandbox_patient

WAIT = 20_000


def test_opened_and_hand_off_patients_are_known_to_the_batch(qtbot: QtBot, window: Any) -> None:
    p03, p04 = sandbox_patient("P03"), sandbox_patient("P04")
    window.patient_panel.set_candidates([p04], 0)
    window.patient_panel.select(p04)
    qtbot.waitUntil(
        lambda: find_ins(window.batch.directory.known(), p04.ins.matricule.value) is not None, timeout=WAIT
    )
    context = {
        "beneficiaires": [
            {
                "nom": "BERNARD",
                "prenom": "JEAN",
                "naissance": "01/08/1950",
                "ins": {"matricule": p03.ins.matricule.value, "oid": "1.2.250.1.213.1.4.10"},
                "traits": {
                    "nom_naissance": "BERNARD",
                    "prenoms": "JEAN",
                    "sexe": "M",
                    "naissance": "1950-08-01",
                },
                "statut_ins": "qualifiée",
            }
        ]
    }
    window.open_context({"contexte": context})
    window.patient_panel.set_candidates([], -1)  # the left panel shows someone else now
    known = window.batch.directory.known()
    opened = find_ins(known, p04.ins.matricule.value)
    handed = find_ins(known, p03.ins.matricule.value)
    assert opened is not None and opened.provenance == OPENED
    assert handed is not None and handed.provenance in (CONTEXT, OPENED)  # opened too once selected
    assert handed.ins_status == "qualifiée"
