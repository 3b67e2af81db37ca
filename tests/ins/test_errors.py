"""Errors of the identity core: stable codes, French messages, no patient data."""

from __future__ import annotations

import pytest
from hypothesis import given

from app.errors import USER_FACING_ERRORS, DmpClientError
from app.ins import IdentityTraits, Ins, InsError, InsErrorCode, Nir, compute_insc, parse_cx
from tests.ins.strategies import full_nirs


def test_codes_are_unique_and_stable_looking() -> None:
    values = [code.value for code in InsErrorCode]
    assert len(values) == len(set(values))
    assert all(v.startswith("INS-") and v == v.upper() and " " not in v for v in values)


def test_ins_errors_are_user_facing() -> None:
    assert issubclass(InsError, USER_FACING_ERRORS)
    assert issubclass(DmpClientError, USER_FACING_ERRORS)
    assert issubclass(InsError, ValueError)


@given(full_nirs)
def test_messages_never_repeat_the_refused_number(value: str) -> None:
    wrong_key = f"{(int(value[13:]) % 97) + 1:02d}"
    attempts = [
        lambda: Nir.parse(value[:13] + wrong_key),
        lambda: parse_cx(value[:13] + wrong_key + "^^^&1.2.250.1.213.1.4.10&ISO^NH"),
        lambda: Ins.parse(value, "1.2.250.1.213.1.4.2"),
        lambda: compute_insc("", "500801", value),
    ]
    for attempt in attempts:
        with pytest.raises(InsError) as caught:
            attempt()
        for shown in (str(caught.value), repr(caught.value), caught.value.user_message):
            assert value[:13] not in shown


def test_trait_errors_do_not_repeat_the_name() -> None:
    with pytest.raises(InsError) as caught:
        IdentityTraits.parse("SECRET9NAME", "CLAIRE", "F", "2007-05-14")
    assert "SECRET" not in str(caught.value)
