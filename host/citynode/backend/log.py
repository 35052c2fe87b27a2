"""Structured logs: one JSON object per line (--log-json) or one readable line, on stderr.

Events carry fields, never secrets: frames are logged by device id and counter, not bytes
(a rejected frame's bytes are in the rejects table for whoever investigates).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from citynode.backend.timeutil import iso

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Log:
    def __init__(self, *, json_lines: bool = False, level: str = "info", stream: IO[str] | None = None) -> None:
        self.json_lines = json_lines
        self.threshold = LEVELS[level]
        self.stream = stream
        self._lock = threading.Lock()

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.threshold

    def event(self, level: str, event: str, message: str = "", **fields: Any) -> None:
        if not self.enabled(level):
            return
        now = time.time()
        if self.json_lines:
            record = {"ts": iso(now), "level": level, "event": event}
            if message:
                record["msg"] = message
            record.update({k: v for k, v in fields.items() if v is not None})
            line = json.dumps(record, default=str, separators=(",", ":"))
        else:
            extra = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
            line = f"{iso(now)} {level.upper():7} {event}" + (f": {message}" if message else "") + \
                (f" [{extra}]" if extra else "")
        stream = self.stream or sys.stderr
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def debug(self, event: str, message: str = "", **fields: Any) -> None:
        self.event("debug", event, message, **fields)

    def info(self, event: str, message: str = "", **fields: Any) -> None:
        self.event("info", event, message, **fields)

    def warning(self, event: str, message: str = "", **fields: Any) -> None:
        self.event("warning", event, message, **fields)

    def error(self, event: str, message: str = "", **fields: Any) -> None:
        self.event("error", event, message, **fields)
