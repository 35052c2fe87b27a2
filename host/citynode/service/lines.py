"""The service protocol's line framing (protocol/SERVICE.md section 2), shared by the client
and tests: `CN <seq> <verb> [args] *<crc16>` with CRC-16/CCITT-FALSE over the text before " *".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_LINE = 2048


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def frame_line(text: str) -> bytes:
    """`text` with its checksum and the newline, ready to write to the port."""
    raw = text.encode()
    return raw + b" *%04X\n" % crc16(raw)


def command(seq: int, verb: str, *args: str) -> bytes:
    return frame_line(" ".join(["CN", str(seq), verb, *args]))


@dataclass(frozen=True)
class Reply:
    seq: int
    ok: bool
    data: Any = None  # OK: the JSON payload (or None)
    code: str = ""  # ERR: the error code
    message: str = ""  # ERR: the human message


def parse_reply(line: bytes) -> Reply | None:
    """A checked reply line, or None for anything else (boot noise, frames, bad checksum)."""
    text = line.rstrip(b"\r\n")
    star = text.rfind(b" *")
    if not text.startswith(b"CN ") or star < 0:
        return None
    try:
        if int(text[star + 2:], 16) != crc16(text[:star]) or len(text) - star - 2 != 4:
            return None
        body = text[3:star].decode()
    except (ValueError, UnicodeDecodeError):
        return None
    parts = body.split(" ", 2)
    if len(parts) < 2 or not parts[0].isdigit():
        return None
    seq, kind = int(parts[0]), parts[1]
    rest = parts[2] if len(parts) > 2 else ""
    if kind == "OK":
        try:
            data = json.loads(rest) if rest else None
        except json.JSONDecodeError:
            return None
        return Reply(seq, True, data)
    if kind == "ERR":
        code, _, message = rest.partition(" ")
        return Reply(seq, False, code=code, message=message)
    if kind in ("READY", "FACTORY_RESET"):
        try:
            data = json.loads(rest) if rest else None
        except json.JSONDecodeError:
            data = None
        return Reply(seq, True, data={"event": kind, **(data or {})})
    return None
