"""The backend's tables behind one interface (SQLite or PostgreSQL); see schema.py.

Every method runs inside the caller's transaction (`store.transaction()`), so a frame's
counter advance, its row, its receptions and its readings commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citynode.backend.db import Database, connect
from citynode.backend.model import Reception
from citynode.backend.schema import current_version, migrate
from citynode.errors import CliError
from citynode.protocol import DecodedFrame


def raw_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class StoredFrame:
    frame_id: int
    device_id: int
    counter: int
    received_at: float


class DbCounterStore:
    """The protocol's CounterStore on the devices table.

    `advance` is one statement (insert, or update only if the counter grows), so two
    serve processes can never both accept the same counter: the second one's update
    waits for the first transaction and then matches no row.
    """

    def __init__(self, db: Database, clock: Any = time.time) -> None:
        self.db = db
        self.clock = clock

    def last(self, device_id: int) -> int | None:
        row = self.db.one("SELECT last_counter FROM devices WHERE device_id = ?", (device_id,))
        return None if row is None else int(row[0])

    def advance(self, device_id: int, fcnt: int) -> bool:
        now = self.clock()
        cur = self.db.execute(
            "INSERT INTO devices (device_id, last_counter, first_seen, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (device_id) DO UPDATE SET last_counter = excluded.last_counter, "
            "last_seen = excluded.last_seen WHERE devices.last_counter < excluded.last_counter",
            (device_id, fcnt, now, now))
        return bool(cur.rowcount == 1)


class Store:
    """Domain operations on the database. One Store per thread (it holds one connection)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.counters = DbCounterStore(db)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    def close(self) -> None:
        self.db.close()

    # -- frames
    def find_frame(self, digest: str, raw: bytes) -> StoredFrame | None:
        for fid, dev, ctr, t, stored_raw in self.db.query(
                "SELECT id, device_id, counter, received_at, raw FROM frames WHERE raw_hash = ?", (digest,)):
            if bytes(stored_raw) == raw:
                return StoredFrame(int(fid), int(dev), int(ctr), float(t))
        return None

    def insert_frame(self, frame: DecodedFrame, digest: str, received_at: float) -> int:
        status = None if frame.status.is_clear() else json.dumps(frame.status.to_json(), sort_keys=True)
        row = self.db.one(
            "INSERT INTO frames (device_id, counter, raw, raw_hash, received_at, profile, encrypted, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (frame.device_id, frame.counter, frame.raw, digest, received_at, frame.profile,
             int(frame.encrypted), status))
        assert row is not None
        return int(row[0])

    def insert_readings(self, frame_id: int, frame: DecodedFrame, frame_time: float) -> int:
        rows = [(frame_id, frame.device_id, frame.counter, frame_time - r.offset_s, r.channel,
                 float(r.value), r.unit, r.sample) for r in frame.readings]
        if rows:
            self.db.executemany(
                "INSERT INTO readings (frame_id, device_id, counter, time, channel, value, unit, sample) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def has_reception(self, frame_id: int, rec: Reception) -> bool:
        return self.db.one(
            "SELECT 1 FROM frame_receptions WHERE frame_id = ? AND source = ? AND gateway = ? AND rx_id = ?",
            (frame_id, rec.source, rec.gateway, rec.rx_id)) is not None

    def add_reception(self, frame_id: int, rec: Reception, received_at: float) -> bool:
        cur = self.db.execute(
            "INSERT INTO frame_receptions (frame_id, source, gateway, rx_id, rssi, snr, freq_mhz, datr, "
            "gw_time, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (frame_id, source, gateway, rx_id) DO NOTHING",
            (frame_id, rec.source, rec.gateway, rec.rx_id, rec.rssi, rec.snr, rec.freq_mhz, rec.datr,
             rec.gw_time, received_at))
        return bool(cur.rowcount == 1)

    # -- rejects and alerts
    def insert_reject(self, *, received_at: float, device_id: int | None, gateway: str, source: str,
                      reason: str, detail: str, raw: bytes | None) -> None:
        self.db.execute(
            "INSERT INTO rejects (received_at, device_id, gateway, source, reason, detail, raw, raw_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (received_at, device_id, gateway, source, reason, detail, raw,
             None if raw is None else raw_hash(raw)))

    def count_rejects(self, reasons: tuple[str, ...], column: str, value: object, since: float) -> int:
        """Distinct rejected frames (by bytes) with one of `reasons` for a device or gateway since `since`.

        Distinct, so one forged frame heard by three gateways counts once.
        """
        if column not in ("device_id", "gateway"):
            raise ValueError(column)
        marks = ", ".join("?" for _ in reasons)
        row = self.db.one(
            f"SELECT COUNT(DISTINCT raw_hash) FROM rejects WHERE {column} = ? AND reason IN ({marks}) "
            "AND received_at >= ?", (value, *reasons, since))
        return int(row[0]) if row else 0

    def claim_alert(self, rule: str, subject: str, now: float, cooldown: float) -> bool:
        """True for exactly one caller per (rule, subject) per cooldown, across processes."""
        cur = self.db.execute(
            "INSERT INTO alert_state (rule, subject, last_raised) VALUES (?, ?, ?) "
            "ON CONFLICT (rule, subject) DO UPDATE SET last_raised = excluded.last_raised "
            "WHERE alert_state.last_raised <= ?",
            (rule, subject, now, now - cooldown))
        return bool(cur.rowcount == 1)

    def insert_alert(self, *, raised_at: float, rule: str, subject: str, count: int, threshold: int,
                     window_s: float, message: str) -> None:
        self.db.execute(
            "INSERT INTO alerts (raised_at, rule, subject, count, threshold, window_s, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (raised_at, rule, subject, count, threshold, window_s, message))

    # -- reading back (status, export, tests)
    def stats(self) -> dict[str, Any]:
        one = self.db.one
        figures: dict[str, Any] = {}
        for table in ("devices", "frames", "frame_receptions", "readings", "rejects", "alerts"):
            row = one(f"SELECT COUNT(*) FROM {table}")
            figures[table] = int(row[0]) if row else 0
        figures["rejects_by_reason"] = {r: int(n) for r, n in self.db.query(
            "SELECT reason, COUNT(*) FROM rejects GROUP BY reason ORDER BY reason")}
        row = one("SELECT MAX(received_at) FROM frames")
        figures["last_frame_at"] = None if not row or row[0] is None else float(row[0])
        figures["recent_alerts"] = [
            {"raised_at": float(t), "rule": rule, "subject": subj, "message": msg}
            for t, rule, subj, msg in self.db.query(
                "SELECT raised_at, rule, subject, message FROM alerts ORDER BY raised_at DESC, id DESC LIMIT 10")]
        return figures

    def readings(self, *, device: int | None = None, channel: str | None = None, since: float | None = None,
                 until: float | None = None) -> Iterator[tuple[Any, ...]]:
        """(time, device_id, counter, channel, value, unit, sample) in time order."""
        where: list[str] = []
        params: list[Any] = []
        if device is not None:
            where.append("device_id = ?")
            params.append(device)
        if channel is not None:
            where.append("channel = ?")
            params.append(channel)
        if since is not None:
            where.append("time >= ?")
            params.append(since)
        if until is not None:
            where.append("time < ?")
            params.append(until)
        sql = "SELECT time, device_id, counter, channel, value, unit, sample FROM readings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time, device_id, counter, channel, sample"
        yield from self.db.query(sql, params)


def open_store(url: str, *, migrate_schema: bool = True) -> Store:
    """Connect and bring the schema up to date (safe when several processes start together)."""
    if not migrate_schema and "://" not in url and not Path(url).is_file():
        raise CliError(f"no database at {url}", "give the --db that `citynode serve` writes to")
    db = connect(url)
    try:
        if migrate_schema:
            migrate(db)
        elif current_version(db) == 0:
            raise CliError(f"{safe_url(url)} holds no citynode data", "give the --db that `citynode serve` writes to")
    except BaseException:
        db.close()
        raise
    return Store(db)


def safe_url(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
