"""Sensirion SHT4x temperature/humidity at I2C 0x44 (SHT40/41/45).

Measure high repeatability 0xFD (max 8.3 ms: we wait 10 ms), read 6 bytes
T_MSB T_LSB CRC RH_MSB RH_LSB CRC. T = -45 + 175 * S / 65535 degC,
RH = -6 + 125 * S / 65535 %RH, clipped to 0..100 as the datasheet says. Serial 0x89.
No sleep command: the chip idles at about 1 uA between measurements.
"""

from cn import registry as R
from cn.drivers import base
from cn.drivers.sensirion import SensirionI2C, word

ADDR = 0x44
_MEASURE = 0xFD
_SERIAL = 0x89


def convert(st, srh):
    """(temperature in milli-degC, RH in milli-%) from the raw words."""
    t = -45000 + (175000 * st + 32767) // 65535
    rh = -6000 + (125000 * srh + 32767) // 65535
    if rh < 0:
        rh = 0
    elif rh > 100000:
        rh = 100000
    return t, rh


class SHT4x(base.Sensor):
    NAME = "sht4x"
    CHANNELS = (R.AIR_TEMP, R.AIR_RH)

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.dev = SensirionI2C(bus if bus is not None else base.make_i2c(board), self.cfg.get("addr", ADDR), 1)
        self.buf = bytearray(6)

    def read(self, values, deadline):
        try:
            self.dev.read_words(_MEASURE, self.buf, 10, deadline)
        except base.SensorError:
            self.errors += 1
            raise
        t, rh = convert(word(self.buf, 0), word(self.buf, 1))
        return base.put(values, R.AIR_TEMP, t) | base.put(values, R.AIR_RH, rh)

    def serial(self):
        self.dev.read_words(_SERIAL, self.buf, 1, base.deadline_in(100))
        return (word(self.buf, 0) << 16) | word(self.buf, 1)

    def selftest(self):
        info = base.selftest_read(self)
        try:
            info["serial"] = self.serial()
        except Exception as e:  # noqa: BLE001
            info["serial_error"] = str(e)
        return info


DRIVER = SHT4x
