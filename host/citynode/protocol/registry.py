"""The channel registry (protocol/registry.toml) as typed, validated objects.

Everything that knows a channel's width, scale or range reads it from here (host) or from
the firmware module generated from it (cn/registry.py), so the numbers live in one file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from citynode.paths import protocol_dir

MAX_PROFILE_ID = 7


@dataclass(frozen=True)
class Channel:
    """One registry channel: how a physical value becomes `bits` bits and back."""

    id: int
    name: str
    label: str
    unit: str
    bits: int
    scale: float
    offset: float
    min: float
    max: float
    decimals: int
    wrap: bool = False
    delta_bits: int | None = None
    note: str = ""
    raw_min: int = field(init=False)
    raw_max: int = field(init=False)
    mask: int = field(init=False)
    _values: dict[int, float | int | bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Range checks are done on raw integers so that no float rounding decides them.
        object.__setattr__(self, "raw_min", max(0, self._exact_raw(self.min)))
        object.__setattr__(self, "raw_max", min((1 << self.bits) - 1, self._exact_raw(self.max)))
        object.__setattr__(self, "mask", (1 << self.bits) - 1)
        object.__setattr__(self, "_values", {})

    def _exact_raw(self, value: float) -> int:
        q = (_dec(value) - _dec(self.offset)) / _dec(self.scale)
        return int(q.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def to_raw(self, value: float) -> int:
        """raw = round((value - offset) / scale), half away from zero; ValueError if out of range."""
        try:
            raw = self._exact_raw(value)
        except (InvalidOperation, ValueError) as err:
            raise ValueError(f"{self.name}: {value!r} is not a finite number") from err
        if self.wrap:
            raw %= 1 << self.bits
        if not self.raw_min <= raw <= self.raw_max:
            raise ValueError(
                f"{self.name}: {value!r} {self.unit} is outside [{self.min:g}, {self.max:g}]"
            )
        return raw

    def from_raw(self, raw: int) -> float | int | bool:
        """The display value of a raw integer (already range-checked by the caller)."""
        if self.unit == "bool":
            return bool(raw)
        value = self.offset + raw * self.scale
        if self.decimals == 0:
            return int(round(value))
        return round(value, self.decimals)

    def value_of(self, raw: int) -> float | int | bool:
        """from_raw, memoised (a channel has at most 2^16 raw values): the decoder's hot path."""
        v = self._values.get(raw)
        if v is None:
            v = self._values[raw] = self.from_raw(raw)
        return v

    def in_range(self, raw: int) -> bool:
        return self.raw_min <= raw <= self.raw_max

    @property
    def scale_milli(self) -> int:
        return _milli(self.scale, f"{self.name}.scale")

    @property
    def offset_milli(self) -> int:
        return _milli(self.offset, f"{self.name}.offset")


@dataclass(frozen=True)
class Profile:
    """A node kind's fixed channel list; `series` holds the channels sent as time series."""

    id: int
    name: str
    channels: tuple[Channel, ...]
    series: frozenset[int]  # channel ids

    def holds(self, names: set[str]) -> bool:
        return names <= {ch.name for ch in self.channels}


@dataclass(frozen=True)
class Registry:
    version: int
    channels: dict[int, Channel]
    by_name: dict[str, Channel]
    profiles: dict[int, Profile]
    profiles_by_name: dict[str, Profile]
    intervals_s: tuple[int, ...]
    max_samples: int
    reset_causes: tuple[str, ...]
    error_subsystems: dict[int, str]

    @property
    def max_channel_id(self) -> int:
        return max(self.channels)

    def channel(self, key: str | int) -> Channel:
        if isinstance(key, int):
            return self.channels[key]
        return self.by_name[key]

    def profile(self, key: str | int) -> Profile:
        if isinstance(key, int):
            return self.profiles[key]
        return self.profiles_by_name[key]

    def subsystem_code(self, name: str) -> int:
        for code, sub in self.error_subsystems.items():
            if sub == name:
                return code
        if name.startswith("subsystem_") and name[10:].isdigit() and int(name[10:]) < 16:
            return int(name[10:])
        raise ValueError(f"unknown error subsystem {name!r}; known: {sorted(self.error_subsystems.values())}")

    def subsystem_name(self, code: int) -> str:
        return self.error_subsystems.get(code, f"subsystem_{code}")


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _milli(value: float, what: str) -> int:
    m = _dec(value) * 1000
    if m != m.to_integral_value():
        raise ValueError(f"{what} = {value} is not a whole number of thousandths")
    return int(m)


def default_path() -> Path:
    return protocol_dir() / "registry.toml"


def load_registry(path: Path | None = None) -> Registry:
    """Load and validate registry.toml; ValueError names the first inconsistency."""
    data: dict[str, Any] = tomllib.loads((path or default_path()).read_text(encoding="utf-8"))
    channels: dict[int, Channel] = {}
    for item in data["channel"]:
        ch = Channel(
            id=int(item["id"]),
            name=item["name"],
            label=item.get("label", item["name"]),
            unit=item["unit"],
            bits=int(item["bits"]),
            scale=float(item["scale"]),
            offset=float(item["offset"]),
            min=float(item["min"]),
            max=float(item["max"]),
            decimals=int(item["decimals"]),
            wrap=bool(item.get("wrap", False)),
            delta_bits=item.get("delta_bits"),
            note=item.get("note", ""),
        )
        if ch.id in channels or not 0 <= ch.id < 64:
            raise ValueError(f"channel {ch.name}: id {ch.id} is duplicated or not in 0..63")
        if not 1 <= ch.bits <= 16:
            raise ValueError(f"channel {ch.name}: bits must be 1..16")
        if ch.raw_min > ch.raw_max:
            raise ValueError(f"channel {ch.name}: [min, max] does not fit in {ch.bits} bits")
        channels[ch.id] = ch
    by_name = {ch.name: ch for ch in channels.values()}
    series_cfg = data.get("series", {})
    intervals = tuple(int(s) for s in series_cfg.get("intervals_s", ()))
    if not 1 <= len(intervals) <= 8:
        raise ValueError("series.intervals_s must have 1..8 entries (3-bit code)")
    max_samples = int(series_cfg.get("max_samples", 16))
    if not 1 <= max_samples <= 16:
        raise ValueError("series.max_samples must be 1..16 (4-bit count)")
    profiles: dict[int, Profile] = {}
    for item in data.get("profile", []):
        pid = int(item["id"])
        if not 1 <= pid <= MAX_PROFILE_ID or pid in profiles:
            raise ValueError(f"profile {item['name']}: id {pid} is duplicated or not in 1..7")
        chans = tuple(by_name[name] for name in item["channels"])
        series = frozenset(by_name[name].id for name in item.get("series", []))
        for cid in series:
            if channels[cid].delta_bits is None or channels[cid] not in chans:
                raise ValueError(f"profile {item['name']}: series channel {channels[cid].name} "
                                 "needs delta_bits and must be in the profile")
        profiles[pid] = Profile(pid, item["name"], chans, series)
    reset = data.get("reset_causes", {})
    return Registry(
        version=int(data["registry_version"]),
        channels=dict(sorted(channels.items())),
        by_name=by_name,
        profiles=profiles,
        profiles_by_name={p.name: p for p in profiles.values()},
        intervals_s=intervals,
        max_samples=max_samples,
        reset_causes=tuple(reset[str(i)] for i in range(8)),
        error_subsystems={int(k): v for k, v in data.get("error_subsystems", {}).items()},
    )
