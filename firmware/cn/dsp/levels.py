"""Sound level statistics over a reporting period, from short-block A-weighted levels.

The meter cuts the A-weighted signal into blocks (default 125 ms) and gives each block's
equivalent level (dB) to add_block(). From those:
  LAeq  = 10 log10(mean of 10^(L/10)) over the period (energy mean: exact, blocks are equal length);
  LAmax = the highest block level. With 125 ms blocks this is close to the Fast-weighted
          LAFmax: equal for steady sounds, and for an impulse much shorter than 125 ms both
          are the impulse energy over 125 ms (Fast's exponential has a 125 ms time constant);
  LA10 / LA90 = the level exceeded during 10 % / 90 % of the blocks, from a histogram of
          block levels in 0.1 dB bins (LMIN..LMAX, preallocated: memory is fixed whatever
          the period; a period up to 2**16-1 blocks, 2.3 h at 125 ms);
  minute LAeq samples = the energy mean of each full minute (`minute_s`), kept in a ring of
          the last `series_max` values (dB x 10), for multi-sample frames.
"""

import math
from array import array

from micropython import const

LMIN = const(200)  # 20.0 dB: lowest bin (dB x 10); lower levels count in it
LMAX = const(1300)  # 130.0 dB: highest bin
NBINS = const(1101)
_REF = 100.0  # energies are kept as 10^((L - _REF)/10): moderate floats on single precision


class Levels:
    def __init__(self, block_ms=125, minute_s=60, series_max=16):
        self.block_ms = block_ms
        self.hist = array("H", bytes(2 * NBINS))
        self.blocks_per_minute = (minute_s * 1000) // block_ms
        self.series = array("h", bytes(2 * series_max))
        self.series_max = series_max
        self.n_series = 0  # minute samples in the ring
        self.head = 0  # next ring slot
        self.min_e = 0.0
        self.min_n = 0
        self.reset_period()

    def reset_period(self):
        h = self.hist
        for i in range(NBINS):
            h[i] = 0
        self.count = 0
        self.energy = 0.0
        self.max_db = -1000.0

    def add_block(self, db):
        e = 10 ** ((db - _REF) / 10)
        if self.count < 65535:
            b = int(db * 10 + 0.5) if db > 0 else 0
            b = b - LMIN
            if b < 0:
                b = 0
            elif b >= NBINS:
                b = NBINS - 1
            self.hist[b] += 1
            self.count += 1
            self.energy += e
            if db > self.max_db:
                self.max_db = db
        self.min_e += e
        self.min_n += 1
        if self.min_n >= self.blocks_per_minute:
            self._push_minute(_REF + 10 * math.log10(self.min_e / self.min_n))
            self.min_e = 0.0
            self.min_n = 0

    def _push_minute(self, db):
        self.series[self.head] = int(db * 10 + 0.5)
        self.head = (self.head + 1) % self.series_max
        if self.n_series < self.series_max:
            self.n_series += 1

    def take_minutes(self, out):
        """Copy the minute samples (dB x 10, oldest first) into out and clear the ring;
        returns how many."""
        n = self.n_series
        start = (self.head - n) % self.series_max
        for i in range(n):
            out[i] = self.series[(start + i) % self.series_max]
        self.n_series = 0
        return n

    def laeq(self):
        if not self.count:
            return None
        return _REF + 10 * math.log10(self.energy / self.count)

    def lamax(self):
        return self.max_db if self.count else None

    def exceeded(self, percent):
        """LN: the level (dB, 0.1 dB resolution) exceeded during `percent` % of the blocks."""
        if not self.count:
            return None
        need = percent * self.count  # compare cum * 100 >= percent * count: integers only
        cum = 0
        h = self.hist
        for b in range(NBINS - 1, -1, -1):
            cum += h[b]
            if cum * 100 >= need:
                return (b + LMIN) / 10
        return LMIN / 10
