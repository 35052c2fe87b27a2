"""`citynode monitor` on a real pty: log lines pass through, frames are verified, replays and
oversized lines are called out, and nothing unbounded is buffered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tty
from pathlib import Path

from citynode.keystore import Keystore
from citynode.protocol import encode


def wait_until_open(pid: int, path: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd")):
                time.sleep(0.2)  # past the open's input flush
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never opened {path}")


def test_monitor_decodes_frames_flags_replays_and_drops_oversized_lines(tmp_path: Path) -> None:
    keystore = tmp_path / "fleet.keys"
    secret = Keystore(keystore).add(0x2A)
    frame = encode({"battery_v": 3.71, "soil_vwc": 31.5, "soil_temp": 12.3}, device_id=0x2A, counter=7, secret=secret)
    forged = bytearray(frame)
    forged[-1] ^= 1

    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citynode.cli", "monitor", "--port", os.ttyname(slave),
         "--keys", str(keystore), "--json", "--frames", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_until_open(proc.pid, os.ttyname(slave))  # pyserial flushes input on open, as a real port does
    os.write(master, b"boot: citynode 0.1 soil\r\n")
    os.write(master, b"x" * 5000 + b"\r\n")  # a garbage burst longer than any line
    os.write(master, b"CNFRAME " + frame.hex().encode() + b"\r\n")
    os.write(master, b"CNFRAME " + frame.hex().encode() + b"\r\n")  # the same frame again: a replay
    os.write(master, b"CNFRAME " + bytes(forged).hex().encode() + b"\r\n")

    stdout, stderr = proc.communicate(timeout=30)
    os.close(master)
    os.close(slave)
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events[0] == {"event": "log", "text": "boot: citynode 0.1 soil"}
    assert events[1]["event"] == "dropped"
    assert events[2]["event"] == "frame" and events[2]["device_id"] == "0000002a" and events[2]["counter"] == 7
    values = {r["channel"]: r["value"] for r in events[2]["readings"]}
    assert values == {"battery_v": 3.71, "soil_vwc": 31.5, "soil_temp": 12.3}
    assert events[3]["event"] == "reject" and events[3]["error"] == "replay"
    assert events[4]["event"] == "reject" and events[4]["error"] == "bad_tag"
    assert secret.hex() not in stdout + stderr


def test_monitor_on_a_missing_port_says_what_to_do(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "citynode.cli", "monitor", "--port", str(tmp_path / "ttyUSB9")],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "citynode ports" in proc.stderr or "not" in proc.stderr
