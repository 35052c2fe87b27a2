"""Parking bay occupancy from a magnetometer under (or beside) the bay.

A parked car's steel bends the earth's field: the detector learns the empty bay's field
(the baseline, averaged over `learn_n` readings, taken when the installer leaves the bay
empty), then watches the deviation |B - baseline| (milligauss):
  free -> occupied when it reaches `enter` for `debounce` consecutive readings,
  occupied -> free when it falls to `leave` or below for `debounce` consecutive readings
  (hysteresis: enter > leave, so a reading near one threshold cannot toggle the state);
  while free and below `leave`, the baseline follows slow drift (temperature, seasons) as
  an exponential average with weight 2**-drift_shift; a neighbour's car gives a smaller
  deviation, between leave and enter: it neither flips the state nor drags the baseline.
Every change is an event (the node sends at once); `heartbeat_due` asks for a periodic
report without change. The counters go in the frame: changes mod 4096, minutes since the
last change (saturating at 65535).

The whole state fits in SIZE bytes (to_bytes/from_bytes, with a check byte) for RTC memory:
deep sleep loses RAM but must not lose the baseline, the state or the counters.
"""

import struct

from micropython import const

from cn import registry as R

SIZE = const(39)
_MAGIC = const(0xA7)
_FMT = "<BBBBiiiiiiHII"  # 38 bytes + check byte


def _check(buf, n):
    c = 0x5A
    for i in range(n):
        c = ((c << 1) | (c >> 7)) & 0xFF
        c ^= buf[i]
    return c


class Detector:
    def __init__(self, enter=60, leave=35, debounce=3, learn_n=8, drift_shift=6, heartbeat_s=86400):
        if leave >= enter:
            raise ValueError("parking: leave threshold must be below enter")
        self.enter2 = enter * enter
        self.leave2 = leave * leave
        self.debounce = debounce
        self.learn_n = learn_n
        self.drift_shift = drift_shift
        self.heartbeat_s = heartbeat_s
        self.clear()

    @classmethod
    def from_cfg(cls, cfg):
        return cls(cfg.get("enter_mg", 60), cfg.get("leave_mg", 35), cfg.get("debounce", 3), cfg.get("learn_n", 8),
                   cfg.get("drift_shift", 6), cfg.get("heartbeat_s", 86400))

    def clear(self):
        """Forget everything: relearn the baseline (the bay must be empty)."""
        self.occupied = 0
        self.learned = 0
        self.pending = 0
        self.bx = self.by = self.bz = 0  # baseline, mG * 16
        self.sx = self.sy = self.sz = 0  # learning sums, mG
        self.changes = 0
        self.last_change_s = 0
        self.last_report_s = 0
        self.dev2 = 0

    def relearn(self):
        self.learned = 0
        self.pending = 0
        self.sx = self.sy = self.sz = 0

    @property
    def ready(self):
        return self.learned >= self.learn_n

    def update(self, x, y, z, now_s):
        """One reading in mG at time now_s (seconds, any clock that survives deep sleep).
        Returns True when the occupancy changed (an event)."""
        if self.learned < self.learn_n:
            self.sx += x
            self.sy += y
            self.sz += z
            self.learned += 1
            if self.learned == self.learn_n:
                n = self.learn_n
                self.bx = (self.sx * 16 + n // 2) // n
                self.by = (self.sy * 16 + n // 2) // n
                self.bz = (self.sz * 16 + n // 2) // n
                self.last_change_s = now_s
                self.last_report_s = now_s
            return False
        dx = x - ((self.bx + 8) >> 4)
        dy = y - ((self.by + 8) >> 4)
        dz = z - ((self.bz + 8) >> 4)
        d2 = dx * dx + dy * dy + dz * dz
        self.dev2 = d2
        if not self.occupied:
            if d2 >= self.enter2:
                self.pending += 1
            else:
                self.pending = 0
                if d2 <= self.leave2:
                    k = self.drift_shift
                    h = 1 << (k - 1)
                    self.bx += ((x << 4) - self.bx + h) >> k
                    self.by += ((y << 4) - self.by + h) >> k
                    self.bz += ((z << 4) - self.bz + h) >> k
        elif d2 <= self.leave2:
            self.pending += 1
        else:
            self.pending = 0
        if self.pending >= self.debounce:
            self.pending = 0
            self.occupied ^= 1
            self.changes = (self.changes + 1) & 0xFFFF
            self.last_change_s = now_s
            return True
        return False

    def minutes(self, now_s):
        m = (now_s - self.last_change_s) // 60
        if m < 0:
            return 0
        return 65535 if m > 65535 else m

    def heartbeat_due(self, now_s):
        return now_s - self.last_report_s >= self.heartbeat_s

    def mark_reported(self, now_s):
        self.last_report_s = now_s

    def fill(self, values, now_s):
        """Parking channels into values (raw); mask of channels filled (none while learning)."""
        if not self.ready:
            return 0
        values[R.PARKING_OCCUPIED] = self.occupied
        values[R.PARKING_CHANGES] = self.changes & 0xFFF
        values[R.PARKING_MINUTES] = self.minutes(now_s)
        return (1 << R.PARKING_OCCUPIED) | (1 << R.PARKING_CHANGES) | (1 << R.PARKING_MINUTES)

    def to_bytes(self, buf):
        """Write the state into buf[0:SIZE]; returns SIZE."""
        struct.pack_into(_FMT, buf, 0, _MAGIC, self.occupied, self.learned, self.pending, self.bx, self.by, self.bz,
                         self.sx, self.sy, self.sz, self.changes, self.last_change_s & 0xFFFFFFFF,
                         self.last_report_s & 0xFFFFFFFF)
        buf[SIZE - 1] = _check(buf, SIZE - 1)
        return SIZE

    def from_bytes(self, buf):
        """Restore from to_bytes' output; False (state cleared: relearn) if it is not valid."""
        if len(buf) < SIZE or buf[0] != _MAGIC or _check(buf, SIZE - 1) != buf[SIZE - 1]:
            self.clear()
            return False
        f = struct.unpack_from(_FMT, buf, 0)
        (_, self.occupied, self.learned, self.pending, self.bx, self.by, self.bz, self.sx, self.sy, self.sz,
         self.changes, self.last_change_s, self.last_report_s) = f
        return True
