"""Replay state: the last accepted frame counter per device (SPEC.md 6.2).

Decoding only needs `last` and an atomic `advance`, so a backend can keep the state in
memory, in a JSON file (the CLI), in SQLite or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class CounterStore(Protocol):
    def last(self, device_id: int) -> int | None:
        """The device's last accepted FCNT, or None if it was never heard."""
        ...

    def advance(self, device_id: int, fcnt: int) -> bool:
        """Atomically store fcnt if it is greater than the stored value (or none); True if stored."""
        ...


class MemoryCounterStore:
    """In-process store; thread-safe."""

    def __init__(self, initial: dict[int, int] | None = None) -> None:
        self._last: dict[int, int] = dict(initial or {})
        self._lock = threading.Lock()

    def last(self, device_id: int) -> int | None:
        return self._last.get(device_id)

    def advance(self, device_id: int, fcnt: int) -> bool:
        with self._lock:
            old = self._last.get(device_id)
            if old is not None and fcnt <= old:
                return False
            self._last[device_id] = fcnt
            return True

    def snapshot(self) -> dict[int, int]:
        with self._lock:
            return dict(self._last)


class JsonFileCounterStore(MemoryCounterStore):
    """A MemoryCounterStore loaded from and saved to a JSON file {"0000002a": 17, ...}.

    Saved atomically (temp file, fsync, rename) by `save()`; one process at a time.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        initial: dict[int, int] = {}
        if self.path.exists():
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            if not isinstance(data, dict):
                raise ValueError(f"{self.path}: expected a JSON object of device id -> counter")
            initial = {int(k, 16): int(v) for k, v in data.items()}
        super().__init__(initial)

    def save(self) -> None:
        data = {f"{dev:08x}": fcnt for dev, fcnt in sorted(self.snapshot().items())}
        atomic_write(self.path, (json.dumps(data, indent=1) + "\n").encode(), mode=0o644)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent or Path("."), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
