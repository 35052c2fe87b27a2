# ruff: noqa
# mypy: ignore-errors
# gc as the firmware sees it on the board: sizes relative to the board's heap, not counting
# the simulator's own modules (which live in flash on a real ESP32). gc.collect() really
# collects (a safe point, see heapgc.mjs), where the port alone would only grow the heap.
import gc as _g
import uctypes as _u
import _cnsim as _h

# The shadow C stack is copied here at each collection while the firmware runs, so that the
# objects it points to stay alive (the collector scans this buffer as it scans every live one).
_SCAN = bytearray(16384)
_SCAN_ADDR = _u.addressof(_SCAN)
_SCAN_LEN = len(_SCAN)
_real_alloc = _g.mem_alloc
_real_collect = _g.collect
enable = _g.enable
disable = _g.disable
isenabled = _g.isenabled
threshold = _g.threshold


def collect():
    _h.gc_collect()


def mem_alloc():
    a = _g.mem_alloc() - _h.heap_base()
    return a if a > 0 else 0


def mem_free():
    f = _h.heap_limit() - mem_alloc()
    return f if f > 0 else 0
