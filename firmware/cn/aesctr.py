"""AES-128-CTR from the chip's ECB block cipher (ESP32 cryptolib has ECB and CBC, no CTR).

    ctr = AesCtr(key16)
    ctr.block[0:16] = initial counter block   # SPEC.md 4: D || FCNT || 0000 || i=0
    ctr.xor(buf, start, end)                   # buf[start:end] ^= keystream, in place

The last four bytes of `block` are a 32-bit big-endian block index, incremented per
16-byte block (and left advanced: set `block` before every message). Nothing is
allocated per call: the cipher object, counter block and keystream block are reused.
"""

import cryptolib

MODE_ECB = 1


class AesCtr:
    def __init__(self, key):
        self.aes = cryptolib.aes(key, MODE_ECB)
        self.block = bytearray(16)
        self.ks = bytearray(16)

    def set_block(self, nonce12, index=0):
        """Counter block = nonce12 (12 bytes) || index (32-bit big-endian)."""
        b = self.block
        for i in range(12):
            b[i] = nonce12[i]
        b[12] = (index >> 24) & 0xFF
        b[13] = (index >> 16) & 0xFF
        b[14] = (index >> 8) & 0xFF
        b[15] = index & 0xFF

    def xor(self, buf, start, end):
        b = self.block
        ks = self.ks
        aes = self.aes
        pos = start
        while pos < end:
            aes.encrypt(b, ks)
            n = end - pos
            if n > 16:
                n = 16
            for i in range(n):
                buf[pos + i] ^= ks[i]
            pos += n
            # 32-bit big-endian increment of block[12:16]
            i = 15
            while i >= 12:
                v = (b[i] + 1) & 0xFF
                b[i] = v
                if v:
                    break
                i -= 1
