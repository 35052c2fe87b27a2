"""What the demo shows, read back from the backend's database (the same tables a city would query).

Readings are placed on the simulated day by the gateway's reception time (`gw_time`), which
the simulated gateway stamps with virtual time; the backend itself stores its own clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from citynode.demo.report import NodePanel, Series

# What each node kind's panel plots: (channel, label, unit, step).
PLOTS: dict[str, list[tuple[str, str, str, bool]]] = {
    "soil": [("soil_vwc", "soil moisture", "%", False)],
    "air": [("pm2_5", "PM2.5", "µg/m³", False), ("pm10", "PM10", "µg/m³", False)],
    "noise": [("laeq", "LAeq 1 min", "dB(A)", False)],
    "parking": [("parking_occupied", "occupied", "0/1", True)],
}
SECOND_AXIS_NOTE = {"air": "CO2 is in the summary table (ppm; different scale)"}


class NodeLike(Protocol):
    name: str
    kind: str
    board: str
    device_id: int
    site: str
    sent: list[dict[str, Any]]


@dataclass
class DemoData:
    panels: list[NodePanel] = field(default_factory=list)
    summary: list[dict[str, str]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    alerts: list[dict[str, str]] = field(default_factory=list)


def _iso_seconds(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def collect(db_path: Path, nodes: Sequence[NodeLike], day_start: float) -> DemoData:
    data = DemoData()
    db = sqlite3.connect(db_path)
    try:
        frame_time: dict[int, float] = {}
        for frame_id, received_at, gw_time in db.execute(
            "SELECT f.id, f.received_at, MIN(r.gw_time) FROM frames f "
            "LEFT JOIN frame_receptions r ON r.frame_id = f.id GROUP BY f.id"
        ):
            virtual = _iso_seconds(gw_time)
            frame_time[frame_id] = (virtual if virtual is not None else received_at) - received_at
        for node in nodes:
            hours: dict[str, list[tuple[float, float]]] = {}
            last: dict[str, tuple[float, float, str]] = {}
            for frame_id, reading_time, channel, value, unit in db.execute(
                "SELECT frame_id, time, channel, value, unit FROM readings WHERE device_id = ? ORDER BY time",
                (node.device_id,),
            ):
                t = (reading_time + frame_time.get(frame_id, 0.0) - day_start) / 3600
                hours.setdefault(channel, []).append((t, value))
                if channel not in last or t >= last[channel][0]:
                    last[channel] = (t, value, unit)
            series = [
                Series(label, unit, sorted(hours.get(channel, [])), step)
                for channel, label, unit, step in PLOTS[node.kind]
            ]
            (stored,) = db.execute("SELECT COUNT(*) FROM frames WHERE device_id = ?", (node.device_id,)).fetchone()
            (rejected,) = db.execute("SELECT COUNT(*) FROM rejects WHERE device_id = ?", (node.device_id,)).fetchone()
            subtitle = f"{node.device_id:08x} · {node.board} · {node.site}"
            if node.kind in SECOND_AXIS_NOTE:
                subtitle += f" · {SECOND_AXIS_NOTE[node.kind]}"
            data.panels.append(NodePanel(f"{node.name.capitalize()} node", subtitle, series))
            readings = ", ".join(
                f"{channel} {value:g} {unit}" for channel, (_, value, unit) in sorted(last.items())
                if channel != "battery_v" or node.kind != "noise"
            )
            data.summary.append({
                "node": node.name, "device": f"{node.device_id:08x}", "board": node.board,
                "frames sent": str(len(node.sent)), "frames stored": str(stored), "rejected": str(rejected),
                "last readings": readings or "-",
            })
        for device_id, gateway, reason, detail in db.execute(
            "SELECT device_id, gateway, reason, detail FROM rejects ORDER BY received_at"
        ):
            data.rejected.append({
                "device": f"{device_id:08x}" if device_id is not None else "-", "gateway": gateway,
                "reason": reason, "detail": detail,
            })
        for rule, subject, count, threshold, message in db.execute(
            "SELECT rule, subject, count, threshold, message FROM alerts ORDER BY raised_at"
        ):
            data.alerts.append({"rule": rule, "subject": subject, "count": str(count),
                                "threshold": str(threshold), "detail": message})
    finally:
        db.close()
    return data
