"""Node configuration (cn.config) on the MicroPython VM: validation, defaults, region limits,
and loading a missing or damaged file without raising."""

from __future__ import annotations

import json
from typing import Any

import pytest

from test_fw_node_fakes import fake_files, json_lines, run_fw

SOIL: dict[str, Any] = {"kind": "soil", "sensors": [{"type": "soil_cap"}]}

VALIDATE = r'''
from cn.config import validate, ConfigError
from cn.node import known_sensor
for cfg in CASES:
    try:
        print("J " + json.dumps({"ok": validate(cfg, known_sensor)}))
    except ConfigError as e:
        print("J " + json.dumps({"error": e.args[0]}))
'''


def validate(*cases: dict[str, Any]) -> list[dict[str, Any]]:
    return json_lines(run_fw(VALIDATE.replace("CASES", json.dumps(list(cases)).replace("false", "False")
                                              .replace("true", "True").replace("null", "None"))))


def test_defaults_are_filled_in() -> None:
    (r,) = validate(SOIL)
    cfg = r["ok"]
    assert cfg["period_s"] == 900 and cfg["region"] == "EU868" and cfg["tag_len"] == 8
    assert cfg["radio"] == {"freq_khz": 868100, "sf": 9, "bw_khz": 125, "power_dbm": 14, "cr": 5}
    assert cfg["encrypt"] is False and cfg["sinks"] == ["lora"] and cfg["window_ms"] == 2000
    assert cfg["duty_pct"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "weather"}, "kind"),
        ({"period_s": 10}, "period_s"),
        ({"period_s": "900"}, "period_s"),
        ({"sensors": []}, "sensors"),
        ({"sensors": [{"type": "no_such_chip"}]}, "no_such_chip"),
        ({"sensors": [{"type": "../main"}]}, "../main"),
        ({"region": "MARS"}, "region"),
        ({"radio": {"sf": 13}}, "sf"),
        ({"radio": {"freq_khz": 915000}}, "freq_khz"),
        ({"radio": {"power_dbm": 27}}, "power_dbm"),
        ({"tag_len": 6}, "tag_len"),
        ({"encrypt": "yes"}, "encrypt"),
        ({"sinks": ["wifi"]}, "sinks"),
        ({"duty_pct": 5}, "duty_pct"),
        ({"low_batt_v": 12}, "low_batt_v"),
        ({"colour": "red"}, "colour"),
        ({"window_ms": -1}, "window_ms"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    (r,) = validate({**SOIL, **change})
    assert "error" in r and field in r["error"]


def test_us915_dr0_cannot_carry_a_frame_and_is_refused_with_the_reason() -> None:
    (r,) = validate({**SOIL, "region": "US915", "radio": {"sf": 10}})
    assert "11" in r["error"] and "sf" in r["error"]
    (ok,) = validate({**SOIL, "region": "US915", "radio": {"sf": 9}})
    assert ok["ok"]["radio"]["freq_khz"] == 903900 and ok["ok"]["duty_pct"] == 100


def test_noise_sample_count_must_fit_the_payload_limit() -> None:
    noise = {"kind": "noise", "sensors": [{"type": "battery"}], "period_s": 900, "sample_s": 60}
    slow, fast, bad_interval = validate({**noise, "radio": {"sf": 12}}, {**noise, "radio": {"sf": 7}},
                                        {**noise, "sample_s": 45})
    assert "frame" in slow["error"]  # 15 samples at SF12: 51 bytes is too little
    assert fast["ok"]["sample_s"] == 60
    assert "sample_s" in bad_interval["error"]


def test_worst_case_frame_length_bounds_the_real_encoder() -> None:
    """max_frame_len (used to refuse configs) is never below what the encoder produces with
    every channel at its largest value, a long counter, status and error byte."""
    body = r'''
from cn.config import max_frame_len
from cn.frame import Encoder
from cn import registry as R
out = []
for kind, p in (("soil", 1), ("air", 2), ("noise", 3), ("parking", 4)):
    for tag in (4, 8, 16):
        for samples in (1, 8, 16):
            if samples > 1 and kind != "noise":
                continue
            e = Encoder(42, bytes(16), tag)
            e.clear()
            for ch in R.PROFILES[p]:
                if ch in R.PROFILE_SERIES[p]:
                    for i in range(samples):
                        e.add_sample(ch, R.RAW_MAX[ch] if i % 2 else 0)   # every delta escapes
                else:
                    e.set(ch, R.RAW_MAX[ch])
            n = e.encode(p, 0xFFFFFF, 0x7F, 0x12, True)
            out.append([kind, tag, samples, n, max_frame_len(kind, tag, samples)])
print("J " + json.dumps(out))
'''
    for kind, tag, samples, n, bound in json_lines(run_fw(body))[0]:
        assert n <= bound, (kind, tag, samples)
        assert bound - n <= 2, (kind, tag, samples)  # and close: it must not refuse good configs


def test_load_never_raises_and_says_why() -> None:
    body = r'''
from cn import config
from cn.node import known_sensor
for p in ("/missing.json", "/bad.json", "/big.json", "/invalid.json", "/good.json"):
    cfg, why = config.load(p, known_sensor)
    print("J " + json.dumps([p, cfg is not None, why]))
'''
    files = fake_files()
    files["/bad.json"] = b"\x00\xff{{"
    files["/big.json"] = b" " * 5000
    files["/invalid.json"] = json.dumps({**SOIL, "tag_len": 3}).encode()
    files["/good.json"] = json.dumps(SOIL).encode()
    rows = {p: (ok, why) for p, ok, why in json_lines(run_fw(body, files))}
    assert rows["/missing.json"] == (False, "no config")
    assert rows["/bad.json"] == (False, "config unreadable")
    assert rows["/big.json"] == (False, "config too large")
    assert rows["/invalid.json"][0] is False and "tag_len" in rows["/invalid.json"][1]
    assert rows["/good.json"] == (True, None)


def test_us915_dwell_time_limits_the_spreading_factor() -> None:
    from citynode.protocol import airtime_ms

    noise = {"kind": "noise", "sensors": [{"type": "battery"}], "region": "US915", "period_s": 240,
             "sample_s": 60, "tag_len": 16}
    # worst case: 11 B header/counter/status + 15 B body (4 escaped samples) + 16 B tag = 42 B
    assert airtime_ms(42, 9, 125, 8) > 400 > airtime_ms(42, 9, 125, 5)
    cr8, cr5 = validate({**noise, "radio": {"sf": 9, "cr": 8}}, {**noise, "radio": {"sf": 9, "cr": 5}})
    assert "400 ms" in cr8["error"]
    assert "ok" in cr5
