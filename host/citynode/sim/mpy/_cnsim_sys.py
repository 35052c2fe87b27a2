# ruff: noqa
# mypy: ignore-errors
# sys as on the ESP32 port: platform "esp32", and console streams wired to the virtual
# serial port (text writes are cooked \n -> \r\n, .buffer is raw; reads block on the port).
import sys as _s
import io
import _cnsim as _h
from uctypes import addressof as _a

path = _s.path
modules = _s.modules
argv = _s.argv
exit = _s.exit
print_exception = _s.print_exception
byteorder = _s.byteorder
maxsize = _s.maxsize
version = _s.version
version_info = _s.version_info
ps1 = ">>> "
ps2 = "... "
platform = "esp32"


class _Impl:
    name = "micropython"
    version = (1, 27, 0, "")
    _machine = _h.banner().split("; ", 1)[1]
    _mpy = 6 | (3 << 8) | (10 << 10)  # .mpy v6.3, xtensawin

    def __repr__(self):
        return "(name='micropython', version=(1, 27, 0, ''), _machine='%s', _mpy=%d)" % (self._machine, self._mpy)


implementation = _Impl()


def _read(buf, n, least):
    r = _h.in_read(_a(buf), n, least, -1)
    if r < 0:
        raise KeyboardInterrupt
    return r


class _In(io.IOBase):
    def __init__(self, binary):
        self._bin = binary
        if not binary:
            self.buffer = _In(True)

    def _conv(self, b):
        return b if self._bin else str(b, "utf-8")

    def read(self, n=-1):
        if n is None or n < 0:
            out = bytearray()
            b = bytearray(64)
            while True:
                k = _read(b, 64, 1)
                for i in range(k):
                    if b[i] == 4:
                        return self._conv(bytes(out))
                    out.append(b[i])
        b = bytearray(n)
        _read(b, n, n)
        return self._conv(bytes(b))

    def readinto(self, buf, n=None):
        if n is None:
            n = len(buf)
        return _read(buf, n, n)

    def readline(self):
        out = bytearray()
        b = bytearray(1)
        while True:
            _read(b, 1, 1)
            out.append(b[0])
            if b[0] == 10:
                return self._conv(bytes(out))

    def ioctl(self, req, arg):
        if req == 3:  # MP_STREAM_POLL
            return arg & 1 if _h.in_avail() else 0
        return 0

    def write(self, b):
        raise OSError(1)

    def __repr__(self):
        return "<io.FileIO 0>" if self._bin else "<io.TextIOWrapper 0>"


class _Out(io.IOBase):
    def __init__(self, binary, fd):
        self._bin = binary
        self._fd = fd
        if not binary:
            self.buffer = _Out(True, fd)

    def write(self, b, n=None):
        if isinstance(b, str):
            if self._bin:
                b = b.encode()
            else:
                _h.out_text(b)
                return len(b)
        if n is None:
            n = len(b)
        if self._bin:
            _h.out_raw(_a(b), n)
        else:
            _h.out_text(str(memoryview(b)[:n], "utf-8"))
        return n

    def flush(self):
        _h.flush()

    def ioctl(self, req, arg):
        if req == 3:
            return arg & 4
        return 0

    def read(self, n=-1):
        raise OSError(1)

    def __repr__(self):
        return "<io.%s %d>" % ("FileIO" if self._bin else "TextIOWrapper", self._fd)


stdin = _In(False)
stdout = _Out(False, 1)
stderr = _Out(False, 2)
