"""The retrieved document's files stay in the session's private folder whatever uniqueId the host
gives (the name is built from it): an absolute value or ``..`` must not write elsewhere."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import IO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import DmpClientError
from app.services.workspace import Workspace, private_file_stem


class _RecordingClient:
    def __init__(self) -> None:
        self.written: list[Path] = []

    def retrieve(self, ins: object, document: object, out: IO[bytes]) -> None:
        self.written.append(Path(out.name))
        out.write(b"<ClinicalDocument/>")
        raise DmpClientError("refus", code="DMP-TEST")  # stop before the CDA is read


@pytest.mark.parametrize(
    "unique_id",
    ["{escape}/vole", "../../vole", "..", "/", "a/../../b", "C:\\\\vole", "1.2.250.1.213.1.4.10.7"],
)
def test_a_hostile_unique_id_writes_only_in_the_private_folder(tmp_path: Path, unique_id: str) -> None:
    unique_id = unique_id.format(escape=tmp_path)
    # No store is used; the settings only say whether consulting needs a qualified identity (no).
    workspace = Workspace(SimpleNamespace(consultation_needs_qualified=False), None)  # type: ignore[arg-type]
    client = _RecordingClient()
    workspace._client = lambda: client  # type: ignore[method-assign, assignment, return-value]
    folder = Path(workspace._folder.name).resolve()
    try:
        with pytest.raises(DmpClientError):
            workspace.retrieve(SimpleNamespace(ins=None), SimpleNamespace(unique_id=unique_id))  # type: ignore[arg-type]
        (written,) = client.written
        assert written.resolve().parent == folder
        assert list(tmp_path.iterdir()) == []
    finally:
        workspace._folder.cleanup()


@given(st.text(max_size=300))
def test_the_file_stem_is_a_plain_name_and_tells_ids_apart(unique_id: str) -> None:
    stem = private_file_stem(unique_id)
    assert stem and len(stem) <= 81
    assert Path(stem).name == stem and stem not in (".", "..")
    assert set(stem) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert private_file_stem(unique_id + "x") != stem
    assert private_file_stem(unique_id.replace(".", "_") + ".") != stem
