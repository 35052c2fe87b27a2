"""`citynode provision`: give a node its identity, key and settings over serial, and prove it works."""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from citynode.boards import board_names
from citynode.errors import EXIT_FAILED, EXIT_OK, CliError
from citynode.fleet import Fleet
from citynode.ids import parse_device_id
from citynode.keystore import Keystore
from citynode.provisioning import KIND_SENSORS, Plan, Provisioner, Result, Step, load_config_file
from citynode.serialports import open_serial
from citynode.service.client import ServiceClient

EPILOG = """examples:
  citynode provision --port /dev/ttyUSB0 --device-id 0000002a --kind soil --site parc-est --position P3
  citynode provision --port /dev/ttyUSB0 --device-id 42 --config soil-node.json --lock
  citynode provision --csv plan.csv --port /dev/ttyUSB0 --device-id 0000002a   # take row 0000002a of a plan
  citynode provision --csv bench.csv                                          # every row (needs a port column)

Steps: enter service mode, register the id in the fleet, install the key (generated here,
written to the keystore first, sent once, proven by challenge, never read back), commit the
config, run the sensor self-test, and decode a signed test frame with the keystore: when it
says "the backend will accept this node", you can leave. Every step can be re-run: a cable
pulled half-way leaves the old or the new state, and running the same command again finishes.

CSV columns: device_id (required), kind, board, site, position, sensors (space- or
semicolon-separated driver names), config (path to a JSON config), port.
Exit codes: 0 all done, 1 a check failed (self-test, test frame), 2 bad input,
3 port/board problem, 4 security refusal (locked node, id in use, wrong key)."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "provision", help="set a node's id, key and config over serial, and check it", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", help="serial port of the node")
    parser.add_argument("--device-id", help="the id to give this node (decimal, 0x-hex or 8 hex digits)")
    parser.add_argument("--kind", choices=sorted(KIND_SENSORS), help="node kind (default sensors for it)")
    parser.add_argument("--board", choices=board_names(), help="expected board (checked against the node)")
    parser.add_argument("--config", type=Path, help="full node config (JSON), instead of --kind defaults")
    parser.add_argument("--sensors", help="comma-separated sensor drivers instead of the kind's defaults")
    parser.add_argument("--site", help="where the node is (for the fleet registry)")
    parser.add_argument("--position", help="position at the site (for the fleet registry)")
    parser.add_argument("--csv", type=Path, help="a provisioning plan (see below)")
    parser.add_argument("--keystore", default=os.environ.get("CITYNODE_KEYSTORE"),
                        help="keystore file (default: $CITYNODE_KEYSTORE)")
    parser.add_argument("--fleet", help="fleet registry (default $CITYNODE_FLEET or ./citynode-fleet.db)")
    parser.add_argument("--rotate-key", action="store_true", help="give the node a new key even if it has one")
    parser.add_argument("--lock", action="store_true", help="lock the node: key changes then need the current key")
    parser.add_argument("--skip-selftest", action="store_true", help="do not read the sensors")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer (default 5)")
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    parser.set_defaults(func=run)


def plan_from(args: argparse.Namespace, row: dict[str, str] | None = None) -> Plan:
    row = row or {}
    config_path = Path(row["config"]) if row.get("config") else args.config
    sensors_text = row.get("sensors") or args.sensors
    sensors = [s for s in sensors_text.replace(";", ",").replace(" ", ",").split(",") if s] if sensors_text else None
    return Plan(
        device_id=parse_device_id(row.get("device_id") or args.device_id or ""),
        kind=row.get("kind") or args.kind,
        board=row.get("board") or args.board,
        site=row.get("site") or args.site,
        position=row.get("position") or args.position,
        sensors=sensors,
        config=load_config_file(config_path) if config_path else None,
        rotate_key=args.rotate_key,
        lock=args.lock,
        selftest=not args.skip_selftest,
    )


def read_plan(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]
    except FileNotFoundError:
        raise CliError(f"plan {path} does not exist", hint="check the path") from None
    if not rows or "device_id" not in rows[0]:
        raise CliError(f"plan {path} has no device_id column", hint="the first line names the columns (see --help)")
    return rows


def run_one(args: argparse.Namespace, port: str, plan: Plan, console: Console) -> Result:
    if not args.keystore:
        raise CliError("no keystore given", hint="pass --keystore FILE or set CITYNODE_KEYSTORE")

    def show(step: Step) -> None:
        if not args.json:
            mark = "[green]✓[/green]" if step.ok else "[red]✗[/red]"
            console.print(f"{mark} {step.name}: {step.detail}")

    fleet = Fleet(args.fleet)
    serial_port = open_serial(port, timeout=0.2)
    try:
        with ServiceClient(serial_port, timeout=args.timeout) as client:
            return Provisioner(client, Keystore(args.keystore), fleet, show).run(plan)
    finally:
        fleet.close()


def selftest_table(result: Result) -> Table:
    table = Table(title=f"self-test of {result.device_id:08x}")
    for column in ("sensor", "ok", "readings", "error"):
        table.add_column(column)
    for sensor in result.selftest:
        values = sensor.get("values") or {}
        table.add_row(
            str(sensor.get("name", "?")), "yes" if sensor.get("ok") else "[red]no[/red]",
            ", ".join(f"{k}={v}" for k, v in values.items()), str(sensor.get("error") or ""),
        )
    return table


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    jobs: list[tuple[str, Plan]] = []
    if args.csv:
        rows = read_plan(args.csv)
        if args.device_id:
            wanted = parse_device_id(args.device_id)
            rows = [r for r in rows if r.get("device_id") and parse_device_id(r["device_id"]) == wanted]
            if not rows:
                raise CliError(f"device {wanted:08x} is not in {args.csv}", hint="check the plan or the id")
        for row in rows:
            port = row.get("port") or args.port
            if not port:
                raise CliError(f"no port for device {row['device_id']}", hint="add a port column, or give --port")
            jobs.append((port, plan_from(args, row)))
    else:
        if not args.port or not args.device_id:
            raise CliError("give --port and --device-id (or --csv PLAN)", hint="citynode provision --help")
        jobs.append((args.port, plan_from(args)))

    results: list[dict[str, Any]] = []
    ok = True
    for port, plan in jobs:
        if not args.json and len(jobs) > 1:
            console.rule(f"{plan.device_id:08x} on {port}")
        try:
            result = run_one(args, port, plan, console)
        except CliError as err:
            if len(jobs) == 1:
                raise
            ok = False
            results.append({"device_id": f"{plan.device_id:08x}", "ok": False, "error": err.message, "hint": err.hint})
            if not args.json:
                console.print(f"[red]✗ {err.message}[/red]" + (f"\n  what to do: {err.hint}" if err.hint else ""))
            continue
        ok = ok and result.ok
        results.append(result.to_json())
        if not args.json and result.selftest:
            console.print(selftest_table(result))
    if args.json:
        print(json.dumps(results if len(results) != 1 else results[0], indent=1))
    return EXIT_OK if ok else EXIT_FAILED
