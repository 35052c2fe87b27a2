"""The fleet registry: which device id is which board, where, with which sensors.

SQLite, one file (default ./citynode-fleet.db, or $CITYNODE_FLEET). Keys never live here:
they stay in the keystore; the registry holds only a key fingerprint so an installer can
tell which key a device was given without seeing it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from citynode.errors import EXIT_SECURITY, CliError

DEFAULT_PATH = "citynode-fleet.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id INTEGER PRIMARY KEY,
    hardware_id TEXT,
    board TEXT,
    kind TEXT,
    site TEXT,
    position TEXT,
    sensors TEXT,
    key_fingerprint TEXT,
    config_sha256 TEXT,
    locked INTEGER NOT NULL DEFAULT 0,
    provisioned_at REAL,
    retired_at REAL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS devices_hardware ON devices(hardware_id) WHERE retired_at IS NULL;
"""

FIELDS = (
    "device_id", "hardware_id", "board", "kind", "site", "position", "sensors",
    "key_fingerprint", "config_sha256", "locked", "provisioned_at", "retired_at", "updated_at",
)


@dataclass
class Device:
    device_id: int
    hardware_id: str | None = None
    board: str | None = None
    kind: str | None = None
    site: str | None = None
    position: str | None = None
    sensors: str | None = None
    key_fingerprint: str | None = None
    config_sha256: str | None = None
    locked: int = 0
    provisioned_at: float | None = None
    retired_at: float | None = None
    updated_at: float = 0.0

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["device_id"] = f"{self.device_id:08x}"
        data["locked"] = bool(self.locked)
        return data


def default_path() -> Path:
    return Path(os.environ.get("CITYNODE_FLEET", DEFAULT_PATH))


class Fleet:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get(self, device_id: int) -> Device | None:
        row = self._db.execute(f"SELECT {', '.join(FIELDS)} FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return Device(*row) if row else None

    def by_hardware(self, hardware_id: str) -> Device | None:
        row = self._db.execute(
            f"SELECT {', '.join(FIELDS)} FROM devices WHERE hardware_id = ? AND retired_at IS NULL", (hardware_id,)
        ).fetchone()
        return Device(*row) if row else None

    def list(self, include_retired: bool = False) -> list[Device]:
        where = "" if include_retired else "WHERE retired_at IS NULL"
        rows = self._db.execute(f"SELECT {', '.join(FIELDS)} FROM devices {where} ORDER BY device_id").fetchall()
        return [Device(*row) for row in rows]

    def claim(self, device_id: int, hardware_id: str) -> Device:
        """Reserve a device id for one piece of hardware; refuses an id held by another board."""
        with self.transaction() as db:
            current = self.get(device_id)
            if current and current.retired_at is None and current.hardware_id not in (None, hardware_id):
                raise CliError(
                    f"device id {device_id:08x} is already in use by hardware {current.hardware_id}",
                    hint="pick a free id (citynode fleet list), or retire the old one first: "
                    f"citynode fleet retire {device_id:08x}",
                    exit_code=EXIT_SECURITY,
                )
            other = self.by_hardware(hardware_id)
            if other and other.device_id != device_id:
                raise CliError(
                    f"this board (hardware {hardware_id}) is already registered as device {other.device_id:08x}",
                    hint=f"re-provision it with --device-id {other.device_id:08x}, or retire that id first",
                    exit_code=EXIT_SECURITY,
                )
            now = time.time()
            if current is None or current.retired_at is not None:
                db.execute("DELETE FROM devices WHERE device_id = ?", (device_id,))
                db.execute(
                    "INSERT INTO devices (device_id, hardware_id, updated_at) VALUES (?, ?, ?)",
                    (device_id, hardware_id, now),
                )
            else:
                db.execute(
                    "UPDATE devices SET hardware_id = ?, updated_at = ? WHERE device_id = ?",
                    (hardware_id, now, device_id),
                )
        device = self.get(device_id)
        assert device is not None
        return device

    def release(self, device_id: int, hardware_id: str) -> bool:
        """Undo a claim that never got a key (a provision that failed before staging one).

        Only a row that this hardware holds and that was never provisioned goes: a board must not
        stay bound to an id it has no key for, or it could not be provisioned under another id.
        """
        with self.transaction() as db:
            cur = db.execute(
                "DELETE FROM devices WHERE device_id = ? AND hardware_id = ? AND key_fingerprint IS NULL "
                "AND provisioned_at IS NULL AND retired_at IS NULL",
                (device_id, hardware_id),
            )
            return cur.rowcount == 1

    def update(self, device_id: int, **fields: object) -> None:
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown fleet fields: {sorted(unknown)}")
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE devices SET {assignments} WHERE device_id = ?", (*fields.values(), device_id))

    def retire(self, device_id: int) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE devices SET retired_at = ?, updated_at = ? WHERE device_id = ? AND retired_at IS NULL",
                (time.time(), time.time(), device_id),
            )
            return cur.rowcount == 1
