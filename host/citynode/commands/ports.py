"""`citynode ports`: which serial ports are there, what is behind them, which node answers."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from citynode import serialports

EPILOG = """\
examples:
  citynode ports                 USB serial ports, their VID:PID and the likely ESP32 bridge
  citynode ports --probe         also ask each port for its citynode device id (slower)
  citynode ports --json          the same, machine-readable

"ESP32?" marks ports that look like an ESP32 board (CP210x, CH340, CH9102, FTDI bridges,
Espressif native USB): 'citynode flash --all' uses exactly those. Virtual boards of the
simulator are listed too, when it runs.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ports",
        help="list serial ports, the ESP32 boards behind them and their citynode ids",
        description="List serial ports with USB VID:PID, description and the likely ESP32 USB bridge.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--probe", action="store_true", help="ask each port which citynode device answers")
    p.add_argument("--timeout", type=float, default=1.0, metavar="S", help="probe timeout per port (default 1 s)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A function from a citynode module that may not be installed: None when absent."""
    try:
        if importlib.util.find_spec(module) is None:
            return None
        fn = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return fn if callable(fn) else None


def _device_id(answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return None
    for key in ("device_id", "dev_id", "id", "devid"):
        value = answer.get(key)
        if value is not None:
            return f"{value:08x}" if isinstance(value, int) else str(value)
    return None


def probe_port(probe: Callable[..., Any] | None, port: str, timeout: float) -> tuple[str | None, str | None]:
    """(device id, problem) for one port; never raises."""
    if probe is None:
        return None, None
    try:
        return _device_id(probe(port, timeout)), None
    except Exception as exc:  # noqa: BLE001 - a port that does not answer is not an error here
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return None, message.splitlines()[0]


def _virtual_boards() -> list[dict[str, Any]]:
    list_boards = _optional("citynode.sim", "list_boards")
    if list_boards is None:
        return []
    try:
        boards = list(list_boards())
    except Exception:  # noqa: BLE001 - no simulator running: nothing to list
        return []
    found = []
    for item in boards:
        if isinstance(item, str):
            found.append({"device": item, "name": None})
        elif isinstance(item, dict):
            device = item.get("port") or item.get("pty") or item.get("path") or item.get("device")
            if device:
                found.append({"device": str(device), "name": item.get("name") or item.get("board")})
        else:
            device = getattr(item, "port", None) or getattr(item, "pty", None) or getattr(item, "path", None)
            if device:
                found.append({"device": str(device), "name": getattr(item, "name", None)})
    return found


def collect(probe: bool, timeout: float) -> list[dict[str, Any]]:
    probe_fn = _optional("citynode.service.client", "probe") if probe else None
    rows: list[dict[str, Any]] = []
    for p in serialports.list_ports():
        rows.append(
            {
                "device": p.device,
                "usb_id": p.usb_id if p.vid is not None else None,
                "description": p.description,
                "manufacturer": p.manufacturer or None,
                "serial_number": p.serial_number or None,
                "likely": p.bridge,
                "esp32": p.looks_like_esp,
                "virtual": False,
            }
        )
    for v in _virtual_boards():
        rows.append(
            {
                "device": v["device"],
                "usb_id": None,
                "description": f"virtual board {v['name']}" if v["name"] else "virtual board",
                "manufacturer": None,
                "serial_number": None,
                "likely": "citynode simulator (pty)",
                "esp32": False,
                "virtual": True,
            }
        )
    for row in rows:
        # only boards are asked: a modem or a console on another port should not get our bytes
        asked = probe_fn if row["esp32"] or row["virtual"] else None
        row["device_id"], problem = probe_port(asked, row["device"], timeout)
        if problem:
            row["probe_error"] = problem
    return rows


def run(args: argparse.Namespace) -> int:
    rows = collect(args.probe, args.timeout)
    if args.json:
        print(json.dumps({"ports": rows, "probed": bool(args.probe)}, indent=2))
        return 0
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    if not rows:
        console.print("no serial ports found", markup=False)
        console.print(
            "  what to do: plug the board in with a data cable (charge-only cables show nothing); "
            "on Linux check 'dmesg | tail' for the USB serial driver",
            markup=False,
        )
        return 0
    table = Table()
    for column in ("port", "USB id", "description", "likely", "ESP32?", "citynode id"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["device"],
            row["usb_id"] or "-",
            row["description"] or "-",
            row["likely"] or "-",
            "yes" if row["esp32"] else "-",
            row["device_id"] or "-",
            style=None if row["esp32"] or row["virtual"] else "dim",
        )
    console.print(table)
    if args.probe and _optional("citynode.service.client", "probe") is None:
        console.print("(probing needs citynode.service, not installed here)", markup=False)
    return 0
