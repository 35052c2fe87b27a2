# ruff: noqa
# mypy: ignore-errors
# machine for the virtual board: the ESP32 port's API and constants, with the hardware
# behind it in the simulator's device models (called synchronously through _cnsim).
import _cnsim as _h
from uctypes import addressof as _a
from micropython import const
from _cnsim_time import _check as _ki


def _nbytes(buf):
    """Byte length of a buffer, as the real port's C code sees it (len() of a memoryview of an
    array counts items): the item size is the address step between two items."""
    n = len(buf)
    if n < 2 or isinstance(buf, (bytes, bytearray)):
        return n
    mv = memoryview(buf)
    return n * (_a(mv[1:]) - _a(mv))


PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
DEEPSLEEP_RESET = const(4)
SOFT_RESET = const(5)
PIN_WAKE = const(2)
EXT0_WAKE = const(2)
EXT1_WAKE = const(3)
TIMER_WAKE = const(4)
TOUCHPAD_WAKE = const(5)
ULP_WAKE = const(6)
IDLE = const(1)
SLEEP = const(2)
DEEPSLEEP = const(4)

_B = None


def _board():
    global _B
    if _B is None:
        import json
        _B = json.loads(_h.board_json())
    return _B




def _pin_id(p):
    return p._id if isinstance(p, Pin) else p


def reset_cause():
    return _h.reset_cause()


def wake_reason():
    return _h.wake_reason()


def unique_id():
    from binascii import unhexlify
    return unhexlify(_h.unique_id())


def reset():
    _h.reset()


def soft_reset():
    raise SystemExit


def bootloader(*args):
    _h.reset()


def deepsleep(time_ms=0):
    _h.deepsleep(int(time_ms))


def lightsleep(time_ms=0):
    _ki(_h.lightsleep(int(time_ms)))


def idle():
    _ki(_h.idle())


_freq = 160000000


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = hz


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    return -2


def mem_info(*a):
    pass


class Pin:
    IN = const(1)
    OUT = const(3)
    OPEN_DRAIN = const(7)
    PULL_UP = const(2)
    PULL_DOWN = const(1)
    PULL_HOLD = const(4)
    IRQ_RISING = const(1)
    IRQ_FALLING = const(2)
    WAKE_LOW = const(4)
    WAKE_HIGH = const(5)
    DRIVE_0 = const(0)
    DRIVE_1 = const(1)
    DRIVE_2 = const(2)
    DRIVE_3 = const(3)

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        id = _pin_id(id)
        chip = _board().get("chip", "esp32")
        top = 39 if chip == "esp32" else 48
        if not isinstance(id, int) or id < 0 or id > top or (chip == "esp32" and id in (20, 24, 28, 29, 30, 31)):
            raise ValueError("invalid pin")
        self._id = id
        self._mode = -1
        self._pull = 0
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if mode != -1 and mode is not None:
            if mode & 2 and _board().get("chip", "esp32") == "esp32" and self._id >= 34:
                raise ValueError("pin can only be input")
            self._mode = mode
        if pull != -1 and pull is not None:
            self._pull = pull if pull in (1, 2) else 0
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return _h.pin_read(self._id, self._pull)
        _h.pin_write(self._id, 1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        _h.pin_write(self._id, 1)

    def off(self):
        _h.pin_write(self._id, 0)

    def irq(self, handler=None, trigger=3, *, wake=None):
        return None

    def __repr__(self):
        return "Pin(%d)" % self._id


class Signal:
    def __init__(self, pin, *args, invert=False, **kw):
        self._p = pin if isinstance(pin, Pin) else Pin(pin, *args, **kw)
        self._inv = invert

    def value(self, v=None):
        if v is None:
            return self._p.value() ^ self._inv
        self._p.value((1 if v else 0) ^ self._inv)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


_ADC_PINS = {"esp32": (32, 33, 34, 35, 36, 37, 38, 39, 0, 2, 4, 12, 13, 14, 15, 25, 26, 27)}
_ADC_FS = (1000000, 1340000, 2000000, 3100000)  # saturation per attenuation (uV)


class ADC:
    ATTN_0DB = const(0)
    ATTN_2_5DB = const(1)
    ATTN_6DB = const(2)
    ATTN_11DB = const(3)
    WIDTH_9BIT = const(0)
    WIDTH_10BIT = const(1)
    WIDTH_11BIT = const(2)
    WIDTH_12BIT = const(3)

    def __init__(self, pin, *, atten=None):
        pid = _pin_id(pin)
        ok = _ADC_PINS.get(_board().get("chip", "esp32"))
        if ok is not None and pid not in ok:
            raise ValueError("invalid pin")
        self._pin = pid
        self._atten = 0 if atten is None else atten
        self._bits = 12

    def init(self, *, atten=None):
        if atten is not None:
            self._atten = atten

    def atten(self, a):
        self._atten = a

    def width(self, w):
        self._bits = 9 + w

    def _uv(self):
        v = _h.adc_uv(self._pin)
        if v < 0:  # nothing connected: a floating input reads noise
            from os import urandom
            v = urandom(1)[0] * 4000
        fs = _ADC_FS[self._atten]
        return v if v < fs else fs

    def read_uv(self):
        return self._uv()

    def read(self):
        return self._uv() * ((1 << self._bits) - 1) // _ADC_FS[self._atten]

    def read_u16(self):
        return self._uv() * 65535 // _ADC_FS[self._atten]

    def __repr__(self):
        return "ADC(Pin(%d), atten=%d)" % (self._pin, self._atten)


def _i2c_chk(r):
    if r == 1:
        return
    raise OSError(110 if r == -110 else 19)


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        b = _board().get("i2c") or {}
        self._bus = id
        if scl is not None and sda is not None and _pin_id(scl) == b.get("scl") and _pin_id(sda) == b.get("sda"):
            self._bus = b.get("id", id)
        self._hdr = bytearray(2)

    def init(self, *args, **kw):
        pass

    def deinit(self):
        pass

    def scan(self):
        return [a for a in range(0x08, 0x78) if _h.i2c_probe(self._bus, a)]

    def writeto(self, addr, buf, stop=True):
        _i2c_chk(_h.i2c_write(self._bus, addr, _a(buf), _nbytes(buf)))
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        b = b"".join(vector)
        _i2c_chk(_h.i2c_write(self._bus, addr, _a(b), len(b)))
        return len(b)

    def readfrom(self, addr, nbytes, stop=True):
        b = bytearray(nbytes)
        _i2c_chk(_h.i2c_read(self._bus, addr, _a(b), nbytes))
        return bytes(b)

    def readfrom_into(self, addr, buf, stop=True):
        _i2c_chk(_h.i2c_read(self._bus, addr, _a(buf), _nbytes(buf)))

    def _mem(self, memaddr, addrsize):
        n = addrsize // 8
        for i in range(n):
            self._hdr[i] = (memaddr >> (8 * (n - 1 - i))) & 0xFF
        return n

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        n = self._mem(memaddr, addrsize)
        b = bytes(self._hdr[:n]) + bytes(buf)
        _i2c_chk(_h.i2c_write(self._bus, addr, _a(b), len(b)))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        b = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, b, addrsize=addrsize)
        return bytes(b)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        n = self._mem(memaddr, addrsize)
        _i2c_chk(_h.i2c_write(self._bus, addr, _a(self._hdr), n))
        _i2c_chk(_h.i2c_read(self._bus, addr, _a(buf), _nbytes(buf)))


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        super().__init__(-1, scl=scl, sda=sda, freq=freq, timeout=timeout)


class UART:
    INV_TX = const(1)
    INV_RX = const(2)
    INV_RTS = const(4)
    INV_CTS = const(8)
    RTS = const(1)
    CTS = const(2)

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self._id = id
        self._timeout = 0
        self._tchar = 0
        self.init(baudrate, bits, parity, stop, **kw)
        _h.uart_open(id)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, *, tx=None, rx=None, rts=None, cts=None,
             txbuf=None, rxbuf=None, timeout=None, timeout_char=None, invert=None, flow=None):
        self._baud = baudrate
        if timeout is not None:
            self._timeout = timeout
        if timeout_char is not None:
            self._tchar = timeout_char

    def deinit(self):
        pass

    def any(self):
        return _h.uart_any(self._id)

    def _rd(self, buf, n):
        return _ki(_h.uart_read(self._id, _a(buf), n, self._timeout, self._tchar))

    def read(self, nbytes=None):
        if nbytes is None:
            nbytes = max(self.any(), 1) if self._timeout == 0 else 256
            if self._timeout == 0 and not self.any():
                return None
        b = bytearray(nbytes)
        r = self._rd(b, nbytes)
        if r == 0:
            return None
        return bytes(b) if r == nbytes else bytes(b[:r])

    def readinto(self, buf, nbytes=None):
        if nbytes is None:
            nbytes = _nbytes(buf)
        r = self._rd(buf, nbytes)
        return r if r else None

    def readline(self):
        out = bytearray()
        b = bytearray(1)
        while True:
            if not self._rd(b, 1):
                return bytes(out) if out else None
            out.append(b[0])
            if b[0] == 10:
                return bytes(out)

    def write(self, buf):
        if isinstance(buf, str):
            buf = buf.encode()
        return _h.uart_write(self._id, _a(buf), _nbytes(buf))

    def flush(self):
        pass

    def txdone(self):
        return True

    def sendbreak(self):
        pass

    def __repr__(self):
        return "UART(%d, baudrate=%d, timeout=%d)" % (self._id, self._baud, self._timeout)


class SPI:
    MSB = const(0)
    LSB = const(1)

    def __init__(self, id=1, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None,
                 miso=None):
        self._id = id

    def init(self, *a, **kw):
        pass

    def deinit(self):
        pass

    def read(self, nbytes, write=0):
        return bytes(nbytes)

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = 0

    def write(self, buf):
        return None

    def write_readinto(self, wbuf, rbuf):
        self.readinto(rbuf)


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None,
                 miso=None):
        super().__init__(-1)


class I2S:
    RX = const(0)
    TX = const(1)
    MONO = const(0)
    STEREO = const(1)

    def __init__(self, id, *, sck, ws, sd, mck=None, mode, bits, format, rate, ibuf):
        if bits not in (16, 32):
            raise ValueError("invalid bits")
        self._id = id
        self._bits = bits
        self._ch = 1 if format == 0 else 2
        self._rate = rate
        import json
        self._fmt = json.dumps({"bits": bits, "format": "mono" if self._ch == 1 else "stereo", "rate": rate,
                                "ibuf": ibuf})

    def init(self, **kw):
        pass

    def deinit(self):
        pass

    def readinto(self, buf):
        n = _nbytes(buf)
        bps = self._rate * self._ch * (self._bits // 8)
        return _ki(_h.i2s_read(self._id, _a(buf), n, bps, self._fmt))

    def write(self, buf):
        return len(buf)

    def irq(self, handler):
        pass

    @staticmethod
    def shift(*, buf, bits, shift):
        import struct
        size = bits // 8
        fmt = "<h" if bits == 16 else "<i"
        for i in range(0, len(buf) - size + 1, size):
            v = struct.unpack_from(fmt, buf, i)[0]
            v = v << shift if shift > 0 else v >> -shift
            lim = 1 << (bits - 1)
            v = max(-lim, min(lim - 1, v))
            struct.pack_into(fmt, buf, i, v)


class RTC:
    def __init__(self, id=0):
        pass

    def init(self, dt):
        self.datetime(dt)

    def datetime(self, dt=None):
        import time
        if dt is None:
            t = time.gmtime(_h.rtc_s())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], _h.rtc_frac_us())
        secs = time.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0))
        _h.rtc_set(secs, dt[7] if len(dt) > 7 else 0)

    def memory(self, data=None):
        if data is None:
            n = _h.rtc_mem_len()
            b = bytearray(n)
            if n:
                _h.rtc_mem_read(_a(b), n)
            return bytes(b)
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _h.rtc_mem_write(_a(data), len(data))


class WDT:
    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        _h.wdt_start(timeout)

    def feed(self):
        _h.wdt_feed()


class Timer:
    ONE_SHOT = const(0)
    PERIODIC = const(1)

    def __init__(self, id=0, **kw):
        self._e = None
        if kw:
            self.init(**kw)

    def init(self, *, mode=1, period=-1, freq=-1, callback=None):
        import _cnsim_time as t
        self.deinit()
        if freq > 0:
            period = 1000 // freq
        if period < 0:
            period = 1000
        self._e = [t.ticks_add(t.ticks_us(), period * 1000), period, callback or (lambda _t: None), self, mode == 1]
        t._timers.append(self._e)

    def deinit(self):
        import _cnsim_time as t
        if self._e is not None and self._e in t._timers:
            t._timers.remove(self._e)
        self._e = None

    def value(self):
        import _cnsim_time as t
        return 0 if self._e is None else max(0, t.ticks_diff(self._e[0], t.ticks_us()) // 1000)
