# ruff: noqa
# mypy: ignore-errors
# cryptolib as on the ESP32 port (mbedTLS): aes with ECB (1) and CBC (2) only, backed by the
# host's AES through _cnsim; buffers are passed by address, nothing is copied on the VM heap.
import _cnsim as _h
from uctypes import addressof as _a


class aes:
    def __init__(self, key, mode, IV=None):
        if mode not in (1, 2):
            raise ValueError("mode")
        if len(key) not in (16, 32):
            raise ValueError("key")
        if IV is not None and len(IV) != 16:
            raise ValueError("IV")
        self._h = _h.aes_new(_a(key), len(key), mode, _a(IV) if IV is not None else 0)

    def _run(self, enc, inbuf, outbuf):
        n = len(inbuf)
        if n % 16:
            raise ValueError("blksize")
        ret = None
        if outbuf is None:
            ret = outbuf = bytearray(n)
        elif len(outbuf) < n:
            raise ValueError("output too small")
        r = _h.aes_run(self._h, enc, _a(inbuf), n, _a(outbuf))
        if r == -2:
            raise TypeError("can't encrypt & decrypt")
        return None if ret is None else bytes(ret)

    def encrypt(self, inbuf, outbuf=None):
        return self._run(1, inbuf, outbuf)

    def decrypt(self, inbuf, outbuf=None):
        return self._run(0, inbuf, outbuf)
