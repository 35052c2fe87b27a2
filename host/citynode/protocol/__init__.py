"""citynode frame protocol v1 (protocol/SPEC.md): encode, decode, keys, replay state.

    from citynode.protocol import decode, MemoryCounterStore
    frame = decode(data, {0x2A: secret}, MemoryCounterStore())
"""

from citynode.protocol.airtime import airtime_ms
from citynode.protocol.counters import CounterStore, JsonFileCounterStore, MemoryCounterStore, atomic_write
from citynode.protocol.crypto import DeviceKeys, derive_keys
from citynode.protocol.errors import (
    ALL_ERRORS,
    REASONS,
    BadTag,
    CounterGap,
    CounterUnknown,
    FrameError,
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
from citynode.protocol.frame import MAX_GAP, REGISTRY, choose_profile, decode, encode, pack_body, seal
from citynode.protocol.registry import Channel, Profile, Registry, load_registry
from citynode.protocol.types import DecodedFrame, Reading, Status

__all__ = [
    "ALL_ERRORS", "MAX_GAP", "REASONS", "REGISTRY",
    "BadTag", "Channel", "CounterGap", "CounterStore", "CounterUnknown", "DecodedFrame", "DeviceKeys",
    "FrameError", "JsonFileCounterStore", "Malformed", "MemoryCounterStore", "Profile", "Reading",
    "Registry", "Replay", "ReservedBit", "Status", "TooLong", "TooShort", "TruncatedSample",
    "UnknownDevice", "UnknownVersion", "ValueOutOfRange",
    "airtime_ms", "atomic_write", "choose_profile", "decode", "derive_keys", "encode", "load_registry",
    "pack_body", "seal",
]
