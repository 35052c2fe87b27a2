"""`citynode export`: readings from the backend database as CSV or JSON lines."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from citynode.errors import EXIT_OK, CliError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="export stored readings as CSV or JSON lines",
        description="Export verified readings stored by `citynode serve` (time order, UTC times).",
        epilog="examples:\n"
               "  citynode export --db citynode.db --since 24h > today.csv\n"
               "  citynode export --db postgresql://citynode@db/citynode --device 0000002a "
               "--channel soil_vwc --format jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="citynode.db", help="SQLite file or postgresql:// URL (default: citynode.db)")
    p.add_argument("--device", help="device id (8 hex digits, as in keystores)")
    p.add_argument("--channel", help="channel name from protocol/registry.toml, e.g. soil_vwc")
    p.add_argument("--since", help="from this time: ISO 8601 (UTC if no zone), epoch seconds, or 2h/7d ago")
    p.add_argument("--until", help="before this time (same forms as --since)")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--out", help="write to this file instead of standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from citynode.backend.export import export_readings
    from citynode.backend.store import open_store
    from citynode.backend.timeutil import parse_since

    device = None
    if args.device:
        try:
            device = int(args.device.removeprefix("0x"), 16)
        except ValueError:
            raise CliError(f"bad device id {args.device!r}", "give 8 hex digits, e.g. 0000002a") from None
    bounds = []
    for name in ("since", "until"):
        value = getattr(args, name)
        try:
            bounds.append(None if value is None else parse_since(value))
        except ValueError:
            raise CliError(f"bad --{name} {value!r}",
                           "use ISO 8601 (2026-11-25T08:00Z), epoch seconds, or a duration ago (2h, 7d)") from None
    if args.channel:
        from citynode.protocol import REGISTRY

        known = {c.name for c in REGISTRY.channels.values()}
        if args.channel not in known:
            raise CliError(f"unknown channel {args.channel!r}", f"channels: {', '.join(sorted(known))}")
    store = open_store(args.db, migrate_schema=False)
    try:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as out:
                n = export_readings(store, out, args.format, device=device, channel=args.channel,
                                    since=bounds[0], until=bounds[1])
        else:
            n = export_readings(store, sys.stdout, args.format, device=device, channel=args.channel,
                                since=bounds[0], until=bounds[1])
    finally:
        store.close()
    print(f"exported {n} reading(s)", file=sys.stderr)
    return EXIT_OK
