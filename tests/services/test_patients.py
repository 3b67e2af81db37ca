"""The secretariat's patient directory (no Qt): who is known, by which provenance and INS status,
one identity per INS, and the search by name (accents and case ignored), birth date and INS."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from app.services.patients import (
    CONTEXT,
    OPENED,
    QUEUE,
    SANDBOX,
    STATUS_NOT_KEPT,
    PatientDirectory,
    find_ins,
    fold,
    matches,
    search,
)
from app.services.training import sandbox_patient as training_patient
from app.services.workspace import Patient


def patient(pid: str, **changes: Any) -> Patient:
    found = training_patient(pid)
    assert found is not None, pid
    return dataclasses.replace(found, **changes)


class FakeEntry:  # what the directory reads of a queue entry: its request's identity, its age
    def __init__(self, pid: str, created_at: float) -> None:
        p = patient(pid)
        self.request = type("R", (), {"ins": p.ins, "traits": p.traits})()
        self.created_at = created_at


def test_precedence_one_identity_per_ins_with_provenance_and_status() -> None:
    directory = PatientDirectory()
    directory.opened(patient("P03", source="Vitale"))
    directory.context([patient("P03", source="contexte"), patient("P06", source="contexte")])
    known = directory.known(
        [FakeEntry("P04", 1.0), FakeEntry("P06", 2.0)],  # type: ignore[list-item]
        [patient("P01"), patient("P04")],
    )
    by = {k.ins.matricule.value: k for k in known}
    assert len(known) == len(by) == 4
    assert by[patient("P03").ins.matricule.value].provenance == OPENED
    assert by[patient("P03").ins.matricule.value].patient.source == "Vitale"  # the opened one wins
    assert by[patient("P06").ins.matricule.value].provenance == CONTEXT
    assert by[patient("P04").ins.matricule.value].provenance == QUEUE
    assert by[patient("P04").ins.matricule.value].ins_status == STATUS_NOT_KEPT  # never guessed
    assert by[patient("P01").ins.matricule.value].provenance == SANDBOX
    assert by[patient("P01").ins.matricule.value].ins_status == patient("P01").ins_status


def test_an_ins_without_traits_is_not_offered() -> None:
    directory = PatientDirectory()
    directory.opened(patient("P02", traits=None))
    assert directory.known() == []


def test_reopening_a_patient_moves_it_first() -> None:
    directory = PatientDirectory()
    for pid in ("P01", "P03", "P01"):
        directory.opened(patient(pid))
    assert [k.ins for k in directory.known()] == [patient("P01").ins, patient("P03").ins]


@pytest.mark.parametrize(
    ("query", "pid"),
    [
        ("elodie", "P04"),  # ÉLODIE without its accent
        ("PETIT élodie", "P04"),  # every word must match
        ("le goff marie-annick", "P07"),
        ("01/08/1950", "P03"),
        ("1950-08-01", "P03"),
        ("2 85 12 75 056", "P04"),  # an INS typed with spaces, a part of it
        ("285127505612353", "P04"),
    ],
)
def test_search_by_name_date_or_ins(query: str, pid: str) -> None:
    everyone = PatientDirectory().known(sandbox=[patient(f"P0{n}") for n in range(1, 8)])
    found = search(everyone, query)
    assert [k.ins for k in found] == [patient(pid).ins], query
    assert find_ins(everyone, patient(pid).ins.matricule.value) == found[0]


def test_search_misses_and_empty_query() -> None:
    everyone = PatientDirectory().known(sandbox=[patient(f"P0{n}") for n in range(1, 8)])
    assert search(everyone, "") == everyone
    assert search(everyone, "petit lucas élodie") == []
    assert not matches(patient("P03"), "1234")  # digits not in the INS, nor a date or a name
    assert fold("HÉLÈNE Çà") == "helene ca"


def test_no_identity_in_a_repr_or_a_log(caplog: pytest.LogCaptureFixture) -> None:
    directory = PatientDirectory()
    directory.opened(patient("P04"))
    with caplog.at_level(logging.DEBUG):
        known = directory.known()
        search(known, "petit")
        logging.getLogger("test").info("%r", known)
    shown = repr(known) + caplog.text
    assert "PETIT" not in shown and patient("P04").ins.matricule.value not in shown
