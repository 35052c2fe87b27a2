"""The decoder's fast paths give exactly what the reference code gives.

Compiled decode plans (plans.py) against the field-by-field reference parser, the cached
HMAC key schedule against RFC 4231 and hmac.digest, cached AES-ECB keystream against the
library's CTR mode, and the fast DecodedFrame constructor against the dataclass.
"""

from __future__ import annotations

import dataclasses
import hmac
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citynode.protocol import REGISTRY, BadTag, DecodedFrame, FrameError, Reading, Status, decode, encode, pack_body
from citynode.protocol import plans as plans_mod
from citynode.protocol.crypto import TagKey, ctr_xor, device_crypto
from citynode.protocol.frame import _parse_body
from citynode.protocol.plans import Plans
from citynode.protocol.types import new_decoded_frame
from protocol_cases import Case, cases

D = 0x0A0B0C0D
S = bytes(range(100, 116))
WARM = Plans(REGISTRY)  # keeps its shapes and memos across examples, as a long-running decoder does


def reference(packed: bytes) -> tuple[str, list[Reading]] | str:
    """Profile and readings from the reference parser, or its error reason."""
    try:
        _, profile, readings = _parse_body(packed, False, REGISTRY)
    except FrameError as err:
        return err.reason
    return profile, readings


def assert_same_as_reference(packed: bytes) -> None:
    want = reference(packed)
    for plans in (Plans(REGISTRY), WARM):  # first sight (compiles the shape) and warm
        got = plans.parse(packed)
        if isinstance(want, str):
            assert got is None, (packed.hex(), want, got)
        else:
            assert got == want, packed.hex()


def packed_of(case: Case) -> bytes:
    prof = None if case.profile == 0 else REGISTRY.profiles[case.profile]
    return pack_body(case.readings(), prof, REGISTRY.intervals_s[case.interval_code])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_plans_decode_every_valid_packed_section_like_the_reference(case: Case) -> None:
    packed = packed_of(case)
    assert isinstance(reference(packed), tuple)
    assert_same_as_reference(packed)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_plans_leave_every_damaged_section_to_the_reference(case: Case, data: st.DataObject) -> None:
    packed = bytearray(packed_of(case))
    how = data.draw(st.sampled_from(["flip", "cut", "append", "byte"]))
    if how == "flip":
        bit = data.draw(st.integers(0, len(packed) * 8 - 1))
        packed[bit // 8] ^= 0x80 >> (bit % 8)
    elif how == "cut":
        del packed[data.draw(st.integers(0, len(packed) - 1)):]
    elif how == "append":
        packed += bytes([data.draw(st.integers(0, 255))])
    else:
        packed[data.draw(st.integers(0, len(packed) - 1))] = data.draw(st.integers(0, 255))
    assert_same_as_reference(bytes(packed))


@settings(max_examples=400)
@given(st.binary(min_size=0, max_size=40))
def test_plans_agree_with_the_reference_on_arbitrary_bytes(packed: bytes) -> None:
    assert_same_as_reference(packed)


def test_series_sample_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plans_mod, "MAX_SAMPLE_MEMO", 8)
    plans = Plans(REGISTRY)
    prof = REGISTRY.profiles_by_name["noise"]
    for start in range(40, 60):
        readings = {"laeq": [float(start + i) for i in range(5)]}
        got = plans.parse(pack_body(readings, prof, 60))
        assert got is not None
        assert [r.value for r in got[1]] == readings["laeq"]
        assert [r.offset_s for r in got[1]] == [240, 180, 120, 60, 0]
    assert len(plans.channels[REGISTRY.by_name["laeq"].id].samples) <= 8


# RFC 4231 test cases 2 (short key) and 6 (key longer than the block): key, data, HMAC-SHA-256
RFC4231 = [
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
]


@pytest.mark.parametrize(("key", "data", "mac"), RFC4231)
def test_tag_key_is_hmac_sha256(key: bytes, data: bytes, mac: str) -> None:
    assert TagKey(key).digest(data[:4], data[4:]).hex() == mac


def test_tag_key_matches_hmac_digest_for_any_key_length() -> None:
    rnd = random.Random(4231)
    for n in range(0, 100):
        key, fc, msg = rnd.randbytes(n), rnd.randbytes(4), rnd.randbytes(rnd.randint(0, 255))
        tk = TagKey(key)
        assert tk.digest(fc, msg) == hmac.digest(key, fc + msg, "sha256")
        assert tk.digest(fc, msg) == hmac.digest(key, fc + msg, "sha256")  # the cached states are not consumed


def test_cached_ecb_keystream_is_the_spec_ctr_keystream() -> None:
    dc = device_crypto(S, D)
    rnd = random.Random(38)
    for n in range(0, 245):
        fcnt = rnd.randrange(1 << 32)
        body = rnd.randbytes(n)
        assert dc.ctr_xor(fcnt, body) == ctr_xor(dc.keys.enc, D, fcnt, body)


def test_a_new_secret_for_a_device_replaces_its_cached_keys() -> None:
    s2 = bytes(range(16))
    old = encode({"battery_v": 3.3}, device_id=D, counter=5, secret=S, long_counter=True)
    new = encode({"battery_v": 3.4}, device_id=D, counter=6, secret=s2, long_counter=True)
    assert decode(old, {D: S}).values() == {"battery_v": 3.3}
    with pytest.raises(BadTag):
        decode(old, {D: s2})
    assert decode(new, {D: s2}).values() == {"battery_v": 3.4}
    with pytest.raises(BadTag):
        decode(new, {D: S})


def test_fast_decoded_frame_is_an_ordinary_decoded_frame() -> None:
    st_ = Status(low_battery=True)
    readings = [Reading("battery_v", 3.3, "V")]
    args = (D, 7, True, False, 8, "soil", st_, readings, b"\x01")
    fast = new_decoded_frame(*args)
    slow = DecodedFrame(*args)
    assert type(fast) is DecodedFrame
    assert fast == slow and slow == fast
    assert repr(fast) == repr(slow)
    assert fast.to_json() == slow.to_json()
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.counter = 8  # type: ignore[misc]
