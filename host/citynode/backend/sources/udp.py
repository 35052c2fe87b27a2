"""Semtech UDP packet forwarder protocol v2 (as in the LoRa gateway's PROTOCOL.TXT).

Gateway -> server: PUSH_DATA  ver | token(2) | 0x00 | gateway EUI(8) | JSON {"rxpk": [...], "stat": {...}}
Server -> gateway: PUSH_ACK   ver | token(2) | 0x01
Gateway -> server: PULL_DATA  ver | token(2) | 0x02 | gateway EUI(8)   (keepalive, opens the downlink path)
Server -> gateway: PULL_ACK   ver | token(2) | 0x04

PUSH_ACK only tells the gateway the datagram arrived: the forwarder never resends, so
frames in flight when serve dies are lost. Use MQTT through a network server (or run
two serve processes behind the forwarder's two server entries) where that matters.
"""

from __future__ import annotations

import json
import socket
import threading

from citynode.backend.formats import FormatError, parse_rxpk
from citynode.backend.log import Log
from citynode.backend.metrics import Metrics
from citynode.backend.pipeline import Pipeline
from citynode.backend.sources.base import Source
from citynode.errors import CliError

PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK, TX_ACK = 0, 1, 2, 3, 4, 5


def parse_address(text: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """'HOST:PORT', ':PORT' or 'PORT' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    try:
        number = int(port)
    except ValueError:
        raise CliError(f"bad address {text!r}", "write HOST:PORT, e.g. 0.0.0.0:1700") from None
    if not 0 <= number <= 65535:
        raise CliError(f"bad port in {text!r}", "ports are 0..65535 (1700 is the usual packet forwarder port)")
    return host.strip("[]") or default_host, number


class UdpSource(Source):
    def __init__(self, address: str, pipeline: Pipeline, metrics: Metrics, log: Log) -> None:
        self.host, self.port = parse_address(address)
        self.name = f"udp:{self.host}:{self.port}"
        self.pipeline = pipeline
        self.metrics = metrics
        self.log = log
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="udp", daemon=True)

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((self.host, self.port))
        except OSError as err:
            sock.close()
            raise CliError(f"cannot listen on UDP {self.host}:{self.port}: {err.strerror}",
                           "pick a free port (--udp HOST:PORT) or stop what uses it") from None
        sock.settimeout(0.2)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self.name = f"udp:{self.host}:{self.port}"
        self.metrics.source_state(self.name, "listening")
        self.log.info("source_started", f"Semtech UDP packet forwarder on {self.host}:{self.port}")
        self._thread.start()

    def running(self) -> bool:
        return self._stop.is_set() or self._thread.is_alive()

    def restart(self) -> bool:
        if self._stop.is_set() or self._sock is None or self._thread.is_alive():
            return False
        self._thread = threading.Thread(target=self._run, name="udp", daemon=True)
        self._thread.start()
        return True

    def stop_receiving(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.metrics.source_state(self.name, "stopped")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            try:
                self.handle(data, addr)
            except Exception as err:  # one datagram must never end the listener
                self.metrics.count("source_errors")
                self.log.warning("udp_handler_error", f"datagram dropped: {type(err).__name__}: {err}",
                                 peer=addr[0], size=len(data))

    def handle(self, data: bytes, addr: tuple[str, int]) -> None:
        """One datagram: answer, then queue its uplinks."""
        assert self._sock is not None
        self.metrics.count("udp_packets")
        if len(data) < 4 or data[0] not in (1, 2):
            self.metrics.count("udp_bad_packets")
            self.log.debug("udp_bad_packet", "not a Semtech packet forwarder datagram", peer=addr[0], size=len(data))
            return
        version, token, kind = data[0], data[1:3], data[3]
        if kind == PULL_DATA:
            self._sock.sendto(bytes([version]) + token + bytes([PULL_ACK]), addr)
            self.metrics.count("udp_pull_data")
            return
        if kind == TX_ACK:
            self.metrics.count("udp_tx_ack")
            return
        if kind != PUSH_DATA or len(data) < 12:
            self.metrics.count("udp_bad_packets")
            return
        gateway = data[4:12].hex()
        # Acknowledge at once: the forwarder waits for PUSH_ACK, and never resends anyway.
        self._sock.sendto(bytes([version]) + token + bytes([PUSH_ACK]), addr)
        try:
            doc = json.loads(data[12:].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.metrics.count("udp_bad_json")
            self.log.info("udp_bad_json", "PUSH_DATA with an unreadable JSON body", gateway=gateway)
            return
        if not isinstance(doc, dict):
            self.metrics.count("udp_bad_json")
            return
        if "stat" in doc:
            self.metrics.count("udp_gateway_stat")
        entries = doc.get("rxpk") or []
        if not isinstance(entries, list):
            self.metrics.count("udp_bad_json")
            self.log.info("udp_bad_json", "PUSH_DATA whose 'rxpk' is not a list", gateway=gateway)
            return
        for rxpk in entries:
            try:
                up = parse_rxpk(rxpk, gateway)
            except FormatError as err:
                self.metrics.count("udp_bad_rxpk")
                self.log.info("udp_bad_rxpk", str(err), gateway=gateway)
                continue
            if up.problem == "crc_failed":
                self.metrics.count("udp_crc_failed")
            self.pipeline.submit(up)
