"""What every sensor driver shares: the small interface the node core calls, the bus
factory (pins from the board file, never by hand) and bounded-time helpers.

    drv = cls(board, cfg)            # board: dict from boards/NAME.json; cfg: this sensor's dict
    wait = drv.start()               # power/wake; ms to wait before read (warm-up), 0 if none
    mask = drv.read(values, deadline)  # raw registry ints into values[ch]; bit ch set per channel
    drv.stop()                       # sleep/power down (the core calls it even after a fault)
    info = drv.selftest()            # service mode: identity + one reading in display units

`deadline` is a time.ticks_ms() value. A driver never waits past it: it raises
SensorError (or lets the bus's OSError through) and the core counts the fault, sets the
status SENSOR_FAULT flag and leaves the sensor's channels out of the frame.

Unit tests on the VM (no `machine` module) pass bus objects with the `bus=` keyword; on a
board and on the virtual board the driver builds its buses from the board dict.
"""

import time

from cn import registry as R

# Clock hooks: tests on the VM replace them (set_clock) so that 5 s warm-ups do not
# busy-wait; everything time-related in the drivers goes through these two names.
ticks_ms = time.ticks_ms
sleep_ms = time.sleep_ms


def set_clock(ticks, sleep):
    global ticks_ms, sleep_ms
    ticks_ms = ticks
    sleep_ms = sleep


def deadline_in(ms):
    """A deadline `ms` from now, for callers and tests."""
    return time.ticks_add(ticks_ms(), ms)


def remaining(deadline):
    """Milliseconds left before `deadline` (<= 0: expired)."""
    return time.ticks_diff(deadline, ticks_ms())


class SensorError(Exception):
    """A contained sensor fault: `code` is the low nibble of the frame's error byte
    (subsystem ERR_SENSOR), `args[0]` a short reason for the service log."""

    def __init__(self, reason, code=1):
        super().__init__(reason)
        self.code = code


# error codes (low nibble of the error byte, subsystem R.ERR_SENSOR)
E_TIMEOUT = 1  # no valid answer before the deadline
E_CHECKSUM = 2  # frames or words with a bad checksum/CRC only
E_IDENTITY = 3  # wrong chip id / not found
E_RANGE = 4  # reading outside the physical or calibrated range (probe open/shorted)
E_BUS = 5  # bus error (NACK) seen by the caller as OSError


def put(values, ch, milli):
    """Store channel `ch` from thousandths of its display unit; its mask bit, or 0 when the
    value is outside the registry range (the channel stays absent, the caller flags it)."""
    raw = R.raw_from_milli(ch, milli)
    if raw < 0:
        return 0
    values[ch] = raw
    return 1 << ch


# ---------------------------------------------------------------- bus factory
# machine is imported lazily: the VM test runner has no machine module.


def make_i2c(board):
    import machine

    c = board["i2c"]
    return machine.I2C(c["id"], sda=machine.Pin(c["sda"]), scl=machine.Pin(c["scl"]), freq=c.get("freq", 100000),
                       timeout=50000)  # us: a stretched clock cannot hang the cycle


def make_uart(board, baudrate, timeout_ms=100):
    import machine

    c = board["uart"]
    return machine.UART(c["id"], baudrate=baudrate, tx=c["tx"], rx=c["rx"], timeout=timeout_ms, rxbuf=256)


def make_adc(pin):
    import machine

    adc = machine.ADC(machine.Pin(pin))
    adc.atten(machine.ADC.ATTN_11DB)
    return adc


def make_pin_out(pin):
    import machine

    return machine.Pin(pin, machine.Pin.OUT)


def make_i2s(board, rate, ibuf):
    import machine

    c = board["i2s"]
    return machine.I2S(c["id"], sck=machine.Pin(c["sck"]), ws=machine.Pin(c["ws"]), sd=machine.Pin(c["sd"]),
                       mode=machine.I2S.RX, bits=32, format=machine.I2S.MONO, rate=rate, ibuf=ibuf)


class Power:
    """The switched sensor supply from the board file ("sensor_power": pin, active_low).
    `pin` may be any object with .value(v) (a test double records the sequence)."""

    def __init__(self, spec, pin=None):
        self.active_low = bool(spec.get("active_low", False)) if spec else False
        if pin is None and spec:
            pin = make_pin_out(spec["pin"])
        self.pin = pin
        self.off()

    def on(self):
        if self.pin is not None:
            self.pin.value(0 if self.active_low else 1)

    def off(self):
        if self.pin is not None:
            self.pin.value(1 if self.active_low else 0)


class Sensor:
    NAME = ""
    CHANNELS = ()
    READ_MS = 3000  # the read deadline this driver needs (the SCD4x with power_down needs more)

    def __init__(self, board, cfg, bus=None):
        self.board = board
        self.cfg = cfg or {}
        self.errors = 0  # checksum/CRC failures seen (frames rejected)
        self.skipped = 0  # garbage bytes skipped while resynchronising

    def start(self):
        return 0

    def read(self, values, deadline):
        raise NotImplementedError

    def stop(self):
        pass

    def selftest(self):
        return {"name": self.NAME}

    def mask(self):
        m = 0
        for ch in self.CHANNELS:
            m |= 1 << ch
        return m


def display(values, mask):
    """{channel name: value in display units} for the channels in mask (service mode)."""
    out = {}
    for ch in range(R.N_CHANNELS):
        if mask & (1 << ch):
            out[R.NAMES[ch]] = (R.OFFSET_MILLI[ch] + values[ch] * R.SCALE_MILLI[ch]) / 1000
    return out


def selftest_with(drv, probe):
    """Run probe(info) on drv and stop it whatever happens; a fault becomes text in info
    (service mode shows it to the installer, it never stops the session)."""
    info = {"name": drv.NAME}
    try:
        probe(info)
        info["ok"] = True
    except Exception as e:  # noqa: BLE001 - service mode reports any fault as text
        info["ok"] = False
        info["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            drv.stop()
        except Exception:  # noqa: BLE001
            pass
    return info


def selftest_read(drv, wait_cap_ms=6000):
    """Start, wait the warm-up (capped: service mode is interactive), read once, stop."""

    def probe(info):
        values = [0] * R.N_CHANNELS
        w = drv.start()
        if w:
            sleep_ms(min(w, wait_cap_ms))
        m = drv.read(values, deadline_in(drv.READ_MS))
        info["values"] = display(values, m)

    return selftest_with(drv, probe)
