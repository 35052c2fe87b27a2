# ruff: noqa
# mypy: ignore-errors
# micropython, with kbd_intr wired to the virtual serial port's Ctrl-C handling.
import micropython as _m
import _cnsim as _h

for _k in dir(_m):
    if not _k.startswith("__"):
        globals()[_k] = getattr(_m, _k)


def kbd_intr(c):
    _h.kbd_intr(c)
    _m.kbd_intr(c)


def alloc_emergency_exception_buf(n):
    pass
