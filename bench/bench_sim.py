"""Virtual board speed: boot time, a simulated day of a sleeping node, mpremote round trip.

sim_boot_ms: mean VM boot (instantiate the compiled WebAssembly module, mount the flash,
load the board modules) over the deep-sleep wakes of the day run.
sim_day_wall_s: wall time for 24 h of virtual time of a node that wakes every 15 minutes,
does a little work (ADC, RTC memory, a file write) and deep-sleeps.
sim_heap_peak_bytes / sim_heap_live_peak_bytes / sim_gc_runs_per_day: that node's heap (upper
bound, and live after a collection) and the collections at safe points during the day.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from citynode.sim import VirtualBoard

MAIN = """import machine, time
m = machine.RTC().memory()
n = int(m) if m else 0
a = machine.ADC(machine.Pin(37), atten=machine.ADC.ATTN_11DB).read_uv()
with open('last.txt', 'w') as f:
    f.write('%d %d' % (n, a))
machine.RTC().memory(str(n + 1).encode())
print('wake', n, time.time())
machine.deepsleep(15 * 60 * 1000)
"""
CYCLES = 96  # one day


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d, VirtualBoard(state_dir=Path(d) / "s") as vb:
        vb.power_cut()
        vb.write_file("main.py", MAIN)
        boots0 = vb.stats()["boots"]
        t0 = time.perf_counter()
        vb.power_on()
        vb.control.wait_boots(boots0 + CYCLES + 1, timeout=600)
        wall = time.perf_counter() - t0
        st = vb.stats()
        virtual_h = st["virtual_ms"] / 3_600_000
        vb.power_cut()
        vb.write_file("main.py", "")
        vb.power_on()
        mp = str(Path(sys.executable).with_name("mpremote"))
        t1 = time.perf_counter()
        for _ in range(5):
            subprocess.run([mp, "connect", vb.port, "exec", "print(1)"], check=True, capture_output=True)
        rt = (time.perf_counter() - t1) / 5
        return {
            "sim_day_wall_s": round(wall, 2),
            "sim_boot_ms": round(st["boot_ms_total"] / max(1, st["boots"]), 2),
            "sim_virtual_hours": round(virtual_h, 1),
            "sim_deepsleep_cycles": st["deepsleeps"],
            "sim_mpremote_exec_s": round(rt, 3),
            "sim_heap_peak_bytes": st["heap_peak"],
            "sim_heap_live_peak_bytes": st["heap_live_peak"],
            "sim_gc_runs_per_day": st["gc_runs"],
        }


if __name__ == "__main__":
    print(run())
