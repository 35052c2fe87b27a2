"""The node core on the virtual board: heap and boot cost per node kind.

fw_peak_heap_bytes: by node kind, the peak heap use of the firmware (compiled as `citynode
deploy` does) while it booted and ran its cycles on a board with a 64 KiB heap, the
simulator's own modules not counted. The virtual board collects garbage at safe points
(sleeps, bus and radio waits: sim/heapgc.mjs); this is the highest "live at the last
collection + allocated since", an upper bound of the true peak (a board collects as soon as
its heap is full, so the true need is lower).
fw_live_heap_bytes: by kind, the highest heap use right after a collection: what the node
really keeps (its code, buffers and state). Over 64 KiB the virtual board raises MemoryError.
fw_boot_ms: mean virtual milliseconds from reset to the end of boot.py/main.py import, per
kind (what every deep-sleep wake costs before measuring).
fw_real_s_per_virtual_hour: how long one simulated hour of the kind takes on this machine
(tests of a simulated week depend on it).
"""

from __future__ import annotations

import secrets
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
    from citynode.sim import VirtualBoard
    from citynode.sim.firmware import run_free_until, scenario, seed

    key = (0x00BE0001, secrets.token_bytes(16))  # any key: the bench decodes nothing
    heap: dict[str, int] = {}
    live: dict[str, int] = {}
    boot: dict[str, float] = {}
    speed: dict[str, float] = {}
    for kind, (board, world, cfg, virtual_ms) in KINDS.items():
        world_data = scenario(world)
        board = world_data.get("board", board)
        with tempfile.TemporaryDirectory() as d:
            seed(Path(d), board, {**cfg, "window_ms": 0}, key)
            with VirtualBoard(board=board, scenario=world_data, state_dir=d, heap=64 * 1024) as vb:
                t0 = time.monotonic()
                run_free_until(vb, virtual_ms, timeout_s=1800)
                real = time.monotonic() - t0
                stats = vb.stats()
                heap[kind] = vb.peak_heap()
                live[kind] = vb.live_heap_peak()
                boot[kind] = round(stats["boot_ms_total"] / max(stats["boots"], 1), 1)
                speed[kind] = round(real / (virtual_ms / 3600_000), 2)
    return {"fw_peak_heap_bytes": heap, "fw_live_heap_bytes": live, "fw_boot_ms": boot,
            "fw_real_s_per_virtual_hour": speed}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
