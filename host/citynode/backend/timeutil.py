"""Times as the backend stores them: float seconds since the Unix epoch, UTC.

Network servers write RFC 3339 with nanoseconds and `Z`; Python's parser wants at most
microseconds, so the fraction is cut to six digits first.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: object) -> float:
    """Epoch seconds from a number or an ISO 8601 / RFC 3339 string (naive means UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    text = _FRACTION.sub(lambda m: m.group(1), text, count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_since(value: str, now: float | None = None) -> float:
    """A bound for --since/--until: a time as parse_time accepts, or a duration ago ("2h", "7d")."""
    m = _RELATIVE.match(value.strip())
    if m:
        return (time.time() if now is None else now) - float(m.group(1)) * _UNITS[m.group(2)]
    return parse_time(value)


def iso(t: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-11-25T10:00:00.000Z."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
