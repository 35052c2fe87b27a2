"""Adafruit STEMMA soil sensor (ATSAMD10 running seesaw) at I2C 0x36: capacitive moisture
and soil temperature from one I2C device (our choice for soil temperature: no 1-Wire
timing on the bus, and the virtual board models I2C devices).

seesaw register reads: write [module, function], wait, read. Hardware id: module 0x00
function 0x01 -> 0x55. Temperature: module 0x00 function 0x04, 4 bytes big-endian,
degC * 65536. Capacitance: module 0x0F (touch) function 0x10, 2 bytes big-endian (about
200 dry .. 2000 wet); 0xFFFF means "not ready", retried a few times.

cfg: "dry", "wet" (capacitance counts; uncalibrated defaults 200/2000), "dry_pct",
"wet_pct", "margin" (cn.soil), "temp_only": true to fill soil_temp only (next to an
analog probe that gives soil_vwc).
"""

from cn import registry as R
from cn.drivers import base
from cn.soil import OK, TOO_DRY, Calibration

ADDR = 0x36
HW_ID = 0x55


class SeesawSoil(base.Sensor):
    NAME = "seesaw_soil"
    CHANNELS = (R.SOIL_VWC, R.SOIL_TEMP)

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.i2c = bus if bus is not None else base.make_i2c(board)
        self.addr = self.cfg.get("addr", ADDR)
        self.temp_only = bool(self.cfg.get("temp_only", False))
        if self.temp_only:
            self.CHANNELS = (R.SOIL_TEMP,)
        self.cal = Calibration.from_cfg(self.cfg, "dry", "wet", 200, 2000)
        self.reg = bytearray(2)
        self.b2 = bytearray(2)
        self.b4 = bytearray(4)
        self.cap = -1

    def _read(self, module, fn, buf, wait_ms, deadline):
        if base.remaining(deadline) < wait_ms:
            raise base.SensorError("seesaw: deadline", base.E_TIMEOUT)
        self.reg[0] = module
        self.reg[1] = fn
        self.i2c.writeto(self.addr, self.reg)
        base.sleep_ms(wait_ms)
        self.i2c.readfrom_into(self.addr, buf)

    def hw_id(self):
        b = bytearray(1)
        self._read(0x00, 0x01, b, 1, base.deadline_in(50))
        return b[0]

    def read(self, values, deadline):
        self._read(0x00, 0x04, self.b4, 2, deadline)
        b = self.b4
        raw = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        if raw & 0x80000000:
            raw -= 1 << 32
        m = base.put(values, R.SOIL_TEMP, (raw * 1000) >> 16)
        if self.temp_only:
            return m
        for _ in range(3):
            self._read(0x0F, 0x10, self.b2, 5, deadline)
            cap = (self.b2[0] << 8) | self.b2[1]
            if cap != 0xFFFF:
                break
        else:
            raise base.SensorError("seesaw: capacitance not ready", base.E_TIMEOUT)
        self.cap = cap
        st = self.cal.check(cap)
        if st != OK:
            raise base.SensorError("seesaw: probe out of soil" if st == TOO_DRY else "seesaw: probe shorted",
                                   base.E_RANGE)
        return m | base.put(values, R.SOIL_VWC, self.cal.vwc_milli(cap))

    def selftest(self):
        info = {"name": self.NAME}
        try:
            info["hw_id"] = self.hw_id()
        except Exception as e:  # noqa: BLE001
            info["hw_id_error"] = str(e)
        info.update(base.selftest_read(self))
        info["capacitance"] = self.cap
        return info


DRIVER = SeesawSoil
