"""Readings out of the database as CSV or JSON lines, for spreadsheets and data pipelines."""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from citynode.backend.store import Store
from citynode.backend.timeutil import iso

COLUMNS = ("time", "device", "counter", "channel", "value", "unit", "sample")


def _row(raw: tuple[Any, ...]) -> dict[str, Any]:
    t, dev, counter, channel, value, unit, sample = raw
    return {"time": iso(float(t)), "device": f"{int(dev):08x}", "counter": int(counter), "channel": channel,
            "value": float(value), "unit": unit, "sample": None if sample is None else int(sample)}


def export_readings(store: Store, out: IO[str], fmt: str = "csv", *, device: int | None = None,
                    channel: str | None = None, since: float | None = None, until: float | None = None) -> int:
    """Write matching readings in time order; return how many."""
    rows = store.readings(device=device, channel=channel, since=since, until=until)
    n = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for raw in rows:
            r = _row(raw)
            writer.writerow(["" if r[c] is None else r[c] for c in COLUMNS])
            n += 1
    elif fmt == "jsonl":
        for raw in rows:
            out.write(json.dumps(_row(raw), ensure_ascii=False) + "\n")
            n += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return n
