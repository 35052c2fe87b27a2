"""The node cycle on the MicroPython VM with stand-in hardware (test_fw_node_fakes): frames
that the host decoder accepts, counters, status flags, duty cycle and fault containment.
The week-long runs on the virtual board are in test_fw_node_week.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citynode.protocol import MemoryCounterStore, decode
from citynode.protocol import airtime_ms as host_airtime_ms
from test_fw_node_fakes import DEV, SECRET, SOIL, fake_files, json_lines, run_fw

# heltec_v2: soil probe on ADC pin 36, battery on pin 37 through a x3.2 divider
SETUP = r'''
from cn.drivers import base
base.set_clock(base.ticks_ms, lambda ms: None)   # warm-ups take no real time
from cn.store import Store
machine.adc_uv[36] = SOIL_UV
machine.adc_uv[37] = BATT_UV
s = Store(esp32.NVS("citynode"))
s.commit_begin(CONFIG, DEV, SECRET)
s.recover()
'''


def setup(config: dict[str, Any], soil_mv: int = 2050, batt_mv: int = 3900) -> str:
    return (SETUP.replace("SOIL_UV", str(soil_mv * 1000)).replace("BATT_UV", str(batt_mv * 1000 * 10 // 32))
            .replace("CONFIG", repr(json.dumps(config).encode())).replace("DEV", str(DEV))
            .replace("SECRET", repr(SECRET)))


def run_wakes(config: dict[str, Any], n: int, extra: str = "", **kw: int) -> tuple[list[bytes], list[Any]]:
    body = setup(config, **kw) + r'''
sleeps = []
for i in range(N):
    EXTRA
    node, ms, how = wake()
    sleeps.append([how, ms])
print("J " + json.dumps({"packets": [p.hex() for p in lora.packets], "sleeps": sleeps}))
'''.replace("N", str(n)).replace("EXTRA", extra or "pass")
    r = json_lines(run_fw(body, fake_files()))[0]
    return [bytes.fromhex(p) for p in r["packets"]], r["sleeps"]


def decode_all(packets: list[bytes]) -> list[Any]:
    store = MemoryCounterStore()
    return [decode(p, {DEV: SECRET}, store) for p in packets]


def test_soil_node_sends_one_verified_frame_per_wake_and_sleeps_the_period() -> None:
    packets, sleeps = run_wakes(SOIL, 5)
    assert len(packets) == 5
    frames = decode_all(packets)
    assert [f.counter for f in frames] == [0, 1, 2, 3, 4]
    first = frames[0]
    assert first.profile == "soil" and first.long_counter
    assert first.status.reset_cause == "power_on" and first.status.counter_jump
    values = frames[1].values()
    assert values["soil_vwc"] == 50.0  # 2050 mV halfway between dry 2800 and wet 1300
    assert abs(values["battery_v"] - 3.9) <= 0.02
    assert frames[1].status.is_clear() and not frames[1].long_counter
    assert all(how == "sleep" and 890_000 <= ms <= 900_000 for how, ms in sleeps)


def test_a_failing_sensor_costs_its_channel_not_the_frame() -> None:
    # the probe's ADC raises from the third wake on
    extra = "if i == 2: machine.adc_uv[36] = OSError(5)"
    packets, _ = run_wakes(SOIL, 4, extra)
    frames = decode_all(packets)
    assert len(frames) == 4
    assert "soil_vwc" in frames[1].values() and not frames[1].status.sensor_fault
    for f in frames[2:]:
        assert "soil_vwc" not in f.values() and "battery_v" in f.values()
        assert f.status.sensor_fault
    assert frames[2].status.error == ("sensor", 5)


def test_low_battery_is_flagged() -> None:
    packets, _ = run_wakes({**SOIL, "low_batt_v": 3.5}, 2, batt_mv=3300)
    frames = decode_all(packets)
    assert frames[1].status.low_battery


def test_encrypted_frames_with_a_4_byte_tag_decode() -> None:
    packets, _ = run_wakes({**SOIL, "encrypt": True, "tag_len": 4}, 3)
    frames = decode_all(packets)
    assert all(f.encrypted and f.tag_len == 4 for f in frames)
    assert frames[2].values()["soil_vwc"] == 50.0


def test_duty_cycle_limits_airtime_and_flags_the_next_frame() -> None:
    # SF12 every minute: 1.32 s a frame would be 79 s an hour, over twice the 36 s budget
    cfg = {**SOIL, "period_s": 60, "radio": {"sf": 12}}
    body = setup(cfg) + r'''
per_wake = []
for i in range(150):
    wake()
    per_wake.append(len(lora.packets))
print("J " + json.dumps({"packets": [p.hex() for p in lora.packets], "per_wake": per_wake}))
'''
    r = json_lines(run_fw(body, fake_files()))[0]
    frames = decode_all([bytes.fromhex(p) for p in r["packets"]])
    airtime = [0.0] * len(r["per_wake"])  # ms sent per one-minute wake
    start = 0
    for minute, end in enumerate(r["per_wake"]):
        airtime[minute] = sum(host_airtime_ms(len(h) // 2, 12) for h in r["packets"][start:end])
        start = end
    worst = max(sum(airtime[i:i + 60]) for i in range(len(airtime) - 59))
    assert worst <= 36_000  # never more than 1 % in any rolling hour
    assert worst >= 30_000  # and the budget is used, not wasted
    assert any(f.status.duty_limited for f in frames)
    counters = [f.counter for f in frames]
    assert counters == list(range(len(frames)))  # skipped frames spend no counter


def test_console_sink_prints_frames_for_the_bench() -> None:
    body = setup({**SOIL, "sinks": ["console"]}) + "node, ms, how = wake()\n"
    out = run_fw(body, fake_files())
    lines = [x for x in out.splitlines() if x.startswith("CNFRAME ")]
    assert len(lines) == 1
    f = decode(bytes.fromhex(lines[0].split()[1]), {DEV: SECRET}, MemoryCounterStore())
    assert f.counter == 0




FAKE_METER = r'''
# The real noise driver (cn.drivers.noise_i2s: level statistics, read, series samples) with
# only its audio source replaced: poll() adds one scripted 1 s block level per simulated
# second instead of reading and A-weighting I2S audio (too slow on the VM for 10 minutes).
from cn.drivers import base
from cn.drivers.noise_i2s import NoiseI2S

class FakeMeter(NoiseI2S):
    def __init__(self, board, cfg, bus=None):
        # 1 s blocks; a bus object so start() opens no machine.I2S (poll below never reads it)
        super().__init__(board, dict(cfg, block_ms=1000), bus or object())
        self.t = 0

    def poll(self, deadline):
        while base.remaining(deadline) > 0:
            self.t += 1     # 55 dB, and 90 dB every tenth second
            self.levels.add_block(90.0 if self.t % 10 == 0 else 55.0)
            base.sleep_ms(1000)

DRIVER = FakeMeter
'''


def test_noise_node_sends_a_series_frame_per_period() -> None:
    cfg = {"kind": "noise", "period_s": 300, "sample_s": 60, "window_ms": 0,
           "sensors": [{"type": "fakemeter"}]}
    files = fake_files()
    files["/cn/drivers/fakemeter.py"] = FAKE_METER.encode()
    body = setup(cfg) + r'''
node = boot_node()
import cn.noisenode as nn
from cn.drivers import base
clock = [0]
def sleep(ms):
    clock[0] += ms
base.set_clock(lambda: clock[0], sleep)
loop = nn.NoiseLoop(node)
loop.run(periods=2)
print("J " + json.dumps([p.hex() for p in lora.packets]))
'''
    packets = [bytes.fromhex(p) for p in json_lines(run_fw(body, files))[0]]
    frames = decode_all(packets)
    assert len(frames) == 2 and all(f.profile == "noise" for f in frames)
    series = [r for r in frames[1].readings if r.channel == "laeq"]
    assert len(series) == 5  # five one-minute LAeq samples in a 5-minute period
    # 54 s at 55 dB + 6 s at 90 dB per minute: energy mean 10*log10((54*10^5.5 + 6*10^9)/60)
    assert all(abs(r.value - 80.0) <= 0.2 for r in series)
    values = frames[1].values()
    assert values["lamax"] == 90.0 and values["la90"] == 55.0


def hold_button_at_reset(hold_ms: int) -> tuple[dict[str, Any], str]:
    """Reset the node with the button (pin 0, active low) held for hold_ms, then released;
    ({"how": how the wake ended, "key": whether the node still has its key}, output)."""
    body = setup(SOIL) + r'''
import time
t0 = time.ticks_ms()
machine.pins[0] = lambda: 0 if time.ticks_diff(time.ticks_ms(), t0) < HOLD_MS else 1
machine.cause[0] = machine.HARD_RESET
node, ms, how = wake()
print("J " + json.dumps({"how": how, "key": node.store.key() is not None}))
'''.replace("HOLD_MS", str(hold_ms))
    out = run_fw(body, fake_files())
    return json_lines(out)[0], out


def test_factory_reset_needs_the_button_held_then_released() -> None:
    r, out = hold_button_at_reset(2600)
    assert r == {"how": "reset", "key": False}
    assert "CN 0 FACTORY_RESET" in out


def test_a_button_that_is_only_tapped_does_not_reset() -> None:
    r, out = hold_button_at_reset(300)
    assert r == {"how": "sleep", "key": True}
    assert "FACTORY_RESET" not in out


def test_a_crash_loop_backs_off_and_the_next_frame_reports_it() -> None:
    """A module that raises on every cycle (here: cn.duty broken on flash) is a crash loop:
    main.py records each crash in RTC memory and sleeps longer each time; once the cause is
    gone, the next frame says a crash happened (reset cause and error byte)."""
    files = fake_files()
    good_duty = files["/cn/duty.py"] = (Path(__file__).parents[1] / "firmware/cn/duty.py").read_bytes()
    files["/cn/duty.py"] = b"raise RuntimeError('broken module')\n"
    body = setup(SOIL) + r'''
sleeps = []
for i in range(6):
    fresh()
    try:
        exec(open("/main.py").read(), {"__name__": "__main__"})
    except machine.Sleep as e:
        sleeps.append(e.args[0])
with open("/cn/duty.py", "wb") as f:
    f.write(GOOD)
fresh()
try:
    exec(open("/main.py").read(), {"__name__": "__main__"})
except machine.Sleep as e:
    sleeps.append(e.args[0])
print("J " + json.dumps({"sleeps": sleeps, "packets": [p.hex() for p in lora.packets]}))
'''.replace("GOOD", repr(good_duty))
    r = json_lines(run_fw(body, files))[0]
    crash_sleeps = r["sleeps"][:6]
    assert crash_sleeps[0] >= 60_000
    assert all(b >= a for a, b in zip(crash_sleeps, crash_sleeps[1:], strict=False))
    assert crash_sleeps[-1] > crash_sleeps[0]  # backing off
    assert max(crash_sleeps) <= 6 * 3600 * 1000
    frames = decode_all([bytes.fromhex(p) for p in r["packets"]])
    assert len(frames) == 1
    assert frames[0].status.reset_cause == "crash" and frames[0].status.error is not None
