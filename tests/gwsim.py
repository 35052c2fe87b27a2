"""A Semtech UDP packet forwarder (protocol v2) simulator, for tests and the backend bench.

It sends real PUSH_DATA datagrams (rxpk JSON, including CRC-failed stat=-1 entries and
packets that are not citynode frames), waits for the PUSH_ACK carrying the same token,
and sends PULL_DATA keepalives expecting PULL_ACK, as a gateway does. The datagrams are
built by citynode.gateway (the demo's forwarder), so there is one encoder of the protocol.

    python tests/gwsim.py --server 127.0.0.1:1700 --eui 0102030405060708 HEXFRAME...
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from typing import Any

from citynode import gateway
from citynode.gateway import PULL_ACK, PUSH_ACK, Reception


def rxpk(frame: bytes, *, stat: int = 1, rssi: int = -87, lsnr: float = 7.5, freq: float = 868.1,
         sf: int = 7, tmst: int | None = None) -> dict[str, Any]:
    """One received-packet object as a gateway reports it (stat -1: CRC failed)."""
    rx = Reception(frame, freq_mhz=freq, sf=sf, rssi=rssi, snr=lsnr, crc_ok=stat == 1)
    return gateway.rxpk(rx, int(time.monotonic() * 1e6) if tmst is None else tmst)


class GatewaySim:
    """A gateway that counts the acknowledgements it gets (right token) and the wrong ones."""

    def __init__(self, server: tuple[str, int], eui: bytes | None = None, timeout: float = 2.0) -> None:
        self.server = server
        self.eui = eui or os.urandom(8)
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self._token = int.from_bytes(os.urandom(2), "big")
        self.acks = 0
        self.wrong_acks = 0

    @property
    def eui_hex(self) -> str:
        return self.eui.hex()

    def _next_token(self) -> int:
        self._token = (self._token + 1) & 0xFFFF
        return self._token

    def _exchange(self, packet: bytes, token: int, expect: int) -> bool:
        self.sock.sendto(packet, self.server)
        acked, others = gateway.wait_ack(self.sock, expect, token, self.timeout)
        self.acks += acked
        self.wrong_acks += others
        return acked

    def push(self, rxpks: list[dict[str, Any]], stat: dict[str, Any] | None = None,
             wait_ack: bool = True) -> bool:
        """Send one PUSH_DATA; True when the matching PUSH_ACK came back (always True if not waiting)."""
        token = self._next_token()
        packet = gateway.push_data(token, self.eui, rxpks, stat)
        if not wait_ack:
            self.sock.sendto(packet, self.server)
            return True
        return self._exchange(packet, token, PUSH_ACK)

    def pull(self) -> bool:
        """PULL_DATA keepalive; True when the matching PULL_ACK came back."""
        token = self._next_token()
        return self._exchange(gateway.pull_data(token, self.eui), token, PULL_ACK)

    def close(self) -> None:
        self.sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="Send frames to a server as a Semtech UDP gateway would.")
    parser.add_argument("--server", default="127.0.0.1:1700")
    parser.add_argument("--eui", help="gateway EUI, 16 hex digits (default: random)")
    parser.add_argument("--crc-fail", action="store_true", help="report the frames as CRC-failed (stat -1)")
    parser.add_argument("frames", nargs="*", help="frames in hex")
    args = parser.parse_args()
    host, _, port = args.server.rpartition(":")
    gw = GatewaySim((host or "127.0.0.1", int(port)), bytes.fromhex(args.eui) if args.eui else None)
    print("PULL_ACK" if gw.pull() else "no PULL_ACK")
    for hexframe in args.frames:
        ok = gw.push([rxpk(bytes.fromhex(hexframe), stat=-1 if args.crc_fail else 1)])
        print(("PUSH_ACK " if ok else "no PUSH_ACK ") + hexframe)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
