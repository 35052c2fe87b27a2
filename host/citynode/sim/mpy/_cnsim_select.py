# ruff: noqa
# mypy: ignore-errors
# select/poll that waits on the virtual serial port and on machine.UART objects in virtual
# time (the VM's own poll would busy-wait on the clock).
import _cnsim as _h

POLLIN = 1
POLLOUT = 4
POLLERR = 8
POLLHUP = 16


def _events(obj, mask):
    ev = 0
    if hasattr(obj, "any"):  # machine.UART
        if mask & POLLIN and obj.any():
            ev |= POLLIN
        ev |= mask & POLLOUT
    else:
        try:
            ev = obj.ioctl(3, mask) or 0
        except Exception:
            ev = mask & POLLOUT
    return ev


def _is_console(obj):
    import sys
    return obj is sys.stdin or obj is sys.stdin.buffer


class _Poll:
    def __init__(self):
        self._m = {}

    def register(self, obj, mask=POLLIN | POLLOUT):
        self._m[obj] = mask

    def unregister(self, obj):
        self._m.pop(obj, None)

    def modify(self, obj, mask):
        if obj not in self._m:
            raise OSError(2)
        self._m[obj] = mask

    def _ready(self):
        r = []
        for o, m in self._m.items():
            ev = _events(o, m) if not _is_console(o) else (POLLIN if m & POLLIN and _h.in_avail() else 0)
            if ev:
                r.append((o, ev))
        return r

    def poll(self, timeout=-1):
        r = self._ready()
        if r or timeout == 0:
            return r
        only_console = True
        for o in self._m:
            if not _is_console(o):
                only_console = False
        if only_console:
            if _h.in_wait(timeout if timeout is not None else -1) < 0:
                raise KeyboardInterrupt
            return self._ready()
        import time
        t0 = time.ticks_ms()
        while True:
            left = -1 if timeout is None or timeout < 0 else timeout - time.ticks_diff(time.ticks_ms(), t0)
            if left == 0 or (left is not None and left < -1):
                return []
            step = 5 if left < 0 else min(5, left)
            if _h.in_wait(step) < 0:
                raise KeyboardInterrupt
            r = self._ready()
            if r:
                return r
            if 0 <= left <= step:
                return []

    def ipoll(self, timeout=-1, flags=0):
        return iter(self.poll(timeout))


def poll():
    return _Poll()


def select(rlist, wlist, xlist, timeout=None):
    p = _Poll()
    for o in rlist:
        p.register(o, POLLIN)
    for o in wlist:
        p._m[o] = p._m.get(o, 0) | POLLOUT
    ms = -1 if timeout is None else int(timeout * 1000)
    ready = p.poll(ms)
    return ([o for o, e in ready if e & POLLIN], [o for o, e in ready if e & POLLOUT], [])
