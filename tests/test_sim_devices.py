"""Virtual board device models (host/citynode/sim/hw) checked against datasheet facts.

Each test drives the JS models through the same contract the VM's machine module uses
(createHardware(board, scenario, clock) -> i2c/uart/adc/i2s/pins/load) on node, with a virtual
clock the test moves, and checks the bytes against the sensor's datasheet: frame layouts,
checksums recomputed here, conversions, timings.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from citynode.sim.testing import needs_sim
from datasheet import sensirion_crc
from nodejs import node_json, node_module

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "host" / "citynode" / "sim" / "hw"
SCENARIOS = ROOT / "host" / "citynode" / "sim" / "scenarios"

pytestmark = needs_sim

PRELUDE = """
import { createHardware, timeOnAirMs, crc8 } from "HW/index.mjs";
import { readFileSync } from "node:fs";
const board = JSON.parse(readFileSync("BOARDS/BOARD.json", "utf8"));
let t = 0;
const hw = createHardware(board, JSON.parse(process.argv[1]), { nowMs: () => t });
const A = (u) => (u === null || u === undefined ? null : Array.from(u));
const out = {};
"""


def prelude(board: str) -> str:
    """JS that creates fresh hardware for the board from the scenario given as argument."""
    return PRELUDE.replace("HW", HW.as_posix()).replace("BOARDS", (ROOT / "boards").as_posix()).replace("BOARD", board)


def js(body: str, scenario: dict[str, Any] | None = None, board: str = "heltec_v3") -> Any:
    """Run body (JS; fills `out`) against fresh hardware; return `out`."""
    return node_json(prelude(board) + body + "\nprocess.stdout.write(JSON.stringify(out));\n", json.dumps(scenario))


def sensirion_words(raw: list[int]) -> list[int]:
    """Split a Sensirion read into words, checking every CRC."""
    assert len(raw) % 3 == 0
    words = []
    for i in range(0, len(raw), 3):
        assert sensirion_crc(bytes(raw[i : i + 2])) == raw[i + 2], f"bad CRC in word {i // 3}"
        words.append(raw[i] << 8 | raw[i + 1])
    return words


# --- Sensirion ---------------------------------------------------------------------------------


def test_crc8_of_beef_is_0x92() -> None:
    assert sensirion_crc(b"\xbe\xef") == 0x92
    assert js("out.crc = crc8([0xbe, 0xef]);")["crc"] == 0x92


SCD = {"devices": [{"type": "scd41", "co2": 500, "temperature": 25.0, "humidity": 37.0}]}


def test_scd41_periodic_measurement_frame_and_data_ready() -> None:
    out = js(
        """
        const d = hw.i2c(0, 0x62);
        out.start = d.write([0x21, 0xb1]);
        t = 1000; d.write([0xe4, 0xb8]); t += 1; out.notReady = A(d.read(3));
        out.earlyRead = d.write([0xec, 0x05]); t += 1; out.early = A(d.read(9));
        t = 5100; d.write([0xe4, 0xb8]); t += 1; out.ready = A(d.read(3));
        d.write([0xec, 0x05]); t += 1; out.meas = A(d.read(9));
        d.write([0xec, 0x05]); t += 1; out.again = A(d.read(9));
        d.write([0xe4, 0xb8]); t += 1; out.readyAfter = A(d.read(3));
        out.otherCmd = d.write([0x36, 0x82]);
        out.stop = d.write([0x3f, 0x86]); t += 100; out.busy = d.write([0x36, 0x82]);
        t += 500; out.serial = d.write([0x36, 0x82]); t += 1; out.serialBytes = A(d.read(9));
        """,
        SCD,
    )
    assert out["start"] is True
    assert sensirion_words(out["notReady"])[0] & 0x7FF == 0
    assert out["early"] is None  # no data yet: the read header is NACKed
    assert sensirion_words(out["ready"])[0] & 0x7FF != 0
    co2, t_raw, rh_raw = sensirion_words(out["meas"])
    # Datasheet example words: 0x01F4 = 500 ppm, 0x6667 = 25 degC, 0x5EB9 = 37 %RH (1 LSB of rounding allowed).
    assert co2 == 0x01F4
    assert abs(t_raw - 0x6667) <= 1 and abs(rh_raw - 0x5EB9) <= 1
    assert -45 + 175 * t_raw / 65535 == pytest.approx(25.0, abs=175 / 65535)
    assert 100 * rh_raw / 65535 == pytest.approx(37.0, abs=100 / 65535)
    assert out["again"] is None  # the buffer empties on read-out
    assert sensirion_words(out["readyAfter"])[0] & 0x7FF == 0
    assert out["otherCmd"] is False  # only read/ready/stop are accepted while measuring
    assert out["stop"] is True and out["busy"] is False  # stop takes 500 ms
    assert out["serial"] is True and len(sensirion_words(out["serialBytes"])) == 3


def test_scd41_single_shot_takes_5_s_and_scd40_has_none() -> None:
    out = js(
        """
        const d = hw.i2c(0, 0x62);
        out.shot = d.write([0x21, 0x9d]);
        t = 2000; out.during = d.write([0xe4, 0xb8]);
        t = 5000; d.write([0xe4, 0xb8]); t += 1; out.ready = A(d.read(3));
        d.write([0xec, 0x05]); t += 1; out.meas = A(d.read(9));
        out.down = d.write([0x36, 0xe0]); t += 10; out.asleep = d.write([0xe4, 0xb8]);
        out.wake = d.write([0x36, 0xf6]); t += 30; out.awake = d.write([0xe4, 0xb8]);
        """,
        SCD,
    )
    assert out["shot"] is True
    assert out["during"] is False  # busy measuring
    assert sensirion_words(out["ready"])[0] & 0x7FF != 0
    assert sensirion_words(out["meas"])[0] == 500
    assert out["down"] is True and out["asleep"] is False
    assert out["wake"] is False  # the datasheet: wake_up is not acknowledged
    assert out["awake"] is True
    scd40 = js("out.shot = hw.i2c(0, 0x62).write([0x21, 0x9d]);", {"devices": [{"type": "scd40"}]})
    assert scd40["shot"] is False


def test_sht4x_conversions_and_nack_when_read_too_early() -> None:
    out = js(
        """
        const d = hw.i2c(0, 0x44);
        out.cmd = d.write([0xfd]);
        t = 1; out.early = A(d.read(6));
        t = 10; out.data = A(d.read(6));
        out.serialCmd = d.write([0x89]); t += 2; out.serial = A(d.read(6));
        """,
        {"devices": [{"type": "sht4x", "temperature": 21.5, "humidity": 55.0}]},
    )
    assert out["cmd"] is True and out["early"] is None
    t_raw, rh_raw = sensirion_words(out["data"])
    assert -45 + 175 * t_raw / 65535 == pytest.approx(21.5, abs=0.003)
    assert -6 + 125 * rh_raw / 65535 == pytest.approx(55.0, abs=0.002)
    assert len(sensirion_words(out["serial"])) == 2


# --- UART particulate sensors ------------------------------------------------------------------


def sds_command(cmd: int, d3: int = 0, d4: int = 0) -> list[int]:
    """A 19-byte SDS011 command (protocol V1.3): AA B4 cmd d3 d4 0.. FF FF CHK AB."""
    f = [0xAA, 0xB4, cmd, d3, d4] + [0] * 10 + [0xFF, 0xFF]
    return f + [sum(f[2:17]) & 0xFF, 0xAB]


def sds_frames(data: list[int]) -> list[list[int]]:
    frames = [data[i : i + 10] for i in range(0, len(data) - 9) if data[i] == 0xAA and data[i + 9] == 0xAB]
    for f in frames:
        assert sum(f[2:8]) & 0xFF == f[8], f"bad SDS011 checksum in {f}"
    return frames


SDS = {"devices": [{"type": "sds011", "pm25": 35.2, "pm10": 51.7, "device_id": 0xB2A1}]}


def test_sds011_active_frames_layout_and_checksum() -> None:
    out = js("const u = hw.uart(1); t = 3500; out.data = A(u.read(256));", SDS)
    frames = sds_frames(out["data"])
    assert len(frames) == 3  # one per second
    f = frames[0]
    assert f[1] == 0xC0
    assert (f[2] | f[3] << 8) / 10 == pytest.approx(35.2)
    assert (f[4] | f[5] << 8) / 10 == pytest.approx(51.7)
    assert f[6] == 0xA1 and f[7] == 0xB2


def test_sds011_sleep_reporting_mode_and_query_replies() -> None:
    body = """
        const u = hw.uart(1);
        t = 1500; u.read(256);
        u.write(SLEEP); t += 100; out.sleepReply = A(u.read(256));
        t += 5000; out.asleep = A(u.read(256));
        u.write(WORK); t += 100; out.workReply = A(u.read(256));
        u.write(QUERYMODE); t += 100; out.modeReply = A(u.read(256));
        t += 5000; out.quiet = A(u.read(256));
        u.write(QUERY); t += 100; out.query = A(u.read(256));
        u.write(BAD); t += 100; out.bad = A(u.read(256));
    """
    bad = sds_command(6, 1, 0)
    bad[17] ^= 1
    for name, cmd in {
        "SLEEP": sds_command(6, 1, 0),
        "WORK": sds_command(6, 1, 1),
        "QUERYMODE": sds_command(2, 1, 1),
        "QUERY": sds_command(4),
        "BAD": bad,
    }.items():
        body = body.replace(name, json.dumps(cmd))
    out = js(body, SDS)
    assert sds_frames(out["sleepReply"]) == [[0xAA, 0xC5, 6, 1, 0, 0, 0xA1, 0xB2, (6 + 1 + 0xA1 + 0xB2) & 0xFF, 0xAB]]
    assert out["asleep"] == []  # a sleeping sensor sends nothing
    assert sds_frames(out["workReply"])[0][2:5] == [6, 1, 1]
    assert sds_frames(out["modeReply"])[0][1:5] == [0xC5, 2, 1, 1]
    assert out["quiet"] == []  # query mode: no unsolicited frames
    q = sds_frames(out["query"])
    assert len(q) == 1 and q[0][1] == 0xC0
    assert out["bad"] == []  # a command with a wrong checksum is ignored


def pms_command(cmd: int, data: int) -> list[int]:
    f = [0x42, 0x4D, cmd, 0, data]
    s = sum(f)
    return f + [s >> 8, s & 0xFF]


def pms_frames(data: list[int]) -> list[list[int]]:
    frames = []
    i = 0
    while i + 32 <= len(data):
        if data[i : i + 4] == [0x42, 0x4D, 0x00, 0x1C]:
            f = data[i : i + 32]
            assert sum(f[:30]) == f[30] << 8 | f[31], "bad PMS5003 checksum"
            frames.append(f)
            i += 32
        else:
            i += 1
    return frames


def pms_word(frame: list[int], n: int) -> int:
    return frame[4 + 2 * n] << 8 | frame[5 + 2 * n]


PMS = {"devices": [{"type": "pms5003", "pm1": 6, "pm25": 14, "pm10": 22}]}


def test_pms5003_active_frames_layout_and_checksum() -> None:
    out = js("const u = hw.uart(1); t = 5000; out.data = A(u.read(512));", PMS)
    frames = pms_frames(out["data"])
    assert len(frames) >= 4
    f = frames[-1]
    assert [pms_word(f, n) for n in (3, 4, 5)] == [6, 14, 22]  # atmospheric PM1/2.5/10
    assert [pms_word(f, n) for n in (0, 1, 2)] == [6, 14, 22]  # CF=1 equals atmospheric when low
    assert pms_word(f, 6) >= pms_word(f, 7) >= pms_word(f, 8)  # counts fall with particle size


def test_pms5003_passive_read_and_warm_up() -> None:
    body = """
        const u = hw.uart(1);
        t = 2000; u.write(PASSIVE); t += 100; out.ack = A(u.read(512));
        t += 3000; out.quiet = A(u.read(512));
        u.write(READ); t += 100; out.read = A(u.read(512));
        u.write(SLEEP); t += 100; out.sleepAck = A(u.read(512));
        u.write(WAKE); t += 3000; u.write(READ); t += 100; out.warm = A(u.read(512));
        t += 35000; u.read(512); u.write(READ); t += 100; out.warmed = A(u.read(512));
    """
    cmds = {"PASSIVE": (0xE1, 0), "READ": (0xE2, 0), "SLEEP": (0xE4, 0), "WAKE": (0xE4, 1)}
    for name, (c, d) in cmds.items():
        body = body.replace(name, json.dumps(pms_command(c, d)))
    out = js(body, PMS)
    ack = out["ack"][-8:]
    assert ack[:6] == [0x42, 0x4D, 0x00, 0x04, 0xE1, 0x00] and sum(ack[:6]) == ack[6] << 8 | ack[7]
    assert out["quiet"] == []
    assert [pms_word(f, 4) for f in pms_frames(out["read"])] == [14]
    assert out["sleepAck"][4] == 0xE4
    (warm,) = pms_frames(out["warm"])
    assert pms_word(warm, 4) == 0  # 3 s after wake: still warming up
    (warmed,) = pms_frames(out["warmed"])
    assert pms_word(warmed, 4) == 14


# --- microphone --------------------------------------------------------------------------------


def mic_dbfs(samples_bytes: list[int]) -> tuple[float, list[int]]:
    words = struct.unpack(f"<{len(samples_bytes) // 4}i", bytes(samples_bytes))
    assert all(w & 0xFF == 0 for w in words), "24-bit data must be left-justified in 32-bit slots"
    s24 = [w >> 8 for w in words]
    rms = math.sqrt(sum(x * x for x in s24) / len(s24))
    return 20 * math.log10(rms / (2**23 - 1)), s24


# AES17 (the datasheets): 0 dBFS is a full-scale sine, so a sine at the sensitivity level has an
# RMS 20*log10(1/sqrt(2)) = -3.0103 dB below full scale.
@pytest.mark.parametrize(("spl", "dbfs"), [(94, -26.0 - 3.0103), (74, -46.0 - 3.0103)])
def test_mic_tone_level_in_dbfs(spl: int, dbfs: float) -> None:
    scenario = {"devices": [{"type": "inmp441", "signals": [{"kind": "tone", "freq": 1000, "db_spl": spl}]}]}
    out = js("t = 1000; out.s = A(hw.i2sRead(0, 48000 * 4, {bits: 32, format: 'mono', rate: 48000}));", scenario)
    level, s24 = mic_dbfs(out["s"])
    assert level == pytest.approx(dbfs, abs=0.05)
    # It is a 1 kHz sine: 48 samples per period.
    assert s24[0] == pytest.approx(s24[48], abs=2000)


def test_mic_stereo_puts_the_mic_in_its_slot_and_white_noise_level() -> None:
    scenario = {
        "devices": [
            {"type": "ics43434", "self_noise_dba": 0, "signals": [{"kind": "noise", "color": "white", "db_spl": 80}]}
        ]
    }
    out = js("t = 1000; out.s = A(hw.i2sRead(0, 24000 * 8, {bits: 32, format: 'stereo'}));", scenario)
    words = struct.unpack(f"<{len(out['s']) // 4}i", bytes(out["s"]))
    assert all(w == 0 for w in words[1::2])  # right slot empty: the mic is on the left
    left = [w >> 8 for w in words[0::2]]
    rms = math.sqrt(sum(x * x for x in left) / len(left))
    assert 20 * math.log10(rms / (2**23 - 1)) == pytest.approx(80 - 94 - 26 - 3.0103, abs=0.3)


# --- magnetometers -----------------------------------------------------------------------------

MAG_SCENARIO = {
    "devices": [
        {"type": "qmc5883l", "baseline_mg": [100, -200, 300], "temp_drift_mg_per_c": [0, 0, 0], "noise_mg": 0},
        {"type": "lis3mdl", "baseline_mg": [100, -200, 300], "temp_drift_mg_per_c": [0, 0, 0], "noise_mg": 0},
    ],
    "events": [
        {"type": "car_arrive", "t": "60s", "car": "A", "signature_mg": [250, -100, 50]},
        {"type": "car_leave", "t": "300s", "car": "A"},
    ],
}


def s16(lo: int, hi: int) -> int:
    v = lo | hi << 8
    return v - 65536 if v >= 32768 else v


def test_qmc5883l_chip_id_scaling_and_car_arrival() -> None:
    out = js(
        """
        const d = hw.i2c(0, 0x0d);
        d.write([0x0d]); out.id = A(d.read(1));
        d.write([0x0b, 0x01]); d.write([0x09, 0x0d]);  // continuous, 200 Hz, 2 G, OSR 512
        t = 20; d.write([0x06]); out.status = A(d.read(1));
        d.write([0x00]); out.base = A(d.read(6));
        d.write([0x06]); out.statusAfter = A(d.read(1));
        t = 70000; d.write([0x00]); out.car = A(d.read(6));
        t = 400000; d.write([0x00]); out.gone = A(d.read(6));
        """,
        MAG_SCENARIO,
    )
    assert out["id"] == [0xFF]
    assert out["status"][0] & 1 == 1 and out["statusAfter"][0] & 1 == 0  # DRDY, cleared by reading
    b = out["base"]
    base = [s16(b[0], b[1]), s16(b[2], b[3]), s16(b[4], b[5])]
    assert base == [1200, -2400, 3600]  # 12000 LSB/G at 2 G
    c = out["car"]
    car = [s16(c[0], c[1]), s16(c[2], c[3]), s16(c[4], c[5])]
    assert [x - y for x, y in zip(car, base, strict=True)] == [3000, -1200, 600]
    g = out["gone"]
    assert [s16(g[0], g[1]), s16(g[2], g[3]), s16(g[4], g[5])] == base


def test_lis3mdl_who_am_i_scaling_and_auto_increment() -> None:
    out = js(
        """
        const d = hw.i2c(0, 0x1c);
        d.write([0x0f]); out.who = A(d.read(1));
        d.write([0x22, 0x00]);  // CTRL_REG3: continuous conversion
        t = 200; d.write([0x27]); out.status = A(d.read(1));
        d.write([0x28 | 0x80]); out.base = A(d.read(6));
        d.write([0x27]); out.statusAfter = A(d.read(1));
        d.write([0x28]); out.noInc = A(d.read(2));
        t = 70000; d.write([0xa8]); out.car = A(d.read(6));
        """,
        MAG_SCENARIO,
    )
    assert out["who"] == [0x3D]
    assert out["status"][0] & 0x08 and not out["statusAfter"][0] & 0x08  # ZYXDA
    b = out["base"]
    base = [s16(b[0], b[1]), s16(b[2], b[3]), s16(b[4], b[5])]
    assert base == [round(100 * 6.842), round(-200 * 6.842), round(300 * 6.842)]  # 6842 LSB/G at 4 G
    assert out["noInc"][0] == out["noInc"][1]  # without bit 7 the address does not advance
    c = out["car"]
    car = [s16(c[0], c[1]), s16(c[2], c[3]), s16(c[4], c[5])]
    assert car == [round(350 * 6.842), round(-300 * 6.842), round(350 * 6.842)]


# --- battery and soil --------------------------------------------------------------------------


def test_battery_drains_with_load_through_the_board_divider() -> None:
    scenario = {"devices": [{"type": "battery", "capacity_mah": 1000, "currents_ma": {"awake": 100, "radio": 120}}]}
    out = js(
        """
        out.full = hw.adcMicrovolts(37); out.soc0 = hw.status().battery.soc;
        hw.load("awake", 5 * 3600 * 1000); out.half = hw.adcMicrovolts(37); out.soc1 = hw.status().battery.soc;
        hw.load("radio", 3600 * 1000); out.low = hw.adcMicrovolts(37);
        out.volts = hw.status().battery.volts; out.other = hw.adcMicrovolts(2);
        """,
        scenario,
        board="heltec_v2",
    )
    assert out["soc0"] == 1.0
    assert out["soc1"] == pytest.approx(0.5)  # 100 mA for 5 h out of 1000 mAh
    assert 4.0 < out["full"] * 3.2 / 1e6 <= 4.2  # a full LiPo through the x3.2 divider
    assert out["full"] > out["half"] > out["low"] > 0
    assert out["low"] * 3.2 / 1e6 == pytest.approx(out["volts"], abs=1e-5)
    assert 3.3 <= out["volts"] < 3.85
    assert out["other"] is None


def test_battery_divider_needs_its_enable_pin_on_heltec_v3() -> None:
    out = js("out.off = hw.adcMicrovolts(1); hw.pinWrite(37, 1); out.on = hw.adcMicrovolts(1);")
    assert out["off"] == 0
    assert 4.0 < out["on"] * 4.9 / 1e6 <= 4.2


SOIL = {
    "devices": [
        {"type": "soil_probe", "dry_mv": 2600, "wet_mv": 1200, "noise_mv": 0, "moisture": [[0, 0.2], ["1h", 0.8]]}
    ]
}


def test_soil_probe_follows_the_moisture_curve_only_when_powered() -> None:
    out = js(
        """
        t = 1800 * 1000; out.off = hw.adcMicrovolts(7);
        hw.pinWrite(36, 0); t += 300; out.mid = hw.adcMicrovolts(7);  // Vext is active low
        t = 3600 * 1000; out.wet = hw.adcMicrovolts(7);
        hw.pinWrite(36, 1); out.offAgain = hw.adcMicrovolts(7);
        """,
        SOIL,
    )
    assert out["off"] < 10_000 and out["offAgain"] < 10_000  # ~0 V unpowered
    assert out["mid"] / 1000 == pytest.approx(2600 - 1400 * 0.5, rel=0.005)
    assert out["wet"] / 1000 == pytest.approx(2600 - 1400 * 0.8, rel=0.005)


def test_soil_irrigation_then_drying() -> None:
    scenario = {
        "devices": [{"type": "soil_probe", "noise_mv": 0, "moisture": 0.3, "drying": {"tau": "10h", "floor": 0.1}}],
        "events": [{"type": "irrigation", "t": "1h", "to": 0.9}],
    }
    out = js("hw.pinWrite(36, 0); t = 11 * 3600 * 1000; out.v = hw.adcMicrovolts(7);", scenario)
    m = 0.1 + 0.8 * math.exp(-1)  # one time constant after watering to 0.9
    assert out["v"] / 1000 == pytest.approx(2600 - 1400 * m, rel=0.005)


# --- faults and live scenario changes ----------------------------------------------------------


def test_faults_nack_stuck_bad_checksum_and_disconnected() -> None:
    scenario = {
        "devices": [
            {"type": "sht4x", "temperature": [[0, 10], ["1000s", 20]], "humidity": 50},
            {"type": "sds011", "pm25": 10, "pm10": 20},
            {"type": "soil_probe", "id": "soil"},
        ],
        "faults": [
            {"device": "sht4x", "kind": "nack", "from": "10s", "to": "20s"},
            {"device": "sht4x", "kind": "stuck", "from": "100s", "to": "900s"},
            {"device": "sds011", "kind": "bad_checksum", "from": 0, "to": "10s"},
            {"device": "soil", "kind": "disconnected", "from": 0},
        ],
    }
    out = js(
        """
        const d = hw.i2c(0, 0x44);
        t = 15000; out.nack = d.write([0xfd]);
        t = 25000; out.ok = d.write([0xfd]);
        t = 500000; d.write([0xfd]); t += 10; out.stuck = A(d.read(6));
        const u = hw.uart(1); t = 3500; out.uart = A(u.read(256));
        out.adc = hw.adcMicrovolts(7);
        """,
        scenario,
    )
    assert out["nack"] is False and out["ok"] is True
    t_raw = sensirion_words(out["stuck"])[0]
    assert -45 + 175 * t_raw / 65535 == pytest.approx(11.0, abs=0.01)  # frozen at its 100 s value
    frames = [out["uart"][i : i + 10] for i in range(0, 30, 10)]
    assert all(f[0] == 0xAA and sum(f[2:8]) & 0xFF != f[8] for f in frames)
    assert out["adc"] is None


def test_set_scenario_replaces_curves_and_keeps_device_state() -> None:
    out = js(
        """
        const d = hw.i2c(0, 0x62);
        d.write([0x21, 0xb1]);
        hw.setScenario({devices: [{type: "scd41", co2: 1200}]});
        t = 5001; d.write([0xec, 0x05]); t += 1; out.meas = A(d.read(9));
        """,
        {"devices": [{"type": "scd41", "co2": 420}]},
    )
    assert sensirion_words(out["meas"])[0] == 1200  # still measuring, new CO2 curve


def test_scenario_errors_name_the_problem() -> None:
    proc = node_module(
        prelude("heltec_v3"),
        json.dumps({"devices": [{"type": "sht4x", "temperature": {"points": [[0, 1], ["two hours", 2]]}}]}),
    )
    assert proc.returncode != 0 and "two hours" in proc.stderr


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.json")), ids=lambda p: p.stem)
def test_example_scenarios_load_on_their_board(path: Path) -> None:
    scenario = json.loads(path.read_text())
    out = js(
        """
        hw.pinWrite(board.sensor_power.pin, board.sensor_power.active_low ? 0 : 1);
        t = 86400 * 1000; out.status = hw.status();
        """,
        scenario,
        board=scenario["board"],
    )
    assert out["status"]["sensor_power"] is True
