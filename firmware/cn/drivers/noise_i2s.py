"""I2S MEMS microphone (INMP441, ICS-43434) for the noise node: 48 kHz, 24-bit data in
32-bit slots, sensitivity -26 dBFS for a 94 dB SPL 1 kHz sine (dBFS: a full-scale sine is
0 dBFS, so a 94 dB SPL sine has amplitude 2**23 * 10**(-26/20)).

The noise node cannot deep-sleep: the node core calls poll() all the time (each call reads
and processes whole 5 ms chunks until its deadline) and read() once per report, which
closes the period: LAeq, LAmax, LA10, LA90 (cn.dsp.levels). The one-minute (series_s)
LAeq samples for the frame's series come from take_minutes(out), as registry raw values.

cfg: "offset_db" calibration offset added to every level (default 0; from a calibrator),
"sensitivity_dbfs" (default -26), "block_ms" (125), "series_s" (60: the series sample length; set_series_s() too),
"settle_ms" (500: the filter's 20 Hz
poles and the mic's start-up are discarded after start()),
"sample_every_ms" (default = block_ms: continuous measurement, as a sound level meter does).
A longer interval measures one block per interval (a sampled Leq: each block stands for its
interval in the statistics) and sleeps in between, for a solar node or the virtual board,
whose WebAssembly VM cannot run the filter at 48 kHz in real time. After each gap the I2S
DMA buffer is drained unprocessed (it holds old sound) and GAP_SETTLE_MS of filter output is
discarded (the 20 Hz poles ring for about 8 ms after a splice).
"""

import math
from array import array

from micropython import const

from cn import registry as R
from cn.drivers import base
from cn.dsp import aweight, kernel
from cn.dsp.levels import Levels

CHUNK = aweight.CHUNK_MAX
RATE = aweight.RATE
IBUF_CHUNKS = 8  # the I2S DMA buffer, in chunks (make_i2s)
GAP_SETTLE_MS = 40
DEAD_DB = 10.0  # far below any MEMS microphone's own noise (about 30 dB(A)): a dead microphone
_ACC_TOP = const(1 << 28)  # the block energy mantissa stays below this: sums of two stay small ints


def level_offset(sensitivity_dbfs, offset_db):
    """dB to add to 10 log10(mean y^2) (y: filter output, F-scaled) to get dB SPL(A).

    94 dB SPL gives a sine of amplitude A = 2**23 * 10**(s/20) in 24-bit units, mean square
    A**2 / 2; the filter output carries FRAC_BITS fraction bits and the cascade's 1 kHz gain.
    """
    a = (1 << 23) * 10 ** (sensitivity_dbfs / 20)
    ref = 10 * math.log10(a * a / 2) + 20 * aweight.FRAC_BITS * math.log10(2)
    return 94.0 - ref - aweight.GAIN_DB + offset_db


class NoiseI2S(base.Sensor):
    NAME = "noise"
    CHANNELS = (R.LAEQ, R.LAMAX, R.LA10, R.LA90)

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.i2s = bus
        self.process, self.kernel_name = kernel()
        self.state = aweight.new_state()
        self.buf = array("i", bytes(4 * CHUNK))
        block_ms = self.cfg.get("block_ms", 125)
        self.chunks_per_block = max(1, (block_ms * RATE // 1000) // CHUNK)
        self.block_n = self.chunks_per_block * CHUNK
        block_ms = (self.block_n * 1000) // RATE
        self.every_ms = max(block_ms, self.cfg.get("sample_every_ms", block_ms))
        self.gap_ms = self.every_ms - block_ms
        self.resume_at = None  # sampled mode: ticks_ms when the next measuring cycle starts
        self.cycle_at = 0  # sampled mode: when the current cycle (drain, settle, block) started
        self.set_series_s(self.cfg.get("series_s", 60))
        self.offset = level_offset(self.cfg.get("sensitivity_dbfs", -26), self.cfg.get("offset_db", 0))
        self.settle_chunks = (self.cfg.get("settle_ms", 500) * RATE // 1000) // CHUNK
        self._restart()

    def set_series_s(self, seconds):
        """Length of one series sample (the node's series interval); restarts the statistics."""
        self.levels = Levels(self.every_ms, seconds)  # each measured block stands for its interval

    def _restart(self):
        st = self.state
        for i in range(len(st)):
            st[i] = 0
        self.skip = self.settle_chunks
        self.dead_blocks = 0  # blocks below DEAD_DB this period: left out of the statistics
        self._clear_block()
        self.resume_at = None
        self.cycle_at = base.ticks_ms()

    def start(self):
        if self.i2s is None:
            self.i2s = base.make_i2s(self.board, RATE, 4 * CHUNK * IBUF_CHUNKS)
        self._restart()
        return 0

    def _clear_block(self):
        self.block_m = 0  # block energy = block_m * 4**block_x (filter units), in small ints
        self.block_x = 0
        self.block_c = 0

    def feed(self, buf, n):
        """Process n samples (a full chunk, n <= CHUNK) of I2S words already in buf; True when
        this chunk completed a block. Runs 200 times a second: integers only (a float is a
        heap object on the ESP32), one float computation per block."""
        st = self.state
        self.process(buf, n, st, aweight.COEF)
        if self.skip > 0:
            self.skip -= 1
            return False
        m = st[13]  # chunk energy m * 4**x; m < 2**30
        x = st[14]
        if m >= _ACC_TOP:  # headroom, so the sum below stays a small int
            m >>= 2
            x += 1
        d = 2 * (x - self.block_x)
        if d > 0:
            self.block_m = (self.block_m >> d if d < 30 else 0) + m
            self.block_x = x
        elif d > -30:
            self.block_m += m >> -d
        if self.block_m >= _ACC_TOP:
            self.block_m >>= 2
            self.block_x += 1
        self.block_c += 1
        if self.block_c >= self.chunks_per_block:
            e = self.block_m * 4.0 ** self.block_x
            db = 10 * math.log10(e / self.block_n + 1e-20) + self.offset
            if db < DEAD_DB:
                self.dead_blocks += 1  # no live microphone is that quiet: not a measurement
            else:
                self.levels.add_block(db)
            self._clear_block()
            return True
        return False

    def poll(self, deadline):
        """Read and process whole chunks until the deadline (each readinto takes 5 ms); in
        sampled mode, sleep through the gaps between measured blocks."""
        mv = memoryview(self.buf)
        while base.remaining(deadline) > 0:
            if self.resume_at is not None:
                wait = base.time.ticks_diff(self.resume_at, base.ticks_ms())
                if wait > 0:
                    base.sleep_ms(min(wait, base.remaining(deadline)))
                    continue
                self.resume_at = None
                self.cycle_at = base.ticks_ms()
                for _ in range(IBUF_CHUNKS):  # old sound waiting in the DMA buffer
                    self.i2s.readinto(mv)
                self.skip = (GAP_SETTLE_MS * RATE // 1000 + CHUNK - 1) // CHUNK
            nb = self.i2s.readinto(mv)
            if not nb:
                base.sleep_ms(1)
                continue
            if self.feed(self.buf, nb >> 2) and self.gap_ms:
                self.resume_at = base.time.ticks_add(self.cycle_at, self.every_ms)

    def read(self, values, deadline):
        lv = self.levels
        if not lv.count:
            self.poll(deadline)
        dead = self.dead_blocks
        self.dead_blocks = 0
        if not lv.count:
            if dead:  # zeros on the bus: an unplugged or dead microphone, not a quiet street
                raise base.SensorError("noise: the microphone is silent", base.E_RANGE)
            raise base.SensorError("noise: no complete block", base.E_TIMEOUT)
        m = 0
        for ch, db in ((R.LAEQ, lv.laeq()), (R.LAMAX, lv.lamax()), (R.LA10, lv.exceeded(10)),
                       (R.LA90, lv.exceeded(90))):
            m |= base.put(values, ch, int(db * 1000 + 0.5))
        lv.reset_period()
        return m

    def take_minutes(self, out):
        """Minute LAeq samples as registry raw values into out (oldest first); count."""
        n = self.levels.take_minutes(out)
        for i in range(n):
            r = R.raw_from_milli(R.LAEQ, out[i] * 100)
            out[i] = r if r >= 0 else (0 if out[i] < 200 else R.RAW_MAX[R.LAEQ])
        return n

    def stop(self):
        if self.i2s is not None and hasattr(self.i2s, "deinit"):
            self.i2s.deinit()
            self.i2s = None

    def selftest(self):
        info = {"name": self.NAME, "kernel": self.kernel_name}
        info.update(base.selftest_read(self))
        return info


DRIVER = NoiseI2S
