"""The notify-only update check against a local announcement server."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from app.cli import main
from app.services.updates import UpdateCheckFailed, check


@pytest.fixture
def announce() -> Iterator[dict[str, object]]:
    state: dict[str, object] = {"body": b"", "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state["body"]
            assert isinstance(body, bytes)
            self.send_response(int(str(state["status"])))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/annonce.json"
    yield state
    server.shutdown()


def publish(state: dict[str, object], data: object, status: int = 200) -> str:
    state["body"] = json.dumps(data).encode() if not isinstance(data, bytes) else data
    state["status"] = status
    return str(state["url"])


def test_a_newer_version_is_announced_an_older_one_is_not(announce: dict[str, object]) -> None:
    url = publish(announce, {"version": "9.0.0", "url": "https://editeur.example/dmp-9.0.0.msi"})
    update = check(url, "0.1.0")
    assert update is not None and update.version == "9.0.0" and "https://editeur.example" in update.describe()
    url = publish(announce, {"version": "0.1.0", "url": "https://editeur.example/dmp.msi"})
    assert check(url, "0.1.0") is None


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"pas du json", 200),
        ({"version": "9.0.0", "url": "http://editeur.example/dmp.msi"}, 200),  # download link not HTTPS
        ({"version": "neuf", "url": "https://editeur.example/dmp.msi"}, 200),
        ({"version": "9.0.0"}, 200),
        ({"version": "9.0.0", "url": "https://e.example"}, 404),
        (b"x" * 70_000, 200),
    ],
)
def test_bad_announcements_are_refused_clearly(
    announce: dict[str, object], data: object, status: int
) -> None:
    with pytest.raises(UpdateCheckFailed) as caught:
        check(publish(announce, data, status), "0.1.0")
    assert caught.value.code == "MAJ-VERIFICATION"


def test_plain_http_is_refused_and_an_unreachable_server_is_said() -> None:
    with pytest.raises(UpdateCheckFailed, match="HTTPS"):
        check("http://editeur.example/annonce.json")
    with pytest.raises(UpdateCheckFailed, match="injoignable"):
        check("http://127.0.0.1:9/annonce.json", timeout=1)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.example.com/annonce.json",  # a host whose name starts like the loopback
        "http://127.0.0.1@editeur.example/annonce.json",  # user info, the host is editeur.example
        "http://127.0.0.1:80@editeur.example/annonce.json",
        "HTTP://editeur.example/annonce.json",
        "ftp://127.0.0.1/annonce.json",
        "https:///annonce.json",  # no host
        "https://user:secret@editeur.example/annonce.json",
        "https://editeur.example:99999/annonce.json",
    ],
)
def test_the_update_url_is_parsed_not_prefix_matched(url: str) -> None:
    # Refused before any connection: no server answers on these names.
    with pytest.raises(UpdateCheckFailed, match="HTTPS"):
        check(url, timeout=1)


def test_the_download_link_must_be_https_to_a_host(announce: dict[str, object]) -> None:
    for link in ("https://", "https:///x", "http://127.0.0.1/x", "https://@/x"):
        with pytest.raises(UpdateCheckFailed, match="non HTTPS"):
            check(publish(announce, {"version": "9.0.0", "url": link}, 200), "0.1.0")


def test_the_command_line_says_it(announce: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DMP_MAJ_URL", publish(announce, {"version": "9.0.0", "url": "https://e.example/x.msi"})
    )
    out = io.StringIO()
    assert main(["mise-a-jour"], out, io.StringIO()) == 0
    assert "Nouvelle version 9.0.0" in out.getvalue()
    monkeypatch.delenv("DMP_MAJ_URL")
    out = io.StringIO()
    assert main(["mise-a-jour"], out, io.StringIO()) == 0 and "Aucune adresse" in out.getvalue()
