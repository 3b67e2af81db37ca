"""Virtual cards served to pcscd through vsmartcard's vpcd driver.

``python -m sandbox.vicc --port 35963 --card cps:generaliste`` plugs one card into the virtual
reader listening on that port; ending the process pulls the card out. The vpcd wire protocol: every
message is a 2-byte big-endian length then the payload; a 1-byte payload is a control (0 power off,
1 power on, 2 reset, 4 send the ATR), anything longer is a command APDU answered by a response APDU.

The APDU layout of both cards is the sandbox's own and is documented in docs/cards.md. The real
Vitale layout is proprietary (read through the SESAM-Vitale components), and a real CPS is read
through the Cryptolib's PKCS#11 module, not with APDUs.
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
from dataclasses import dataclass
from types import FrameType

from sandbox.cards import card, tlv
from sandbox.patients import SandboxPatient, load_patients

SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_RECORD_NOT_FOUND = b"\x6a\x83"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CONDITIONS = b"\x69\x85"
SW_WRONG_LENGTH = b"\x67\x00"

CPS_AID = b"\xf0SBXCPS"
VITALE_AID = b"\xf0SBXVITALE"


def atr_with_history(history: bytes) -> bytes:
    """An ATR for T=1 with the given historical bytes (TS 3B, T0, TD1 80, TD2 01, history, TCK)."""
    body = bytes([0x80 | len(history), 0x80, 0x01]) + history
    check = 0
    for byte in body:
        check ^= byte
    return b"\x3b" + body + bytes([check])


CPS3_ATR = atr_with_history(b"CPS3-SBX")
CPS4_ATR = atr_with_history(b"CPS4-SBX")
VITALE_ATR = atr_with_history(b"VITALE-S")


@dataclass
class VirtualCard:
    """An ISO 7816 card with one application whose data are read with READ BINARY / READ RECORD."""

    atr: bytes
    aid: bytes
    header: bytes
    records: list[bytes]
    selected: bool = False

    def reset(self) -> None:
        self.selected = False

    def execute(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if ins == 0xA4:  # SELECT by AID
            data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
            self.selected = p1 == 0x04 and data == self.aid
            return SW_OK if self.selected else SW_NOT_FOUND
        if not self.selected:
            return SW_CONDITIONS
        if ins == 0xB0:  # READ BINARY: the application header
            offset = (p1 << 8) | p2
            return self.header[offset : offset + 256] + SW_OK
        if ins == 0xB2:  # READ RECORD p1 (p2 = 0x04: record number in P1)
            if p2 != 0x04 or not 1 <= p1 <= len(self.records):
                return SW_RECORD_NOT_FOUND
            return self.records[p1 - 1] + SW_OK
        return SW_INS_NOT_SUPPORTED


def cps_card(key: str) -> VirtualCard:
    profile = card(key)
    header = tlv(0x90, profile.serial.encode()) + tlv(0x91, profile.chip.encode())
    return VirtualCard(CPS4_ATR if profile.chip == "CPS4" else CPS3_ATR, CPS_AID, header, [])


def _beneficiary_record(patient: SandboxPatient) -> bytes:
    vitale = patient.vitale
    record = tlv(0x80, bytes([vitale.rank]))
    record += tlv(0x81, patient.birth_name.encode("utf-8"))
    record += tlv(0x82, vitale.first_name.encode("utf-8"))
    record += tlv(0x83, vitale.birth_date.encode())
    if vitale.nir_own:
        record += tlv(0x84, vitale.nir_own.encode())
    return record


def vitale_card(holder_id: str) -> VirtualCard:
    """The card of ``holder_id`` with every beneficiary attached to that holder's NIR."""
    patients = load_patients()
    holder = next(p for p in patients if p.id == holder_id)
    members = [holder] + [p for p in patients if p.vitale.opening_nir == holder.matricule]
    members.sort(key=lambda p: p.vitale.rank)
    header = tlv(0x90, f"VS{holder_id}".encode()) + tlv(0x92, holder.matricule.encode())
    header += tlv(0x91, bytes([len(members)]))
    return VirtualCard(VITALE_ATR, VITALE_AID, header, [_beneficiary_record(p) for p in members])


def make_card(spec: str) -> VirtualCard:
    kind, _, name = spec.partition(":")
    if kind == "cps":
        return cps_card(name)
    if kind == "vitale":
        return vitale_card(name)
    raise SystemExit(f"unknown card {spec!r}: use cps:<key> or vitale:<patient id>")


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        data += chunk
    return data


def serve(virtual: VirtualCard, host: str, port: int) -> None:
    with socket.create_connection((host, port)) as sock:
        while True:
            (size,) = struct.unpack("!H", _receive(sock, 2))
            message = _receive(sock, size) if size else b""
            if size == 1:
                if message[0] == 4:
                    sock.sendall(struct.pack("!H", len(virtual.atr)) + virtual.atr)
                elif message[0] in (0, 2):
                    virtual.reset()
                continue
            answer = virtual.execute(message)
            sock.sendall(struct.pack("!H", len(answer)) + answer)


def _stop(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Insère une carte virtuelle dans un lecteur vpcd.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=35963)
    parser.add_argument("--card", required=True, help="cps:<clé de carte> ou vitale:<id patient titulaire>")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        serve(make_card(args.card), args.host, args.port)
    except (ConnectionError, OSError):
        sys.exit(0)


if __name__ == "__main__":
    main()
