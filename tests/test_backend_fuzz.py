"""Fuzzing the decoder and the ingest path the backend exposes to the radio.

Whatever arrives over the air: decode raises FrameError or returns, never anything else,
never hangs, and never accepts a frame whose tag was not made with the device's key (the
tag is re-checked here from SPEC.md sections 1.4 and 2, independently of the decoder).
Hypothesis runs here; atheris (coverage-guided) is in test_backend_atheris.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citynode.protocol import FrameError, MemoryCounterStore, decode, encode

DEV = 0x00C0FFEE
SECRET = bytes.fromhex("8c3f1a0e5b7d92c4e6a1b3d5f7092b4d")
KEYS = {DEV: SECRET, 0x00000002: bytes(16)}
TAG_LENS = {0: 4, 1: 8, 2: 16}


def spec_tag_ok(frame: bytes, secret: bytes, fcnt: int) -> bool:
    """SPEC.md 1.4 and 2, written here from the text: tag = HMAC(K_auth, FCNT_be32 || frame_without_tag)."""
    tag_len = TAG_LENS[(frame[0] >> 3) & 3]
    k_auth = hmac.new(secret, b"citynode/v1/auth" + frame[1:5], hashlib.sha256).digest()
    want = hmac.new(k_auth, fcnt.to_bytes(4, "big") + frame[:-tag_len], hashlib.sha256).digest()[:tag_len]
    return hmac.compare_digest(want, frame[-tag_len:])


def check(frame: bytes, last: int | None = None) -> None:
    counters = MemoryCounterStore({DEV: last} if last is not None else None)
    try:
        out = decode(frame, KEYS, counters)
    except FrameError:
        return
    assert spec_tag_ok(frame, KEYS[out.device_id], out.counter), "accepted a frame without a valid tag"
    assert counters.last(out.device_id) == out.counter


def seeds() -> list[bytes]:
    return [
        encode({"battery_v": 3.7, "soil_vwc": 30.5, "soil_temp": 12.3}, device_id=DEV, counter=1, secret=SECRET,
               long_counter=True),
        encode({"laeq": [50.0, 60.0, 40.5], "lamax": 70.0, "la10": 55.0, "la90": 45.0}, device_id=DEV, counter=70000,
               secret=SECRET, encrypt=True, tag_len=16, long_counter=True),
        encode({"co2": 600.0, "air_temp": -3.5}, device_id=DEV, counter=5, secret=SECRET, tag_len=4),
        encode({"parking_occupied": True, "battery_v": 3.1}, device_id=DEV, counter=9, secret=SECRET, profile=0),
    ]


FAST = settings(max_examples=400, deadline=500, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=300), st.one_of(st.none(), st.integers(0, 2**32 - 1)))
def test_random_bytes(frame: bytes, last: int | None) -> None:
    check(frame, last)


@FAST
@given(st.binary(min_size=1, max_size=40), st.sampled_from([0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x62, 0x6E]),
       st.binary(min_size=16, max_size=16))
def test_frames_signed_with_another_key_are_never_accepted(body: bytes, head: int, wrong: bytes) -> None:
    """Well-formed frames for a known device, tagged with a key that is not the device's."""
    if wrong == SECRET:
        return
    long_counter = bool(head & 4)
    counter = (12345).to_bytes(4 if long_counter else 2, "big")
    msg = bytes([head]) + DEV.to_bytes(4, "big") + counter + body
    tag_len = TAG_LENS[(head >> 3) & 3]
    k_auth = hmac.new(wrong, b"citynode/v1/auth" + DEV.to_bytes(4, "big"), hashlib.sha256).digest()
    frame = msg + hmac.new(k_auth, (12345).to_bytes(4, "big") + msg, hashlib.sha256).digest()[:tag_len]
    for last in (None, 12000):
        with pytest.raises(FrameError):
            decode(frame, KEYS, MemoryCounterStore({DEV: last} if last is not None else None))


@FAST
@given(st.sampled_from(seeds()), st.lists(st.tuples(st.integers(0, 299), st.integers(1, 255)), min_size=1,
                                          max_size=4), st.integers(-3, 3))
def test_mutated_valid_frames_are_rejected(frame: bytes, flips: list[tuple[int, int]], resize: int) -> None:
    data = bytearray(frame)
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    if resize > 0:
        data += os.urandom(resize)
    elif resize < 0:
        del data[resize:]
    if bytes(data) == frame:
        return
    check(bytes(data))
    check(bytes(data), last=0)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=64), st.sampled_from(seeds())), max_size=6))
def test_ingest_never_stores_an_unverified_frame(tmp_path_factory: pytest.TempPathFactory,
                                                 frames: list[bytes]) -> None:
    from citynode.backend import Ingestor, SecurityMonitor, open_store

    store = open_store(str(tmp_path_factory.mktemp("fz") / "f.db"))
    try:
        ing = Ingestor(store, KEYS, SecurityMonitor(store))
        results = ing.ingest_batch([__import__("citynode.backend", fromlist=["Uplink"]).Uplink(f) for f in frames])
        assert len(results) == len(frames)
        for raw, fid in [(bytes(r), int(i)) for r, i in store.db.query("SELECT raw, id FROM frames")]:
            assert raw in seeds()
            assert any(r.frame_id == fid and r.status in ("stored", "duplicate", "redelivered") for r in results)
        assert all(r.reason != "internal_error" for r in results)
    finally:
        store.close()
