"""Generate protocol/vectors.json: frames every implementation must decode (or reject) alike.

    python -m citynode.protocol.vectors --write   # regenerate protocol/vectors.json
    python -m citynode.protocol.vectors --check   # exit 1 if the file differs from what this builds

Valid frames come from the host encoder; invalid ones are valid frames altered, or bodies
built bit by bit and signed with a correct tag, so that each reaches the check it targets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from citynode.paths import protocol_dir
from citynode.protocol.counters import MemoryCounterStore
from citynode.protocol.frame import decode, encode, seal
from citynode.protocol.types import Status

KEYS: dict[int, bytes] = {
    0x0000002A: bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
    0x00C0FFEE: bytes.fromhex("000102030405060708090a0b0c0d0e0f"),
}
A, B = 0x0000002A, 0x00C0FFEE
NOT_A_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100")

NOISE_15 = [55.2, 55.9, 54.8, 57.0, 63.5, 80.1, 79.4, 62.0, 58.3, 57.7, 57.7, 56.1, 49.0, 20.0, 122.3]


def _valid_specs() -> list[dict[str, Any]]:
    """(name, encode arguments, last counter) for every valid vector."""
    soil = {"battery_v": 3.71, "soil_vwc": 23.5, "soil_temp": 12.3}
    air = {"battery_v": 4.05, "pm2_5": 12.4, "pm10": 20.1, "co2": 612, "air_temp": -3.4, "air_rh": 81.5,
           "voc_index": 104}
    noise = {"laeq": NOISE_15, "lamax": 84.6, "la10": 60.2, "la90": 48.9, "battery_v": 3.92}
    parking = {"battery_v": 3.55, "parking_occupied": True, "parking_changes": 137, "parking_minutes": 42}
    return [
        {"name": "soil, all channels, 8-byte tag", "readings": soil, "device_id": A, "counter": 5},
        {"name": "soil, battery absent, 4-byte tag", "readings": {"soil_vwc": 41.0, "soil_temp": -4.7},
         "device_id": A, "counter": 6, "tag_len": 4, "last_counter": 5},
        {"name": "soil, minimum values", "readings": {"battery_v": 2.0, "soil_vwc": 0.0, "soil_temp": -30.0},
         "device_id": A, "counter": 7, "tag_len": 16},
        {"name": "soil, maximum values", "readings": {"battery_v": 4.55, "soil_vwc": 100.0, "soil_temp": 70.0},
         "device_id": A, "counter": 8, "encrypt": True, "tag_len": 4},
        {"name": "soil, nothing present, sensor fault", "readings": {}, "profile": "soil",
         "status": Status(sensor_fault=True), "device_id": A, "counter": 9},
        {"name": "air, all channels, 16-byte tag, long counter", "readings": air, "device_id": B,
         "counter": 0x12345, "tag_len": 16, "long_counter": True},
        {"name": "air, encrypted, 8-byte tag", "readings": air, "device_id": B, "counter": 300,
         "encrypt": True, "last_counter": 299},
        {"name": "air, encrypted, 16-byte tag, status with error byte",
         "readings": {"pm2_5": 999.9, "pm10": 1000.0, "co2": 10000, "battery_v": 3.01},
         "device_id": B, "counter": 301, "encrypt": True, "tag_len": 16, "last_counter": 300,
         "status": Status(low_battery=True, error=("sensor", 2))},
        {"name": "noise, 15-sample LAeq series with deltas and escapes", "readings": noise,
         "device_id": A, "counter": 1000, "long_counter": True},
        {"name": "noise, encrypted, 4-byte tag, 10-minute series, status and error",
         "readings": {"laeq": [61.0, 61.3, 60.9, 75.0], "lamax": 90.0, "battery_v": 3.3},
         "series_interval_s": 600, "device_id": A, "counter": 1001, "encrypt": True, "tag_len": 4,
         "last_counter": 1000, "status": Status(reset_cause="watchdog", counter_jump=True, error=("radio", 7))},
        {"name": "noise, one-sample series given as a scalar", "readings": {"laeq": 45.5},
         "device_id": A, "counter": 1002, "last_counter": 1001, "series_interval_s": 1},
        {"name": "parking, all channels", "readings": parking, "device_id": B, "counter": 17},
        {"name": "parking, changes counter wraps modulo 4096 (5000 -> 904)",
         "readings": {"parking_occupied": False, "parking_changes": 5000, "parking_minutes": 65535},
         "device_id": B, "counter": 18, "last_counter": 17, "tag_len": 4},
        {"name": "parking, status without error byte, long counter after cold boot",
         "readings": {"parking_occupied": True},
         "status": Status(reset_cause="power_on", counter_jump=True, duty_limited=True),
         "device_id": B, "counter": 64, "long_counter": True, "last_counter": 17},
        {"name": "generic, channels from several profiles",
         "readings": {"battery_v": 3.3, "co2": 415, "parking_minutes": 7}, "device_id": A, "counter": 11},
        {"name": "generic, forced for a single channel, encrypted", "readings": {"air_temp": 21.5},
         "profile": "generic", "device_id": A, "counter": 12, "encrypt": True, "tag_len": 16},
        {"name": "generic, no channels", "readings": {}, "profile": "generic", "device_id": A, "counter": 13,
         "status": Status(reset_cause="brownout")},
        {"name": "16-bit counter crosses a 2^16 boundary", "readings": soil, "device_id": A,
         "counter": 0x00020005, "last_counter": 0x0001FFF0},
        {"name": "16-bit counter, high word reconstructed", "readings": soil, "device_id": B,
         "counter": 0x12350000, "last_counter": 0x1234FFFF, "encrypt": True},
        {"name": "16-bit counter, same high word", "readings": soil, "device_id": B,
         "counter": 0x7FFF0102, "last_counter": 0x7FFF0001, "tag_len": 4},
    ]


def _encode_args(spec: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in spec.items() if k not in ("name", "last_counter")}
    args["secret"] = KEYS[spec["device_id"]]
    return args


def _input_json(spec: dict[str, Any]) -> dict[str, Any]:
    """The encode arguments of a valid vector, for encoders under test (firmware, JS)."""
    status = spec.get("status")
    return {
        "readings": spec["readings"],
        "device_id": f"{spec['device_id']:08x}",
        "counter": spec["counter"],
        "profile": spec.get("profile"),
        "tag_len": spec.get("tag_len", 8),
        "encrypt": spec.get("encrypt", False),
        "long_counter": spec.get("long_counter", False),
        "status": None if status is None else status.to_json(),
        "series_interval_s": spec.get("series_interval_s", 60),
    }


def bits_body(bits: str) -> bytes:
    """Bytes from a string of 0/1 (spaces ignored), zero-padded to whole bytes."""
    s = bits.replace(" ", "")
    s += "0" * (-len(s) % 8)
    return int(s, 2).to_bytes(len(s) // 8, "big") if s else b""


def _invalid_specs(valid: list[tuple[dict[str, Any], bytes]]) -> list[dict[str, Any]]:
    soil_frame = valid[0][1]  # soil, A, counter 5, 8-byte tag, short counter
    air_long = valid[5][1]  # air, B, counter 0x12345, 16-byte tag, long counter

    def signed(body: str, *, device_id: int = A, counter: int = 50, has_status: bool = False,
               **kw: Any) -> bytes:
        return seal(bits_body(body), device_id=device_id, counter=counter,
                    secret=kw.pop("secret", KEYS.get(device_id, NOT_A_KEY)), has_status=has_status, **kw)

    def with_byte(frame: bytes, i: int, value: int) -> bytes:
        return frame[:i] + bytes([value]) + frame[i + 1:]

    soil_readings = {"battery_v": 3.71, "soil_vwc": 23.5, "soil_temp": 12.3}
    out: list[dict[str, Any]] = [
        {"name": "6 bytes", "frame": soil_frame[:6], "error": "too_short"},
        {"name": "empty", "frame": b"", "error": "too_short"},
        {"name": "one byte short of header + counter + 1 + 8-byte tag", "frame": soil_frame[:15],
         "error": "too_short"},
        {"name": "long counter and 16-byte tag need 26 bytes", "frame": air_long[:25], "error": "too_short"},
        {"name": "256 bytes", "frame": soil_frame + bytes(256 - len(soil_frame)), "error": "too_long"},
        {"name": "version 00", "frame": with_byte(soil_frame, 0, soil_frame[0] & 0x3F), "error": "unknown_version"},
        {"name": "version 10", "frame": with_byte(soil_frame, 0, soil_frame[0] ^ 0xC0), "error": "unknown_version"},
        {"name": "version 11 (reserved for an extended header)",
         "frame": with_byte(soil_frame, 0, soil_frame[0] | 0xC0), "error": "unknown_version"},
        {"name": "header bit 0 set", "frame": with_byte(soil_frame, 0, soil_frame[0] | 1), "error": "reserved_bit"},
        {"name": "tag length code 11", "frame": with_byte(soil_frame, 0, soil_frame[0] | 0x18),
         "error": "reserved_bit"},
        {"name": "device without a key", "frame": encode(soil_readings, device_id=0x0BADBEEF, counter=5,
                                                         secret=NOT_A_KEY), "error": "unknown_device"},
        {"name": "last tag byte altered", "frame": with_byte(soil_frame, len(soil_frame) - 1, soil_frame[-1] ^ 1),
         "error": "bad_tag", "last_counter": 4},
        {"name": "body byte altered", "frame": with_byte(air_long, 10, air_long[10] ^ 0x10), "error": "bad_tag"},
        {"name": "signed with another key", "frame": encode(soil_readings, device_id=A, counter=5,
                                                            secret=NOT_A_KEY), "error": "bad_tag",
         "last_counter": 1},
        {"name": "long counter, wrong key, no state", "frame": encode(soil_readings, device_id=A, counter=5,
                                                                      secret=NOT_A_KEY, long_counter=True),
         "error": "bad_tag"},
        {"name": "same counter as the last accepted", "frame": soil_frame, "last_counter": 5, "error": "replay"},
        {"name": "long counter below the last accepted", "frame": air_long, "last_counter": 0x20000,
         "error": "replay"},
        {"name": "old 16-bit frame found by a replay candidate",
         "frame": encode(soil_readings, device_id=A, counter=0x00010005, secret=KEYS[A]),
         "last_counter": 0x00010010, "error": "replay"},
        {"name": "old 16-bit frame from the previous 2^16 window",
         "frame": encode(soil_readings, device_id=A, counter=0x0000FFF0, secret=KEYS[A]),
         "last_counter": 0x00010010, "error": "replay"},
        {"name": "16-bit counter above 2^16, device never heard",
         "frame": encode(soil_readings, device_id=A, counter=0x00010005, secret=KEYS[A]),
         "error": "counter_unknown"},
        {"name": "16-bit counter jumps by 16385",
         "frame": encode(soil_readings, device_id=A, counter=100 + 16385, secret=KEYS[A]),
         "last_counter": 100, "error": "counter_gap"},
        {"name": "profile 5 (reserved)", "frame": signed("101 000"), "error": "malformed"},
        {"name": "profile 7 (reserved), encrypted", "frame": signed("111 000", encrypt=True), "error": "malformed"},
        {"name": "padding bits not zero", "frame": signed("001 000 1"), "error": "malformed"},
        {"name": "a byte after the padded section", "frame": signed("001 000 00 00000000"), "error": "malformed"},
        {"name": "generic frame lists 17 channels", "frame": signed("000 010001 " + "0" * 17),
         "error": "malformed"},
        {"name": "soil frame ends inside a scalar", "frame": signed("001 111 10101011 1"), "error": "malformed"},
        {"name": "generic frame ends inside the presence bits", "frame": signed("000 010000 1"),
         "error": "malformed"},
        {"name": "status announces an error byte that is missing", "frame": signed("10000000", has_status=True),
         "error": "malformed"},
        {"name": "status byte and no packed section", "frame": signed("00000001", has_status=True),
         "error": "malformed"},
        {"name": "noise series of 5 samples ends after 2",
         "frame": signed("011 10000 0100 011 0101000100 0000011"), "error": "truncated_sample"},
        {"name": "noise series ends inside its first sample", "frame": signed("011 10000 0000 011 01010"),
         "error": "truncated_sample"},
        {"name": "soil temperature raw 1023 (> 70.0 C)", "frame": signed("001 001 1111111111"),
         "error": "value_out_of_range"},
        {"name": "PM2.5 raw 16383, encrypted", "frame": signed("010 0100000 11111111111111", encrypt=True),
         "error": "value_out_of_range"},
        {"name": "series delta takes LAeq below 20.0 dB",
         "frame": signed("011 10000 0001 011 0000000001 1111110"), "error": "value_out_of_range"},
    ]
    return out


def build() -> dict[str, Any]:
    """The whole vectors.json document."""
    valid_out: list[dict[str, Any]] = []
    built: list[tuple[dict[str, Any], bytes]] = []
    for spec in _valid_specs():
        frame = encode(**_encode_args(spec))
        last = spec.get("last_counter")
        store = MemoryCounterStore({} if last is None else {spec["device_id"]: last})
        expected = decode(frame, KEYS, store).to_json()
        built.append((spec, frame))
        valid_out.append({"name": spec["name"], "frame": frame.hex(), "last_counter": last,
                          "input": _input_json(spec), "expected": expected})
    invalid_out = []
    for item in _invalid_specs(built):
        frame = item["frame"]
        invalid_out.append({"name": item["name"], "frame": frame.hex(), "last_counter": item.get("last_counter"),
                            "device_id": f"{int.from_bytes(frame[1:5], 'big'):08x}" if len(frame) >= 5 else None,
                            "error": item["error"]})
    return {
        "about": "citynode frame format v1 test vectors (protocol/SPEC.md section 8). "
                 "Generated by `python -m citynode.protocol.vectors --write`; do not edit by hand.",
        "keys": {f"{dev:08x}": secret.hex() for dev, secret in KEYS.items()},
        "valid": valid_out,
        "invalid": invalid_out,
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def path() -> Path:
    return protocol_dir() / "vectors.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m citynode.protocol.vectors", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="write protocol/vectors.json")
    group.add_argument("--check", action="store_true", help="exit 1 if protocol/vectors.json is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not path().exists() or path().read_text(encoding="utf-8") != text:
            print(f"{path()} is stale; run: python -m citynode.protocol.vectors --write", file=sys.stderr)
            return 1
        print(f"{path()} is up to date")
        return 0
    tmp = path().with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path())
    print(f"wrote {path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
