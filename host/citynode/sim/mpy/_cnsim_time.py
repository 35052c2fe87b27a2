# ruff: noqa
# mypy: ignore-errors
# time on the virtual clock: sleeping moves virtual time (instantly unless the board runs in
# real time), ticks count from the last chip reset, time() counts seconds since 2000-01-01
# from the RTC, as on the ESP32 port.
import time as _t
import _cnsim as _h

_EPOCH = 946684800
ticks_ms = _t.ticks_ms  # the VM's own ticks, fed from the virtual clock
ticks_us = _h.ticks_us
ticks_cpu = _h.ticks_us
ticks_diff = _t.ticks_diff
ticks_add = _t.ticks_add
_timers = []  # [due_us_abs_ticks, period_ms, callback, timer, periodic] (machine.Timer)


def _check(r):
    """A host wait's result: -1 is Ctrl-C; -3 is the live heap over the board's heap (heapgc.mjs)."""
    if r < 0:
        if r == -3:
            raise MemoryError("memory allocation failed: the live heap is over the board's heap")
        raise KeyboardInterrupt
    return r


def _sleep_us(us):
    if us < 0:
        us = 0
    while _timers:
        t = min(_timers, key=lambda e: ticks_diff(e[0], ticks_us()))
        left = ticks_diff(t[0], ticks_us())
        if left > us:
            break
        if left > 0:
            _check(_h.sleep_us(left))
            us -= left
        if t[4]:
            t[0] = ticks_add(t[0], t[1] * 1000)
        else:
            _timers.remove(t)
        t[2](t[3])
    while us > 0:  # values cross to the host as 32-bit ints
        step = us if us < 1000000000 else 1000000000
        _check(_h.sleep_us(step))
        us -= step


def sleep_us(us):
    _sleep_us(int(us))


def sleep_ms(ms):
    _sleep_us(int(ms) * 1000)


def sleep(s):
    _sleep_us(int(s * 1000000))


def time():
    return _h.rtc_s()


def time_ns():
    return _h.rtc_s() * 1000000000 + _h.rtc_frac_us() * 1000


def gmtime(secs=None):
    if secs is None:
        secs = _h.rtc_s()
    return _t.gmtime(int(secs) + _EPOCH)


localtime = gmtime


def mktime(t):
    return _t.mktime(t) - _EPOCH
