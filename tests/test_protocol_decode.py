"""Decoder behaviour a backend relies on: round trips, tamper rejection, replay and counters."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citynode.protocol import (
    MAX_GAP,
    REGISTRY,
    BadTag,
    CounterGap,
    CounterUnknown,
    FrameError,
    MemoryCounterStore,
    Replay,
    TooShort,
    decode,
    encode,
)
from protocol_cases import Case, cases

S = bytes(range(16))
D = 0x01020304
KEYS = {D: S}
SOIL = {"battery_v": 3.71, "soil_vwc": 23.5, "soil_temp": 12.3}


def enc(case: Case) -> bytes:
    return encode(case.readings(), device_id=D, secret=S, **case.encode_args())


def expected_reason(frame: bytes) -> str:
    """SPEC.md section 5 steps 1-5 for a frame whose tag cannot be valid."""
    if len(frame) < 7:
        return "too_short"
    h = frame[0]
    if h >> 6 != 1:
        return "unknown_version"
    if h & 1 or (h >> 3) & 3 == 3:
        return "reserved_bit"
    if len(frame) < (9 if h & 4 else 7) + 1 + (4, 8, 16)[(h >> 3) & 3]:
        return "too_short"
    if int.from_bytes(frame[1:5], "big") not in KEYS:
        return "unknown_device"
    return "bad_tag"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_decode_of_encode_gives_the_readings_back(case: Case) -> None:
    frame = enc(case)
    assert len(frame) <= 255
    store = MemoryCounterStore()
    got = decode(frame, KEYS, store if case.long_counter or case.counter <= 0xFFFF else None)
    assert got.counter == case.counter
    assert (got.tag_len, got.encrypted, got.long_counter) == (case.tag_len, case.encrypt, case.long_counter)
    assert got.status == (case.status or got.status.__class__())
    values: dict[str, Any] = got.values()
    expected = case.readings()
    assert set(values) == set(expected)
    for name, want in expected.items():
        ch = REGISTRY.by_name[name]
        wants = want if isinstance(want, list) else [want]
        gots = values[name] if isinstance(values[name], list) else [values[name]]
        assert len(gots) == len(wants)
        for g, w in zip(gots, wants, strict=True):
            assert abs(float(g) - float(w)) <= ch.scale / 2, name
    interval = REGISTRY.intervals_s[case.interval_code]
    for r in got.readings:
        if r.sample is not None:
            n = len(case.series[REGISTRY.by_name[r.channel].id])
            assert r.offset_s == (n - 1 - r.sample) * interval


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(cases(min_counter=1))
def test_every_single_bit_flip_is_rejected_with_the_right_reason(case: Case) -> None:
    frame = enc(case)
    for i in range(len(frame) * 8):
        bad = bytearray(frame)
        bad[i // 8] ^= 0x80 >> (i % 8)
        store = MemoryCounterStore({D: case.counter - 1})
        with pytest.raises(FrameError) as err:
            decode(bytes(bad), KEYS, store)
        assert err.value.reason == expected_reason(bytes(bad)), f"bit {i}"
        assert store.last(D) == case.counter - 1


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(cases(min_counter=1))
def test_every_truncation_and_extension_is_rejected(case: Case) -> None:
    frame = enc(case)
    for n in range(len(frame)):
        with pytest.raises(FrameError) as err:
            decode(frame[:n], KEYS, MemoryCounterStore({D: case.counter - 1}))
        assert err.value.reason == expected_reason(frame[:n]), f"{n} bytes"
    with pytest.raises(BadTag):
        decode(frame + b"\x00", KEYS, MemoryCounterStore({D: case.counter - 1}))


def soil(counter: int, **kw: Any) -> bytes:
    return encode(SOIL, device_id=D, counter=counter, secret=S, **kw)


def test_replayed_frame_is_refused_and_does_not_move_the_counter() -> None:
    store = MemoryCounterStore()
    decode(soil(10), KEYS, store)
    decode(soil(11), KEYS, store)
    with pytest.raises(Replay):
        decode(soil(10), KEYS, store)
    with pytest.raises(Replay):
        decode(soil(11), KEYS, store)
    with pytest.raises(Replay):
        decode(soil(11, long_counter=True), KEYS, store)
    assert store.last(D) == 11


def test_16_bit_counter_is_reconstructed_across_the_wrap() -> None:
    store = MemoryCounterStore({D: 0x0001FFFE})
    assert decode(soil(0x0001FFFF), KEYS, store).counter == 0x0001FFFF
    assert decode(soil(0x00020000), KEYS, store).counter == 0x00020000  # low bits 0000 -> next window
    assert decode(soil(0x00020003), KEYS, store).counter == 0x00020003
    assert store.last(D) == 0x00020003


def test_old_frame_from_the_previous_window_is_a_replay_not_a_bad_tag() -> None:
    store = MemoryCounterStore({D: 0x00020010})
    with pytest.raises(Replay):
        decode(soil(0x0001FFF0), KEYS, store)  # candidate (last & ~0xFFFF | c16) - 0x10000
    with pytest.raises(Replay):
        decode(soil(0x00020004), KEYS, store)  # candidate (last & ~0xFFFF | c16)


def test_counter_gap_limit_on_16_bit_counters() -> None:
    assert decode(soil(MAX_GAP), KEYS, MemoryCounterStore({D: 0})).counter == MAX_GAP
    with pytest.raises(CounterGap):
        decode(soil(MAX_GAP + 1), KEYS, MemoryCounterStore({D: 0}))
    # a long counter resynchronises after any jump
    assert decode(soil(5_000_000, long_counter=True), KEYS, MemoryCounterStore({D: 0})).counter == 5_000_000


def test_unknown_counter_needs_a_long_counter_frame() -> None:
    with pytest.raises(CounterUnknown):
        decode(soil(0x00030007), KEYS, MemoryCounterStore())
    store = MemoryCounterStore()
    assert decode(soil(0x00030007, long_counter=True), KEYS, store).counter == 0x00030007
    assert decode(soil(0x00030008), KEYS, store).counter == 0x00030008
    # a fresh device (FCNT < 2^16) needs no long counter
    assert decode(soil(3), KEYS, MemoryCounterStore()).counter == 3


def test_wrong_key_with_unknown_16_bit_counter_is_counter_unknown_with_known_counter_bad_tag() -> None:
    frame = encode(SOIL, device_id=D, counter=3, secret=bytes(16))
    with pytest.raises(CounterUnknown):
        decode(frame, KEYS, MemoryCounterStore())
    with pytest.raises(BadTag):
        decode(frame, KEYS, MemoryCounterStore({D: 2}))


def test_exhausted_counter_cannot_be_accepted() -> None:
    # last = 0xFFFFFFF0: a 16-bit frame with low bits 0005 would need FCNT 2^32 + 5
    with pytest.raises(BadTag):
        decode(soil(0x00000005), KEYS, MemoryCounterStore({D: 0xFFFFFFF0}))


def test_commit_is_compare_and_set() -> None:
    class Racing(MemoryCounterStore):
        def advance(self, device_id: int, fcnt: int) -> bool:
            super().advance(device_id, fcnt + 1)  # another process got a later frame first
            return super().advance(device_id, fcnt)

    with pytest.raises(Replay):
        decode(soil(7), KEYS, Racing({D: 6}))


def test_without_a_store_nothing_is_remembered() -> None:
    frame = soil(9)
    assert decode(frame, KEYS).counter == 9
    assert decode(frame, KEYS).counter == 9


def test_too_short_checks_use_the_header_lengths() -> None:
    frame = soil(9, tag_len=16, long_counter=True)
    with pytest.raises(TooShort):
        decode(frame[: 9 + 16], KEYS)


@pytest.mark.parametrize(
    ("readings", "kwargs", "words"),
    [
        ({"soil_temp": 70.1}, {}, "outside"),
        ({"battery_v": 1.99}, {}, "outside"),
        ({"co2": float("nan")}, {}, "finite"),
        ({"wind": 3.0}, {}, "unknown channel"),
        ({"soil_vwc": [1.0, 2.0]}, {}, "generic frames carry scalars"),
        ({"laeq": [50.0] * 17}, {}, "1..16"),
        ({"laeq": [50.0, 51.0]}, {"series_interval_s": 45}, "series_interval_s"),
        ({"co2": 400}, {"profile": "soil"}, "cannot carry"),
        ({"co2": 400}, {"profile": 6}, "unknown profile"),
        (SOIL, {"tag_len": 6}, "tag_len"),
        (SOIL, {"device_id": 0}, "not valid"),
        (SOIL, {"device_id": 0xFFFFFFFF}, "not valid"),
        (SOIL, {"counter": 1 << 32}, "32-bit"),
    ],
)
def test_encoder_refuses_what_it_cannot_encode(readings: dict[str, Any], kwargs: dict[str, Any],
                                               words: str) -> None:
    args: dict[str, Any] = {"device_id": D, "counter": 1, "secret": S, **kwargs}
    with pytest.raises(ValueError, match=words):
        encode(readings, **args)


def test_profile_is_chosen_from_the_registry() -> None:
    def profile_of(readings: dict[str, Any]) -> str:
        return decode(encode(readings, device_id=D, counter=1, secret=S), KEYS).profile

    assert profile_of({"battery_v": 3.3}) == "soil"  # first profile holding it
    assert profile_of({"co2": 500, "battery_v": 3.3}) == "air"
    assert profile_of({"laeq": [50.0, 51.0]}) == "noise"
    assert profile_of({"co2": 500, "soil_vwc": 20.0}) == "generic"


def test_rounding_is_half_away_from_zero() -> None:
    def value(name: str, v: float) -> Any:
        return decode(encode({name: v}, device_id=D, counter=1, secret=S, profile="generic"), KEYS).values()[name]

    assert value("soil_vwc", 23.25) == 23.5  # 46.5 steps -> 47
    assert value("air_temp", -3.45) == -3.4  # (-3.45 + 40) / 0.1 = 365.5 -> 366
    assert value("battery_v", 3.705) == 3.71


def test_json_shape() -> None:
    out = decode(soil(9, encrypt=True), KEYS).to_json()
    assert out["device_id"] == "01020304"
    assert out["readings"][0] == {"channel": "battery_v", "value": 3.71, "unit": "V", "sample": None, "offset_s": 0}
    assert set(out) == {"device_id", "counter", "long_counter", "encrypted", "tag_len", "profile", "status",
                        "readings"}


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode(data, KEYS, MemoryCounterStore({D: 100}))
