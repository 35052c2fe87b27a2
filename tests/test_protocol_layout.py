"""Frames spelled out bit by bit from SPEC.md, independent of the encoder's own code paths.

Each expected frame is built here from the spec's arithmetic (raw = (value - offset) /
scale, written by hand), with the tag and keystream computed with the standard library's
HMAC and AES-ECB, then compared with encode() and decode().
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from citynode.protocol import Status, airtime_ms, decode, derive_keys, encode

S = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
D = 0x0000002A


def bits(s: str) -> bytes:
    s = s.replace(" ", "")
    s += "0" * (-len(s) % 8)
    return int(s, 2).to_bytes(len(s) // 8, "big")


def k_auth(secret: bytes, dev: int) -> bytes:
    return hmac.new(secret, b"citynode/v1/auth" + dev.to_bytes(4, "big"), hashlib.sha256).digest()


def k_enc(secret: bytes, dev: int) -> bytes:
    return hmac.new(secret, b"citynode/v1/enc" + dev.to_bytes(4, "big"), hashlib.sha256).digest()[:16]


def ecb_keystream(key: bytes, dev: int, fcnt: int, n: int) -> bytes:
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    out = b""
    i = 0
    while len(out) < n:
        out += ecb.update(dev.to_bytes(4, "big") + fcnt.to_bytes(4, "big") + bytes(4) + i.to_bytes(4, "big"))
        i += 1
    return out[:n]


def build(header: int, dev: int, ctr: bytes, body: bytes, fcnt: int, tag_len: int, secret: bytes = S) -> bytes:
    msg = bytes([header]) + dev.to_bytes(4, "big") + ctr + body
    return msg + hmac.new(k_auth(secret, dev), fcnt.to_bytes(4, "big") + msg, hashlib.sha256).digest()[:tag_len]


def test_soil_frame_bits() -> None:
    body = bits(
        "001"  # profile 1 = soil
        "111"  # battery_v, soil_vwc, soil_temp present
        "10101011"  # battery 3.71 V: (3.71 - 2.00) / 0.01 = 171
        "00101111"  # soil_vwc 23.5 %: 23.5 / 0.5 = 47
        "0110100111"  # soil_temp 12.3 C: (12.3 + 30) / 0.1 = 423, 10 bits
    )
    assert len(body) == 4
    # header 01 0 01 0 0 0: v1, clear, 8-byte tag, 16-bit counter, no status
    expected = build(0b01001000, D, (5).to_bytes(2, "big"), body, 5, 8)
    frame = encode({"battery_v": 3.71, "soil_vwc": 23.5, "soil_temp": 12.3}, device_id=D, counter=5, secret=S)
    assert frame == expected
    assert len(frame) == 1 + 4 + 2 + 4 + 8
    got = decode(frame, {D: S})
    assert got.values() == {"battery_v": 3.71, "soil_vwc": 23.5, "soil_temp": 12.3}
    assert got.profile == "soil" and got.counter == 5 and not got.encrypted


def test_air_frame_bits_long_counter_16_byte_tag() -> None:
    body = bits(
        "010"  # profile 2 = air
        "1111111"  # all seven present
        "11001101"  # battery 4.05: 205
        "00000001111100"  # pm2_5 12.4: 124, 14 bits
        "00000011001001"  # pm10 20.1: 201
        "00001001100100"  # co2 612: 612
        "00101101110"  # air_temp -3.4: (-3.4 + 40) / 0.1 = 366, 11 bits
        "10100011"  # air_rh 81.5: 163
        "001101000"  # voc_index 104, 9 bits
    )
    assert len(body) == 11
    fcnt = 0x00012345
    # header 01 0 10 1 0 0: 16-byte tag, long counter
    expected = build(0b01010100, D, fcnt.to_bytes(4, "big"), body, fcnt, 16)
    readings = {"battery_v": 4.05, "pm2_5": 12.4, "pm10": 20.1, "co2": 612, "air_temp": -3.4, "air_rh": 81.5,
                "voc_index": 104}
    assert encode(readings, device_id=D, counter=fcnt, secret=S, tag_len=16, long_counter=True) == expected
    assert decode(expected, {D: S}).values() == readings


def test_noise_series_encrypted_with_status_and_error() -> None:
    plain = bits(
        "10000001"  # status: ERR, LOW_BATT
        "00010010"  # error: subsystem 1 (sensor), code 2
        "011"  # profile 3 = noise (laeq, lamax, la10, la90, battery_v)
        "11001"  # laeq, lamax, battery_v present
        "1010111100"  # lamax 90.0: (90 - 20) / 0.1 = 700 (scalars first, profile order)
        "10000010"  # battery 3.30: 130
        "0011"  # laeq series: n - 1 = 3
        "101"  # interval code 5 = 600 s
        "0110011010"  # 61.0 dB: 410
        "0000011"  # +3 -> 61.3
        "1111100"  # -4 -> 60.9
        "1000000"  # escape: 75.0 is +141 from 60.9, beyond +-63
        "1000100110"  # 75.0: 550
    )
    fcnt = 77
    body = bytes(a ^ b for a, b in zip(plain, ecb_keystream(k_enc(S, D), D, fcnt, len(plain)), strict=True))
    # header 01 1 00 0 1 0: encrypted, 4-byte tag, 16-bit counter, status present
    expected = build(0b01100010, D, fcnt.to_bytes(2, "big"), body, fcnt, 4)
    frame = encode({"laeq": [61.0, 61.3, 60.9, 75.0], "lamax": 90.0, "battery_v": 3.3}, device_id=D,
                   counter=fcnt, secret=S, tag_len=4, encrypt=True, series_interval_s=600,
                   status=Status(low_battery=True, error=("sensor", 2)))
    assert frame == expected
    got = decode(frame, {D: S})
    assert got.status == Status(low_battery=True, error=("sensor", 2))
    series = [(r.sample, r.value, r.offset_s) for r in got.readings if r.channel == "laeq"]
    assert series == [(0, 61.0, 1800), (1, 61.3, 1200), (2, 60.9, 600), (3, 75.0, 0)]


def test_parking_frame_bits_with_status() -> None:
    body = bits(
        "01011000"  # status: COUNTER_JUMP, reset cause 6 (crash) in bits 4-2, no ERR
        "100"  # profile 4 = parking
        "1111"
        "10011011"  # battery 3.55: 155
        "1"  # occupied
        "000010001001"  # changes 137, 12 bits
        "0000000000101010"  # minutes 42, 16 bits
    )
    expected = build(0b01001010, D, (0x1234).to_bytes(2, "big"), body, 0x1234, 8)
    frame = encode({"battery_v": 3.55, "parking_occupied": True, "parking_changes": 137, "parking_minutes": 42},
                   device_id=D, counter=0x1234, secret=S, status=Status(reset_cause="crash", counter_jump=True))
    assert frame == expected
    got = decode(frame, {D: S})
    assert got.values()["parking_occupied"] is True
    assert got.status.reset_cause == "crash" and got.status.counter_jump


def test_generic_frame_bits() -> None:
    body = bits(
        "000"  # generic
        "010000"  # K = 16 (highest present id 15, + 1)
        "1000010000000001"  # ids 0, 5, 15 present
        "10000010"  # battery 3.30: 130
        "00000110011111"  # co2 415, 14 bits
        "0000000000000111"  # parking_minutes 7
    )
    expected = build(0b01000000, D, (9).to_bytes(2, "big"), body, 9, 4)
    frame = encode({"battery_v": 3.3, "co2": 415, "parking_minutes": 7}, device_id=D, counter=9, secret=S,
                   tag_len=4)
    assert frame == expected
    assert decode(frame, {D: S}).profile == "generic"


def test_key_derivation_labels() -> None:
    keys = derive_keys(S, D)
    d = D.to_bytes(4, "big")
    assert keys.auth == k_auth(S, D)
    assert keys.enc == k_enc(S, D)
    assert keys.prove == hmac.new(S, b"citynode/v1/prove" + d, hashlib.sha256).digest()
    assert len({keys.auth, keys.enc, keys.prove}) == 3
    assert derive_keys(S, D + 1).auth != keys.auth  # the device id is bound into every key


@pytest.mark.parametrize(
    ("length", "sf", "ms"),
    [(20, 12, 1318.9), (33, 12, 1810.4), (51, 12, 2465.8), (20, 7, 56.6)],
)
def test_airtime_matches_semtech_calculator(length: int, sf: int, ms: float) -> None:
    assert airtime_ms(length, sf) == pytest.approx(ms, abs=0.05)
