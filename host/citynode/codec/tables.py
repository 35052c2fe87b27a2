"""The registry as the data tables the JavaScript codec embeds.

The parsing logic is a fixed template (decoder.js); everything that comes from
protocol/registry.toml (channels, profiles, intervals, status names) is emitted here as
one JSON object, so the formatter cannot drift from the Python decoder.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from citynode.protocol.registry import Channel, Registry

TAG_WARNING = (
    "tag not verified: citynode frames are authenticated end to end; "
    "verify them with the citynode backend"
)


def _units(value: float, decimals: int, what: str) -> int:
    """value in whole units of 10^-decimals; ValueError if it is not a whole number of them."""
    scaled = Decimal(repr(float(value))).scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"{what} = {value} is not a multiple of 10^-{decimals} (its channel's decimals); "
            "the JavaScript codec computes display values exactly in those units"
        )
    return int(scaled)


def _channel(ch: Channel) -> dict[str, Any]:
    return {
        "name": ch.name,
        "unit": ch.unit,
        "bits": ch.bits,
        "decimals": ch.decimals,
        "div": 10**ch.decimals,
        "scale_u": _units(ch.scale, ch.decimals, f"{ch.name}.scale"),
        "offset_u": _units(ch.offset, ch.decimals, f"{ch.name}.offset"),
        "raw_min": ch.raw_min,
        "raw_max": ch.raw_max,
        "min": ch.min,
        "max": ch.max,
        "delta_bits": ch.delta_bits,
    }


def build_tables(registry: Registry) -> dict[str, Any]:
    """JSON-ready tables indexed the way the frame indexes them (channel id, profile id, codes)."""
    channels: list[dict[str, Any] | None] = [None] * (registry.max_channel_id + 1)
    for cid, ch in registry.channels.items():
        channels[cid] = _channel(ch)
    profiles: list[dict[str, Any] | None] = [None] * 8
    for pid, prof in registry.profiles.items():
        profiles[pid] = {
            "name": prof.name,
            "channels": [ch.id for ch in prof.channels],
            "series": {str(cid): True for cid in sorted(prof.series)},
        }
    subsystems: list[str | None] = [registry.error_subsystems.get(code) for code in range(16)]
    return {
        "registry_version": registry.version,
        "channels": channels,
        "profiles": profiles,
        "intervals_s": list(registry.intervals_s),
        "max_samples": registry.max_samples,
        "reset_causes": list(registry.reset_causes),
        "error_subsystems": subsystems,
        "tag_warning": TAG_WARNING,
    }
