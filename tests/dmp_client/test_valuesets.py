"""Value sets come from the shipped files, and unknown codes are refused rather than guessed."""

from __future__ import annotations

import pytest

from app.dmp_client.core.errors import LocalProtocolError
from app.dmp_client.core.valuesets import Concept, value_sets


def test_sets_are_loaded_from_the_files() -> None:
    v = value_sets()
    assert len(v.type_codes) == 114  # JDV_J07 of 2024-09
    assert v.type_code("11488-4").display_name == "CR ou fiche de consultation ou de visite"
    assert v.facility_types["SA07"].code_system == "1.2.250.1.71.4.2.4"
    assert {"MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX", "N"} <= set(v.confidentiality)
    assert v.author_specialties["G15_10/SM54"].code_system == "1.2.250.1.213.1.1.4.5"


def test_class_codes_follow_ass_x16_including_wildcards() -> None:
    v = value_sets()
    assert v.class_code(v.type_code("18748-4")).code == "31"  # imaging report: 31, not 10
    assert v.class_code(v.type_code("11502-2")).code == "10"
    presc = next(c for c in v.type_codes.values() if c.code.startswith("PRESC-"))
    assert v.class_code(presc).code == "42"
    with pytest.raises(LocalProtocolError):
        v.class_code(Concept("99999-9", "2.16.840.1.113883.6.1", "inconnu"))


def test_format_codes_follow_the_media_type() -> None:
    v = value_sets()
    assert v.format_code("application/pdf").code == "urn:ihe:iti:xds-sd:pdf:2008"
    with pytest.raises(LocalProtocolError):
        v.format_code("application/zip")
    with pytest.raises(LocalProtocolError):
        v.type_code("PAS-UN-CODE")
