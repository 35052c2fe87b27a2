"""Host side of the service protocol over a serial port (pyserial): one request, one reply.

    with ServiceClient("/dev/ttyUSB0") as node:
        node.wake()                       # catch the service window after a reset
        info = node.hello()
        node.set_config({...}); node.set_key(secret, device_id=0x2A); node.commit()
        assert node.prove_key(secret, 0x2A)

Every reply is matched by sequence number and checksum; an ERR reply raises ServiceError
(a CliError: message + hint) and a silent node raises it with exit code EXIT_DEVICE.
Secrets are sent once (KEY) and never logged or put in an error message.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import time
from types import TracebackType
from typing import Any, Protocol

from citynode.errors import EXIT_DEVICE, EXIT_SECURITY, EXIT_USAGE, CliError
from citynode.serialports import open_serial
from citynode.service.lines import MAX_LINE, Reply, command, parse_reply
from citynode.service.proofs import NONCE_LEN, prove_mac, rekey_proof

SECURITY_CODES = {"LOCKED", "BAD_PROOF"}
HINTS = {
    "BAD_CRC": "the serial line is noisy or another program uses the port: close it and retry",
    "LOCKED": "this node is locked: give the current key (--current-key) or factory-reset it (SERVICE.md)",
    "BAD_PROOF": "the current key given is not this node's key",
    "BAD_CONFIG": "fix the config field named in the message",
    "NOT_PROVISIONED": "set a key and a config, then commit",
    "NO_KEY": "set a key and commit it first",
    "NOTHING_STAGED": "send a config or a key before committing",
    "TOO_LONG": "the line exceeded the node's limit; shorten the config",
}


class SerialLike(Protocol):
    def write(self, data: bytes) -> int | None: ...
    def readline(self) -> bytes: ...
    def close(self) -> None: ...


class ServiceError(CliError):
    """The node refused a command, or did not answer."""

    def __init__(self, message: str, hint: str = "", exit_code: int = EXIT_USAGE, code: str = "") -> None:
        super().__init__(message, hint, exit_code)
        self.code = code


class ServiceClient:
    def __init__(self, port: str | SerialLike, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.name = port if isinstance(port, str) else getattr(port, "name", "port")
        # Ports are opened as every command opens them: exclusively, with the same clear errors.
        self.port: SerialLike = open_serial(port, 115200, timeout=0.2) if isinstance(port, str) else port
        self.seq = 0
        self.events: list[dict[str, Any]] = []  # READY / FACTORY_RESET lines seen
        self._nonce: bytes | None = None
        self._device_id: int | None = None

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.port.close()

    # ------------------------------------------------------------------ transport

    def _next_seq(self) -> int:
        self.seq = self.seq % 65535 + 1
        return self.seq

    def _read_reply(self, seq: int, deadline: float) -> Reply | None:
        while time.monotonic() < deadline:
            line = self.port.readline()
            if not line:
                continue
            if len(line) > MAX_LINE * 2:
                continue
            reply = parse_reply(line)
            if reply is None:
                continue
            if isinstance(reply.data, dict) and "event" in reply.data:
                self.events.append(reply.data)
                continue
            if reply.seq == seq or (reply.seq == 0 and not reply.ok):
                return reply
        return None

    def request(self, verb: str, *args: str, timeout: float | None = None) -> Any:
        """Send one command; its OK payload, or ServiceError."""
        seq = self._next_seq()
        self.port.write(command(seq, verb, *args))
        reply = self._read_reply(seq, time.monotonic() + (timeout or self.timeout))
        if reply is None:
            raise ServiceError(
                f"{self.name}: no answer to {verb}",
                "is the node in service mode? run the command again right after resetting the board",
                EXIT_DEVICE,
            )
        if not reply.ok:
            exit_code = EXIT_SECURITY if reply.code in SECURITY_CODES else EXIT_USAGE
            raise ServiceError(f"node refused {verb}: {reply.code} {reply.message}", HINTS.get(reply.code, ""),
                               exit_code, reply.code)
        return reply.data

    def wake(self, timeout: float = 10.0) -> dict[str, Any]:
        """Catch the service window: repeat SERVICE until the node answers (it listens for
        a couple of seconds after each reset; an unprovisioned node listens forever)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seq = self._next_seq()
            self.port.write(command(seq, "SERVICE"))
            reply = self._read_reply(seq, min(deadline, time.monotonic() + 0.3))
            if reply is not None and reply.ok:
                return reply.data if isinstance(reply.data, dict) else {}
        raise ServiceError(f"{self.name}: the node did not enter service mode",
                           "press the board's reset button (or power-cycle it) and run the command again",
                           EXIT_DEVICE)

    # ------------------------------------------------------------------ commands

    def hello(self) -> dict[str, Any]:
        data: dict[str, Any] = self.request("HELLO")
        self._nonce = bytes.fromhex(data["nonce"]) if data.get("nonce") else None
        self._device_id = int(data["device_id"], 16) if data.get("device_id") else None
        return data

    def set_config(self, config: dict[str, Any]) -> None:
        text = json.dumps(config, separators=(",", ":"))
        if len(text) + 32 > MAX_LINE:
            raise ServiceError(f"the config is {len(text)} bytes; a service line holds {MAX_LINE - 32}",
                               "remove unused options from the config")
        self.request("CONFIG", text)

    def set_key(self, secret: bytes, current_key: bytes | None = None, device_id: int | None = None) -> None:
        """Stage a new key (and device id). On a locked node, current_key proves the right
        to change it; the current key itself never goes on the wire."""
        if len(secret) != 16:
            raise ServiceError("a device secret is 16 bytes", "generate one with 'citynode keys new'")
        info = self.hello()  # fresh nonce, current id
        new_id = device_id if device_id is not None else self._device_id
        if new_id is None or not 0 < new_id < 0xFFFFFFFF:
            raise ServiceError("no device id: give one (1..0xFFFFFFFE)", "pass the id assigned to this node")
        args = [f"{new_id:08x}", secret.hex()]
        if info.get("locked"):
            if current_key is None:
                raise ServiceError("this node is locked: changing its key needs the current key",
                                   HINTS["LOCKED"], EXIT_SECURITY, "LOCKED")
            if self._device_id is None or self._nonce is None:
                raise ServiceError("the node reports a lock but no key id or nonce", "", EXIT_DEVICE)
            args.append(rekey_proof(current_key, self._device_id, self._nonce, new_id, secret).hex())
        self.request("KEY", *args)

    def prove_key(self, secret: bytes, device_id: int, nonce: bytes | None = None) -> bool:
        """True if the node holds (secret, device_id): it answers our random nonce with
        HMAC-SHA256(K_prove, nonce), which only the key's holder can compute."""
        n = nonce if nonce is not None else os.urandom(NONCE_LEN)
        data = self.request("PROVE", n.hex())
        return hmac.compare_digest(bytes.fromhex(data["mac"]), prove_mac(secret, device_id, n))

    def selftest(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("SELFTEST", timeout=max(self.timeout, 60.0))
        return result

    def diagnostics(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("DIAG")
        return result

    def test_frame(self) -> bytes:
        data = self.request("FRAME", timeout=max(self.timeout, 60.0))
        return bytes.fromhex(data["frame"])

    def commit(self) -> list[str]:
        data = self.request("COMMIT", timeout=max(self.timeout, 10.0))
        return list(data.get("applied", [])) if isinstance(data, dict) else []

    def discard(self) -> None:
        self.request("DISCARD")

    def lock(self) -> None:
        self.request("LOCK")

    def run(self) -> None:
        self.request("RUN")

    def reboot(self) -> None:
        self.request("REBOOT")


def probe(port: str, timeout: float = 2.5) -> dict[str, Any] | None:
    """HELLO from a citynode on `port` if it is in (or enters) service mode, else None.
    Never raises: `citynode ports` probes ports that may be anything."""
    try:
        client = ServiceClient(port, timeout=1.0)
    except CliError:
        return None
    try:
        client.wake(timeout)
        return client.hello()
    except (CliError, OSError, ValueError, KeyError):
        return None
    finally:
        with contextlib.suppress(OSError):
            client.close()
