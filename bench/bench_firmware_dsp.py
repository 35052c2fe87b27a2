"""Firmware DSP throughput on the MicroPython VM.

fw_aweight_sps_vm: samples per second of the plain-Python A-weighting twin
(cn.dsp.aweight.process: six integer sections plus the chunk energy) on the WebAssembly VM.
The board runs the @micropython.viper kernel (cn.dsp.aweight_viper) instead, which the VM
cannot compile (no native emitter), so this figure is a regression guard for the twin, not
the board's speed: the board needs 48 000 samples/s for real-time noise measurement.
"""

from __future__ import annotations

import json
from typing import Any

from citynode.vm import run as vm_run

PROGRAM = """
import math, time, json
from array import array
from cn.dsp import aweight as A
st = A.new_state()
buf = array("i", bytes(4 * A.CHUNK_MAX))
src = array("i", (int(2000000 * math.sin(i * 0.13)) << 8 for i in range(A.CHUNK_MAX)))
chunks = 400
best = 0
for rep in range(3):
    t0 = time.ticks_us()
    for c in range(chunks):
        for i in range(A.CHUNK_MAX):
            buf[i] = src[i]
        A.process(buf, A.CHUNK_MAX, st, A.COEF)
    t1 = time.ticks_us()
    for c in range(chunks):
        for i in range(A.CHUNK_MAX):
            buf[i] = src[i]
    t2 = time.ticks_us()
    us = time.ticks_diff(t1, t0) - time.ticks_diff(t2, t1)  # minus the copy loop
    sps = chunks * A.CHUNK_MAX * 1000000 / max(us, 1)
    best = max(best, sps)
print(json.dumps({"sps": best}))
"""


def run_bench() -> dict[str, Any]:
    out = vm_run(PROGRAM, timeout=300)
    sps = json.loads(out.strip().splitlines()[-1])["sps"]
    return {"fw_aweight_sps_vm": round(sps, 1), "board_kernel": "viper (not runnable on the VM)",
            "realtime_sps_needed": 48000}


def run() -> dict[str, Any]:
    return run_bench()


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
