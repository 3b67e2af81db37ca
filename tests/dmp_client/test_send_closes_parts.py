"""TD2.1: the attachments of the host's answer (spool files: a multipart answer may carry any) are
closed once the answer is read, whether it is read or refused."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pytest

from app.dmp_client.client import DmpClient
from app.dmp_client.core.mtom import ReceivedPart
from app.errors import DmpClientError
from sandbox.host.server import DmpHost
from tests.dmp_client.test_documents_e2e import patient, report
from tests.host_fixture import DirectClient


def _with_attachment(client: DmpClient, files: list[Any], *, garble: bool = False) -> None:
    post = client.transport.post

    def post_and_attach(*args: Any, **kwargs: Any) -> Any:
        raw = post(*args, **kwargs)
        spooled = tempfile.TemporaryFile()  # noqa: SIM115 (the client under test must close it)
        spooled.write(b"piece jointe")
        files.append(spooled)
        raw.parts["extra@host"] = ReceivedPart("extra@host", "application/octet-stream", spooled, 12)
        return dataclasses.replace(raw, body=b"<pas du SOAP") if garble and args[0] == "repository" else raw

    client.transport.post = post_and_attach  # type: ignore[method-assign]


@pytest.mark.parametrize("garble", [False, True], ids=["read", "refused"])
def test_send_closes_the_answers_spool_files(
    host: DmpHost, direct_client: DirectClient, tmp_path: Path, garble: bool
) -> None:
    client = direct_client(host, "generaliste")
    ins, traits = patient("P03")
    files: list[Any] = []
    _with_attachment(client, files, garble=garble)
    if garble:
        with pytest.raises(DmpClientError):
            client.send(ins, report(tmp_path, traits, "Compte rendu"))
    else:
        client.send(ins, report(tmp_path, traits, "Compte rendu"))
    assert len(files) >= 2  # the status check's answer, then the PnR answer
    assert all(f.closed for f in files), [f.closed for f in files]
