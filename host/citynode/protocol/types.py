"""What a decoded frame looks like to the rest of the host code (backends, CLI, demo)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from citynode.protocol.registry import Registry


@dataclass(frozen=True)
class Status:
    """The status byte (SPEC.md 3.1). All-false with no error is the steady state (no byte)."""

    low_battery: bool = False
    sensor_fault: bool = False
    reset_cause: str = "none"
    duty_limited: bool = False
    counter_jump: bool = False
    error: tuple[str, int] | None = None  # (subsystem name, code 0..15)

    def is_clear(self) -> bool:
        return self == Status()

    def to_bytes(self, registry: Registry) -> bytes:
        """The status byte and, if there is an error, the error byte."""
        if self.reset_cause not in registry.reset_causes:
            raise ValueError(f"unknown reset cause {self.reset_cause!r}; known: {list(registry.reset_causes)}")
        b = (
            int(self.low_battery)
            | int(self.sensor_fault) << 1
            | registry.reset_causes.index(self.reset_cause) << 2
            | int(self.duty_limited) << 5
            | int(self.counter_jump) << 6
        )
        if self.error is None:
            return bytes([b])
        sub, code = self.error
        if not 0 <= code <= 15:
            raise ValueError(f"error code {code} is not 0..15")
        return bytes([b | 0x80, registry.subsystem_code(sub) << 4 | code])

    @classmethod
    def from_bytes(cls, status: int, error: int | None, registry: Registry) -> Status:
        return cls(
            low_battery=bool(status & 1),
            sensor_fault=bool(status & 2),
            reset_cause=registry.reset_causes[(status >> 2) & 7],
            duty_limited=bool(status & 0x20),
            counter_jump=bool(status & 0x40),
            error=None if error is None else (registry.subsystem_name(error >> 4), error & 15),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "low_battery": self.low_battery,
            "sensor_fault": self.sensor_fault,
            "reset_cause": self.reset_cause,
            "duty_limited": self.duty_limited,
            "counter_jump": self.counter_jump,
            "error": None if self.error is None else {"subsystem": self.error[0], "code": self.error[1]},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Status:
        err = data.get("error")
        return cls(
            low_battery=bool(data.get("low_battery", False)),
            sensor_fault=bool(data.get("sensor_fault", False)),
            reset_cause=str(data.get("reset_cause", "none")),
            duty_limited=bool(data.get("duty_limited", False)),
            counter_jump=bool(data.get("counter_jump", False)),
            error=None if err is None else (str(err["subsystem"]), int(err["code"])),
        )


@dataclass(frozen=True, slots=True)
class Reading:
    """One value in display units. Series samples have an index and an age in seconds."""

    channel: str
    value: float | int | bool
    unit: str
    sample: int | None = None  # 0..n-1 for series samples, None for scalars
    offset_s: int = 0  # seconds before the frame time (0 for scalars and the last sample)

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "value": self.value, "unit": self.unit,
                "sample": self.sample, "offset_s": self.offset_s}


@dataclass(frozen=True)
class DecodedFrame:
    """An authenticated, fully parsed frame."""

    device_id: int
    counter: int  # full 32-bit FCNT
    long_counter: bool
    encrypted: bool
    tag_len: int
    profile: str  # registry profile name, or "generic"
    status: Status
    readings: list[Reading] = field(default_factory=list)
    raw: bytes = b""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict. device_id is 8 lowercase hex digits, as in vectors.json and keystores."""
        return {
            "device_id": f"{self.device_id:08x}",
            "counter": self.counter,
            "long_counter": self.long_counter,
            "encrypted": self.encrypted,
            "tag_len": self.tag_len,
            "profile": self.profile,
            "status": self.status.to_json(),
            "readings": [r.to_json() for r in self.readings],
        }

    def values(self) -> dict[str, Any]:
        """Channel name -> value (scalars) or list of values (series), for quick use."""
        out: dict[str, Any] = {}
        for r in self.readings:
            if r.sample is None:
                out[r.channel] = r.value
            else:
                out.setdefault(r.channel, []).append(r.value)
        return out


_FRAME_FIELDS = ("device_id", "counter", "long_counter", "encrypted", "tag_len", "profile", "status", "readings", "raw")
assert tuple(f.name for f in fields(DecodedFrame)) == _FRAME_FIELDS, "new_decoded_frame must set every field"
_new = object.__new__


def new_decoded_frame(device_id: int, counter: int, long_counter: bool, encrypted: bool, tag_len: int, profile: str,
                      status: Status, readings: list[Reading], raw: bytes) -> DecodedFrame:
    """DecodedFrame(...) for the decoder's hot path: fills the instance dict directly instead of
    the frozen dataclass __init__'s nine object.__setattr__ calls (about 1.1 us against 0.3 us).
    The result is an ordinary DecodedFrame: same class, fields, equality, repr, immutability."""
    f = _new(DecodedFrame)
    d = f.__dict__
    d["device_id"] = device_id
    d["counter"] = counter
    d["long_counter"] = long_counter
    d["encrypted"] = encrypted
    d["tag_len"] = tag_len
    d["profile"] = profile
    d["status"] = status
    d["readings"] = readings
    d["raw"] = raw
    return f
