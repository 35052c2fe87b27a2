"""Test double of MicroPython's `cryptolib` for the WebAssembly VM (which has none).

Only what the firmware uses: `aes(key16, 1)` (ECB) with `encrypt(in_buf, out_buf=None)` on
16-byte blocks. A plain FIPS-197 AES-128 written for these tests (checked against the
FIPS-197 known-answer vector); it allocates nothing per block when out_buf is given, so
allocation measurements of the firmware stay meaningful. Not for production: the board's
cryptolib is the hardware AES.
"""

MODE_ECB = 1


def _rotl8(x, s):
    return ((x << s) | (x >> (8 - s))) & 0xFF


def _make_tables():
    sbox = bytearray(256)
    p = 1
    q = 1
    while True:
        # p *= 3 in GF(2^8); q /= 3: q walks the multiplicative inverses of p
        p = p ^ ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        sbox[p] = q ^ _rotl8(q, 1) ^ _rotl8(q, 2) ^ _rotl8(q, 3) ^ _rotl8(q, 4) ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    xt = bytearray(256)
    for a in range(256):
        xt[a] = ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1
    return bytes(sbox), bytes(xt)


_SBOX, _XT = _make_tables()
_SHIFT = bytes(r + 4 * ((c + r) % 4) for c in range(4) for r in range(4))  # ShiftRows source index


class aes:  # noqa: N801 - the name MicroPython's cryptolib uses
    def __init__(self, key, mode, iv=None):
        if mode != MODE_ECB:
            raise ValueError("test double supports ECB only")
        if len(key) != 16:
            raise ValueError("test double supports AES-128 only")
        rk = bytearray(176)
        for i in range(16):
            rk[i] = key[i]
        rcon = 1
        for i in range(16, 176, 4):
            t0 = rk[i - 4]
            t1 = rk[i - 3]
            t2 = rk[i - 2]
            t3 = rk[i - 1]
            if i % 16 == 0:
                t0, t1, t2, t3 = _SBOX[t1] ^ rcon, _SBOX[t2], _SBOX[t3], _SBOX[t0]
                rcon = _XT[rcon]
            rk[i] = rk[i - 16] ^ t0
            rk[i + 1] = rk[i - 15] ^ t1
            rk[i + 2] = rk[i - 14] ^ t2
            rk[i + 3] = rk[i - 13] ^ t3
        self._rk = rk
        self._s = bytearray(16)
        self._t = bytearray(16)

    def encrypt(self, in_buf, out_buf=None):
        if len(in_buf) != 16:
            raise ValueError("blocks are 16 bytes")
        s = self._s
        t = self._t
        rk = self._rk
        sbox = _SBOX
        xt = _XT
        shift = _SHIFT
        for i in range(16):
            s[i] = in_buf[i] ^ rk[i]
        for rnd in range(1, 11):
            for i in range(16):
                t[i] = sbox[s[shift[i]]]
            if rnd < 10:
                for c in range(0, 16, 4):
                    a0 = t[c]
                    a1 = t[c + 1]
                    a2 = t[c + 2]
                    a3 = t[c + 3]
                    x = a0 ^ a1 ^ a2 ^ a3
                    t[c] = a0 ^ x ^ xt[a0 ^ a1]
                    t[c + 1] = a1 ^ x ^ xt[a1 ^ a2]
                    t[c + 2] = a2 ^ x ^ xt[a2 ^ a3]
                    t[c + 3] = a3 ^ x ^ xt[a3 ^ a0]
            k = rnd * 16
            for i in range(16):
                s[i] = t[i] ^ rk[k + i]
        if out_buf is None:
            return bytes(s)
        for i in range(16):
            out_buf[i] = s[i]
        return out_buf
