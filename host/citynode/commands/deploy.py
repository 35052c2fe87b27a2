"""`citynode deploy`: compile and copy the firmware to boards that run MicroPython."""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor

from rich.console import Console
from rich.table import Table

from citynode.boards import board_names
from citynode.deploy import DeployReport, deploy_board
from citynode.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError

EPILOG = """examples:
  citynode deploy --port /dev/ttyUSB0 --board heltec_v2
  citynode deploy --port /dev/ttyUSB0 --port /dev/ttyUSB1 --board lilygo_t3_v1_6_1
  citynode deploy --port /dev/ttyACM0 --board heltec_v3 --mip-index ./mip-mirror
A second deploy of an unchanged tree sends no file content (mpremote compares SHA-256 hashes).
The radio driver (micropython-lib lora-sx127x / lora-sx126x) is installed with mip: it needs
micropython.org, or --mip-index pointing at a local mirror (same layout as the mip index)."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "deploy", help="compile firmware/ and copy it to boards (mpy-cross + mpremote)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", action="append", default=[], help="serial port (repeat for several boards)")
    parser.add_argument("--all", action="store_true", help="every ESP32 serial port found (see citynode ports)")
    parser.add_argument("--board", required=True, choices=board_names(), help="board file (boards/NAME.json)")
    parser.add_argument("--mip-index", help="package index URL or local mirror directory for mip")
    parser.add_argument("--no-radio-driver", action="store_true", help="do not install the LoRa driver")
    parser.add_argument("--no-reset", action="store_true", help="leave the board at the REPL (no reset)")
    parser.add_argument("--json", action="store_true", help="machine-readable results")
    parser.set_defaults(func=run)


def resolve_ports(args: argparse.Namespace) -> list[str]:
    ports = list(args.port)
    if args.all:
        from citynode import serialports

        ports += [p.device for p in serialports.esp_ports() if p.device not in ports]
    if not ports:
        raise CliError("no port given", hint="use --port PORT (see citynode ports) or --all", exit_code=EXIT_USAGE)
    return ports


def run(args: argparse.Namespace) -> int:
    ports = resolve_ports(args)

    def one(port: str) -> tuple[str, DeployReport | None, str]:
        try:
            report = deploy_board(
                port, args.board, mip_index=args.mip_index,
                radio_driver=not args.no_radio_driver, reset=not args.no_reset,
            )
            return port, report, ""
        except CliError as err:
            if len(ports) == 1 and not args.json:
                raise  # one board: its own message, hint and exit code
            return port, None, err.message + (f" ({err.hint})" if err.hint else "")

    if len(ports) == 1:
        results = [one(ports[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(8, len(ports))) as pool:
            results = list(pool.map(one, ports))
    ok = all(report is not None for _, report, _ in results)
    if args.json:
        print(json.dumps([
            {"port": port, "ok": report is not None, "error": error or None, **(report.to_json() if report else {})}
            for port, report, error in results
        ], indent=1))
        return EXIT_OK if ok else EXIT_FAILED
    table = Table(title=f"deploy {args.board}")
    for column in ("port", "MicroPython", "arch", "files sent", "bytes sent", "removed", "radio driver", "result"):
        table.add_column(column)
    for port, report, error in results:
        if report is None:
            table.add_row(port, "", "", "", "", "", "", f"[red]failed: {error}[/red]")
        else:
            table.add_row(
                port, report.micropython, report.arch, f"{report.files_sent}/{report.files_total}",
                str(report.bytes_sent), str(len(report.removed)), report.radio_driver,
                f"[green]ok[/green] {report.seconds:.1f}s",
            )
    console = Console()
    console.print(table)
    for _, report, _ in results:
        for note in report.notes if report else []:
            console.print(f"note: {note}")
    return EXIT_OK if ok else EXIT_FAILED
