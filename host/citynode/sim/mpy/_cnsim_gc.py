# ruff: noqa
# mypy: ignore-errors
# gc as the firmware sees it on the board: sizes relative to the board's heap, not counting
# the simulator's own modules (which live in flash on a real ESP32).
import gc as _g
import _cnsim as _h

_real_alloc = _g.mem_alloc
enable = _g.enable
disable = _g.disable
isenabled = _g.isenabled
threshold = _g.threshold


def collect():
    _g.collect()
    _h.sample_heap()


def mem_alloc():
    a = _g.mem_alloc() - _h.heap_base()
    return a if a > 0 else 0


def mem_free():
    f = _h.heap_limit() - mem_alloc()
    return f if f > 0 else 0
