"""One instance per user session: a second ``dmp-gui`` (the EHR's hand-off with a patient's
context) forwards its context to the running instance over a local socket, then exits."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from typing import Any

from app.ui.qt import QLocalServer, QLocalSocket, QObject, Signal

TIMEOUT_MS = 2000


def server_name() -> str:
    """Per user (two users of one Windows workstation, or of a TSE server, each get theirs);
    ``DMP_GUI_INSTANCE`` names another one (tests, several sandboxes side by side)."""
    named = os.environ.get("DMP_GUI_INSTANCE")
    if named:
        return named
    user = hashlib.sha256(getpass.getuser().encode()).hexdigest()[:12]
    return f"dmp-client-{user}"


def forward(message: dict[str, Any], name: str | None = None) -> bool:
    """Give the message to the running instance; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write(json.dumps(message).encode() + b"\n")
    socket.flush()
    socket.waitForBytesWritten(TIMEOUT_MS)
    socket.waitForReadyRead(TIMEOUT_MS)  # the running instance acknowledges
    acknowledged = bytes(socket.readAll().data()).strip() == b"ok"
    socket.disconnectFromServer()
    return acknowledged


class InstanceServer(QObject):
    """Listens for forwarded contexts; ``received`` carries each message (a dict)."""

    received = Signal(object)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.server = QLocalServer(self)
        self.name = name or server_name()
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # a stale socket left by a crashed instance
        return self.server.listen(self.name)

    def _accept(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine().data())
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            socket.write(b"invalid\n")
            return
        socket.write(b"ok\n")
        socket.flush()
        if isinstance(message, dict):
            self.received.emit(message)

    def close(self) -> None:
        self.server.close()
