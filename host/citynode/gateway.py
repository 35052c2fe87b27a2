"""The gateway side of Semtech's UDP packet forwarder protocol (v2), to feed `citynode serve`.

A LoRa gateway forwards every CRC-valid packet it hears to its server as PUSH_DATA
(JSON `rxpk` objects) and expects a PUSH_ACK with the same token. The demo's simulated
gateway uses this to hand virtual boards' radio packets to the backend exactly as a real
gateway would.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 2
PUSH_DATA = 0x00
PUSH_ACK = 0x01
PULL_DATA = 0x02
PULL_ACK = 0x04


@dataclass(frozen=True)
class Reception:
    """One packet as a gateway heard it."""

    payload: bytes
    freq_mhz: float = 868.1
    sf: int = 12
    bw_khz: int = 125
    rssi: int = -90
    snr: float = 7.5
    crc_ok: bool = True
    time_s: float | None = None  # UTC seconds; None: now


def datr(sf: int, bw_khz: int) -> str:
    return f"SF{sf}BW{bw_khz}"


def rxpk(rx: Reception, tmst: int) -> dict[str, Any]:
    """The rxpk JSON object for one reception (Semtech PROTOCOL.TXT section 4)."""
    t = rx.time_s if rx.time_s is not None else time.time()
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z",
        "tmst": tmst & 0xFFFFFFFF,
        "chan": 0,
        "rfch": 0,
        "freq": rx.freq_mhz,
        "stat": 1 if rx.crc_ok else -1,
        "modu": "LORA",
        "datr": datr(rx.sf, rx.bw_khz),
        "codr": "4/5",
        "rssi": rx.rssi,
        "lsnr": rx.snr,
        "size": len(rx.payload),
        "data": base64.b64encode(rx.payload).decode(),
    }


def header(kind: int, token: int, gateway_eui: bytes) -> bytes:
    """The 12-byte head of a gateway's datagram: version, token, identifier, gateway EUI."""
    return struct.pack(">BHB", PROTOCOL_VERSION, token, kind) + gateway_eui


def push_data(token: int, gateway_eui: bytes, packets: Sequence[dict[str, Any]],
              stat: dict[str, Any] | None = None) -> bytes:
    """A PUSH_DATA datagram: received packets (rxpk) and, if given, the gateway's stat object."""
    body: dict[str, Any] = {"rxpk": list(packets)}
    if stat is not None:
        body["stat"] = stat
    return header(PUSH_DATA, token, gateway_eui) + json.dumps(body, separators=(",", ":")).encode()


def pull_data(token: int, gateway_eui: bytes) -> bytes:
    """A PULL_DATA keepalive: it opens the server's way back to the gateway through NAT."""
    return header(PULL_DATA, token, gateway_eui)


def is_ack(data: bytes, kind: int, token: int) -> bool:
    """True if a datagram from the server acknowledges (PUSH_ACK or PULL_ACK) our token."""
    return len(data) >= 4 and data[0] == PROTOCOL_VERSION and data[3] == kind and \
        struct.unpack(">H", data[1:3])[0] == token


def wait_ack(sock: socket.socket, kind: int, token: int, timeout_s: float) -> tuple[bool, int]:
    """Wait up to about timeout_s for the server's acknowledgement of token (the socket's own
    timeout bounds each receive); (acknowledged, other datagrams received meanwhile)."""
    deadline = time.monotonic() + timeout_s
    others = 0
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(1024)
        except TimeoutError:
            break
        if is_ack(data, kind, token):
            return True, others
        others += 1
    return False, others


class Forwarder:
    """A gateway's uplink path: send receptions, wait for the server's PUSH_ACK."""

    def __init__(self, server: tuple[str, int], gateway_eui: bytes, ack_timeout_s: float = 2.0, retries: int = 3):
        if len(gateway_eui) != 8:
            raise ValueError("a gateway EUI is 8 bytes")
        self.server = server
        self.gateway_eui = gateway_eui
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(ack_timeout_s)
        self._token = int.from_bytes(os.urandom(2), "big")
        self._started = time.monotonic()
        self.unacked = 0

    def close(self) -> None:
        self.sock.close()

    def _next_token(self) -> int:
        self._token = (self._token + 1) & 0xFFFF
        return self._token

    def send(self, receptions: Sequence[Reception]) -> bool:
        """Forward receptions in one PUSH_DATA; True once acknowledged (bounded retries)."""
        tmst = int((time.monotonic() - self._started) * 1e6)
        token = self._next_token()
        packet = push_data(token, self.gateway_eui, [rxpk(rx, tmst) for rx in receptions])
        for _ in range(self.retries):
            self.sock.sendto(packet, self.server)
            if wait_ack(self.sock, PUSH_ACK, token, self.ack_timeout_s)[0]:
                return True
        self.unacked += 1
        return False
