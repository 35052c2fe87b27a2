"""The host service client (citynode.service) against a scripted serial port: framing,
sequence matching, noise on the line, error mapping and what never goes on the wire.
The client against the real firmware is in test_fw_service_board.py (virtual board)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from citynode.errors import EXIT_DEVICE, EXIT_SECURITY
from citynode.service import ServiceClient, ServiceError, frame_line, parse_reply, probe
from citynode.service.lines import crc16
from citynode.service.proofs import prove_mac, rekey_proof


class ScriptedPort:
    """A serial port whose other end answers each request line through `answer`."""

    def __init__(self, answer: Callable[[str], list[bytes]]) -> None:
        self.answer = answer
        self.written: list[bytes] = []
        self.pending: list[bytes] = []
        self.name = "scripted"

    def write(self, data: bytes) -> int:
        self.written.append(data)
        text = data.decode().rstrip("\n")
        body, _, crc = text.rpartition(" *")
        assert int(crc, 16) == crc16(body.encode())
        self.pending += self.answer(body)
        return len(data)

    def readline(self) -> bytes:
        return self.pending.pop(0) if self.pending else b""

    def close(self) -> None:
        pass


def ok(seq: str, payload: Any = None) -> bytes:
    return frame_line(f"CN {seq} OK" + ("" if payload is None else " " + json.dumps(payload)))


def test_replies_are_matched_by_sequence_and_checksum() -> None:
    def answer(body: str) -> list[bytes]:
        seq = body.split()[1]
        return [
            b"boot noise\r\n",
            b"CNFRAME 4000\n",
            ok(str(int(seq) + 7), {"wrong": "seq"}),
            frame_line(f"CN {seq} OK") [:-6] + b"*0000\n",  # bad checksum
            ok(seq, {"proto": 1, "nonce": "00" * 16, "device_id": None}),
        ]
    client = ServiceClient(ScriptedPort(answer), timeout=0.5)
    assert client.hello()["proto"] == 1


def test_refusals_become_errors_with_the_right_exit_code() -> None:
    def answer(body: str) -> list[bytes]:
        seq, verb = body.split()[1:3]
        code = {"LOCK": "NO_KEY", "COMMIT": "NOTHING_STAGED"}.get(verb, "LOCKED")
        return [frame_line(f"CN {seq} ERR {code} nope")]
    client = ServiceClient(ScriptedPort(answer), timeout=0.5)
    with pytest.raises(ServiceError) as err:
        client.commit()
    assert err.value.code == "NOTHING_STAGED" and err.value.hint
    with pytest.raises(ServiceError) as err:
        client.request("KEY", "0000002a", "00" * 16)
    assert err.value.exit_code == EXIT_SECURITY


def test_a_silent_port_is_a_device_error() -> None:
    client = ServiceClient(ScriptedPort(lambda body: []), timeout=0.2)
    with pytest.raises(ServiceError) as err:
        client.diagnostics()
    assert err.value.exit_code == EXIT_DEVICE
    with pytest.raises(ServiceError):
        client.wake(timeout=0.5)


def test_set_key_on_a_locked_node_sends_a_proof_and_never_the_current_key() -> None:
    current, new = bytes(range(16)), bytes(range(16, 32))
    nonce = bytes(range(200, 216))

    def answer(body: str) -> list[bytes]:
        seq, verb = body.split()[1:3]
        if verb == "HELLO":
            return [ok(seq, {"locked": True, "device_id": "0000002a", "nonce": nonce.hex()})]
        return [ok(seq, {"staged": "key"})]
    port = ScriptedPort(answer)
    client = ServiceClient(port, timeout=0.5)
    client.set_key(new, current_key=current)
    key_line = port.written[-1].decode()
    assert key_line.startswith("CN ") and " KEY 0000002a " + new.hex() in key_line
    proof = key_line.split()[5]
    assert bytes.fromhex(proof) == rekey_proof(current, 0x2A, nonce, 0x2A, new)
    wire = b"".join(port.written).lower()
    assert current.hex().encode() not in wire


def test_set_key_on_a_locked_node_without_the_current_key_sends_nothing_secret() -> None:
    def answer(body: str) -> list[bytes]:
        seq = body.split()[1]
        return [ok(seq, {"locked": True, "device_id": "0000002a", "nonce": "11" * 16})]
    port = ScriptedPort(answer)
    with pytest.raises(ServiceError) as err:
        ServiceClient(port, timeout=0.5).set_key(bytes(range(16)))
    assert err.value.exit_code == EXIT_SECURITY
    assert all(b" KEY " not in w for w in port.written)


def test_prove_key_checks_the_mac_against_the_secret() -> None:
    secret = bytes(range(16))

    def answer(body: str) -> list[bytes]:
        seq, _, nonce_hex = body.split()[1:4]
        return [ok(seq, {"mac": prove_mac(secret, 0x2A, bytes.fromhex(nonce_hex)).hex()})]
    client = ServiceClient(ScriptedPort(answer), timeout=0.5)
    assert client.prove_key(secret, 0x2A) is True
    assert client.prove_key(bytes(16), 0x2A) is False


def test_parse_reply_rejects_near_misses() -> None:
    assert parse_reply(b"CN 1 OK *%04X\n" % crc16(b"CN 1 OK")) is not None
    assert parse_reply(b"CN 1 OK *%04X\n" % (crc16(b"CN 1 OK") ^ 1)) is None
    assert parse_reply(b"CN 1 OK {bad json *%04X\n" % crc16(b"CN 1 OK {bad json")) is None
    assert parse_reply(b"garbage") is None


def test_probe_of_a_port_that_does_not_exist_is_none() -> None:
    assert probe("/dev/does-not-exist-citynode", timeout=0.3) is None
