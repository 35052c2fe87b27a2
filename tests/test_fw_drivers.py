"""Sensor drivers on the MicroPython VM, fed real datasheet byte sequences through bus
doubles (tests/fwbus.py): parsing, checksums/CRCs, conversions, resync and timeouts are the
firmware's own code. Expected values are computed here from the datasheets' formulas and
the registry's encoding (raw = round((value - offset) / scale)), not from the firmware."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from datasheet import sensirion_crc
from fwtest import run_fw

ROOT = Path(__file__).resolve().parents[1]
REG = {c["name"]: c for c in tomllib.loads((ROOT / "protocol/registry.toml").read_text())["channel"]}


def raw(name: str, value: float) -> int:
    """Registry encoding, half away from zero (SPEC.md 3.3)."""
    c = REG[name]
    q = (value - c["offset"]) / c["scale"]
    return int(math.floor(abs(q) + 0.5)) * (1 if q >= 0 else -1)


def ch(name: str) -> int:
    return int(REG[name]["id"])


def words(*ws: int) -> bytes:
    out = bytearray()
    for w in ws:
        pair = bytes((w >> 8, w & 0xFF))
        out += pair + bytes((sensirion_crc(pair),))
    return bytes(out)


def sds_frame(pm25_tenths: int, pm10_tenths: int, dev: int = 0xA160) -> bytes:
    body = bytes((pm25_tenths & 0xFF, pm25_tenths >> 8, pm10_tenths & 0xFF, pm10_tenths >> 8, dev >> 8, dev & 0xFF))
    return b"\xaa\xc0" + body + bytes((sum(body) & 0xFF,)) + b"\xab"


def pms_frame(pm25_atm: int, pm10_atm: int) -> bytes:
    data = [10, pm25_atm + 2, pm10_atm + 3, 9, pm25_atm, pm10_atm, 1500, 400, 80, 12, 3, 1, 0]
    f = bytearray(b"\x42\x4d\x00\x1c")
    for w in data:
        f += bytes((w >> 8, w & 0xFF))
    s = sum(f)
    return bytes(f + bytes((s >> 8, s & 0xFF)))


PRE = """
import fwbus
from cn.drivers import base
clock = fwbus.Clock().install()
values = [0] * 16
BOARD = {"i2c": {"id": 0, "sda": 21, "scl": 22}, "uart": {"id": 2, "tx": 17, "rx": 16},
         "soil_adc": 36, "sensor_power": {"pin": 25, "active_low": False},
         "battery": {"source": "adc", "pin": 34, "divider": 2.0, "enable": None}}
def run_read(drv, ms=2000):
    try:
        m = drv.read(values, base.deadline_in(ms))
        return {"mask": m, "values": values[:]}
    except base.SensorError as e:
        return {"error": e.args[0], "code": e.code}
    except OSError as e:
        return {"oserror": e.args[0]}
"""


def test_sensirion_crc_matches_datasheet_example() -> None:
    assert sensirion_crc(b"\xbe\xef") == 0x92  # the datasheet's example, checks our reference
    r = run_fw("from cn.drivers.sensirion import crc8\nresult(crc8(b'\\xbe\\xef', 0, 2))")
    assert r == 0x92


# ------------------------------------------------------------------ SDS011


def test_sds011_datasheet_frame_and_commands() -> None:
    # The protocol document's example frame: PM2.5 = 0x04D4 / 10 = 123.6, PM10 = 0x0A3A / 10 = 261.8.
    frame = bytes.fromhex("AAC0D4043A0AA1601DAB")
    r = run_fw(PRE + f"""
from cn.drivers.sds011 import SDS011
u = fwbus.UART()
d = SDS011(BOARD, {{}}, bus=u)
w = d.start()
u.feed(b"\\xaa\\xc0stale frame from the warm-up")  # flushed: measured before warm-up ended
u.replies[bytes.fromhex("aab404000000000000000000000000ffff02ab")] = {frame!r}
r = run_read(d)
d.stop()
result({{"warm": w, "read": r, "writes": [b.hex() for b in u.writes], "id": d.device_id, "maxread": u.max_read}})
""")
    assert r["warm"] == 30000
    assert r["read"]["mask"] == (1 << ch("pm2_5")) | (1 << ch("pm10"))
    assert r["read"]["values"][ch("pm2_5")] == raw("pm2_5", 123.6)
    assert r["read"]["values"][ch("pm10")] == raw("pm10", 261.8)
    # work, query, sleep commands: exactly as in the protocol document
    assert r["writes"] == [
        "aab406010100000000000000000000ffff06ab",
        "aab404000000000000000000000000ffff02ab",
        "aab406010000000000000000000000ffff05ab",
    ]
    assert r["maxread"] <= 16  # bounded reads into the preallocated chunk


def test_sds011_resyncs_after_garbage_and_counts_bad_checksum() -> None:
    bad = bytearray(sds_frame(55, 99))
    bad[8] ^= 0x01  # corrupt checksum
    # garbage, a command reply (AA C5 ...), a stray AA, a bad-checksum frame, then a good one
    stream = b"\x13\x37\xaa\x00" + bytes.fromhex("AAC5060101000000A1600AAB") + b"\xaa" + bytes(bad) + sds_frame(57, 101)
    r = run_fw(PRE + f"""
from cn.drivers.sds011 import SDS011
u = fwbus.UART()
d = SDS011(BOARD, {{}}, bus=u)
u.replies[bytes.fromhex("aab404000000000000000000000000ffff02ab")] = {stream!r}
r = run_read(d)
result({{"read": r, "errors": d.errors, "skipped": d.skipped}})
""")
    assert r["read"]["values"][ch("pm2_5")] == raw("pm2_5", 5.7)
    assert r["read"]["values"][ch("pm10")] == raw("pm10", 10.1)
    assert r["errors"] == 1
    assert r["skipped"] >= 4 + 12 + 1


def test_sds011_only_bad_frames_is_a_contained_checksum_fault_within_deadline() -> None:
    bad = bytearray(sds_frame(55, 99))
    bad[2] ^= 0x40
    r = run_fw(PRE + f"""
from cn.drivers.sds011 import SDS011
u = fwbus.UART()
u.replies[bytes.fromhex("aab404000000000000000000000000ffff02ab")] = {bytes(bad) * 3!r}
d = SDS011(BOARD, {{}}, bus=u)
t0 = clock.t
r = run_read(d, 1500)
result({{"read": r, "errors": d.errors, "elapsed": clock.t - t0}})
""")
    assert r["read"]["code"] == 2  # E_CHECKSUM
    assert r["errors"] == 3
    assert r["elapsed"] <= 1500 + 10


def test_sds011_silent_sensor_times_out_at_deadline() -> None:
    r = run_fw(PRE + """
from cn.drivers.sds011 import SDS011
d = SDS011(BOARD, {}, bus=fwbus.UART())
t0 = clock.t
r = run_read(d, 1200)
result({"read": r, "elapsed": clock.t - t0})
""")
    assert r["read"]["code"] == 1  # E_TIMEOUT
    assert 1200 <= r["elapsed"] <= 1210


# ------------------------------------------------------------------ PMS5003


def test_pms5003_passive_read_and_sleep_wake_commands() -> None:
    r = run_fw(PRE + f"""
from cn.drivers.pms5003 import PMS5003
u = fwbus.UART()
# a command acknowledgement (short frame), then the data frame answering the read request
u.replies[bytes.fromhex("424de2000001 71".replace(" ", ""))] = bytes.fromhex("424d0004e1000174") + {pms_frame(35, 48)!r}
d = PMS5003(BOARD, {{}}, bus=u)
w = d.start()
r = run_read(d)
d.stop()
result({{"warm": w, "read": r, "writes": [b.hex() for b in u.writes]}})
""")
    assert r["warm"] == 30000
    assert r["read"]["values"][ch("pm2_5")] == raw("pm2_5", 35)
    assert r["read"]["values"][ch("pm10")] == raw("pm10", 48)
    wake, passive, read, sleep = "424de4000101 74", "424de1000001 70", "424de2000001 71", "424de4000001 73"
    expect = [wake, passive, passive, read, sleep]
    assert r["writes"] == [s.replace(" ", "") for s in expect]


def test_pms5003_rejects_bad_checksum_and_resyncs() -> None:
    bad = bytearray(pms_frame(12, 20))
    bad[13] ^= 0x10
    stream = b"\x4d\x42\x42" + bytes(bad) + b"\x00\xff" + pms_frame(13, 21)
    r = run_fw(PRE + f"""
from cn.drivers.pms5003 import PMS5003
d = PMS5003(BOARD, {{}}, bus=fwbus.UART())
d.uart.replies[bytes.fromhex("424de200000171")] = {stream!r}
r = run_read(d)
result({{"read": r, "errors": d.errors}})
""")
    assert r["read"]["values"][ch("pm2_5")] == raw("pm2_5", 13)
    assert r["read"]["values"][ch("pm10")] == raw("pm10", 21)
    assert r["errors"] == 1


# ------------------------------------------------------------------ SCD4x


def test_scd4x_single_shot_datasheet_example() -> None:
    # Datasheet example: 0x01F4 = 500 ppm, 0x6667 -> 25.0 degC, 0x5EB9 -> 37.0 %RH.
    meas = bytes.fromhex("01f4336667a25eb93c")
    assert words(0x01F4, 0x6667, 0x5EB9) == meas  # our CRC agrees with the datasheet's bytes
    r = run_fw(PRE + f"""
from cn.drivers.scd4x import SCD4x
dev = fwbus.CmdDevice(0x62)
dev.answers[b"\\xe4\\xb8"] = {words(0x8006)!r}
dev.answers[b"\\xec\\x05"] = {meas!r}
bus = fwbus.I2C(dev)
d = SCD4x(BOARD, {{}}, bus=bus)
w = d.start()
r = run_read(d, 3000)
d.stop()
result({{"warm": w, "read": r, "cmds": [c.hex() for c in dev.cmds]}})
""")
    assert r["warm"] == 5000
    v = r["read"]["values"]
    assert v[ch("co2")] == raw("co2", 500)
    assert v[ch("air_temp")] == raw("air_temp", -45 + 175 * 0x6667 / 65535)
    assert v[ch("air_rh")] == raw("air_rh", 100 * 0x5EB9 / 65535)
    assert r["cmds"] == ["219d", "e4b8", "ec05"]


def test_scd4x_crc_error_rejected_and_counted() -> None:
    meas = bytearray.fromhex("01f4336667a25eb93c")
    meas[5] ^= 0xFF
    r = run_fw(PRE + f"""
from cn.drivers.scd4x import SCD4x
dev = fwbus.CmdDevice(0x62)
dev.answers[b"\\xe4\\xb8"] = {words(0x0001)!r}
dev.answers[b"\\xec\\x05"] = {bytes(meas)!r}
d = SCD4x(BOARD, {{}}, bus=fwbus.I2C(dev))
d.start()
result({{"read": run_read(d, 3000), "errors": d.errors}})
""")
    assert r["read"]["code"] == 2
    assert r["errors"] == 1


def test_scd4x_not_ready_times_out_and_power_down_wake_sequence() -> None:
    r = run_fw(PRE + f"""
from cn.drivers.scd4x import SCD4x
dev = fwbus.CmdDevice(0x62)
dev.answers[b"\\xe4\\xb8"] = {words(0x8000)!r}   # low 11 bits 0: not ready
d = SCD4x(BOARD, {{"power_down": True}}, bus=fwbus.I2C(dev))
d.start()
t0 = clock.t
r = run_read(d, 2000)
el = clock.t - t0
d.stop()
d.start()
result({{"read": r, "elapsed": el, "cmds": [c.hex() for c in dev.cmds]}})
""")
    assert r["read"]["code"] == 1
    assert r["elapsed"] <= 2000 + 5
    cmds = r["cmds"]
    assert cmds[0] == "219d" and cmds[-3:] == ["36e0", "36f6", "219d"]


def test_scd4x_nack_is_an_oserror_for_the_caller() -> None:
    r = run_fw(PRE + """
from cn.drivers.scd4x import SCD4x
d = SCD4x(BOARD, {}, bus=fwbus.I2C())   # nothing at 0x62
try:
    d.start()
    out = "no error"
except OSError as e:
    out = "oserror"
result(out)
""")
    assert r == "oserror"


# ------------------------------------------------------------------ SHT4x


@pytest.mark.parametrize("st,srh", [(0x6667, 0x8000), (0x0000, 0x0300), (0xFFFF, 0xFFFF)])
def test_sht4x_conversion_and_clipping(st: int, srh: int) -> None:
    r = run_fw(PRE + f"""
from cn.drivers.sht4x import SHT4x
dev = fwbus.CmdDevice(0x44)
dev.answers[b"\\xfd"] = {words(st, srh)!r}
d = SHT4x(BOARD, {{}}, bus=fwbus.I2C(dev))
t0 = clock.t
r = run_read(d)
result({{"read": r, "waited": clock.t - t0}})
""")
    t = -45 + 175 * st / 65535
    rh = min(100.0, max(0.0, -6 + 125 * srh / 65535))
    v = r["read"]["values"]
    assert v[ch("air_rh")] == raw("air_rh", rh)
    if -40 <= t <= 85:
        assert v[ch("air_temp")] == raw("air_temp", t)
        assert r["read"]["mask"] == (1 << ch("air_temp")) | (1 << ch("air_rh"))
    else:  # outside the registry range: left out, never clamped
        assert r["read"]["mask"] == 1 << ch("air_rh")
    assert r["waited"] >= 9  # measurement time respected


def test_sht4x_crc_error() -> None:
    b = bytearray(words(0x6667, 0x8000))
    b[1] ^= 1
    r = run_fw(PRE + f"""
from cn.drivers.sht4x import SHT4x
dev = fwbus.CmdDevice(0x44)
dev.answers[b"\\xfd"] = {bytes(b)!r}
d = SHT4x(BOARD, {{}}, bus=fwbus.I2C(dev))
result({{"read": run_read(d), "errors": d.errors}})
""")
    assert r["read"]["code"] == 2 and r["errors"] == 1


# ------------------------------------------------------------------ soil


def soil_prog(uv: list[int], cfg: str, board_power: str = '{"pin": 25, "active_low": False}') -> str:
    return PRE + f"""
from cn.drivers.soil_cap import SoilCap
log = []
adc = fwbus.ADC({uv!r}, log)
pin = fwbus.Pin(log, "pwr")
b = dict(BOARD)
b["sensor_power"] = {board_power}
d = SoilCap(b, {cfg}, bus=(adc, pin))
log.append(("start", d.start()))
r = run_read(d)
d.stop()
result({{"read": r, "log": log, "mv": d.mv}})
"""


@pytest.mark.parametrize("mv,pct", [(2800, 0.0), (1300, 100.0), (2050, 50.0), (2425, 25.0), (3000, 0.0), (1200, 100.0)])
def test_soil_calibration_maps_dry_wet_mid(mv: int, pct: float) -> None:
    r = run_fw(soil_prog([mv * 1000], '{"dry_mv": 2800, "wet_mv": 1300}'))
    assert r["read"]["values"][ch("soil_vwc")] == raw("soil_vwc", pct)


def test_soil_two_point_with_field_capacity() -> None:
    # dry soil 0 %, saturated soil 45 % VWC: halfway reads 22.5 %
    r = run_fw(soil_prog([2050_000], '{"dry_mv": 2800, "wet_mv": 1300, "wet_pct": 45}'))
    assert r["read"]["values"][ch("soil_vwc")] == raw("soil_vwc", 22.5)


def test_soil_spikes_rejected_by_median_mean() -> None:
    uv = [2050_000, 2051_000, 3300_000, 2049_000, 100_000, 2050_000, 2050_000, 2050_000, 2050_000]
    r = run_fw(soil_prog(uv, '{"dry_mv": 2800, "wet_mv": 1300}'))
    assert r["mv"] == 2050


@pytest.mark.parametrize("mv", [3300, 50])
def test_soil_probe_disconnected_or_shorted_is_flagged(mv: int) -> None:
    r = run_fw(soil_prog([mv * 1000], '{"dry_mv": 2800, "wet_mv": 1300}'))
    assert r["read"]["code"] == 4  # E_RANGE


def test_soil_probe_powered_only_while_measuring() -> None:
    r = run_fw(soil_prog([2050_000], '{"dry_mv": 2800, "wet_mv": 1300}', '{"pin": 36, "active_low": True}'))
    log = [tuple(e) for e in r["log"]]
    # active-low switch: 1 = off at construction, 0 = on at start, 1 = off at stop
    assert log[0] == ("pwr", 1)
    assert log[1] == ("pwr", 0)
    assert log[2] == ("start", 200)
    adc_idx = [i for i, e in enumerate(log) if e[0] == "adc"]
    assert len(adc_idx) == 9
    assert log[-1] == ("pwr", 1)
    assert all(2 < i < len(log) - 1 for i in adc_idx)  # every sample between power on and off


def test_seesaw_soil_moisture_and_temperature() -> None:
    temp_raw = int(21.5 * 65536)
    r = run_fw(PRE + f"""
from cn.drivers.seesaw_soil import SeesawSoil
dev = fwbus.CmdDevice(0x36)
dev.answers[b"\\x00\\x04"] = {temp_raw.to_bytes(4, "big")!r}
dev.answers[b"\\x0f\\x10"] = {(650).to_bytes(2, "big")!r}
dev.answers[b"\\x00\\x01"] = b"\\x55"
d = SeesawSoil(BOARD, {{"dry": 300, "wet": 1000}}, bus=fwbus.I2C(dev))
r = run_read(d)
result({{"read": r, "id": d.hw_id()}})
""")
    assert r["id"] == 0x55
    assert r["read"]["values"][ch("soil_temp")] == raw("soil_temp", 21.5)
    assert r["read"]["values"][ch("soil_vwc")] == raw("soil_vwc", 50.0)


# ------------------------------------------------------------------ battery


def test_battery_adc_divider_with_enable_switch() -> None:
    r = run_fw(PRE + """
from cn.drivers.battery import Battery
log = []
b = dict(BOARD)
b["battery"] = {"source": "adc", "pin": 1, "divider": 4.9, "enable": {"pin": 37, "active_low": False}}
d = Battery(b, {}, bus=(fwbus.ADC([800_000], log), fwbus.Pin(log, "en")))
r = run_read(d)
result({"read": r, "log": log, "mv": d.mv})
""")
    assert r["mv"] == 3920
    assert r["read"]["values"][ch("battery_v")] == raw("battery_v", 3.92)
    log = [tuple(e) for e in r["log"]]
    assert log[0] == ("en", 0) and log[1] == ("en", 1) and log[-1] == ("en", 0)


def test_battery_axp192_registers() -> None:
    # 0x78 = 0xDA, 0x79 = 0x05 -> 0xDA5 = 3493 * 1.1 mV = 3842.3 mV
    r = run_fw(PRE + """
from cn.drivers.battery import Battery
class AXP(fwbus.RegDevice):
    pass
axp = AXP(0x34)
axp.regs[0x78] = 0xDA
axp.regs[0x79] = 0x05
b = dict(BOARD)
b["battery"] = {"source": "axp192", "i2c_addr": 52}
d = Battery(b, {}, bus=fwbus.I2C(axp))
r = run_read(d)
result({"read": r, "mv": d.mv})
""")
    assert r["mv"] == round(0xDA5 * 1.1)
    assert r["read"]["values"][ch("battery_v")] == raw("battery_v", round(0xDA5 * 1.1) / 1000)


def test_driver_registry_loads_every_name() -> None:
    r = run_fw("""
from cn.drivers import NAMES, load
out = {}
for name in NAMES:
    cls = load(name)
    out[name] = [cls.NAME, list(cls.CHANNELS)]
try:
    load("nope")
    out["unknown"] = "loaded"
except ValueError:
    out["unknown"] = "ValueError"
result(out)
""")
    assert r.pop("unknown") == "ValueError"
    assert r["sds011"] == ["sds011", [ch("pm2_5"), ch("pm10")]]
    assert r["noise_i2s"][1] == [ch("laeq"), ch("lamax"), ch("la10"), ch("la90")]
    assert r["qmc5883l"][1] == [ch("parking_occupied"), ch("parking_changes"), ch("parking_minutes")]
    assert set(r) >= {"battery", "soil_cap", "seesaw_soil", "pms5003", "scd4x", "sht4x", "lis3mdl"}


def test_scd4x_power_down_discards_first_reading_after_wake() -> None:
    first = words(0x0190, 0x6000, 0x5000)  # 400 ppm: the reading to discard
    second = words(0x02EE, 0x6667, 0x5EB9)  # 750 ppm
    r = run_fw(PRE + f"""
from cn.drivers.scd4x import SCD4x
dev = fwbus.CmdDevice(0x62)
answers = [{first!r}, {second!r}]
dev.answers[b"\\xe4\\xb8"] = {words(0x8006)!r}
dev.answers[b"\\xec\\x05"] = lambda: answers.pop(0)
d = SCD4x(BOARD, {{"power_down": True}}, bus=fwbus.I2C(dev))
d.asleep = True                     # as after a previous cycle's stop()
d.start()
r = run_read(d, d.READ_MS)
d.stop()
result({{"read": r, "cmds": [c.hex() for c in dev.cmds], "read_ms": d.READ_MS}})
""")
    assert r["read_ms"] >= 6000
    assert r["read"]["values"][ch("co2")] == raw("co2", 750)
    assert r["cmds"] == ["36f6", "219d", "e4b8", "ec05", "219d", "e4b8", "ec05", "36e0"]
