"""The node core on the virtual board: heap and boot cost per node kind.

fw_peak_heap_bytes: the highest MicroPython heap use the simulator saw while the firmware
(compiled as `citynode deploy` does) booted and ran its cycles, the simulator's own modules
not counted; by node kind. The node must fit a 64 KiB heap.
fw_boot_ms: mean virtual milliseconds from reset to the end of boot.py/main.py import, per
kind (what every deep-sleep wake costs before measuring).
fw_real_s_per_virtual_hour: how long one simulated hour of the kind takes on this machine
(tests of a simulated week depend on it).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KINDS: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "soil": ("heltec_v3", "soil_week.json", {"kind": "soil", "period_s": 900, "sensors": [
        {"type": "soil_cap", "dry_mv": 2650, "wet_mv": 1250}, {"type": "seesaw_soil"}]}, 6 * 3600_000),
    "air": ("heltec_v2", "air_week.json", {"kind": "air", "period_s": 900, "sensors": [
        {"type": "sds011"}, {"type": "scd4x"}, {"type": "sht4x"}]}, 6 * 3600_000),
    "parking": ("lilygo_t3_v1_6_1", "parking_week.json", {"kind": "parking", "sample_s": 30,
                                                            "sensors": [{"type": "qmc5883l"}]}, 6 * 3600_000),
    "noise": ("heltec_v3", "noise_day.json", {"kind": "noise", "period_s": 300, "sample_s": 60,
                                              "radio": {"sf": 7}, "sensors": [{"type": "noise_i2s"}]}, 130_000),
}


def run() -> dict[str, Any]:
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    from citynode.sim import VirtualBoard
    from test_fw_node_vboard import run_until, scenario, seed

    heap: dict[str, int] = {}
    boot: dict[str, float] = {}
    speed: dict[str, float] = {}
    for kind, (board, world, cfg, virtual_ms) in KINDS.items():
        world_data = scenario(world)
        board = world_data.get("board", board)
        with tempfile.TemporaryDirectory() as d:
            seed(Path(d), board, {**cfg, "window_ms": 0})
            with VirtualBoard(board=board, scenario=world_data, state_dir=d, heap=64 * 1024) as vb:
                t0 = time.monotonic()
                run_until(vb, virtual_ms, timeout_s=1800)
                real = time.monotonic() - t0
                stats = vb.stats()
                heap[kind] = vb.peak_heap()
                boot[kind] = round(stats["boot_ms_total"] / max(stats["boots"], 1), 1)
                speed[kind] = round(real / (virtual_ms / 3600_000), 2)
    return {"fw_peak_heap_bytes": heap, "fw_boot_ms": boot, "fw_real_s_per_virtual_hour": speed}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
