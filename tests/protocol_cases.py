"""Hypothesis strategies for frame contents, shared by the host and firmware protocol tests.

A case holds raw integers (what a node's drivers produce) and the display values they
stand for, so host encode (values) and firmware encode (raws) can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from citynode.protocol import REGISTRY, Status
from citynode.protocol.registry import Channel


def value_of(ch: Channel, raw: int) -> float | int | bool:
    """Display value for a raw integer, computed from the registry's formula."""
    if ch.unit == "bool":
        return bool(raw)
    v = ch.offset + raw * ch.scale
    return int(round(v)) if ch.decimals == 0 else round(v, ch.decimals)


@dataclass
class Case:
    profile: int  # 0 = generic
    raws: dict[int, int] = field(default_factory=dict)  # scalar channel id -> raw
    series: dict[int, list[int]] = field(default_factory=dict)  # series channel id -> raws
    interval_code: int = 3
    counter: int = 1
    tag_len: int = 8
    encrypt: bool = False
    long_counter: bool = False
    status: Status | None = None

    def readings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cid, raw in self.raws.items():
            ch = REGISTRY.channels[cid]
            out[ch.name] = value_of(ch, raw)
        for cid, raws in self.series.items():
            ch = REGISTRY.channels[cid]
            out[ch.name] = [value_of(ch, r) for r in raws]
        return out

    def encode_args(self) -> dict[str, Any]:
        return {"profile": self.profile, "counter": self.counter, "tag_len": self.tag_len, "encrypt": self.encrypt,
                "long_counter": self.long_counter, "status": self.status,
                "series_interval_s": REGISTRY.intervals_s[self.interval_code]}


def _raw(ch: Channel) -> st.SearchStrategy[int]:
    return st.integers(ch.raw_min, ch.raw_max)


def _series(ch: Channel) -> st.SearchStrategy[list[int]]:
    # mostly small steps (deltas), sometimes jumps (escapes)
    step = st.one_of(st.integers(-70, 70), st.integers(-ch.raw_max, ch.raw_max))

    @st.composite
    def walk(draw: st.DrawFn) -> list[int]:
        n = draw(st.integers(1, REGISTRY.max_samples))
        vals = [draw(_raw(ch))]
        for _ in range(n - 1):
            vals.append(min(ch.raw_max, max(ch.raw_min, vals[-1] + draw(step))))
        return vals

    return walk()


statuses = st.one_of(
    st.none(),
    st.builds(
        Status,
        low_battery=st.booleans(), sensor_fault=st.booleans(),
        reset_cause=st.sampled_from(REGISTRY.reset_causes), duty_limited=st.booleans(),
        counter_jump=st.booleans(),
        error=st.one_of(st.none(), st.tuples(st.sampled_from(
            [n for c, n in REGISTRY.error_subsystems.items() if c]), st.integers(0, 15))),
    ),
)


@st.composite
def cases(draw: st.DrawFn, min_counter: int = 0) -> Case:
    pid = draw(st.sampled_from([0, *REGISTRY.profiles]))
    case = Case(profile=pid)
    if pid == 0:
        chans = list(REGISTRY.channels.values())
        series_ids: frozenset[int] = frozenset()
    else:
        prof = REGISTRY.profiles[pid]
        chans = list(prof.channels)
        series_ids = prof.series
    for ch in chans:
        if draw(st.booleans()):
            if ch.id in series_ids:
                case.series[ch.id] = draw(_series(ch))
            else:
                case.raws[ch.id] = draw(_raw(ch))
    case.interval_code = draw(st.integers(0, len(REGISTRY.intervals_s) - 1))
    case.long_counter = draw(st.booleans())
    hi = 0xFFFFFFFF if case.long_counter else 0xFFFF
    case.counter = draw(st.integers(min_counter, hi))
    case.tag_len = draw(st.sampled_from([4, 8, 16]))
    case.encrypt = draw(st.booleans())
    case.status = draw(statuses)
    return case
