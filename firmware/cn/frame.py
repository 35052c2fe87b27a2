"""citynode v1 frame encoder for the node (protocol/SPEC.md), allocation-free per frame.

    from cn import registry as R
    from cn.frame import Encoder
    enc = Encoder(device_id, secret, tag_len=8, encrypt=False)   # derives keys once

    enc.clear()                               # start a frame: nothing present, no samples
    enc.set(R.BATTERY_V, raw)                 # scalar: raw int from R.raw_from_milli(ch, milli)
    enc.add_sample(R.LAEQ, raw)               # series sample (oldest first, up to R.MAX_SAMPLES)
    enc.interval = R.interval_code(60)        # series interval code (default: 60 s)
    n = enc.encode(R.PROFILE_NOISE, counter, status=0, error=0, long_counter=False)
    radio.send(enc.view(n))                   # == the first n bytes of enc.buf

State a driver may also use directly: `enc.raw` (array of raw values by channel id),
`enc.present` (int bitmask by channel id), `enc.samples` (array, channel ch's samples at
ch * MAX_SAMPLES ...), `enc.nsamples` (bytearray, samples per channel).

Rules: a present series channel of the profile with no samples travels as a one-sample
series of its `raw` value; in generic frames (profile 0) every channel is a scalar (its
`raw`, which add_sample keeps at the latest sample). `status` is the status byte's bits
0-6 (registry RESET_* << 2 for the reset cause); a non-zero `error` byte (subsystem << 4 |
code) sets the ERR bit and follows the status byte. Invalid use raises ValueError.

In steady state encode() allocates only hashlib's own objects (two sha256 objects, two
digests), for counters below 2**30 (larger ints are heap objects on MicroPython).
"""

from array import array

from micropython import const

from cn import registry as R
from cn.hmac256 import Hmac256

_VERSION = const(0x40)
_ENC = const(0x20)
_LONGCTR = const(0x04)
_STATUS = const(0x02)
_MAX_FRAME = const(255)
_NS = const(16)  # R.MAX_SAMPLES upper bound (4-bit count)

LABEL_AUTH = b"citynode/v1/auth"
LABEL_ENC = b"citynode/v1/enc"
LABEL_PROVE = b"citynode/v1/prove"


def derive_keys(secret, device_id):
    """(K_auth 32 B, K_enc 16 B, K_prove 32 B) from the 16-byte secret S (SPEC.md 2)."""
    d = bytes(((device_id >> 24) & 0xFF, (device_id >> 16) & 0xFF, (device_id >> 8) & 0xFF, device_id & 0xFF))
    mac = Hmac256(secret)
    k_auth = mac.digest(LABEL_AUTH, d)
    k_enc = mac.digest(LABEL_ENC, d)[0:16]
    k_prove = mac.digest(LABEL_PROVE, d)
    mac.wipe()
    return k_auth, k_enc, k_prove


class Encoder:
    def __init__(self, device_id, secret, tag_len=8, encrypt=False):
        if device_id <= 0 or device_id >= 0xFFFFFFFF:
            raise ValueError("device id must be 1..0xFFFFFFFE")
        if len(secret) != 16:
            raise ValueError("secret must be 16 bytes")
        if tag_len == 4:
            code = 0
        elif tag_len == 8:
            code = 1
        elif tag_len == 16:
            code = 2
        else:
            raise ValueError("tag_len must be 4, 8 or 16")
        self.tag_len = tag_len
        self._hflags = _VERSION | (code << 3) | (_ENC if encrypt else 0)
        self.device = bytes(((device_id >> 24) & 0xFF, (device_id >> 16) & 0xFF,
                             (device_id >> 8) & 0xFF, device_id & 0xFF))
        k_auth, k_enc, _ = derive_keys(secret, device_id)
        self._mac = Hmac256(k_auth)
        self._ctr = None
        if encrypt:
            from cn.aesctr import AesCtr

            self._ctr = AesCtr(k_enc)
        self.buf = bytearray(_MAX_FRAME)
        self._mv = memoryview(self.buf)
        self._views = [None] * (_MAX_FRAME + 1)
        self._fc = bytearray(4)
        nch = R.N_CHANNELS
        self.raw = array("H", [0] * nch)
        self.samples = array("H", [0] * (nch * _NS))
        self.nsamples = bytearray(nch)
        self.present = 0
        self.interval = R.interval_code(60)
        masks = []
        smasks = []
        for p in range(len(R.PROFILES)):
            m = 0
            for ch in R.PROFILES[p]:
                m |= 1 << ch
            s = 0
            for ch in R.PROFILE_SERIES[p]:
                s |= 1 << ch
            masks.append(m)
            smasks.append(s)
        self._pmask = tuple(masks)
        self._smask = tuple(smasks)
        self._pos = 0
        self._acc = 0
        self._nacc = 0

    # ------------------------------------------------------------ readings

    def clear(self):
        self.present = 0
        ns = self.nsamples
        for i in range(len(ns)):
            ns[i] = 0

    def set(self, ch, raw):
        self.raw[ch] = raw
        self.present |= 1 << ch

    def add_sample(self, ch, raw):
        n = self.nsamples[ch]
        if n >= R.MAX_SAMPLES:
            raise ValueError("too many samples")
        self.samples[ch * _NS + n] = raw
        self.nsamples[ch] = n + 1
        self.raw[ch] = raw
        self.present |= 1 << ch

    def view(self, n):
        """memoryview of the first n bytes of buf, cached per length."""
        v = self._views[n]
        if v is None:
            v = self._mv[0:n]
            self._views[n] = v
        return v

    # ------------------------------------------------------------ encoding

    def _put(self, value, width):
        acc = (self._acc << width) | value
        n = self._nacc + width
        buf = self.buf
        pos = self._pos
        while n >= 8:
            n -= 8
            if pos >= _MAX_FRAME:
                raise ValueError("frame too long")
            buf[pos] = (acc >> n) & 0xFF
            pos += 1
        self._acc = acc & ((1 << n) - 1)
        self._nacc = n
        self._pos = pos

    def _put_series(self, ch):
        bits = R.BITS[ch]
        db = R.DELTA_BITS[ch]
        lim = (1 << (db - 1)) - 1
        mask = (1 << db) - 1
        n = self.nsamples[ch]
        base = ch * _NS
        samples = self.samples
        if n == 0:  # a scalar given for a series channel: one sample
            self._put(0, 4)
            self._put(self.interval, 3)
            self._put(self.raw[ch], bits)
            return
        self._put(n - 1, 4)
        self._put(self.interval, 3)
        prev = samples[base]
        self._put(prev, bits)
        for i in range(1, n):
            v = samples[base + i]
            d = v - prev
            if -lim <= d <= lim:
                self._put(d & mask, db)
            else:
                self._put(lim + 1, db)  # escape code -2^(db-1), then the full value
                self._put(v, bits)
            prev = v

    def encode(self, profile, counter, status=0, error=0, long_counter=False):
        """Build the frame in buf and return its length."""
        if profile < 0 or profile >= len(R.PROFILES) or (profile and not R.PROFILES[profile]):
            raise ValueError("unknown profile")
        present = self.present
        if profile and present & ~self._pmask[profile]:
            raise ValueError("channel not in profile")
        if error:
            status |= 0x80
        buf = self.buf
        h = self._hflags
        if long_counter:
            h |= _LONGCTR
        if status:
            h |= _STATUS
        buf[0] = h
        dev = self.device
        buf[1] = dev[0]
        buf[2] = dev[1]
        buf[3] = dev[2]
        buf[4] = dev[3]
        fc = self._fc
        fc[0] = (counter >> 24) & 0xFF
        fc[1] = (counter >> 16) & 0xFF
        fc[2] = (counter >> 8) & 0xFF
        fc[3] = counter & 0xFF
        if long_counter:
            buf[5] = fc[0]
            buf[6] = fc[1]
            buf[7] = fc[2]
            buf[8] = fc[3]
            pos = 9
        else:
            buf[5] = fc[2]
            buf[6] = fc[3]
            pos = 7
        body = pos
        if status:
            buf[pos] = status
            pos += 1
            if status & 0x80:
                buf[pos] = error
                pos += 1
        self._pos = pos
        self._acc = 0
        self._nacc = 0
        self._put(profile, 3)
        bits = R.BITS
        if profile == 0:
            k = 0
            for ch in range(R.N_CHANNELS):
                if (present >> ch) & 1:
                    k = ch + 1
            self._put(k, 6)
            for ch in range(k):
                self._put((present >> ch) & 1, 1)
            for ch in range(k):
                if (present >> ch) & 1:
                    self._put(self.raw[ch], bits[ch])
        else:
            chans = R.PROFILES[profile]
            smask = self._smask[profile]
            nch = len(chans)
            for i in range(nch):
                self._put((present >> chans[i]) & 1, 1)
            for i in range(nch):
                ch = chans[i]
                if (present >> ch) & 1 and not (smask >> ch) & 1:
                    self._put(self.raw[ch], bits[ch])
            for i in range(nch):
                ch = chans[i]
                if (present >> ch) & 1 and (smask >> ch) & 1:
                    self._put_series(ch)
        if self._nacc:
            self._put(0, 8 - self._nacc)
        pos = self._pos
        tag_len = self.tag_len
        if pos + tag_len > _MAX_FRAME:
            raise ValueError("frame too long")
        ctr = self._ctr
        if ctr is not None:
            blk = ctr.block
            for i in range(4):
                blk[i] = dev[i]
                blk[4 + i] = fc[i]
                blk[8 + i] = 0
                blk[12 + i] = 0
            ctr.xor(buf, body, pos)
        d = self._mac.digest(fc, self.view(pos))
        for i in range(tag_len):
            buf[pos + i] = d[i]
        return pos + tag_len
