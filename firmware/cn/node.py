"""The node: boot, service window, then the measuring cycle of its kind, forever.

Battery kinds (soil, air, parking) run one cycle per wake and deep-sleep between:
    wake -> sensor power on -> start sensors -> wait warm-up -> read each (bounded) ->
    power off -> encode + sign -> duty-cycle check -> send -> persist -> deep sleep.
Parking wakes every sample_s, feeds the magnetometer to its detector (state kept in RTC
memory) and sends on every change plus a heartbeat. Noise nodes are mains powered: they
measure continuously and send a multi-sample frame every period.

Failure containment: every driver call is wrapped (a failing sensor costs its channels,
sets SENSOR_FAULT and the error byte, never the frame); the watchdog is fed between bounded
steps; the whole cycle is guarded by main.py, which counts crashes and backs off.
"""

import gc
import time

from micropython import const

from cn import registry as R
from cn.counter import Counter
from cn.state import F_CRASH, F_DUTY, F_SERVICE, State
from cn.store import Store

FW = "0.1.0"
BOARD_PATH = "/board.json"
WDT_MS = const(30000)
READ_MS = const(3000)  # per-sensor read deadline
WARMUP_CAP_MS = const(40000)
MAX_SLEEP_MS = const(86400000)
F_EVENT = const(32)  # parking: a change not yet reported
F_BACKOFF = const(64)  # the last sleep was a crash back-off

# error byte codes (low nibble) per subsystem
E_RADIO_SEND = const(1)
E_RADIO_TOO_LONG = const(2)
E_STORAGE_NVS = const(1)
E_CRASH = const(1)  # subsystem ERR_MEMORY uses 1 for MemoryError; config 1 for a crash elsewhere

# registry status bits
S_LOW_BATT = const(1)
S_SENSOR_FAULT = const(2)
S_DUTY = const(0x20)
S_JUMP = const(0x40)


def load_board(path=BOARD_PATH):
    import json

    try:
        with open(path) as f:
            return json.loads(f.read())
    except Exception:  # noqa: BLE001 - a node without a board file can still be serviced
        return {"name": "unknown"}


def known_sensor(name):
    """A driver module cn/drivers/<name>.py (or .mpy) exists."""
    import os

    if not name or not all(c.isalpha() or c.isdigit() or c == "_" for c in name):
        return False
    for ext in (".py", ".mpy"):
        try:
            os.stat("/cn/drivers/" + name + ext)
            return True
        except OSError:
            pass
    return False


def reset_code(machine):
    """Registry reset-cause code of the last reset (0 for a wake from deep sleep)."""
    try:
        c = machine.reset_cause()
    except Exception:  # noqa: BLE001
        return R.RESET_OTHER
    g = getattr
    if c == g(machine, "DEEPSLEEP_RESET", -1):
        return R.RESET_NONE
    if c == g(machine, "PWRON_RESET", -2):
        return R.RESET_POWER_ON
    if c == g(machine, "HARD_RESET", -3):
        return R.RESET_HARD_RESET
    if c == g(machine, "WDT_RESET", -4):
        return R.RESET_WATCHDOG
    if c == g(machine, "SOFT_RESET", -5):
        return R.RESET_SOFT_RESET
    if c == g(machine, "BROWNOUT_RESET", -6):
        return R.RESET_BROWNOUT
    return R.RESET_OTHER


class Node:
    def __init__(self, machine=None, nvs=None, io=None):
        if machine is None:
            import machine
        self.machine = machine
        self.t_boot = time.ticks_ms()
        self.board = load_board()
        self.board_name = self.board.get("name", "unknown")
        self.state = State(machine.RTC())
        self.store = Store(nvs)
        self.counter = Counter(self.state, self.store)
        try:
            self.hw_id = "".join("%02x" % b for b in machine.unique_id())
        except Exception:  # noqa: BLE001
            self.hw_id = "unknown"
        self.fw = FW
        self.io = io
        self.cfg = None
        self.cfg_reason = "not loaded"
        self.window_ms = 2000
        self.wdt = None
        self.enc = None
        self.sinks = None
        self.sensors = None
        self.battery = None
        self.supply = None
        self.budget = None
        self.cause = 0
        self.sleep_hook = None  # tests: called instead of machine.deepsleep

    # ------------------------------------------------------------------ boot

    def boot(self):
        """Restore state, decide warm or cold, finish any interrupted commit, load config."""
        st = self.state
        self.cause = cause = reset_code(self.machine)
        cold = cause in (R.RESET_POWER_ON, R.RESET_BROWNOUT)
        if not st.load() or cold:
            st.reset()
            cold = True
            st.valid = False
        self.counter.boot(cold)
        if cold:
            # A power-cycling node must not overspend: the lost hour starts with one
            # worst-case frame charged.
            st.buckets[0] = 2466
        st.boots += 1
        if cause == R.RESET_WATCHDOG or st.flags & F_CRASH:
            st.crashes += 1
            if st.flags & F_CRASH:
                cause = R.RESET_CRASH
        if cause:
            st.reset_cause = cause
        st.flags &= ~F_CRASH
        try:
            if self.store.recover():
                self.counter.restart()
        except OSError:
            self.note_error(R.ERR_STORAGE, E_STORAGE_NVS)
        self.load_config()
        st.save()
        return cold

    def load_config(self):
        from cn import config

        self.cfg, self.cfg_reason = config.load(config.PATH, known_sensor)
        if self.cfg is not None:
            self.window_ms = self.cfg["window_ms"]
        # Everything built from the config is rebuilt from the new one, so that after a COMMIT
        # in service mode, RUN measures and sends exactly as a reboot into the config would
        # (a duty budget made by DIAG before the COMMIT must not keep the old limit).
        self.enc = None
        self.sensors = None
        self.sinks = None
        self.battery = None
        self.budget = None

    def config_changed(self):
        self.load_config()

    def provisioned(self):
        return self.cfg is not None and self.store.key() is not None

    def note_error(self, subsystem, code):
        self.state.err = (subsystem << 4) | (code & 0xF)

    # ------------------------------------------------------------------ time and watchdog

    def start_wdt(self):
        if self.wdt is None:
            try:
                self.wdt = self.machine.WDT(timeout=WDT_MS)
            except Exception:  # noqa: BLE001 - a port without WDT runs unguarded
                self.wdt = None

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def wait(self, ms):
        """Sleep `ms`, feeding the watchdog every second (through the drivers' clock hook,
        cn.drivers.base.sleep_ms, so tests can run warm-ups in no time)."""
        from cn.drivers import base

        while ms > 0:
            step = ms if ms < 1000 else 1000
            base.sleep_ms(step)
            ms -= step
            self.feed()

    def deep_sleep(self, ms):
        """Persist and deep-sleep; the board wakes through a reset (does not return)."""
        ms = max(1000, min(ms, MAX_SLEEP_MS))
        st = self.state
        st.advance_ms(ms)
        st.save()
        if self.sleep_hook is not None:
            return self.sleep_hook(ms)
        self.machine.deepsleep(ms)

    # ------------------------------------------------------------------ service mode

    def service(self, io=None, mode="service"):
        """The service protocol over the console, with this node as its context
        (cn.nodesvc holds what only service mode needs, loaded only then)."""
        from cn.nodesvc import ServiceContext
        from cn.service import Service

        svc = Service(ServiceContext(self), io or self.io)
        svc.announce(mode)
        return svc

    # ------------------------------------------------------------------ parts of a cycle

    def encoder(self):
        if self.enc is None:
            from cn.frame import Encoder

            dev, secret = self.store.key()
            self.enc = Encoder(dev, secret, self.cfg["tag_len"], self.cfg["encrypt"])
        return self.enc

    def duty(self):
        if self.budget is None:
            from cn.duty import Budget
            from cn.region import REGIONS

            reg = REGIONS[self.cfg["region"]]
            limit = 0
            if reg["duty_ms_per_hour"]:
                limit = int(self.cfg["duty_pct"] * 36000)
            self.budget = Budget(self.state, limit)
        return self.budget

    def open_sensors(self, all_listed=False):
        """[(name, driver or None)] for the configured sensors; the battery apart."""
        if self.sensors is None:
            self.sensors = []
            listed_battery = False
            for s in self.cfg["sensors"] if self.cfg else ():
                name = s["type"]
                drv = None
                try:
                    mod = __import__("cn.drivers." + name, None, None, ("DRIVER",))
                    drv = mod.DRIVER(self.board, s)
                except Exception:  # noqa: BLE001 - a missing chip must not stop the node
                    self.state.driver_errors += 1
                    self.note_error(R.ERR_SENSOR, 3)
                gc.collect()  # loading a driver leaves garbage: keep the heap's peak low
                if name == "battery":
                    listed_battery = True
                    self.battery = drv
                    continue
                self.sensors.append((name, drv))
            if not listed_battery and self.board.get("battery"):
                try:
                    from cn.drivers.battery import Battery

                    self.battery = Battery(self.board, {})
                except Exception:  # noqa: BLE001
                    self.battery = None
        return self.sensors

    def power(self, on):
        if self.supply is None:
            from cn.power import Supply

            try:
                self.supply = Supply(self.board)
            except Exception:  # noqa: BLE001
                return
        if on:
            self.supply.on()
        else:
            self.supply.off()

    def measure(self):
        """Read every sensor once into the encoder. Returns (present mask, status bits)."""
        from cn.drivers.base import SensorError

        enc = self.encoder()
        values = enc.raw
        sensors = self.open_sensors()
        status = 0
        mask = 0
        self.power(True)
        warm = 0
        started = []
        for name, drv in sensors:
            if drv is None:
                status |= S_SENSOR_FAULT
                continue
            try:
                w = drv.start() or 0
                warm = max(warm, w)
                started.append(drv)
            except Exception as e:  # noqa: BLE001
                status |= S_SENSOR_FAULT
                self._fault(e, SensorError)
        self.wait(min(warm, WARMUP_CAP_MS))
        for drv in started:
            self.feed()
            try:
                deadline = time.ticks_add(time.ticks_ms(), READ_MS)
                m = drv.read(values, deadline)
                want = drv.mask() if hasattr(drv, "mask") else m
                if m & want != want and drv.CHANNELS and getattr(drv, "detector", None) is None:
                    status |= S_SENSOR_FAULT  # some channel out of range: left out
                mask |= m
            except Exception as e:  # noqa: BLE001 - contained: the channels are left out
                status |= S_SENSOR_FAULT
                self._fault(e, SensorError)
        for drv in started:
            try:
                drv.stop()
            except Exception:  # noqa: BLE001
                pass
        self.power(False)
        self.feed()
        if self.battery is not None:
            try:
                m = self.battery.read(values, time.ticks_add(time.ticks_ms(), 500))
                mask |= m
                mv = self.battery.mv
                if 0 < mv < int(self.cfg["low_batt_v"] * 1000):
                    status |= S_LOW_BATT
            except Exception as e:  # noqa: BLE001
                self._fault(e, SensorError)
        return mask, status

    def _fault(self, e, SensorError):
        st = self.state
        st.driver_errors += 1
        code = e.code if isinstance(e, SensorError) else (5 if isinstance(e, OSError) else 0xF)
        if isinstance(e, MemoryError):
            self.note_error(R.ERR_MEMORY, 1)
        else:
            self.note_error(R.ERR_SENSOR, code)

    def profile(self):
        from cn.config import KINDS

        return KINDS[self.cfg["kind"]]

    def build(self, mask=None, status=0):
        """Measure (unless mask given) and encode with the counter the frame will use,
        without reserving it yet (see reserve). Returns n, 0 when the frame does not fit
        the region's payload limit (it is then never sent: error byte RADIO/2)."""
        from cn.state import F_JUMP

        st = self.state
        enc = self.encoder()
        if mask is None:
            mask, status = self.measure()
        p = self.profile()
        pmask = 0
        for ch in R.PROFILES[p]:
            pmask |= 1 << ch
        enc.present = mask & pmask
        status |= (st.reset_cause & 7) << 2
        if st.flags & F_DUTY:
            status |= S_DUTY
        if st.flags & F_JUMP:
            status |= S_JUMP
        c = st.fcnt
        n = enc.encode(p, c, status & 0x7F, st.err, self.counter.long_needed(c))
        if n > self.max_payload():
            self.note_error(R.ERR_RADIO, E_RADIO_TOO_LONG)
            return 0
        return n

    def reserve(self):
        """Spend the counter the last build() used (NVS mark first when due); OSError if
        the mark cannot be written, and then the frame must not go out."""
        c = self.state.fcnt
        got = self.counter.next()
        if got != c:
            raise OSError("counter moved")
        return c

    def max_payload(self):
        from cn.region import REGIONS

        return REGIONS[self.cfg["region"]]["max_payload"][self.cfg["radio"]["sf"]]

    def airtime_ms(self, n):
        from cn.duty import airtime_ms

        r = self.cfg["radio"]
        return airtime_ms(n, r["sf"], r["bw_khz"], r["cr"])

    def transmit(self, n):
        """Send the encoded frame to every sink. True if at least one took it."""
        if self.sinks is None:
            from cn.radio import open_sinks

            self.sinks = open_sinks(self.cfg, self.board)
        ok = False
        frame = self.enc.view(n)
        for s in self.sinks:
            self.feed()
            try:
                s.send(frame)
                ok = True
            except Exception:  # noqa: BLE001 - a radio fault is reported in the next frame
                self.note_error(R.ERR_RADIO, E_RADIO_SEND)
            try:
                s.sleep()
            except Exception:  # noqa: BLE001
                pass
        return ok

    def report(self, mask=None, status=0):
        """One frame: build, respect the duty cycle, send. Returns True if it went out."""
        st = self.state
        now = st.now_s()
        budget = self.duty()
        n = self.build(mask, status)
        if n == 0:
            st.save()
            return False
        ms = self.airtime_ms(n)
        uses_lora = "lora" in self.cfg["sinks"]
        if uses_lora and not budget.allows(now, ms):
            # Skipped before spending a counter; DUTY_LIMITED goes in the next frame.
            st.flags |= F_DUTY
            st.skipped += 1
            st.save()
            return False
        try:
            self.reserve()
        except OSError:
            self.note_error(R.ERR_STORAGE, E_STORAGE_NVS)
            st.save()
            return False
        sent = self.transmit(n)
        if sent:
            if uses_lora:
                budget.charge(now, ms)
            self.counter.sent()
            st.flags &= ~F_DUTY
            st.reset_cause = 0
            st.err = 0
            st.last_tx_s = now
        st.save()
        return sent

    # ------------------------------------------------------------------ cycles

    def cycle(self):
        """One battery-node cycle; returns the ms to sleep until the next one."""
        t0 = time.ticks_ms()
        kind = self.cfg["kind"]
        st = self.state
        if kind == "parking":
            return self.parking_cycle(t0)
        self.report()
        st.crashes = 0
        used = time.ticks_diff(time.ticks_ms(), t0)
        return self.cfg["period_s"] * 1000 - used

    def parking_cycle(self, t0):
        st = self.state
        now = st.now_s()
        mask, status = self.measure_parking(now)
        det = self.detector()
        event = bool(st.flags & F_EVENT)
        if det is not None and det.ready and (event or det.heartbeat_due(now)):
            if self.report(mask, status):
                det.mark_reported(now)
                st.flags &= ~F_EVENT
        elif det is None and now - st.last_tx_s >= self.cfg["heartbeat_s"]:
            self.report(mask, status)  # no detector: still say we are alive
        self.save_detector()
        st.crashes = 0
        st.save()
        used = time.ticks_diff(time.ticks_ms(), t0)
        return self.cfg["sample_s"] * 1000 - used

    def detector(self):
        for _, drv in self.open_sensors():
            d = getattr(drv, "detector", None)
            if d is not None:
                return d
        return None

    def measure_parking(self, now):
        st = self.state
        for _, drv in self.open_sensors():
            if getattr(drv, "detector", None) is not None:
                drv.now_s = st.now_s
                drv.detector.heartbeat_s = self.cfg["heartbeat_s"]
                if st.app_len:
                    drv.detector.from_bytes(st.app)
        mask, status = self.measure()
        for _, drv in self.open_sensors():
            if getattr(drv, "event", False):
                st.flags |= F_EVENT
        return mask, status

    def save_detector(self):
        d = self.detector()
        if d is not None:
            self.state.app_len = d.to_bytes(self.state.app)

    def run_noise(self):
        """Mains-powered noise node: never sleeps; one frame per period."""
        from cn.noisenode import NoiseLoop

        NoiseLoop(self).run()

    def crash_backoff_ms(self):
        """Sleep after a crash: the period doubled per consecutive crash, 1 min..6 h."""
        period = self.cfg["period_s"] * 1000 if self.cfg else 60000
        n = min(self.state.crashes, 8)
        return max(60000, min(period << n, 21600000))

    # ------------------------------------------------------------------ main

    def _serve(self, svc, entered):
        """Service mode under the watchdog, entered at boot (`entered`) or if the host wakes
        the node in its window. True when the node goes on to measure in this boot (RUN, no
        wake-up, or idle on a provisioned node); REBOOT, or ending unprovisioned, resets.
        The session (its line buffer, staged data) is garbage once this returns."""
        if entered or svc.wait_for_wakeup(self.window_ms):
            self.start_wdt()
            if entered:
                svc.run(self.feed, idle_ms=600000 if self.provisioned() else 0)
            else:
                svc.run(self.feed)
            if svc.reboot or not self.provisioned():
                self.state.save()
                self.machine.reset()
                return False
        svc = None
        gc.collect()
        return True

    def run(self):
        """Everything after boot: window/service mode, then cycles. Does not return on a
        board (deep sleep resets it); returns the sleep length to tests."""
        st = self.state
        woke = self.cause == R.RESET_NONE and not (st.flags & F_SERVICE)
        if not woke and self.store.key() is not None:
            from cn.nodesvc import check_factory_reset

            check_factory_reset(self)
            gc.collect()  # a cold boot only: the service module is not needed any more
        go_on = True
        if not self.provisioned() or st.flags & F_SERVICE:
            st.flags &= ~F_SERVICE
            go_on = self._serve(self.service(mode="service"), True)
        elif not woke and self.window_ms:
            go_on = self._serve(self.service(mode="window"), False)
        if not go_on:
            return 0  # reset (on a board machine.reset() does not return)
        self.start_wdt()
        self.feed()  # whatever the last service verb took, the cycle starts with a full period
        if self.cause == R.RESET_WATCHDOG and st.crashes >= 2 and not (st.flags & F_BACKOFF):
            # A hang the watchdog caught, again: back off before trying (a crash main.py
            # caught has already slept its back-off).
            st.flags |= F_BACKOFF
            return self.deep_sleep(self.crash_backoff_ms())
        st.flags &= ~F_BACKOFF
        self.encoder()
        gc.collect()  # loading the encoder left garbage (open_sensors collects after each driver)
        self.open_sensors()
        if self.cfg["kind"] == "noise":
            return self.run_noise()
        ms = self.cycle()
        return self.deep_sleep(ms)
