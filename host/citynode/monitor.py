"""Watch a node on the bench: its log lines, and its frames decoded and verified.

The firmware's console sink prints each frame as one line `CNFRAME <hex>` (protocol/SERVICE.md);
everything else is the node's log. Lines are read with a bound so a noisy or garbage-spewing
port can never make the monitor grow without limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from citynode.protocol import DecodedFrame, FrameError, MemoryCounterStore, decode

FRAME_PREFIX = b"CNFRAME "
MAX_LINE = 1024


class ByteSource(Protocol):
    def read(self, size: int = 1) -> bytes: ...


@dataclass(frozen=True)
class Event:
    """One thing the monitor saw: a log line, a decoded frame, or a frame that failed."""

    kind: str  # "log" | "frame" | "reject" | "dropped"
    text: str = ""
    frame: DecodedFrame | None = None
    error: FrameError | None = None
    raw: bytes = b""

    def to_json(self) -> dict[str, Any]:
        if self.kind == "frame" and self.frame is not None:
            return {"event": "frame", **self.frame.to_json()}
        if self.kind == "reject" and self.error is not None:
            return {"event": "reject", "error": self.error.reason, "message": str(self.error), "frame": self.raw.hex()}
        return {"event": self.kind, "text": self.text}


def lines(port: ByteSource, stop: Callable[[], bool], max_line: int = MAX_LINE) -> Iterator[bytes | None]:
    """Complete lines from the port; None for a line dropped because it was longer than max_line."""
    buf = bytearray()
    overflow = False
    while not stop():
        chunk = port.read(256)
        if not chunk:
            continue
        for byte in chunk:
            if byte == 0x0A:
                if overflow:
                    yield None
                else:
                    yield bytes(buf).rstrip(b"\r")
                buf.clear()
                overflow = False
            elif not overflow:
                buf.append(byte)
                if len(buf) > max_line:
                    buf.clear()
                    overflow = True


def classify(line: bytes | None, secrets: Mapping[int, bytes] | None, counters: MemoryCounterStore) -> Event:
    if line is None:
        return Event("dropped", text=f"(line longer than {MAX_LINE} bytes dropped)")
    if line.startswith(FRAME_PREFIX):
        hex_text = line[len(FRAME_PREFIX):].strip()
        try:
            raw = bytes.fromhex(hex_text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return Event("log", text=line.decode("utf-8", "replace"))
        if secrets is None:
            return Event("log", text=f"frame {raw.hex()} (give --keys to verify and decode it)")
        try:
            return Event("frame", frame=decode(raw, secrets, counters), raw=raw)
        except FrameError as err:
            return Event("reject", error=err, raw=raw)
    return Event("log", text=line.decode("utf-8", "replace"))


def monitor(
    port: ByteSource,
    secrets: Mapping[int, bytes] | None,
    *,
    duration_s: float | None = None,
    max_frames: int | None = None,
) -> Iterator[Event]:
    counters = MemoryCounterStore()
    deadline = time.monotonic() + duration_s if duration_s else None
    frames = 0

    def stop() -> bool:
        return (deadline is not None and time.monotonic() > deadline) or (
            max_frames is not None and frames >= max_frames
        )

    for line in lines(port, stop):
        event = classify(line, secrets, counters)
        yield event
        if event.kind in ("frame", "reject"):
            frames += 1
            if max_frames is not None and frames >= max_frames:
                return
