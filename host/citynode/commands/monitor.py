"""`citynode monitor`: a node's live log and its frames, decoded and verified, on the bench."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape

from citynode.errors import EXIT_OK
from citynode.keystore import Keystore
from citynode.monitor import Event, monitor
from citynode.serialports import open_serial

EPILOG = """examples:
  citynode monitor --port /dev/ttyUSB0 --keys fleet.keys
  citynode monitor --port /dev/ttyUSB0 --keys fleet.keys --json --frames 3
Frames are the node's console sink lines (CNFRAME <hex>); without --keys they are shown undecoded.
A replayed or forged frame is shown as rejected, with the reason. Stop with Ctrl-C."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "monitor", help="live log and decoded frames from a node on a serial port", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", required=True, help="serial port of the node")
    parser.add_argument("--keys", help="keystore to verify and decode frames")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--frames", type=int, help="stop after this many frames")
    parser.set_defaults(func=run)


def describe(event: Event) -> str:
    if event.kind == "frame" and event.frame is not None:
        f = event.frame
        values = ", ".join(
            f"{r.channel}={r.value}{'' if r.unit in ('bool', 'count', 'index') else ' ' + r.unit}"
            for r in f.readings if r.sample is None
        )
        series = sum(1 for r in f.readings if r.sample is not None)
        extra = f" (+{series} series samples)" if series else ""
        return f"[green]frame[/green] {f.device_id:08x} #{f.counter} {f.profile}: {escape(values)}{extra}"
    if event.kind == "reject" and event.error is not None:
        return f"[red]rejected[/red] {event.error.reason}: {escape(str(event.error))}"
    if event.kind == "dropped":
        return f"[yellow]{escape(event.text)}[/yellow]"
    return f"[dim]node[/dim] {escape(event.text)}"


def run(args: argparse.Namespace) -> int:
    secrets = Keystore(args.keys).secrets() if args.keys else None
    console = Console(highlight=False)
    serial_port = open_serial(args.port, baudrate=args.baud, timeout=0.2)
    try:
        for event in monitor(serial_port, secrets, duration_s=args.duration, max_frames=args.frames):
            if args.json:
                print(json.dumps(event.to_json()), flush=True)
            else:
                console.print(describe(event))
    except KeyboardInterrupt:
        pass
    finally:
        serial_port.close()
    return EXIT_OK
