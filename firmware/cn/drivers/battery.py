"""Battery voltage, from the board file's "battery" entry:
  {"source": "adc", "pin", "divider", "enable": null | {"pin", "active_low"}}: the ADC
  (11 dB, read_uv) through a resistor divider, optionally switched on only while measuring
  (Heltec V3 ADC_Ctrl);
  {"source": "axp192", "i2c_addr"}: the T-Beam's power chip, registers 0x78 (bits 11..4)
  and 0x79 (bits 3..0), 1.1 mV per LSB.
`mv` keeps the last reading for the node core's LOW_BATT decision.
"""

from array import array

from cn import registry as R
from cn.drivers import base
from cn.soil import trimmed_mean

AXP192_VBAT_H = 0x78


class Battery(base.Sensor):
    NAME = "battery"
    CHANNELS = (R.BATTERY_V,)

    def __init__(self, board, cfg, bus=None):
        """bus: the ADC (adc source) or the I2C bus (axp192) test double; for the adc
        source with an enable switch, (adc, enable_pin)."""
        super().__init__(board, cfg)
        spec = board["battery"]
        self.source = spec["source"]
        self.mv = -1
        if self.source == "axp192":
            self.i2c = bus if bus is not None else base.make_i2c(board)
            self.addr = spec.get("i2c_addr", 0x34)
            self.b2 = bytearray(2)
        elif self.source == "adc":
            enable = spec.get("enable")
            pin = None
            if isinstance(bus, tuple):
                bus, pin = bus
            self.adc = bus if bus is not None else base.make_adc(spec["pin"])
            self.enable = base.Power(enable, pin) if enable else None
            self.divider_milli = int(spec["divider"] * 1000 + 0.5)
            self.buf = array("i", bytes(4 * 8))
        else:
            raise ValueError("battery source %s" % self.source)

    def _adc_mv(self, deadline):
        if self.enable is not None:
            self.enable.on()
            base.sleep_ms(2)
        try:
            for i in range(8):
                if base.remaining(deadline) <= 0:
                    raise base.SensorError("battery: deadline", base.E_TIMEOUT)
                self.buf[i] = self.adc.read_uv()
        finally:
            if self.enable is not None:
                self.enable.off()
        uv = trimmed_mean(self.buf, 8)
        return (uv // 1000) * self.divider_milli // 1000

    def read(self, values, deadline):
        if self.source == "axp192":
            self.i2c.readfrom_mem_into(self.addr, AXP192_VBAT_H, self.b2)
            mv = (((self.b2[0] << 4) | (self.b2[1] & 0x0F)) * 11 + 5) // 10
        else:
            mv = self._adc_mv(deadline)
        self.mv = mv
        return base.put(values, R.BATTERY_V, mv)

    def selftest(self):
        info = base.selftest_read(self)
        info["mv"] = self.mv
        return info


DRIVER = Battery
