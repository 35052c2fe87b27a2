"""What only service mode needs from the node: the context the service protocol works on
(cn.service's `ctx`), and the factory-reset gesture. Kept out of cn.node so a deep-sleep wake
does not load it (every kilobyte of bytecode is RAM on the board).
"""

import gc
import time

from cn.node import known_sensor


class ServiceContext:
    """The node seen from the service protocol (SERVICE.md)."""

    def __init__(self, node):
        self.node = node
        self.store = node.store
        self.state = node.state
        self.counter = node.counter
        self.hw_id = node.hw_id
        self.board_name = node.board_name
        self.fw = node.fw
        self.window_ms = node.window_ms

    def config_changed(self):
        self.node.load_config()

    def config_status(self):
        return self.node.cfg, self.node.cfg_reason

    def validate_config(self, cfg):
        from cn import config

        return config.validate(cfg, known_sensor)

    def sensors_detected(self):
        names = []
        if self.node.cfg is not None:
            for s in self.node.cfg["sensors"]:
                names.append(s["type"])
        return names

    def selftest(self):
        out = {"sensors": []}
        for name, drv in self.node.open_sensors(all_listed=True):
            self.node.feed()
            if drv is None:
                out["sensors"].append({"name": name, "ok": False, "error": "driver failed to load"})
                continue
            try:
                info = drv.selftest()
            except Exception as e:  # noqa: BLE001
                info = {"name": name, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            out["sensors"].append(info)
        if self.node.battery is not None:
            out["battery"] = self.node.battery.selftest()
        return out

    def diag(self):
        st = self.state
        gc.collect()
        d = {
            "uptime_s": time.ticks_diff(time.ticks_ms(), self.node.t_boot) // 1000,
            "free_heap": gc.mem_free(),
            "reset_cause": self.node.cause,
            "pending_reset_cause": st.reset_cause,
            "last_error": st.err,
            "boots": st.boots,
            "crashes": st.crashes,
            "driver_errors": st.driver_errors,
            "frames_skipped": st.skipped,
            "fcnt_next": st.fcnt,
            "fcnt_hwm": self.store.hwm(),
            "clock_s": st.now_s(),
            "config_error": self.node.cfg_reason,
        }
        if self.node.cfg is not None:
            d["duty_used_ms"] = self.node.duty().used_ms(st.now_s())
        return d

    def test_frame(self):
        """A real frame (real counter, real readings) returned instead of sent."""
        if self.node.cfg is None:
            raise ValueError("no valid config: commit one first")
        n = self.node.build()
        if n <= 0:
            raise ValueError("frame does not fit the region's payload limit")
        c = self.node.reserve()
        self.counter.sent()
        self.state.save()
        return bytes(self.node.enc.view(n)), c


def check_factory_reset(node):
    """Factory reset (SERVICE.md 5): the board's button (boot button, GPIO0 unless the
    board file says "button") down at boot, held 2 s, then released within 8 s. The
    release is required so that a stuck or shorted pin can never wipe a node's key."""
    pin_no = node.board.get("button", 0)
    try:
        m = node.machine
        pin = m.Pin(pin_no, m.Pin.IN, m.Pin.PULL_UP)
        if pin.value() != 0:
            return False
        t0 = time.ticks_ms()
        while True:
            time.sleep_ms(50)
            held = time.ticks_diff(time.ticks_ms(), t0)
            if pin.value() != 0:
                if held < 2000:
                    return False
                break
            if held > 10000:
                return False  # never released: a stuck pin, not a person
    except Exception:  # noqa: BLE001
        return False
    node.store.factory_reset()
    node.state.invalidate()
    from cn.service import LineIO

    (node.io or LineIO()).write("CN 0 FACTORY_RESET")
    node.machine.reset()
    return True
