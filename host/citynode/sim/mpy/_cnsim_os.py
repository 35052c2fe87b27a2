# ruff: noqa
# mypy: ignore-errors
# os as on the ESP32 port (uname, urandom, dupterm; no os.path).
import os as _o
import _cnsim as _h
from uctypes import addressof as _a

# The port's libc reports WASI errno numbers (ENOENT = 44); the ESP32 reports the classic
# ones, which errno.ENOENT and tools like mpremote expect.
_ERRNO = {44: 2, 20: 17, 54: 20, 31: 21, 55: 39, 28: 22, 8: 9, 63: 1, 29: 5, 51: 28, 69: 30, 10: 16, 37: 36,
          48: 12, 75: 18}


def _wrap(f):
    def call(*a):
        try:
            return f(*a)
        except OSError as e:
            n = _ERRNO.get(e.errno)
            if n is None:
                raise
            raise OSError(n)
    return call


for _k in ("chdir", "getcwd", "ilistdir", "listdir", "mkdir", "mount", "remove", "rename", "rmdir", "stat",
           "statvfs", "umount", "unlink"):
    if hasattr(_o, _k):
        globals()[_k] = _wrap(getattr(_o, _k))
sep = "/"
_rename = rename


def rename(old, new):
    # The port's VfsPosix builds both absolute paths in one shared buffer (the second
    # overwrites the first): rename them as paths relative to the root instead.
    cwd = _o.getcwd()
    old = old if old.startswith("/") else cwd.rstrip("/") + "/" + old
    new = new if new.startswith("/") else cwd.rstrip("/") + "/" + new
    _o.chdir("/")
    try:
        _rename(old[1:], new[1:])
    finally:
        _o.chdir(cwd)


def ilistdir(path="."):
    # LittleFS gives (name, type, inode, size); the port's posix VFS leaves the size out.
    it = _wrap(_o.ilistdir)(path)
    base = path if path.endswith("/") else path + "/"
    for e in it:
        if len(e) >= 4:
            yield e
        else:
            size = 0 if e[1] == 0x4000 else _o.stat(base + e[0])[6]
            yield (e[0], e[1], 0, size)
import builtins as _b

_real_open = _b.open
open = _wrap(_real_open)



def uname():
    b = _h.banner()
    mach = b.split("; ", 1)[1]
    return _UnameT(("esp32", "esp32", "1.27.0", "v1.27.0 on 2025-12-09", mach))


class _UnameT:
    def __init__(self, t):
        self._t = t
        self.sysname, self.nodename, self.release, self.version, self.machine = t

    def __getitem__(self, i):
        return self._t[i]

    def __len__(self):
        return 5

    def __repr__(self):
        return "(sysname='%s', nodename='%s', release='%s', version='%s', machine='%s')" % self._t


def urandom(n):
    b = bytearray(n)
    _h.urandom(_a(b), n)
    return bytes(b)


def sync():
    pass


def dupterm(stream=None, index=0):
    return None


def dupterm_notify(obj=None):
    pass
