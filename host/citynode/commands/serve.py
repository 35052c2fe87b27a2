"""`citynode serve`: verify and store frames from gateways (Semtech UDP), MQTT (ChirpStack, TTS) or stdin.

`citynode serve status --db URL` prints what the database holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from citynode.errors import EXIT_OK, EXIT_USAGE, CliError

EPILOG = """examples:
  # own gateways (packet forwarder pointed at this host, port 1700)
  citynode serve --udp 0.0.0.0:1700 --keys fleet.keys --db citynode.db --health-port 9100
  # ChirpStack v4 through MQTT, two workers sharing the load (run each with its own --client-id)
  citynode serve --mqtt mqtt://broker:1883 --topic 'application/+/device/+/event/up' --share citynode \\
      --client-id citynode-1 --keys fleet.keys --db postgresql://citynode@db/citynode
  # The Things Stack: --topic 'v3/APP@TENANT/devices/+/up' (password in CITYNODE_MQTT_PASSWORD)
  # ChirpStack HTTP integration or a TTS webhook pointed at http://this-host:8090/uplink
  citynode serve --http 0.0.0.0:8090 --keys fleet.keys --db citynode.db
  # a file of hex, base64 or JSON lines
  citynode serve --stdin --keys fleet.keys --db citynode.db < frames.txt
  citynode serve status --db citynode.db

Frames acknowledged to MQTT are committed first; a killed serve loses nothing acknowledged.
Webhooks are answered 200 only once stored (503 otherwise, so the network server retries).
UDP cannot be redelivered: frames in flight when serve dies are lost (the forwarder never resends).
"""


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="ingest frames from gateways, MQTT or stdin into a database",
                       description="Verify citynode frames (tag, replay, counter) and store readings.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="citynode.db",
                   help="SQLite file (default citynode.db, WAL mode) or postgresql://user@host:port/db")
    p.add_argument("--keys", help="keystore with the device secrets (required)")
    p.add_argument("--udp", action="append", default=[], metavar="HOST:PORT",
                   help="listen for Semtech UDP packet forwarders (repeatable), e.g. 0.0.0.0:1700")
    p.add_argument("--http", action="append", default=[], metavar="HOST:PORT",
                   help="webhooks: ChirpStack HTTP integration or TTS webhook POSTs (JSON); 200 once stored")
    p.add_argument("--mqtt", metavar="URL", help="MQTT 5 broker, mqtt://[user@]host:port or mqtts://")
    p.add_argument("--topic", action="append", default=[], help="MQTT topic filter (repeatable)")
    p.add_argument("--share", metavar="GROUP", help="use shared subscriptions $share/GROUP/... to split load")
    p.add_argument("--client-id", help="MQTT client id; fixed per worker so its session survives restarts")
    p.add_argument("--session-expiry", type=int, default=86400, metavar="S",
                   help="how long the broker keeps unacknowledged messages for this worker (default 1 day)")
    p.add_argument("--stdin", action="store_true", help="read frames from standard input until its end")
    p.add_argument("--format", default="auto",
                   choices=("auto", "hex", "base64", "json", "chirpstack", "tts", "rxpk"),
                   help="stdin line format (default: auto)")
    p.add_argument("--health-port", type=int, metavar="N", help="HTTP /health and /metrics on 127.0.0.1:N")
    p.add_argument("--dup-window", type=float, default=120.0, metavar="S",
                   help="the same frame from another gateway within S seconds is a reception, later a replay")
    p.add_argument("--min-tag-len", type=int, choices=(4, 8, 16), default=8, metavar="BYTES",
                   help="refuse frames whose tag is shorter, whatever the node's config says (4, 8, 16; default 8)")
    p.add_argument("--alert", action="append", default=[], metavar="RULE=COUNT[/SECONDS]",
                   help="change an alert threshold, e.g. bad_tag_device=5/600 (see `citynode serve rules`)")
    p.add_argument("--log-json", action="store_true", help="JSON lines on stderr instead of readable lines")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=run)
    ssub = p.add_subparsers(dest="serve_command", metavar="[status|rules]")
    s = ssub.add_parser("status", help="figures from the database: devices, frames, rejects, alerts")
    s.add_argument("--db", default="citynode.db", help="SQLite file or postgresql:// URL")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=status)
    r = ssub.add_parser("rules", help="list the security alert rules and their default thresholds")
    r.set_defaults(func=rules)


def run(args: argparse.Namespace) -> int:
    from citynode.backend.monitor import apply_overrides
    from citynode.backend.serve import ServeConfig, run_serve

    if not args.keys:
        raise CliError("--keys is required", "pass the keystore holding the device secrets")
    try:
        alert_rules = apply_overrides(args.alert)
    except ValueError as err:
        raise CliError(str(err), "see `citynode serve rules`", EXIT_USAGE) from None
    config = ServeConfig(
        db=args.db, keys=args.keys, udp=args.udp, http=args.http, mqtt=args.mqtt, topics=args.topic, share=args.share,
        client_id=args.client_id, session_expiry_s=args.session_expiry, stdin=args.stdin,
        stdin_format=args.format, health_port=args.health_port, log_json=args.log_json,
        log_level=args.log_level, dup_window_s=args.dup_window, rules=alert_rules,
        min_tag_len=args.min_tag_len)
    return run_serve(config)


def status(args: argparse.Namespace) -> int:
    from citynode.backend.store import open_store, safe_url
    from citynode.backend.timeutil import iso

    store = open_store(args.db, migrate_schema=False)
    try:
        figures = store.stats()
    finally:
        store.close()
    if args.json:
        print(json.dumps(figures, indent=1))
        return EXIT_OK
    out = sys.stdout
    out.write(f"database   {safe_url(args.db)}\n")
    out.write(f"devices    {figures['devices']}\n")
    out.write(f"frames     {figures['frames']} (receptions {figures['frame_receptions']})\n")
    out.write(f"readings   {figures['readings']}\n")
    last = figures["last_frame_at"]
    out.write(f"last frame {'-' if last is None else iso(last)}\n")
    out.write(f"rejects    {figures['rejects']}\n")
    for reason, n in figures["rejects_by_reason"].items():
        out.write(f"  {reason:20} {n}\n")
    out.write(f"alerts     {figures['alerts']}\n")
    for alert in figures["recent_alerts"]:
        out.write(f"  {iso(alert['raised_at'])} {alert['message']}\n")
    return EXIT_OK


def rules(args: argparse.Namespace) -> int:
    from citynode.backend.monitor import DEFAULT_RULES

    for r in DEFAULT_RULES:
        print(f"{r.name:24} >= {r.threshold} in {r.window_s:g} s per {r.per}: {', '.join(r.reasons)}")
        print(f"{'':24} {r.why}")
    return EXIT_OK
