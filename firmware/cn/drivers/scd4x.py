"""Sensirion SCD4x CO2 sensor (photoacoustic NDIR) at I2C 0x62, with temperature and RH.

Commands (16-bit, big-endian; data words carry CRC-8, see sensirion.py):
  start_periodic_measurement 0x21B1 (a reading every 5 s)   stop_periodic 0x3F86 (500 ms)
  read_measurement 0xEC05 (1 ms; CO2 ppm, T word, RH word)  get_data_ready 0xE4B8 (low 11 bits != 0)
  measure_single_shot 0x219D (SCD41 only, 5 s)              power_down 0x36E0, wake_up 0x36F6
  get_serial_number 0x3682
T = -45 + 175 * S / 65535 degC, RH = 100 * S / 65535 %.

cfg "mode": "single" (default; SCD41 on a battery node: one shot per cycle, the sensor
idles between) or "periodic" (SCD40, or a mains node). cfg "power_down": true powers the
sensor down in stop() (lowest current); the first reading after wake_up must then be
discarded (datasheet), so read() takes a second single shot and needs a deadline of 6.5 s (READ_MS).
"""

from cn import registry as R
from cn.drivers import base
from cn.drivers.sensirion import SensirionI2C, word

ADDR = 0x62
START_PERIODIC = 0x21B1
READ_MEASUREMENT = 0xEC05
STOP_PERIODIC = 0x3F86
DATA_READY = 0xE4B8
SINGLE_SHOT = 0x219D
POWER_DOWN = 0x36E0
WAKE_UP = 0x36F6
SERIAL = 0x3682
_SHOT_MS = 5000


def convert(co2, st, srh):
    """(CO2 ppm, T milli-degC, RH milli-%) from the three raw words."""
    t = -45000 + (175000 * st + 32767) // 65535
    rh = (100000 * srh + 32767) // 65535
    return co2, t, rh


class SCD4x(base.Sensor):
    NAME = "scd4x"
    CHANNELS = (R.CO2, R.AIR_TEMP, R.AIR_RH)

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.dev = SensirionI2C(bus if bus is not None else base.make_i2c(board), self.cfg.get("addr", ADDR))
        self.single = self.cfg.get("mode", "single") == "single"
        self.power_down = bool(self.cfg.get("power_down", False))
        if self.power_down and self.single:
            self.READ_MS = 6500  # a discarded shot plus a real one after each wake
        self.buf = bytearray(9)
        self.rdy = bytearray(3)
        self.running = False  # periodic measurement started
        self.asleep = False  # powered down by us
        self.discard = False  # next reading is the first after wake_up

    def _wake(self):
        try:
            self.dev.send(WAKE_UP)  # the sensor does not acknowledge wake_up
        except OSError:
            pass
        base.sleep_ms(30)
        self.asleep = False
        self.discard = True

    def start(self):
        if self.asleep:
            self._wake()
        if self.single:
            self.dev.send(SINGLE_SHOT)
            return _SHOT_MS
        if not self.running:
            self.dev.send(START_PERIODIC)
            self.running = True
            return _SHOT_MS
        return 0

    def _wait_ready(self, deadline):
        while True:
            self.dev.read_words(DATA_READY, self.rdy, 1, deadline)
            if word(self.rdy, 0) & 0x07FF:
                return
            if base.remaining(deadline) < 100:
                raise base.SensorError("scd4x: no data before deadline", base.E_TIMEOUT)
            base.sleep_ms(100)

    def _measure(self, deadline):
        self._wait_ready(deadline)
        self.dev.read_words(READ_MEASUREMENT, self.buf, 1, deadline)

    def read(self, values, deadline):
        try:
            self._measure(deadline)
            if self.discard and self.single:
                self.discard = False
                self.dev.send(SINGLE_SHOT)
                if base.remaining(deadline) < _SHOT_MS:
                    raise base.SensorError("scd4x: deadline too short for the second shot", base.E_TIMEOUT)
                base.sleep_ms(_SHOT_MS)
                self._measure(deadline)
        except base.SensorError as e:
            if e.code == base.E_CHECKSUM:
                self.errors += 1
            raise
        self.discard = False
        co2, t, rh = convert(word(self.buf, 0), word(self.buf, 1), word(self.buf, 2))
        if co2 == 0:  # the sensor's "no valid reading" value
            raise base.SensorError("scd4x: CO2 reading 0", base.E_RANGE)
        return base.put(values, R.CO2, co2 * 1000) | base.put(values, R.AIR_TEMP, t) | base.put(values, R.AIR_RH, rh)

    def stop(self):
        if self.power_down:
            if self.running:
                self.dev.send(STOP_PERIODIC)
                base.sleep_ms(500)
                self.running = False
            self.dev.send(POWER_DOWN)
            self.asleep = True

    def serial(self):
        self.dev.read_words(SERIAL, self.buf, 1, base.deadline_in(100))
        return (word(self.buf, 0) << 32) | (word(self.buf, 1) << 16) | word(self.buf, 2)

    def selftest(self):
        info = {"name": self.NAME}
        if not self.running and not self.asleep:
            try:
                info["serial"] = "%012x" % self.serial()
            except Exception as e:  # noqa: BLE001
                info["serial_error"] = str(e)
        info.update(base.selftest_read(self, 6000))
        info["crc_errors"] = self.errors
        return info


DRIVER = SCD4x
