"""Run benchmarks and merge their figures into bench/results.json.

    python -m bench              # every bench/bench_*.py module
    python -m bench protocol     # only bench_protocol.py (other modules' results are kept)

Each module's run() returns a JSON-ready dict of figures, stored at the top level of
results.json under the names the issues use (frame_bytes, decode_fps, ingest_fps_sqlite,
provision_s, ...). `_bench` records, per module, which keys it wrote and how long it took, so
re-running one module replaces exactly its own figures.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def available() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows += flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return rows
    if isinstance(value, float):
        return [(prefix, f"{value:,.1f}")]
    return [(prefix, json.dumps(value) if not isinstance(value, str) else value)]


def save(results: dict[str, Any]) -> None:
    tmp = RESULTS.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(RESULTS)


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown bench {unknown}; available: {available()}", file=sys.stderr)
        return 2
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for legacy in available():  # an older layout kept each module's figures under its name
        results.pop(legacy, None)
    book: dict[str, Any] = results.setdefault("_bench", {})
    console = Console()
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        start = time.monotonic()
        figures = module.run()
        for key in book.get(name, {}).get("keys", []):
            results.pop(key, None)
        results.update(figures)
        book[name] = {"keys": sorted(figures), "seconds": round(time.monotonic() - start, 1)}
        save(results)  # after each module, so a later crash keeps earlier figures
        table = Table(title=f"bench {name}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in flatten("", figures):
            table.add_row(key, value)
        console.print(table)
    console.print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
