"""Unexpected errors are logged with where they came from (type and file:line frames, causes too)
and never with their message, arguments or locals, which may carry patient data."""

from __future__ import annotations

import logging

import pytest

from app.errors import traceback_frames

SECRET = "DUPONT Jeanne 2840763220056"  # a test identity standing for what a message could carry


def _inner(ins: str) -> None:
    raise AttributeError(f"'NoneType' has no attribute for {ins}")


def _outer() -> None:
    try:
        _inner(SECRET)
    except AttributeError as error:
        raise RuntimeError(SECRET) from error


def test_frames_name_files_lines_and_causes_but_no_message() -> None:
    with pytest.raises(RuntimeError) as info:
        _outer()
    text = traceback_frames(info.value)
    assert text.startswith("RuntimeError at ")
    assert "caused by AttributeError at " in text
    assert "test_error_frames.py:" in text and " _inner" in text and " _outer" in text
    line = _inner.__code__.co_firstlineno + 1
    assert f"test_error_frames.py:{line} _inner" in text
    assert "DUPONT" not in text and "2840763220056" not in text and "NoneType" not in text
    assert "/home/" not in text and "/work/" not in text  # paths from the package root, or the name only


def test_app_frames_start_at_the_package_root() -> None:
    from app.ins.ins import parse_oid

    with pytest.raises(Exception) as info:
        parse_oid("1.2.3.not-an-ins-oid")
    text = traceback_frames(info.value)
    assert "app/ins/ins.py:" in text and " parse_oid" in text
    assert "1.2.3" not in text


def test_ui_logs_an_unexpected_error_with_its_frames(caplog: pytest.LogCaptureFixture) -> None:
    from app.ui.errors import INTERNAL, describe

    try:
        _inner(SECRET)
    except AttributeError as error:
        with caplog.at_level(logging.ERROR, logger="app.ui.errors"):
            code, message = describe(error)
    assert code == INTERNAL and "AttributeError" in message
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "AttributeError at " in logged and "test_error_frames.py:" in logged
    assert "DUPONT" not in logged and "2840763220056" not in logged
    assert all(record.exc_info is None for record in caplog.records)  # no traceback text with messages
