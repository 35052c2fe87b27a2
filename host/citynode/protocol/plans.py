"""Decode plans: the packed-section fast path (SPEC.md 3.2), compiled once per frame shape.

`frame._parse_body` reads a packed section field by field with every check inline; it is
the reference, and the only code that raises body errors. Real traffic comes in a few
shapes (a profile and its presence bits: a soil node sends the same three channels every
time), so the decoder compiles each shape it meets into a `Shape` once: every scalar's bit
position, mask and raw range, then the series channels. Running a shape is a shift, a mask
and a range check per field. `Plans.parse` never raises: on anything unusual (short
section, raw value out of range, non-zero padding, unknown profile...) it returns None and
the caller runs the reference parser, which gives the error section 5 prescribes.

Readings are immutable, so each channel keeps the `Reading` objects it has built, keyed by
raw value (scalars: at most 2^bits, about 130 000 for the whole v1 registry; series samples
also by index and age, in a memo cleared at MAX_SAMPLE_MEMO). Building frozen dataclasses,
not reading bits, was most of the decode time. (`memo.get(raw) or build(raw)` is safe: a
Reading is always truthy.) Only authenticated frames get here, so an attacker without a
key cannot make the decoder compile shapes or fill memos.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from citynode.protocol.registry import Channel, Registry
from citynode.protocol.types import Reading

GENERIC = "generic"
MAX_SHAPES = 4096  # per profile id; generic frames can have many presence maps
MAX_SAMPLE_MEMO = 1 << 16  # series Readings kept per channel (raw x index x age)


class ChannelPlan:
    """One channel's decoding constants and its memo of built Readings."""

    __slots__ = ("bits", "channel", "delta_bits", "deltas", "dmask", "hi", "lo", "mask", "name", "samples",
                 "scalars", "unit")

    def __init__(self, ch: Channel) -> None:
        self.channel = ch
        self.name = ch.name
        self.unit = ch.unit
        self.bits = ch.bits
        self.mask = ch.mask
        self.lo = ch.raw_min
        self.hi = ch.raw_max
        db = ch.delta_bits or 1
        self.delta_bits = db
        self.dmask = (1 << db) - 1
        # delta code -> signed delta (two's complement); None for the escape, the most negative code
        half = 1 << (db - 1)
        self.deltas: tuple[int | None, ...] = tuple(
            None if code == half else code - (1 << db) if code > half else code for code in range(1 << db))
        self.scalars: dict[int, Reading] = {}
        self.samples: dict[int, Reading] = {}

    def scalar(self, raw: int) -> Reading:
        """The Reading of an in-range raw scalar, built once."""
        r = self.scalars.get(raw)
        if r is None:
            r = self.scalars[raw] = Reading(self.name, self.channel.value_of(raw), self.unit)
        return r

    def sample(self, raw: int, index: int, offset_s: int) -> Reading:
        """The Reading of a series sample, memoised while the memo is below MAX_SAMPLE_MEMO."""
        key = offset_s << 20 | index << 16 | raw  # offset_s <= 15 * 3600 < 2^16, raw < 2^16
        r = self.samples.get(key)
        if r is None:
            if len(self.samples) >= MAX_SAMPLE_MEMO:
                self.samples.clear()
            r = self.samples[key] = Reading(self.name, self.channel.value_of(raw), self.unit, index, offset_s)
        return r

    def read_series(self, val: int, left: int, out: list[Reading], intervals: tuple[int, ...]) -> int:
        """Append one series' Readings (val's `left` low bits unread); the bits left, or -1 if unusual.

        On -1 `out` holds a partial list: the caller drops it and asks the reference parser.
        """
        bits, mask, lo, hi = self.bits, self.mask, self.lo, self.hi
        if left < 7 + bits:
            return -1
        left -= 7 + bits
        head = (val >> (left + bits)) & 0x7F  # n - 1 (4 bits), interval code (3 bits)
        raw = (val >> left) & mask
        if raw < lo or raw > hi:
            return -1
        n = (head >> 3) + 1
        interval = intervals[head & 7]
        offset = (n - 1) * interval
        samples, sample = self.samples, self.sample
        append = out.append
        append(samples.get(offset << 20 | raw) or sample(raw, 0, offset))
        db, dmask, deltas = self.delta_bits, self.dmask, self.deltas
        for i in range(1, n):
            if left < db:
                return -1
            left -= db
            d = deltas[(val >> left) & dmask]
            if d is None:  # escape: the full raw value follows
                if left < bits:
                    return -1
                left -= bits
                raw = (val >> left) & mask
            else:
                raw += d
            if raw < lo or raw > hi:
                return -1
            offset -= interval
            append(samples.get(offset << 20 | i << 16 | raw) or sample(raw, i, offset))
        return left


class Shape:
    """A compiled (profile, presence) shape: a generated `read(val, total)` for its packed sections.

    `read` gets the section as one integer (`total` bits) and returns its readings, or None
    for anything the reference parser must judge. Scalars sit at fixed positions, so each is
    one shift and mask with constants; series channels follow at variable positions and are
    read by ChannelPlan.read_series. The generated source is kept in `source` for debugging.
    """

    __slots__ = ("end", "profile", "read", "scalars", "series", "source")

    def __init__(self, profile: str, head_bits: int, scalars: list[ChannelPlan], series: list[ChannelPlan],
                 intervals: tuple[int, ...]) -> None:
        self.profile = profile
        self.scalars = tuple(scalars)
        self.series = tuple(series)
        self.end = head_bits + sum(c.bits for c in scalars)  # bits from the section's start
        self.source = self._source()
        namespace: dict[str, object] = {"intervals": intervals}
        for i, c in enumerate(scalars):
            namespace[f"memo{i}"] = c.scalars
            namespace[f"chan{i}"] = c
        for j, c in enumerate(series):
            namespace[f"series{j}"] = c.read_series
        exec(compile(self.source, f"<citynode shape {profile}>", "exec"), namespace)  # noqa: S102
        self.read = cast("Callable[[int, int], list[Reading] | None]", namespace["read"])

    def _source(self) -> str:
        """Python source of `read` for this shape (constants only: no registry text goes in)."""
        lines = ["def read(val, total):"]
        if self.series:
            lines += [f"    left = total - {self.end}", "    if left < 0:", "        return None",
                      "    v = val >> left"]
            word, shift = "v", 0
        else:  # the section's length is fixed: end rounded up to whole bytes, zero padding
            total = -(-self.end // 8) * 8
            pad = total - self.end
            padding = f" or val & {(1 << pad) - 1:#x}" if pad else ""
            lines += [f"    if total != {total}{padding}:", "        return None"]
            word, shift = "val", pad
        pos = sum(c.bits for c in self.scalars) + shift
        checks = []
        for i, c in enumerate(self.scalars):
            pos -= c.bits
            lines.append(f"    r{i} = {word} >> {pos} & {c.mask:#x}" if pos else f"    r{i} = {word} & {c.mask:#x}")
            if c.lo > 0:
                checks.append(f"r{i} < {c.lo}")
            if c.hi < c.mask:
                checks.append(f"r{i} > {c.hi}")
        if checks:
            lines += [f"    if {' or '.join(checks)}:", "        return None"]
        lines.append("    out = [")
        lines += [f"        memo{i}.get(r{i}) or chan{i}.scalar(r{i})," for i in range(len(self.scalars))]
        lines.append("    ]")
        if self.series:
            for j in range(len(self.series)):
                lines += [f"    left = series{j}(val, left, out, intervals)", "    if left < 0:", "        return None"]
            lines += ["    if left >= 8 or val & ((1 << left) - 1):", "        return None"]
        lines.append("    return out")
        return "\n".join(lines) + "\n"


class Plans:
    """Every shape met so far for one registry, compiled on first sight."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.channels = {cid: ChannelPlan(ch) for cid, ch in registry.channels.items()}
        self.intervals = registry.intervals_s
        self.max_k = registry.max_channel_id + 1
        # head bits (profile id + presence bits) per profile id; None for unknown profiles
        self.head_bits: list[int | None] = [None] * 8
        for pid, prof in registry.profiles.items():
            self.head_bits[pid] = 3 + len(prof.channels)
        self.shapes: list[dict[int, Shape]] = [{} for _ in range(8)]

    def forget(self) -> None:
        """Drop every memoised Reading and display value (the bench's first-sight figure)."""
        for c in self.channels.values():
            c.scalars.clear()
            c.samples.clear()
            c.channel._values.clear()

    def parse(self, packed: bytes) -> tuple[str, list[Reading]] | None:
        """Profile name and readings of a packed section, or None if the reference parser must decide."""
        total = len(packed) << 3
        if not total:
            return None
        val = int.from_bytes(packed, "big")
        pid = val >> (total - 3)
        if pid:
            width = self.head_bits[pid]
            if width is None:
                return None
        elif total < 9:
            return None
        else:
            width = 9 + ((val >> (total - 9)) & 0x3F)
        if total < width:
            return None
        key = val >> (total - width)  # profile id and presence bits
        shapes = self.shapes[pid]
        shape = shapes.get(key)
        if shape is None:
            shape = self._compile(pid, key, width)
            if shape is None:
                return None
            if len(shapes) < MAX_SHAPES:
                shapes[key] = shape
        out = shape.read(val, total)
        return None if out is None else (shape.profile, out)

    def _compile(self, pid: int, key: int, width: int) -> Shape | None:
        reg = self.registry
        if pid == 0:
            k = width - 9
            if k > self.max_k:
                return None
            ids = [cid for cid in range(k) if (key >> (k - 1 - cid)) & 1]
            if any(cid not in self.channels for cid in ids):
                return None
            return Shape(GENERIC, width, [self.channels[cid] for cid in ids], [], self.intervals)
        prof = reg.profiles[pid]
        nch = len(prof.channels)
        present = [ch for i, ch in enumerate(prof.channels) if (key >> (nch - 1 - i)) & 1]
        scalars = [self.channels[ch.id] for ch in present if ch.id not in prof.series]
        series = [self.channels[ch.id] for ch in present if ch.id in prof.series]
        return Shape(prof.name, width, scalars, series, self.intervals)


_PLANS: dict[int, Plans] = {}
MAX_REGISTRIES = 16  # a process normally has one; tests may load a few


def plans_for(registry: Registry) -> Plans:
    """The Plans of a registry object (kept, with a reference to it, so its id stays its own)."""
    p = _PLANS.get(id(registry))
    if p is None or p.registry is not registry:
        if len(_PLANS) >= MAX_REGISTRIES:
            _PLANS.clear()
        p = _PLANS[id(registry)] = Plans(registry)
    return p
