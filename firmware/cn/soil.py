"""Soil probe calibration: two points stored in the device config, mapped linearly to
volumetric water content (VWC).

A capacitive probe's reading moves monotonically with soil moisture (the analog v1.2 probe's
voltage falls as the soil gets wetter; the seesaw's capacitance count rises): the installer
records the reading in dry soil (`dry`, VWC `dry_pct`, default 0 %) and in saturated soil or
water (`wet`, VWC `wet_pct`, default 100 %). Readings between map linearly, outside clamp to
0..100 %, and a reading beyond either point by more than `margin` (fraction of the span,
default 0.25) is a fault: an open probe reads far drier than dry, a shorted one far wetter.
"""

OK = 0
TOO_DRY = 1  # far beyond the dry point: probe disconnected / out of the soil
TOO_WET = 2  # far beyond the wet point: probe shorted


class Calibration:
    def __init__(self, dry, wet, dry_pct=0, wet_pct=100, margin=0.25):
        if dry == wet:
            raise ValueError("soil calibration: dry and wet readings are equal")
        self.dry = int(dry)
        self.wet = int(wet)
        self.dry_m = int(dry_pct * 1000)  # milli-%
        self.wet_m = int(wet_pct * 1000)
        self.slack = int(abs(self.dry - self.wet) * margin)

    @classmethod
    def from_cfg(cls, cfg, dry_key, wet_key, dry_default, wet_default):
        return cls(cfg.get(dry_key, dry_default), cfg.get(wet_key, wet_default), cfg.get("dry_pct", 0),
                   cfg.get("wet_pct", 100), cfg.get("margin", 0.25))

    def check(self, x):
        """OK, TOO_DRY or TOO_WET for reading x (same unit as the calibration points)."""
        sign = 1 if self.dry > self.wet else -1  # +1: the reading falls as the soil gets wetter
        if (x - self.dry) * sign > self.slack:
            return TOO_DRY
        if (self.wet - x) * sign > self.slack:
            return TOO_WET
        return OK

    def vwc_milli(self, x):
        """VWC in milli-percent for reading x, clamped to 0..100 %."""
        v = self.dry_m + (x - self.dry) * (self.wet_m - self.dry_m) // (self.wet - self.dry)
        if v < 0:
            return 0
        if v > 100000:
            return 100000
        return v


def trimmed_mean(a, n):
    """Mean of the middle half of a[0:n] after an in-place insertion sort (median-like
    robustness against ADC spikes, mean-like resolution); n is small (<= 32)."""
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v
    k = n // 4
    s = 0
    for i in range(k, n - k):
        s += a[i]
    m = n - 2 * k
    return (s + m // 2) // m
