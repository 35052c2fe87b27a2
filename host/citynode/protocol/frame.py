"""Encode and decode citynode v1 frames (SPEC.md). The decoder follows section 5 step by step.

`encode` is the host's reference encoder (vectors, simulators, tests); nodes use the
allocation-free firmware encoder cn/frame.py, which vectors.json keeps byte-identical.

`decode` is a backend's hot path (bench/bench_protocol.py): header bytes are looked up in a
table, per-device keys and HMAC pad states are cached (crypto.DeviceCrypto), and well-formed
bodies go through compiled plans (plans.py); every error comes from the step-by-step code
(`_reject_header`, `_reject_tag`, `_parse_body`), so the reasons cannot drift.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Mapping, Sequence
from hmac import compare_digest
from typing import NoReturn, cast

from citynode.protocol.counters import CounterStore
from citynode.protocol.crypto import check_device_id, ctr_xor, derive_keys, device_crypto, frame_tag
from citynode.protocol.errors import (
    BadTag,
    CounterGap,
    CounterUnknown,
    Malformed,
    Replay,
    ReservedBit,
    TooLong,
    TooShort,
    TruncatedSample,
    UnknownDevice,
    UnknownVersion,
    ValueOutOfRange,
)
from citynode.protocol.plans import plans_for
from citynode.protocol.registry import Channel, Profile, Registry, load_registry
from citynode.protocol.types import DecodedFrame, Reading, Status, new_decoded_frame

REGISTRY: Registry = load_registry()
_DEFAULT_PLANS = plans_for(REGISTRY)

VERSION = 1
MAX_FRAME = 255
MIN_HEAD = 7  # header + device id + 16-bit counter
MAX_GAP = 16384
TAG_LENS = (4, 8, 16)
GENERIC = "generic"
U32 = 0xFFFFFFFF

Value = float | int | bool


# ---------------------------------------------------------------- encoding


def seal(
    body: bytes,
    *,
    device_id: int,
    counter: int,
    secret: bytes,
    tag_len: int = 8,
    encrypt: bool = False,
    long_counter: bool = False,
    has_status: bool = False,
) -> bytes:
    """Header, device id, counter, (encrypted) body and tag around an already built body.

    Public for vector generation: it signs any body, including malformed ones.
    """
    check_device_id(device_id)
    if not 0 <= counter <= U32:
        raise ValueError(f"counter {counter} is not a 32-bit unsigned value")
    if tag_len not in TAG_LENS:
        raise ValueError(f"tag_len must be one of {TAG_LENS}, not {tag_len}")
    keys = derive_keys(bytes(secret), device_id)
    header = (
        VERSION << 6
        | int(encrypt) << 5
        | TAG_LENS.index(tag_len) << 3
        | int(long_counter) << 2
        | int(has_status) << 1
    )
    ctr = counter.to_bytes(4, "big") if long_counter else (counter & 0xFFFF).to_bytes(2, "big")
    if encrypt:
        body = ctr_xor(keys.enc, device_id, counter, body)
    msg = bytes([header]) + device_id.to_bytes(4, "big") + ctr + body
    frame = msg + frame_tag(keys.auth, counter, msg, tag_len)
    if len(frame) > MAX_FRAME:
        raise ValueError(f"the frame would be {len(frame)} bytes; the LoRa limit is {MAX_FRAME}")
    return frame


class _BitWriter:
    __slots__ = ("acc", "n")

    def __init__(self) -> None:
        self.acc = 0
        self.n = 0

    def put(self, value: int, width: int) -> None:
        assert 0 <= value < 1 << width, (value, width)
        self.acc = self.acc << width | value
        self.n += width

    def to_bytes(self) -> bytes:
        pad = -self.n % 8
        return (self.acc << pad).to_bytes((self.n + pad) // 8, "big")


def _is_series(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def choose_profile(
    readings: Mapping[str, object], profile: str | int | None = None, registry: Registry = REGISTRY
) -> Profile | None:
    """The profile to encode with (None = generic). Explicit profiles must hold every channel."""
    names = set(readings)
    unknown = names - set(registry.by_name)
    if unknown:
        raise ValueError(f"unknown channels {sorted(unknown)}; see protocol/registry.toml")
    if profile in (0, GENERIC):
        return None
    if profile is not None:
        try:
            prof = registry.profile(profile)
        except KeyError:
            raise ValueError(f"unknown profile {profile!r}") from None
        if not prof.holds(names):
            raise ValueError(f"profile {prof.name} cannot carry {sorted(names - {c.name for c in prof.channels})}")
        return prof
    series_names = {n for n, v in readings.items() if _is_series(v)}
    for prof in registry.profiles.values():
        if prof.holds(names) and series_names <= {registry.channels[c].name for c in prof.series}:
            return prof
    return None


def pack_body(
    readings: Mapping[str, Value | Sequence[Value]],
    profile: Profile | None,
    series_interval_s: int = 60,
    registry: Registry = REGISTRY,
) -> bytes:
    """The bit-packed section (SPEC.md 3.2) for readings under a profile (None = generic)."""
    w = _BitWriter()
    if profile is None:
        w.put(0, 3)
        chans = sorted((registry.by_name[n] for n in readings), key=lambda c: c.id)
        for ch in chans:
            if _is_series(readings[ch.name]):
                raise ValueError(f"{ch.name}: generic frames carry scalars only")
        ids = {c.id for c in chans}
        k = max(ids) + 1 if ids else 0
        w.put(k, 6)
        for i in range(k):
            w.put(int(i in ids), 1)
        for ch in chans:
            w.put(ch.to_raw(readings[ch.name]), ch.bits)  # type: ignore[arg-type]
        return w.to_bytes()
    w.put(profile.id, 3)
    for ch in profile.channels:
        w.put(int(ch.name in readings), 1)
    for ch in profile.channels:
        if ch.name in readings and ch.id not in profile.series:
            value = readings[ch.name]
            if _is_series(value):
                raise ValueError(f"{ch.name} is not a series channel of profile {profile.name}")
            w.put(ch.to_raw(value), ch.bits)  # type: ignore[arg-type]
    if any(ch.name in readings for ch in profile.channels if ch.id in profile.series):
        if series_interval_s not in registry.intervals_s:
            raise ValueError(f"series_interval_s must be one of {list(registry.intervals_s)}")
        code = registry.intervals_s.index(series_interval_s)
    for ch in profile.channels:
        if ch.name in readings and ch.id in profile.series:
            value = readings[ch.name]
            samples = list(cast("Sequence[Value]", value)) if _is_series(value) else [cast(Value, value)]
            if not 1 <= len(samples) <= registry.max_samples:
                raise ValueError(f"{ch.name}: a series has 1..{registry.max_samples} samples, not {len(samples)}")
            _put_series(w, ch, [ch.to_raw(v) for v in samples], code)
    return w.to_bytes()


def _put_series(w: _BitWriter, ch: Channel, raws: list[int], interval_code: int) -> None:
    assert ch.delta_bits is not None
    db = ch.delta_bits
    lim = (1 << (db - 1)) - 1
    w.put(len(raws) - 1, 4)
    w.put(interval_code, 3)
    w.put(raws[0], ch.bits)
    for prev, raw in zip(raws, raws[1:], strict=False):
        d = raw - prev
        if -lim <= d <= lim:
            w.put(d & ((1 << db) - 1), db)
        else:
            w.put(1 << (db - 1), db)  # escape: the full raw value follows
            w.put(raw, ch.bits)


def encode(
    readings: Mapping[str, Value | Sequence[Value]],
    *,
    device_id: int,
    counter: int,
    secret: bytes,
    profile: str | int | None = None,
    tag_len: int = 8,
    encrypt: bool = False,
    long_counter: bool = False,
    status: Status | None = None,
    series_interval_s: int = 60,
    registry: Registry = REGISTRY,
) -> bytes:
    """Encode readings (display units) into a signed frame. ValueError on anything unencodable.

    profile None picks the first registry profile holding all channels, else generic.
    A series channel given a single number travels as a one-sample series.
    """
    prof = choose_profile(readings, profile, registry)
    body = pack_body(readings, prof, series_interval_s, registry)
    has_status = status is not None and not status.is_clear()
    if status is not None and has_status:
        body = status.to_bytes(registry) + body
    return seal(body, device_id=device_id, counter=counter, secret=secret, tag_len=tag_len,
                encrypt=encrypt, long_counter=long_counter, has_status=has_status)


# ---------------------------------------------------------------- decoding


def _reconstruct(field: int, long_counter: bool, last: int | None) -> int:
    """FCNT from the counter field and the last accepted counter (SPEC.md 6.2)."""
    if long_counter or last is None:
        return field
    fcnt = (last & 0xFFFF0000) | field
    if fcnt <= last:
        fcnt += 0x10000
    return fcnt


def _tag_ok(k_auth: bytes, fcnt: int, msg: bytes, tag: bytes) -> bool:
    if not 0 <= fcnt <= U32:
        return False
    return hmac.compare_digest(frame_tag(k_auth, fcnt, msg, len(tag)), tag)


# What each header byte says: (tag length, LONGCTR, ENC, STATUS, header+id+counter length,
# unpacker of device id and counter field), or None if SPEC.md section 5 steps 2-3 reject it.
Header = tuple[int, bool, bool, bool, int, Callable[[bytes, int], tuple[int, int]]]


def _header(head: int) -> Header | None:
    taglen_code = (head >> 3) & 3
    if head >> 6 != VERSION or head & 1 or taglen_code == 3:
        return None
    long_counter = bool(head & 4)
    unpack = struct.Struct(">II" if long_counter else ">IH").unpack_from
    return (TAG_LENS[taglen_code], long_counter, bool(head & 0x20), bool(head & 2), 9 if long_counter else 7,
            cast("Callable[[bytes, int], tuple[int, int]]", unpack))


_HEADERS: tuple[Header | None, ...] = tuple(_header(h) for h in range(256))


def _reject_header(frame: bytes) -> NoReturn:
    """Steps 1-3 for a frame whose length or header byte _HEADERS does not accept."""
    n = len(frame)
    if n < MIN_HEAD:
        raise TooShort(f"{n} bytes; a frame has at least {MIN_HEAD} before its body and tag")
    if n > MAX_FRAME:
        raise TooLong(f"{n} bytes; a LoRa frame has at most {MAX_FRAME}")
    head = frame[0]
    if head >> 6 != VERSION:
        raise UnknownVersion(f"header version bits are {head >> 6:02b}; this decoder knows v1 (01)")
    raise ReservedBit(f"header {head:08b} sets a reserved bit or the reserved tag length 11")


def _reject_tag(k_auth: bytes, device_id: int, field: int, long_counter: bool, last: int | None,
                msg: bytes, tag: bytes) -> NoReturn:
    """Step 7 after the tag failed: replay, counter_unknown or bad_tag."""
    if not long_counter and last is not None:
        base = (last & 0xFFFF0000) | field
        for cand in (base, base - 0x10000):
            if 0 <= cand <= last and _tag_ok(k_auth, cand, msg, tag):
                raise Replay(f"device {device_id:08x}: counter {cand} was already used (last {last})")
    if not long_counter and last is None:
        raise CounterUnknown(
            f"device {device_id:08x}: no counter known and the frame carries only 16 bits; "
            "wait for a long-counter frame (sent at least every 256 frames)")
    raise BadTag(f"device {device_id:08x}: the tag does not match (wrong key or altered frame)")


def decode(
    frame: bytes | bytearray | memoryview,
    keys: Mapping[int, bytes],
    counters: CounterStore | None = None,
    registry: Registry = REGISTRY,
) -> DecodedFrame:
    """Authenticate and parse a frame; raise the FrameError subclass of SPEC.md section 5.

    keys maps device id -> 16-byte secret S. With counters, replays are refused and the
    counter is committed on success; without, FCNT is reconstructed as for an unknown device.
    """
    if type(frame) is not bytes:
        frame = bytes(frame)
    n = len(frame)
    # 1-4: shape of the header
    hdr = _HEADERS[frame[0]] if MIN_HEAD <= n <= MAX_FRAME else None
    if hdr is None:
        _reject_header(frame)
    tag_len, long_counter, encrypted, has_status, head_len, unpack = hdr
    if n < head_len + 1 + tag_len:
        raise TooShort(f"{n} bytes; this header needs at least {head_len + 1 + tag_len}")
    # 5: key
    device_id, field = unpack(frame, 1)
    secret = keys.get(device_id)
    if secret is None:
        raise UnknownDevice(f"no key for device {device_id:08x}")
    dev = device_crypto(secret, device_id)
    # 6: counter
    last = counters.last(device_id) if counters is not None else None
    fcnt = field if last is None else _reconstruct(field, long_counter, last)
    # 7: tag
    msg, tag = frame[:-tag_len], frame[-tag_len:]
    if not (fcnt <= U32 and compare_digest(dev.tag_key.digest(fcnt.to_bytes(4, "big"), msg)[:tag_len], tag)):
        _reject_tag(dev.keys.auth, device_id, field, long_counter, last, msg, tag)
    # 8: replay and gap
    if last is not None:
        if fcnt <= last:
            raise Replay(f"device {device_id:08x}: counter {fcnt} is not above the last accepted {last}")
        if not long_counter and fcnt - last > MAX_GAP:
            raise CounterGap(f"device {device_id:08x}: counter jumped from {last} to {fcnt} "
                             f"(more than {MAX_GAP}) on a 16-bit counter")
    # 9: body: a compiled plan for well-formed frames, else the reference parser (which raises)
    body = frame[head_len:-tag_len]
    if encrypted:
        body = dev.ctr_xor(fcnt, body)
    status = _CLEAR
    packed = body
    if has_status:
        sbyte = body[0]
        pos = 2 if sbyte & 0x80 else 1
        packed = body[pos:]
        if packed:
            status = _status(sbyte, body[1] if pos == 2 else None, registry)
    parsed = (_DEFAULT_PLANS if registry is REGISTRY else plans_for(registry)).parse(packed)
    if parsed is None:
        status, profile, readings = _parse_body(body, has_status, registry)
    else:
        profile, readings = parsed
    # 10: commit
    if counters is not None and not counters.advance(device_id, fcnt):
        raise Replay(f"device {device_id:08x}: counter {fcnt} was accepted concurrently")
    return new_decoded_frame(device_id, fcnt, long_counter, encrypted, tag_len, profile, status, readings, frame)


_CLEAR = Status()
_status_cache: dict[tuple[int, int | None, int], Status] = {}


def _status(sbyte: int, err: int | None, registry: Registry) -> Status:
    key = (sbyte, err, id(registry))
    st = _status_cache.get(key)
    if st is None:
        st = _status_cache[key] = Status.from_bytes(sbyte, err, registry)
    return st


def _parse_body(body: bytes, has_status: bool, registry: Registry) -> tuple[Status, str, list[Reading]]:
    """Status, profile name and readings from a decrypted body, failing in reading order.

    The packed section is read from one big integer (`val`, `left` bits unread) with the
    checks inline: this is the decoder's hot path.
    """
    pos = 0
    status = _CLEAR
    if has_status:
        sbyte = body[0]
        pos = 1
        err: int | None = None
        if sbyte & 0x80:
            if len(body) < 2:
                raise Malformed("the status byte announces an error byte that is missing")
            err = body[1]
            pos = 2
        status = _status(sbyte, err, registry)
    if pos >= len(body):
        raise Malformed("the packed section is empty")
    packed = body[pos:]
    val = int.from_bytes(packed, "big")
    left = len(packed) * 8 - 3
    pid = val >> left
    readings: list[Reading] = []
    append = readings.append
    if pid == 0:
        profile_name = GENERIC
        if left < 6:
            raise Malformed("the frame ends inside the packed section (generic channel count)")
        left -= 6
        k = (val >> left) & 0x3F
        if k > registry.max_channel_id + 1:
            raise Malformed(f"generic frame lists {k} channels; the registry has ids 0..{registry.max_channel_id}")
        if left < k:
            raise Malformed("the frame ends inside the packed section (presence bits)")
        left -= k
        flags = (val >> left) & ((1 << k) - 1)
        for cid in range(k):
            if not (flags >> (k - 1 - cid)) & 1:
                continue
            ch = registry.channels.get(cid)
            if ch is None:
                raise Malformed(f"channel id {cid} is not in the registry")
            if left < ch.bits:
                raise Malformed(f"the frame ends inside the packed section ({ch.name})")
            left -= ch.bits
            append(_scalar(ch, (val >> left) & ch.mask))
    else:
        prof = registry.profiles.get(pid)
        if prof is None:
            raise Malformed(f"profile {pid} is not in the registry (reserved)")
        profile_name = prof.name
        nch = len(prof.channels)
        if left < nch:
            raise Malformed("the frame ends inside the packed section (presence bits)")
        left -= nch
        flags = (val >> left) & ((1 << nch) - 1)
        present = [ch for i, ch in enumerate(prof.channels) if (flags >> (nch - 1 - i)) & 1]
        series = prof.series
        for ch in present:
            if ch.id not in series:
                if left < ch.bits:
                    raise Malformed(f"the frame ends inside the packed section ({ch.name})")
                left -= ch.bits
                append(_scalar(ch, (val >> left) & ch.mask))
        if series:
            for ch in present:
                if ch.id in series:
                    left = _series(ch, val, left, readings, registry)
    if left >= 8:
        raise Malformed(f"{left // 8} byte(s) follow the packed section")
    if val & ((1 << left) - 1):
        raise Malformed("the padding bits are not zero")
    return status, profile_name, readings


def _scalar(ch: Channel, raw: int) -> Reading:
    if not ch.raw_min <= raw <= ch.raw_max:
        raise ValueOutOfRange(f"{ch.name}: raw {raw} is outside [{ch.min:g}, {ch.max:g}] {ch.unit}")
    return Reading(ch.name, ch.value_of(raw), ch.unit)


def _series(ch: Channel, val: int, left: int, out: list[Reading], registry: Registry) -> int:
    """Append a series' readings; return the bits left. Running out of bits is truncated_sample."""
    assert ch.delta_bits is not None
    db = ch.delta_bits
    escape = 1 << (db - 1)
    dmask = (1 << db) - 1
    bits = ch.bits
    if left < 7 + bits:
        raise TruncatedSample(f"the frame ends inside the {ch.name} series header or first sample")
    left -= 7
    n = ((val >> (left + 3)) & 15) + 1
    interval = registry.intervals_s[(val >> left) & 7]
    left -= bits
    raw = (val >> left) & ch.mask
    raws = [raw]
    if not ch.raw_min <= raw <= ch.raw_max:
        raise ValueOutOfRange(f"{ch.name} sample 0: raw {raw} is outside [{ch.min:g}, {ch.max:g}] {ch.unit}")
    for i in range(1, n):
        if left < db:
            raise TruncatedSample(f"the frame ends inside the {ch.name} series (sample {i} of {n})")
        left -= db
        code = (val >> left) & dmask
        if code == escape:
            if left < bits:
                raise TruncatedSample(f"the frame ends inside the {ch.name} series (sample {i} of {n})")
            left -= bits
            raw = (val >> left) & ch.mask
        else:
            raw += code - (1 << db) if code & escape else code
        if not ch.raw_min <= raw <= ch.raw_max:
            raise ValueOutOfRange(f"{ch.name} sample {i}: raw {raw} is outside [{ch.min:g}, {ch.max:g}] {ch.unit}")
        raws.append(raw)
    name, unit, value_of = ch.name, ch.unit, ch.value_of
    for i, r in enumerate(raws):
        out.append(Reading(name, value_of(r), unit, i, (n - 1 - i) * interval))
    return left
