"""Why a frame was rejected: one exception class per reason of SPEC.md section 5.

`FrameError.reason` is the machine-readable reason (the `error` field of vectors.json and
of `citynode decode` output); the message says what is wrong in words.
"""

from __future__ import annotations


class FrameError(Exception):
    """A frame that must not be accepted. Subclasses fix `reason`."""

    reason = "frame_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooShort(FrameError):
    reason = "too_short"


class TooLong(FrameError):
    reason = "too_long"


class UnknownVersion(FrameError):
    reason = "unknown_version"


class ReservedBit(FrameError):
    reason = "reserved_bit"


class UnknownDevice(FrameError):
    reason = "unknown_device"


class BadTag(FrameError):
    reason = "bad_tag"


class Replay(FrameError):
    reason = "replay"


class CounterUnknown(FrameError):
    reason = "counter_unknown"


class CounterGap(FrameError):
    reason = "counter_gap"


class Malformed(FrameError):
    reason = "malformed"


class TruncatedSample(FrameError):
    reason = "truncated_sample"


class ValueOutOfRange(FrameError):
    reason = "value_out_of_range"


ALL_ERRORS: tuple[type[FrameError], ...] = (
    TooShort, TooLong, UnknownVersion, ReservedBit, UnknownDevice, BadTag, Replay,
    CounterUnknown, CounterGap, Malformed, TruncatedSample, ValueOutOfRange,
)
REASONS: tuple[str, ...] = tuple(cls.reason for cls in ALL_ERRORS)
