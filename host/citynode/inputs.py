"""Frames from text input: one frame per line, hex or base64, for `citynode decode` and tests.

Formats are pluggable by name so network-server exports (ChirpStack, TTS, Semtech rxpk JSON)
can be added here as more `fmt` values that fill `metadata` (gateway, RSSI, time...).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("auto", "hex", "base64", "json", "chirpstack", "tts", "rxpk")
JSON_FORMATS = ("json", "chirpstack", "tts", "rxpk")
BAD_INPUT = "bad_input"
_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")
_HEX_SEPARATORS = re.compile(r"[\s:\-]")


@dataclass
class InputFrame:
    """One input item: the frame bytes, or None and an error saying why the line was unusable."""

    frame: bytes | None
    error: str | None
    line: int  # 1-based line number in the input
    metadata: dict[str, Any] = field(default_factory=dict)


def parse_hex(text: str) -> bytes | None:
    """Hex with optional 0x prefix and byte separators (spaces, colons, dashes); None if not hex."""
    t = _HEX_SEPARATORS.sub("", text)
    if not _HEX.match(t):
        return None
    t = t[2:] if t[:2].lower() == "0x" else t
    if len(t) % 2:
        return None
    return bytes.fromhex(t)


def parse_base64(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None if not base64."""
    t = text.strip()
    t += "=" * (-len(t) % 4)
    try:
        if "-" in t or "_" in t:
            return base64.urlsafe_b64decode(t.encode())
        return base64.b64decode(t.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_line(text: str, fmt: str = "auto") -> bytes | None:
    """A frame from one line. auto: hex if it reads as hex (even count of hex digits), else base64."""
    if fmt == "hex":
        return parse_hex(text)
    if fmt == "base64":
        return parse_base64(text)
    if fmt != "auto":
        raise ValueError(f"unknown input format {fmt!r}; known: {', '.join(FORMATS)}")
    frame = parse_hex(text)
    return frame if frame is not None else parse_base64(text)


def iter_frames(lines: Iterable[str], fmt: str = "auto") -> Iterator[InputFrame]:
    """Frames from lines; blank lines and # comments are skipped, bad lines yield an error item."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r}; known: {', '.join(FORMATS)}")
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if fmt in JSON_FORMATS or (fmt == "auto" and text.startswith("{")):
            from citynode.backend.formats import input_frames  # lazy: formats imports this module

            yield from input_frames(text, number, fmt)
            continue
        frame = parse_line(text, fmt)
        if frame is None:
            what = "hex or base64" if fmt == "auto" else fmt
            yield InputFrame(None, f"line {number} is not {what}: {text[:40]!r}", number)
        else:
            yield InputFrame(frame, None, number)
