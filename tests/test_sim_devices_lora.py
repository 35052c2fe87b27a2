"""The virtual board's LoRa radio: time on air (Semtech AN1200.13), the gateway's view of a packet,
scripted downlinks, and the VM-side `lora` module (hw/mpy/lora.py) running on the real MicroPython
VM with micropython-lib's SX1262/SX1276 sync-modem surface.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from citynode.sim.testing import needs_sim
from nodejs import node_json

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "host" / "citynode" / "sim" / "hw"
LORA_VM = HW / "test" / "lora_vm.mjs"

pytestmark = needs_sim

# Reference times on air (ms) from the reference notes: preamble 8, 4/5, CRC on, explicit header, 125 kHz.
REFERENCE_TOA = [(20, 12, 1318.9), (33, 12, 1810.4), (51, 12, 2465.8), (20, 7, 56.6)]


def board(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "boards" / f"{name}.json").read_text())
    return data


def node_js(script: str) -> Any:
    return node_json(script.replace("HW", HW.as_posix()))


def on_vm(code: str, scenario: dict[str, Any] | None = None, board_name: str = "heltec_v3") -> tuple[str, list[Any]]:
    """Run MicroPython code with `lora` = hw/mpy/lora.py; return (output, packets the radio recorded)."""
    job = {"board": board(board_name), "scenario": scenario, "code": code}
    proc = subprocess.run(
        ["node", str(LORA_VM)], input=json.dumps(job), capture_output=True, text=True, timeout=60, check=False
    )
    text, _, radio = proc.stdout.rpartition("@@RADIO ")
    assert proc.returncode == 0, text + proc.stderr
    return text.strip(), json.loads(radio)


def test_time_on_air_matches_the_reference_values() -> None:
    out = node_js(
        'import { timeOnAirMs } from "HW/index.mjs";'
        "const cases = CASES;"
        "process.stdout.write(JSON.stringify(cases.map(([n, sf]) => timeOnAirMs(n, {sf, bw: '125', coding_rate: 5, "
        "preamble_len: 8, crc_en: true}))));".replace("CASES", json.dumps([[n, sf] for n, sf, _ in REFERENCE_TOA]))
    )
    for got, (_, _, want) in zip(out, REFERENCE_TOA, strict=True):
        assert got == pytest.approx(want, abs=0.05)


def test_radio_records_packets_and_the_gateway_hears_only_public_sync_word() -> None:
    out = node_js(
        """
        import { createHardware } from "HW/index.mjs";
        let t = 0;
        const hw = createHardware({name: "x", i2c: {id: 0}}, {}, { nowMs: () => t });
        const cfg = {freq_khz: 868100, sf: 7, bw: "125", coding_rate: 5, preamble_len: 8, syncword: 0x34};
        t = 1234; const a = hw.radioSend(new Uint8Array(20), cfg);
        t = 5000; hw.radioSend(new Uint8Array(20), {...cfg, syncword: 0x12});
        hw.radioSend(new Uint8Array(20), {...cfg, syncword: 0x3444, freq_khz: 869525});
        let err = null; try { hw.radioSend(new Uint8Array(256), cfg); } catch (e) { err = e.name; }
        process.stdout.write(JSON.stringify({a, packets: hw.drainRadio(), again: hw.drainRadio(), err}));
        """
    )
    assert out["a"]["airtimeMs"] == pytest.approx(56.6, abs=0.05)
    first, private, off_channel = out["packets"]
    assert first["t_ms"] == 1234 and first["bytes"] == "00" * 20 and first["heard"] is True
    assert first["cfg"]["freq_khz"] == 868100
    assert private["heard"] is False and "sync word" in private["why_not_heard"]
    assert off_channel["syncword"] == 0x34 and off_channel["heard"] is False  # SX126x 0x3444 is the public word
    assert out["again"] == []
    assert out["err"] == "RangeError"  # the FIFO takes 255 bytes at most


def test_lora_module_sx1262_send_and_scripted_downlink_on_the_vm() -> None:
    code = """
from lora import SX1262, RxPacket
cfg = {"freq_khz": 868100, "sf": 12, "bw": "125", "coding_rate": 5, "preamble_len": 8, "syncword": 0x34,
       "output_power": 14}
m = SX1262(None, None, busy=None, dio1=None, dio2_rf_sw=True, dio3_tcxo_millivolts=1800, reset=None, lora_cfg=cfg)
print("toa", m.get_time_on_air_us(20))
done = m.send(b"\\x01" * 20)
print("done", done)
print("none", m.recv(500))
rx = m.recv(5000)
print("rx", isinstance(rx, RxPacket), isinstance(rx, bytearray), bytes(rx).hex(), rx.rssi, rx.snr, rx.valid_crc)
"""
    scenario = {
        "events": [{"type": "downlink", "after_uplink": 1, "delay_ms": 2000, "hex": "c0ffee", "rssi": -101, "snr": 6.5}]
    }
    text, packets = on_vm(code, scenario)
    lines = dict(line.split(" ", 1) for line in text.splitlines())
    assert int(lines["toa"]) == pytest.approx(1318900, abs=100)
    assert int(lines["done"]) == 1318  # send() returns after the 1318.9 ms on air (virtual clock)
    assert lines["none"] == "None"  # nothing on air in the first 500 ms
    assert lines["rx"] == "True True c0ffee -101 26 True"  # snr in dB * 4, as micropython-lib
    (pkt,) = packets
    assert pkt["bytes"] == "01" * 20 and pkt["heard"] is True and pkt["airtime_ms"] == pytest.approx(1318.9, abs=0.05)


def test_lora_module_sx1276_defaults_and_errors_on_the_vm() -> None:
    code = """
from lora import SX1276, ConfigError
m = SX1276(None, None, dio0=None, dio1=None, reset=None, lora_cfg={"freq_khz": 868300})
m.send(b"hi")
for bad in ({"bw": "100"}, {"coding_rate": 9}, {"sf": 13}):
    try:
        m.configure(bad)
        print("accepted", bad)
    except ConfigError:
        print("refused")
try:
    m.send(bytes(256))
except ValueError:
    print("too long")
m.sleep()
m.standby()
print(m.is_idle())
"""
    text, packets = on_vm(code, board_name="heltec_v2")
    assert text.splitlines() == ["refused", "refused", "refused", "too long", "True"]
    (pkt,) = packets
    # micropython-lib defaults: SF7, 125 kHz, 4/5, preamble 12, private sync word 0x12 (not heard by a gateway).
    assert pkt["sf"] == 7 and pkt["syncword"] == 0x12 and pkt["heard"] is False
    # 2 bytes: 8*2 - 4*7 + 28 + 16 = 32 bits -> ceil(32 / 28) = 2 blocks of 5 symbols; Tsym = 128 / 125 kHz.
    assert pkt["airtime_ms"] == pytest.approx((12 + 4.25 + 8 + 2 * 5) * 1.024, abs=0.001)
