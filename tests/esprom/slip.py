"""SLIP framing as the ESP ROM loader uses it: 0xC0 ends a frame, 0xDB escapes 0xC0/0xDB."""

from __future__ import annotations

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    body = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class Decoder:
    """Feed bytes in any chunking; collects complete frames. Bytes outside a frame are dropped."""

    def __init__(self) -> None:
        self._buf: bytearray | None = None
        self._escape = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for b in data:
            if self._buf is None:
                if b == END:
                    self._buf = bytearray()
                else:
                    self.dropped += 1
                continue
            if self._escape:
                self._escape = False
                if b == ESC_END:
                    self._buf.append(END)
                elif b == ESC_ESC:
                    self._buf.append(ESC)
                else:  # invalid escape: drop the frame, as the ROM does
                    self._buf = None
                continue
            if b == ESC:
                self._escape = True
            elif b == END:
                if self._buf:
                    frames.append(bytes(self._buf))
                    self._buf = None
                # an empty frame (C0 C0) is a frame boundary: keep waiting for content
            else:
                self._buf.append(b)
        return frames
