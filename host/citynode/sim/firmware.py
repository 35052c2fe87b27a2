"""The real firmware on a virtual board, prepared as deploy and provisioning leave it.

For tests and benches that run nodes for simulated days: compiling and provisioning over
serial for every run would cost more than the run, so `seed` writes a board's state
directory before power-on: the firmware tree as `citynode deploy` compiles it for a VM
without a native emitter (boot.py and main.py as source, the rest bytecode .mpy, the
native kernels left out so the firmware uses their plain twins), the board file, and
optionally the config and the key a provisioned node holds.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from citynode.deploy.build import COMPILER_RELEASE, build_firmware
from citynode.sim.board import SIM_DIR, VirtualBoard, board_file, load_scenario

SCENARIOS = SIM_DIR / "scenarios"
NVS_NAMESPACE = "citynode"  # the firmware's NVS namespace (firmware/cn/store.py)

_build_dirs: list[tempfile.TemporaryDirectory[str]] = []  # removed when the process exits


@functools.cache
def deployed_firmware() -> Path:
    """The firmware tree compiled once per process, as deploy lays it out on a board's flash."""
    tmp = tempfile.TemporaryDirectory(prefix="cn-fw-")
    _build_dirs.append(tmp)
    return build_firmware(COMPILER_RELEASE, None, Path(tmp.name)).root


def seed(state_dir: Path, board: str, config: dict[str, Any] | None = None,
         key: tuple[int, bytes] | None = None) -> None:
    """Put the firmware, the board file and, if given, a config and a key (device id, 16-byte
    secret) into a virtual board's state directory, before the board starts."""
    flash = state_dir / "flash"
    shutil.copytree(deployed_firmware(), flash, dirs_exist_ok=True)
    shutil.copy(board_file(board), flash / "board.json")
    if config is not None:
        (flash / "config.json").write_text(json.dumps(config))
    if key is not None:
        device_id, secret = key
        # the simulator's NVS file (nvs.mjs): namespace -> key -> {"t": type, "v": value};
        # the node's key entry is device id (4 bytes, big-endian) || secret (firmware/cn/store.py)
        blob = (device_id.to_bytes(4, "big") + secret).hex()
        (state_dir / "nvs.json").write_text(json.dumps({NVS_NAMESPACE: {"key": {"t": "blob", "v": blob}}}))


def scenario(name: str) -> dict[str, Any]:
    """A scenario shipped with the simulator (host/citynode/sim/scenarios/NAME)."""
    data = load_scenario(SCENARIOS / name)
    assert data is not None
    return data


def run_free_until(vb: VirtualBoard, virtual_ms: int, timeout_s: float = 300.0) -> dict[str, Any]:
    """Let the board run freely (fast pace: sleeps take no real time) until its virtual clock
    reaches virtual_ms; returns the last status. Unlike BoardControl.run_until the clock is not
    held there: the node keeps running while the caller looks at it (serial sessions need that)."""
    deadline = time.monotonic() + timeout_s
    while True:
        st: dict[str, Any] = vb.control.status()
        if st["virtual_ms"] >= virtual_ms:
            return st
        if time.monotonic() > deadline:
            raise TimeoutError(f"virtual board stuck at {st['virtual_ms']} ms (wanted {virtual_ms}): {st}")
        time.sleep(0.05)
