"""Client for a running virtual board's control socket (JSON lines over a unix socket).

The supervisor answers every request with one line; requests are serialised here so one
handle can be shared by a test and its helpers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from typing import Any

from citynode.errors import EXIT_DEVICE, CliError


class ControlError(RuntimeError):
    """The supervisor refused or failed a request."""


class ControlClient:
    """One connection to a supervisor; thread-safe, reconnects lazily."""

    def __init__(self, socket_path: str, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._lock = threading.Lock()
        self._next = 0

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.socket_path)
            except OSError as err:
                sock.close()
                raise CliError(
                    f"virtual board not answering on {self.socket_path} ({err.strerror})",
                    "it may have stopped: 'citynode sim list' shows the running boards",
                    EXIT_DEVICE,
                ) from None
            self._sock = sock
        return self._sock

    def request(self, cmd: str, timeout: float | None = None, **args: Any) -> dict[str, Any]:
        with self._lock:
            sock = self._connect()
            self._next += 1
            msg = {"cmd": cmd, "id": self._next, **args}
            sock.settimeout(timeout if timeout is not None else self.timeout)
            try:
                sock.sendall(json.dumps(msg).encode() + b"\n")
                while b"\n" not in self._buf:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("supervisor closed the control socket")
                    self._buf += chunk
            except (OSError, ConnectionError):
                self.close()
                raise
            line, self._buf = self._buf.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(str(reply.get("error")))
        return reply

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buf = b""


class BoardControl:
    """What a test (or a bench) can do to a virtual board besides talking to its serial port."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client

    def status(self) -> dict[str, Any]:
        return self.client.request("status")

    def advance(self, ms: float) -> int:
        """Move virtual time forward (a sleeping or waiting board wakes accordingly).

        The jump stands for time the firmware spent as it does (waiting, feeding): a running
        watchdog's deadline moves with it, so a jump never fires the watchdog by itself."""
        return int(self.client.request("advance", ms=ms)["virtual_ms"])

    def set_time_limit(self, ms: float | None) -> None:
        """Hold virtual time at ms: sleeps (deep or light) stop there until the limit moves.

        Without a limit a sleeping node in fast pace runs as fast as it can.
        """
        self.client.request("time_limit", ms=ms)

    def run_until(self, ms: float, timeout: float = 300.0) -> dict[str, Any]:
        """Let the board run until its virtual clock reaches ms, then hold it there.

        Returns the status. Code that computes without sleeping still takes real (and so
        virtual) time, so the clock may pass ms by that much. Clear with set_time_limit(None).
        """
        self.set_time_limit(ms)
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if st["virtual_ms"] >= ms:
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"virtual clock stuck at {st['virtual_ms']} ms (wanted {ms}); status {st}")
            time.sleep(0.02)

    def virtual_ms(self) -> int:
        return int(self.status()["virtual_ms"])

    def power_cut(self) -> None:
        """Cut power now: RAM, RTC memory and uncommitted flash/NVS writes are lost."""
        self.client.request("power_cut")

    def power_on(self) -> None:
        self.client.request("power_on")

    def press_reset(self) -> None:
        """The EN button: a hard reset (reset_cause() == HARD_RESET)."""
        self.client.request("press_reset")

    def radio_packets(self) -> list[dict[str, Any]]:
        """Packets sent since the last call: t_ms (virtual), bytes (hex), airtime_ms, cfg."""
        packets: list[dict[str, Any]] = self.client.request("radio_packets")["packets"]
        return packets

    def set_scenario(self, scenario: dict[str, Any] | None) -> None:
        self.client.request("set_scenario", scenario=scenario)

    def peak_heap(self) -> int:
        """Upper bound of the firmware's peak heap use, in bytes (the simulator's modules not counted).

        The heap is collected at safe points (sleeps, bus and radio waits); this is the highest
        "live at the last collection + allocated since" seen, which no moment in between exceeds.
        """
        return int(self.status()["heap_peak"])

    def live_heap_peak(self) -> int:
        """Highest heap use right after a collection: what the firmware really keeps (bytes)."""
        return int(self.status()["heap_live_peak"])

    def stats(self) -> dict[str, Any]:
        st = self.status()
        out: dict[str, Any] = dict(st["stats"])
        out.update(
            virtual_ms=st["virtual_ms"], heap_peak=st["heap_peak"], heap_base=st["heap_base"],
            heap_limit=st["heap_limit"], last_reset=st["last_reset"], powered=st["powered"],
            heap_live_peak=st["heap_live_peak"], heap_over_limit=st["heap_over_limit"],
            gc_runs=st["gc_runs"], gc_skipped=st["gc_skipped"],
        )
        return out

    def console_offset(self) -> int:
        """Bytes the board has written to its console so far (a mark for wait_console)."""
        return int(self.client.request("console", **{"from": 1 << 60})["end"])

    def console_log(self, since: int = 0) -> str:
        """What the board printed on its console (the last MiB), decoded as latin-1."""
        return str(self.client.request("console", **{"from": since})["text"])

    def wait_console(self, text: str, timeout: float = 10.0, since: int = 0) -> str:
        """Wait until the console output (from offset `since`) contains text; returns it all."""
        r = self.client.request("wait_console", timeout=timeout + 5, text=text, timeout_ms=int(timeout * 1000),
                                **{"from": since})
        if not r["found"]:
            raise TimeoutError(f"board did not print {text!r} within {timeout} s; console: {r['text'][-500:]!r}")
        return str(r["text"])

    def wait_boots(self, count: int, timeout: float = 10.0) -> int:
        r = self.client.request("wait_boots", timeout=timeout + 5, count=count, timeout_ms=int(timeout * 1000))
        if not r["ok"]:
            raise TimeoutError(f"board booted {r['boots']} times, expected {count} within {timeout} s")
        return int(r["boots"])

    def write(self, data: bytes) -> None:
        """Inject bytes as if typed on the serial port (no client needed)."""
        self.client.request("write", data=base64.b64encode(data).decode())

    def stop(self) -> None:
        with contextlib.suppress(OSError, ConnectionError, ControlError, CliError):
            self.client.request("stop", timeout=5)
        self.client.close()
