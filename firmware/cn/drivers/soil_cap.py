"""Capacitive soil moisture probe (v1.2 type, analog output) on the board's "soil_adc" pin,
powered from the board's "sensor_power" switch only while measuring.

cfg: "dry_mv", "wet_mv" (calibration readings in mV, see cn.soil), "dry_pct", "wet_pct",
"margin", "samples" (default 9), "warmup_ms" (default 200: the probe's oscillator and
output filter settle after power-up). ADC: 11 dB attenuation, read_uv() (factory calibrated).
"""

from array import array

from cn import registry as R
from cn.drivers import base
from cn.soil import OK, TOO_DRY, Calibration, trimmed_mean


class SoilCap(base.Sensor):
    NAME = "soil_cap"
    CHANNELS = (R.SOIL_VWC,)

    def __init__(self, board, cfg, bus=None):
        """bus: (adc, power_pin) test doubles, else built from the board file."""
        super().__init__(board, cfg)
        if bus is not None:
            adc, pin = bus
        else:
            adc, pin = base.make_adc(board["soil_adc"]), None
        self.adc = adc
        self.power = base.Power(board.get("sensor_power"), pin)
        self.cal = Calibration.from_cfg(self.cfg, "dry_mv", "wet_mv", 2800, 1300)
        self.n = min(max(int(self.cfg.get("samples", 9)), 3), 32)
        self.buf = array("i", bytes(4 * self.n))
        self.warmup_ms = self.cfg.get("warmup_ms", 200)
        self.mv = -1  # last averaged reading, for service mode and calibration

    def start(self):
        self.power.on()
        return self.warmup_ms

    def read(self, values, deadline):
        b = self.buf
        for i in range(self.n):
            if base.remaining(deadline) <= 0:
                raise base.SensorError("soil: deadline", base.E_TIMEOUT)
            b[i] = self.adc.read_uv()
        self.mv = mv = trimmed_mean(b, self.n) // 1000
        st = self.cal.check(mv)
        if st != OK:
            raise base.SensorError("soil: probe disconnected" if st == TOO_DRY else "soil: probe shorted",
                                   base.E_RANGE)
        return base.put(values, R.SOIL_VWC, self.cal.vwc_milli(mv))

    def stop(self):
        self.power.off()

    def selftest(self):
        info = base.selftest_read(self)
        info["mv"] = self.mv  # what the installer writes into dry_mv / wet_mv
        return info


DRIVER = SoilCap
