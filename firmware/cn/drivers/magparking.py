"""What the magnetometer drivers share: averaging a few field readings in milligauss and
running the parking detector (cn.parking) on them.

The detector's state must survive deep sleep: the node core saves `drv.detector.to_bytes(buf)`
into RTC memory before sleeping and calls `drv.detector.from_bytes(buf)` at wake. `drv.now_s`
is the clock the detector uses (default time.time, the ESP32 RTC keeps it across deep
sleep; the node core may set its own). After read(), `drv.event` is True when the bay
changed state this cycle (send now).
"""

import time

from cn import registry as R
from cn.drivers import base
from cn.parking import Detector


class MagParking(base.Sensor):
    CHANNELS = (R.PARKING_OCCUPIED, R.PARKING_CHANGES, R.PARKING_MINUTES)
    ADDR = 0

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.i2c = bus if bus is not None else base.make_i2c(board)
        self.addr = self.cfg.get("addr", self.ADDR)
        self.samples = self.cfg.get("samples", 4)
        self.detector = Detector.from_cfg(self.cfg)
        self.now_s = time.time
        self.event = False
        self.field = [0, 0, 0]  # last averaged field, mG
        self.reg1 = bytearray(1)
        self.raw6 = bytearray(6)

    def _w(self, reg, v):
        self.reg1[0] = v
        self.i2c.writeto_mem(self.addr, reg, self.reg1)

    def _r(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self.reg1)
        return self.reg1[0]

    def _sample(self, deadline):
        """Wait for one conversion and leave the 6 data bytes (X, Y, Z little-endian) in raw6."""
        raise NotImplementedError

    def _mg(self, total, n):
        raise NotImplementedError

    def measure(self, deadline):
        """Average `samples` readings into self.field (mG)."""
        sx = sy = sz = 0
        r = self.raw6
        for _ in range(self.samples):
            self._sample(deadline)
            x = r[0] | (r[1] << 8)
            y = r[2] | (r[3] << 8)
            z = r[4] | (r[5] << 8)
            sx += x - 65536 if x & 0x8000 else x
            sy += y - 65536 if y & 0x8000 else y
            sz += z - 65536 if z & 0x8000 else z
        f = self.field
        f[0] = self._mg(sx, self.samples)
        f[1] = self._mg(sy, self.samples)
        f[2] = self._mg(sz, self.samples)
        return f

    def _wait(self, reg, bit, deadline):
        while not (self._r(reg) & bit):
            if base.remaining(deadline) <= 0:
                raise base.SensorError("%s: no data ready" % self.NAME, base.E_TIMEOUT)
            base.sleep_ms(2)
        return self.reg1[0]

    def read(self, values, deadline):
        f = self.measure(deadline)
        now = self.now_s()
        self.event = self.detector.update(f[0], f[1], f[2], now)
        return self.detector.fill(values, now)

    def selftest(self):
        """One field reading and the detector's state; the detector itself is left as it was
        (read() would feed it)."""

        def probe(info):
            self.start()
            base.sleep_ms(30)
            f = self.measure(base.deadline_in(500))
            info["field_mg"] = [f[0], f[1], f[2]]
            d = self.detector
            info["learned"] = d.learned
            info["occupied"] = d.occupied
            info["deviation_mg2"] = d.dev2

        return base.selftest_with(self, probe)
