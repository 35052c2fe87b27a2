"""`citynode fleet`: the device registry (list, show, export, retire). Keys are never exported."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from rich.console import Console
from rich.table import Table

from citynode.errors import EXIT_FAILED, EXIT_OK, CliError
from citynode.fleet import FIELDS, Fleet
from citynode.ids import parse_device_id

EPILOG = """examples:
  citynode fleet list
  citynode fleet show 0000002a
  citynode fleet export --format csv > fleet.csv
  citynode fleet retire 0000002a
The registry is SQLite (--fleet FILE, or $CITYNODE_FLEET; default ./citynode-fleet.db).
Keys stay in the keystore and never appear here or in exports."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fleet", help="the device registry: list, show, export, retire", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fleet", help="registry file (default $CITYNODE_FLEET or ./citynode-fleet.db)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="devices in service (--all: retired too)")
    ls.add_argument("--all", action="store_true", help="include retired devices")
    ls.add_argument("--json", action="store_true", help="JSON output")
    show = actions.add_parser("show", help="one device")
    show.add_argument("device_id")
    export = actions.add_parser("export", help="the registry as CSV or JSON (no keys)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--all", action="store_true", help="include retired devices")
    retire = actions.add_parser("retire", help="mark a device retired (its id can then be reused)")
    retire.add_argument("device_id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fleet = Fleet(args.fleet)
    try:
        if args.action == "list":
            devices = fleet.list(include_retired=args.all)
            if args.json:
                print(json.dumps([d.to_json() for d in devices], indent=1))
                return EXIT_OK
            table = Table(title=f"fleet ({fleet.path})")
            for column in ("device", "board", "kind", "site", "position", "sensors", "locked", "retired"):
                table.add_column(column)
            for d in devices:
                table.add_row(
                    f"{d.device_id:08x}", d.board or "-", d.kind or "-", d.site or "-", d.position or "-",
                    d.sensors or "-", "yes" if d.locked else "no", "yes" if d.retired_at else "",
                )
            Console().print(table)
        elif args.action == "show":
            device = fleet.get(parse_device_id(args.device_id))
            if device is None:
                raise CliError(f"device {args.device_id} is not in the registry", hint="citynode fleet list")
            print(json.dumps(device.to_json(), indent=1))
        elif args.action == "export":
            rows = [d.to_json() for d in fleet.list(include_retired=args.all)]
            if args.format == "json":
                print(json.dumps(rows, indent=1))
            else:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(FIELDS))
                writer.writeheader()
                writer.writerows(rows)
        elif args.action == "retire":
            device_id = parse_device_id(args.device_id)
            if not fleet.retire(device_id):
                print(f"device {device_id:08x} is not in service", file=sys.stderr)
                return EXIT_FAILED
            print(f"device {device_id:08x} retired")
        return EXIT_OK
    finally:
        fleet.close()
