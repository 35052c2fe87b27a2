"""The noise node's loop: mains powered, it measures without pause and never deep-sleeps.

Every `period_s` it sends one frame: the per-interval LAeq samples as a series (interval
`sample_s`, at most 16), LAeq, LAmax, LA10 and LA90 over the period, and the battery if
the board has one. The meter driver (cn.drivers.noise_i2s: `poll(deadline)` processes the
audio waiting in the I2S buffer until the deadline, `read(values, deadline)` closes the
period into registry raw values, `take_minutes(out)` gives the series samples) does the
signal processing; this loop paces it in slices of at most PUMP_MS so the watchdog is fed,
and reports.

The sample buffer is preallocated; per period only the encoder's hashes and the meter's
float maths allocate.
"""

import time
from array import array

from micropython import const

from cn import registry as R

PUMP_MS = const(500)


class NoiseLoop:
    def __init__(self, node):
        self.node = node
        self.buf = array("h", bytes(2 * R.MAX_SAMPLES))
        self.meter = None
        for _, drv in node.open_sensors():
            if drv is not None and hasattr(drv, "take_minutes") and hasattr(drv, "poll"):
                self.meter = drv
        self.periods = 0

    def run(self, periods=0):
        """Measure and report; `periods` > 0 stops after that many (tests and benches)."""
        from cn.drivers import base  # its clock hook: tests run periods in no time
        from cn.drivers.base import SensorError

        node = self.node
        meter = self.meter
        if meter is None:
            raise OSError("noise node without a meter driver (cn.drivers.noise_i2s)")
        if hasattr(meter, "set_series_s"):
            meter.set_series_s(node.cfg["sample_s"])
        meter.start()
        period_ms = node.cfg["period_s"] * 1000
        while True:
            t0 = base.ticks_ms()
            while True:
                node.feed()
                left = period_ms - time.ticks_diff(base.ticks_ms(), t0)
                if left <= 0:
                    break
                try:
                    meter.poll(time.ticks_add(base.ticks_ms(), min(PUMP_MS, left)))
                except Exception as e:  # noqa: BLE001 - contained; the frame says so
                    node._fault(e, SensorError)
                    base.sleep_ms(min(PUMP_MS, left))
            self.report()
            node.state.crashes = 0
            self.periods += 1
            if periods and self.periods >= periods:
                return 0

    def fill(self):
        """Put the period's levels into the encoder; returns (mask, status)."""
        from cn.drivers.base import SensorError

        node = self.node
        enc = node.encoder()
        enc.clear()
        status = 0
        mask = 0
        meter = self.meter
        enc.interval = R.interval_code(node.cfg["sample_s"])
        try:
            n = meter.take_minutes(self.buf)
            for i in range(n):
                enc.add_sample(R.LAEQ, self.buf[i])
            mask |= meter.read(enc.raw, time.ticks_add(time.ticks_ms(), 1000))
            if n:
                mask |= 1 << R.LAEQ
        except Exception as e:  # noqa: BLE001
            node._fault(e, SensorError)
            status |= 2  # SENSOR_FAULT
        if mask & meter.mask() != meter.mask():
            status |= 2
        bat = node.battery
        if bat is not None:
            try:
                mask |= bat.read(enc.raw, time.ticks_add(time.ticks_ms(), 500))
            except Exception:  # noqa: BLE001 - mains node: the battery is optional
                pass
        return mask, status

    def report(self):
        mask, status = self.fill()
        return self.node.report(mask, status)
