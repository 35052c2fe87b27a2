"""What the node keeps in RTC memory between cycles: survives deep sleep, resets and the
watchdog, not a power cut. A CRC and a magic make a lost or torn copy look invalid, and
an invalid copy is a cold boot (the counter then resumes from NVS, see cn.counter).

Layout (little-endian, version 1; RTC memory holds 2048 bytes, this uses 133):

    off size field
      0  H  magic 0xC17E          2  B layout version       3  B flags (F_*)
      4  I  next frame counter    8  I counter high-water mark last committed to NVS
     12  I  clock seconds        16  H clock milliseconds  18  H boots (wraps)
     20  B  consecutive crashes  21  B pending reset cause 22  B pending error byte
     23  B  spare                24  H driver errors       26  H frames skipped (duty)
     28  I  last frame sent (s)  32  I  last state change (s, parking)
     36  I  duty slot of bucket 0
     40 13H duty buckets: airtime ms per 5-minute slot, newest first
     66  B  app blob length      67 64s app blob (a detector's state)
    131  H  CRC-16 of bytes 0..130
"""

import struct
import time

from micropython import const

MAGIC = const(0xC17E)
VERSION = const(1)
SIZE = const(133)
APP_MAX = const(64)
N_BUCKETS = const(13)
_FMT = "<HBBIIIHHBBBBHHIII13HB64s"
_CRC_AT = const(131)

F_LONGCTR = const(1)  # send the full counter in the next frame
F_JUMP = const(2)  # COUNTER_JUMP pending
F_DUTY = const(4)  # DUTY_LIMITED pending
F_CRASH = const(8)  # the previous run ended in a crash we caught
F_SERVICE = const(16)  # enter service mode at the next boot


class State:
    def __init__(self, rtc=None):
        self._rtc = rtc
        self.buf = bytearray(SIZE)
        self.buckets = [0] * N_BUCKETS
        self.app = bytearray(APP_MAX)
        self.valid = False
        self.reset()

    def reset(self):
        """A fresh state (cold boot): nothing pending, clock at zero."""
        self.flags = 0
        self.fcnt = 0
        self.hwm = 0
        self.clock_s = 0
        self.clock_ms = 0
        self.boots = 0
        self.crashes = 0
        self.reset_cause = 0
        self.err = 0
        self.driver_errors = 0
        self.skipped = 0
        self.last_tx_s = 0
        self.last_change_s = 0
        self.duty_slot = 0
        for i in range(N_BUCKETS):
            self.buckets[i] = 0
        self.app_len = 0
        self._t0 = time.ticks_ms()

    # ------------------------------------------------------------------ clock

    def now_s(self):
        """Seconds since the state was created (kept across deep sleep, lost on power cut)."""
        t = time.ticks_ms()
        ms = self.clock_ms + time.ticks_diff(t, self._t0)
        self._t0 = t
        self.clock_s += ms // 1000
        self.clock_ms = ms % 1000
        return self.clock_s

    def advance_ms(self, ms):
        """Account for time the CPU does not see (deep sleep) before saving."""
        self.now_s()
        ms += self.clock_ms
        self.clock_s += ms // 1000
        self.clock_ms = ms % 1000

    # ------------------------------------------------------------------ RTC memory

    def load(self):
        """Read RTC memory; False (and a fresh state) if it is missing, torn or foreign."""
        self.reset()
        self.valid = False
        if self._rtc is None:
            return False
        try:
            data = self._rtc.memory()
        except Exception:
            return False
        if len(data) < SIZE:
            return False
        from cn.crc16 import crc16

        if crc16(data, 0, _CRC_AT) != (data[_CRC_AT] | (data[_CRC_AT + 1] << 8)):
            return False
        f = struct.unpack_from(_FMT, data, 0)
        if f[0] != MAGIC or f[1] != VERSION:
            return False
        (_, _, self.flags, self.fcnt, self.hwm, self.clock_s, self.clock_ms, self.boots,
         self.crashes, self.reset_cause, self.err, _, self.driver_errors, self.skipped,
         self.last_tx_s, self.last_change_s, self.duty_slot) = f[0:17]
        for i in range(N_BUCKETS):
            self.buckets[i] = f[17 + i]
        n = f[17 + N_BUCKETS]
        self.app_len = n if n <= APP_MAX else 0
        blob = f[18 + N_BUCKETS]
        for i in range(APP_MAX):
            self.app[i] = blob[i]
        self._t0 = time.ticks_ms()
        self.valid = True
        return True

    def save(self):
        """Write RTC memory (a fast RAM write, no flash wear); folds elapsed time in first."""
        if self._rtc is None:
            return
        self.now_s()
        b = self.buckets
        struct.pack_into(_FMT, self.buf, 0, MAGIC, VERSION, self.flags & 0xFF, self.fcnt, self.hwm,
                         self.clock_s, self.clock_ms, self.boots & 0xFFFF, min(self.crashes, 255),
                         self.reset_cause & 7, self.err & 0xFF, 0, self.driver_errors & 0xFFFF,
                         self.skipped & 0xFFFF, self.last_tx_s, self.last_change_s, self.duty_slot,
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                         self.app_len, self.app)
        from cn.crc16 import crc16

        c = crc16(self.buf, 0, _CRC_AT)
        self.buf[_CRC_AT] = c & 0xFF
        self.buf[_CRC_AT + 1] = c >> 8
        self._rtc.memory(self.buf)

    def invalidate(self):
        """Make the next boot cold (used by a factory reset and by tests)."""
        if self._rtc is not None:
            self._rtc.memory(bytearray(SIZE))
        self.valid = False
