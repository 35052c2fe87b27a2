"""Parking detector (cn.parking) and magnetometer drivers on the MicroPython VM.

Field sequences are made here (seeded noise, a car's deviation, drift) and fed as
milligauss readings; the expected behaviour is what a bay operator relies on: one event
per arrival/departure, no flapping on noise or on a neighbour's car, drift followed while
free, state kept across deep sleep."""

from __future__ import annotations

import random

from fwtest import run_fw

BASE = (210, -45, 390)  # an empty bay's field, mG
DET = "from cn.parking import Detector\n"


def noisy(n: int, offset: tuple[float, float, float] = (0, 0, 0), sigma: float = 4.0, seed: int = 1,
          drift: float = 0.0) -> list[list[int]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append([round(BASE[k] + offset[k] + drift * i * (1 if k == 2 else 0) + rnd.gauss(0, sigma))
                    for k in range(3)])
    return out


def feed_prog(readings: list[list[int]], cfg: str = "{}") -> str:
    return DET + f"""
d = Detector.from_cfg({cfg})
events = []
R = {readings!r}
for i in range(len(R)):
    x, y, z = R[i]
    if d.update(x, y, z, 1000 + 30 * i):
        events.append([i, d.occupied])
vals = [0] * 16
m = d.fill(vals, 1000 + 30 * len(R))
result({{"events": events, "occupied": d.occupied, "changes": d.changes, "mask": m, "vals": vals[13:16]}})
"""


def test_learning_then_noise_never_toggles() -> None:
    r = run_fw(feed_prog(noisy(400, sigma=6.0)))
    assert r["events"] == []
    assert r["occupied"] == 0
    assert r["mask"] == 0b111 << 13


def test_arrival_and_departure_give_exactly_one_event_each_after_debounce() -> None:
    seq = noisy(20, seed=2) + noisy(30, offset=(40, -30, 150), seed=3) + noisy(30, seed=4)
    r = run_fw(feed_prog(seq))
    # the third consecutive reading over the threshold (debounce 3) flips the state, once
    assert r["events"] == [[22, 1], [52, 0]]
    assert r["changes"] == 2
    assert r["vals"][0] == 0 and r["vals"][1] == 2


def test_car_shorter_than_debounce_is_ignored() -> None:
    seq = noisy(20, seed=5) + noisy(2, offset=(0, 0, 200), seed=6) + noisy(20, seed=7)
    r = run_fw(feed_prog(seq))
    assert r["events"] == []


def test_neighbour_car_below_enter_threshold_does_not_trigger() -> None:
    # a car in the next bay: 45 mG deviation, between leave (35) and enter (60)
    seq = noisy(20, seed=8) + noisy(200, offset=(0, 27, 36), sigma=3.0, seed=9) + noisy(20, seed=10)
    r = run_fw(feed_prog(seq))
    assert r["events"] == []


def test_hysteresis_holds_occupied_between_thresholds() -> None:
    # occupied car whose deviation sags to 45 mG (engine cooling, driver door...) stays occupied
    seq = noisy(20, seed=11) + noisy(10, offset=(0, 0, 120), seed=12) + noisy(50, offset=(0, 0, 45), sigma=3.0, seed=13)
    r = run_fw(feed_prog(seq))
    assert r["events"] == [[22, 1]]
    assert r["occupied"] == 1


def test_slow_drift_is_followed_while_free() -> None:
    # +0.1 mG per reading on Z: 120 mG over the run, twice the enter threshold
    drift = noisy(1200, drift=0.1, seed=14)
    car_after = [[x, y, z + 150] for x, y, z in noisy(10, seed=15, drift=0.0)]
    car_after = [[x, y, z + 120] for x, y, z in car_after]  # on top of the drifted baseline
    r = run_fw(feed_prog(drift + car_after))
    assert r["events"] == [[1202, 1]]


def test_drift_without_compensation_would_have_triggered() -> None:
    # the same drift with compensation disabled (huge shift): proves the previous test means something
    drift = noisy(1200, drift=0.1, seed=14)
    r = run_fw(feed_prog(drift, '{"drift_shift": 30}'))
    assert len(r["events"]) >= 1


def test_state_survives_to_bytes_from_bytes_and_rejects_torn_copy() -> None:
    first = noisy(20, seed=16) + noisy(5, offset=(0, 0, 150), seed=17)
    second = noisy(5, offset=(0, 0, 150), seed=18) + noisy(10, seed=19)
    r = run_fw(DET + f"""
import cn.parking as P
d = Detector()
for i, (x, y, z) in enumerate({first!r}):
    d.update(x, y, z, 100 + 60 * i)
buf = bytearray(64)
n = d.to_bytes(buf)
rtc = bytes(buf)                      # what RTC memory keeps across deep sleep
d2 = Detector()
ok = d2.from_bytes(rtc)
ev = []
for i, (x, y, z) in enumerate({second!r}):
    if d2.update(x, y, z, 100 + 60 * (25 + i)):
        ev.append([i, d2.occupied])
torn = bytearray(rtc)
torn[7] ^= 0x10
d3 = Detector()
ok3 = d3.from_bytes(torn)
result({{"n": n, "size": P.SIZE, "ok": ok, "ev": ev, "changes": d2.changes, "ok3": ok3, "learned3": d3.learned,
        "minutes": d2.minutes(100 + 60 * 40 + 59), "last": d2.last_change_s}})
""")
    assert r["n"] == r["size"] <= 64
    assert r["ok"] is True
    assert r["ev"] == [[7, 0]]  # the car left after the wake-up: one departure, counted on top
    assert r["changes"] == 2
    assert r["minutes"] == (100 + 60 * 40 + 59 - r["last"]) // 60
    assert r["ok3"] is False and r["learned3"] == 0


def test_change_counter_wraps_mod_4096_and_minutes_saturate() -> None:
    r = run_fw(DET + """
d = Detector(learn_n=1, debounce=1)
d.update(0, 0, 0, 0)
for i in range(4097):
    d.update(0, 0, 200 if i % 2 == 0 else 0, i)
vals = [0] * 16
d.fill(vals, 4096 + 60 * 70000)
result({"changes": d.changes, "vals": vals[13:16]})
""")
    assert r["changes"] == 4097
    assert r["vals"] == [1, 4097 % 4096, 65535]


QMC_DEV = """
import fwbus
from cn.drivers import base
clock = fwbus.Clock().install()
class QMC(fwbus.RegDevice):
    def __init__(self, fields):
        super().__init__(0x0D)
        self.regs[0x0D] = 0xFF
        self.fields = fields
        self.k = 0
        self.ready = True
    def on_read(self, reg):
        if reg == 0x06:
            self.regs[6] = 1 if (self.ready and self.regs[9] & 3 == 1) else 0
            if self.regs[6]:
                x, y, z = self.fields[self.k % len(self.fields)]
                self.k += 1
                for i, v in enumerate((x, y, z)):
                    v &= 0xFFFF
                    self.regs[2 * i] = v & 0xFF
                    self.regs[2 * i + 1] = v >> 8
"""


def test_qmc5883l_registers_conversion_and_detector() -> None:
    # counts at 12 LSB/mG: (2520, -540, 4680) counts = (210, -45, 390) mG
    r = run_fw(QMC_DEV + """
from cn.drivers.qmc5883l import QMC5883L
dev = QMC([(2520, -540, 4680), (2532, -528, 4692), (2508, -552, 4668), (2520, -540, 4680)])
bus = fwbus.I2C(dev)
d = QMC5883L({}, {"learn_n": 2}, bus=bus)
d.now_s = lambda: 5000
out = []
values = [0] * 16
for cycle in range(3):
    d.start()
    m = d.read(values, base.deadline_in(500))
    out.append([m, list(d.field)])
    d.stop()
writes = [(e[2], e[3].hex()) for e in bus.log if e[0] == "wm"]
learned = d.detector.learned
st = d.selftest()
result({"out": out, "writes": writes[:3], "last": writes[-1], "st": st, "learned": learned,
        "after": d.detector.learned})
""")
    assert r["out"][0] == [0, [210, -45, 390]]  # learning: no parking channels yet
    assert r["out"][2][0] == 0b111 << 13
    assert r["writes"] == [[0x0B, "01"], [0x09, "05"], [0x09, "00"]]  # SET/RESET, continuous 50 Hz 2 G, standby
    st = r["st"]
    assert st["chip_id"] == 0xFF and st["ok"] is True and st["name"] == "qmc5883l"
    assert st["learned"] == r["learned"] == r["after"]  # the self-test reads, it does not feed the detector
    assert len(st["field_mg"]) == 3 and all(abs(v) < 1000 for v in st["field_mg"])


def test_qmc5883l_data_never_ready_is_contained_timeout() -> None:
    r = run_fw(QMC_DEV + """
from cn.drivers.qmc5883l import QMC5883L
dev = QMC([(0, 0, 0)])
dev.ready = False
d = QMC5883L({}, {}, bus=fwbus.I2C(dev))
d.start()
r = fwbus.timed_read(d, 300)
r["selftest"] = d.selftest()
result(r)
""")
    assert r["code"] == 1  # E_TIMEOUT
    assert r["elapsed"] <= 305
    st = r["selftest"]
    assert st["ok"] is False and "no data ready" in st["error"]  # the fault as text for the installer


def test_lis3mdl_identity_single_shot_and_auto_increment() -> None:
    # 6842 LSB/G: 1437 counts = 210.0 mG; -308 = -45.0; 2668 = 389.9 -> 390
    r = run_fw("""
import fwbus
from cn.drivers import base
fwbus.Clock().install()
class LIS(fwbus.RegDevice):
    autoinc_bit = 0x80
    def __init__(self):
        super().__init__(0x1C)
        self.regs[0x0F] = 0x3D
    def on_write(self, reg, v):
        if reg == 0x22 and v == 0x01:
            for i, c in enumerate((1437, -308, 2668)):
                c &= 0xFFFF
                self.regs[0x28 + 2 * i] = c & 0xFF
                self.regs[0x29 + 2 * i] = c >> 8
            self.regs[0x27] = 0x08
    def on_read(self, reg):
        if reg == 0x2D:
            self.regs[0x27] = 0
dev = LIS()
bus = fwbus.I2C(dev)
from cn.drivers.lis3mdl import LIS3MDL
d = LIS3MDL({}, {"samples": 2}, bus=bus)
d.start()
d.read([0] * 16, base.deadline_in(200))
d.stop()
writes = [(e[2], e[3].hex()) for e in bus.log if e[0] == "wm"]
reads = [e[2] for e in bus.log if e[0] == "rm" and len(e[3]) == 6]
wrong = LIS()
wrong.regs[0x0F] = 0x33
try:
    LIS3MDL({}, {}, bus=fwbus.I2C(wrong)).start()
    ident = "accepted"
except base.SensorError as e:
    ident = e.code
result({"field": d.field, "writes": writes, "reads": reads, "ident": ident})
""")
    assert r["field"] == [210, -45, 390]
    assert r["reads"] == [0xA8, 0xA8]
    assert r["writes"][-1] == [0x22, "03"]  # power-down after the cycle
    assert [0x22, "01"] in r["writes"]
    assert r["ident"] == 3
