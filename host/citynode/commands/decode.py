"""`citynode decode`: check and decode frames from a file or stdin, one JSON object per line.

Input lines are hex or base64 (auto-detected per line); blank lines and # comments are
skipped. A frame that fails prints {"error": reason, "message": ..., "line": N}; the exit
status is 1 if any frame failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from citynode.errors import EXIT_FAILED, EXIT_OK, CliError
from citynode.inputs import BAD_INPUT, FORMATS, iter_frames
from citynode.keystore import Keystore
from citynode.protocol import CounterStore, FrameError, JsonFileCounterStore, MemoryCounterStore, decode

EPILOG = """examples:
  citynode decode --keys fleet.keys frames.txt
  echo 480000002a0005... | citynode decode --keys fleet.keys -
  citynode decode --keys fleet.keys --counters state.json frames.txt   # remember counters across runs
  citynode decode --keys fleet.keys --csv frames.txt > readings.csv     # one row per reading
  mosquitto_sub -t 'application/+/device/+/event/up' | citynode decode --keys fleet.keys --format chirpstack

Input formats (auto-detected per line): hex, base64, and JSON lines: citynode JSON
({"frame": hex}), ChirpStack v4 uplink events, The Things Stack uplink messages, Semtech
PUSH_DATA rxpk objects. Gateway metadata (gateway, rssi, snr, time) is kept when present.
Without --counters, replays are detected within the run only.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("decode", help="verify and decode frames (hex, base64, ChirpStack, TTS, rxpk) to JSON or CSV",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", default="-", help="file of frames, one per line ('-' = stdin, default)")
    p.add_argument("--keys", required=True, metavar="KEYSTORE", help="keystore file (citynode keys new ...)")
    p.add_argument("--counters", metavar="FILE", type=Path,
                   help="JSON replay state, read and updated (default: in memory for this run)")
    p.add_argument("--format", choices=FORMATS, default="auto", help="input format (default: auto per line)")
    p.add_argument("--csv", action="store_true", help="CSV output, one row per reading (errors as rows too)")
    p.set_defaults(func=cmd_decode)


CSV_COLUMNS = ("line", "device_id", "counter", "time", "profile", "channel", "sample", "offset_s", "value", "unit",
               "gateway", "rssi", "snr", "error", "message")


def decode_records(lines: Iterable[str], keys: dict[int, bytes], counters: CounterStore,
                   fmt: str) -> Iterator[dict[str, Any]]:
    """One JSON-ready record per frame: the decoded frame, or an error with its reason."""
    for item in iter_frames(lines, fmt):
        if item.frame is None:
            yield {"error": BAD_INPUT, "message": item.error, "line": item.line}
            continue
        try:
            frame = decode(item.frame, keys, counters)
        except FrameError as err:
            yield {"error": err.reason, "message": err.message, "line": item.line}
            continue
        obj = frame.to_json()
        obj["line"] = item.line
        # The gateway's reception time when the input carries one, else when it was decoded.
        heard = (item.metadata or {}).get("time")
        when = datetime.fromtimestamp(heard, UTC) if isinstance(heard, int | float) else datetime.now(UTC)
        obj["time"] = when.isoformat(timespec="milliseconds")
        if item.metadata:
            obj["metadata"] = item.metadata
        yield obj


def csv_rows(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "error" in record:
        yield {"line": record["line"], "error": record["error"], "message": record["message"]}
        return
    meta = record.get("metadata") or {}
    base = {"line": record["line"], "device_id": record["device_id"], "counter": record["counter"],
            "time": record["time"], "profile": record["profile"], "gateway": meta.get("gateway"),
            "rssi": meta.get("rssi"), "snr": meta.get("snr")}
    for reading in record["readings"]:
        yield {**base, "channel": reading["channel"], "sample": reading["sample"], "offset_s": reading["offset_s"],
               "value": reading["value"], "unit": reading["unit"]}


def decode_lines(lines: Iterable[str], keys: dict[int, bytes], counters: CounterStore, fmt: str,
                 out: TextIO, as_csv: bool = False) -> int:
    """Decode every frame and print it (JSON lines, or CSV: one row per reading); return how many failed."""
    failed = 0
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS) if as_csv else None
    if writer:
        writer.writeheader()
    for record in decode_records(lines, keys, counters, fmt):
        failed += "error" in record
        if writer:
            writer.writerows(csv_rows(record))
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return failed


def cmd_decode(args: argparse.Namespace) -> int:
    ks = Keystore(args.keys)
    ks.require()
    keys = ks.secrets()
    counters: MemoryCounterStore
    if args.counters:
        try:
            counters = JsonFileCounterStore(args.counters)
        except (OSError, ValueError) as err:
            raise CliError(f"cannot read counter state {args.counters}: {err}",
                           "fix or delete the file (deleting it forgets replay state)") from None
    else:
        counters = MemoryCounterStore()
    try:
        if args.input == "-":
            failed = decode_lines(sys.stdin, keys, counters, args.format, sys.stdout, args.csv)
        else:
            try:
                with open(args.input, encoding="utf-8", errors="replace") as f:
                    failed = decode_lines(f, keys, counters, args.format, sys.stdout, args.csv)
            except FileNotFoundError:
                raise CliError(f"input file {args.input} does not exist", "check the path") from None
            except IsADirectoryError:
                raise CliError(f"{args.input} is a directory", "give one file of frames, or - for stdin") from None
            except PermissionError:
                raise CliError(f"cannot read {args.input}: permission denied", "check the file's mode") from None
    finally:
        if isinstance(counters, JsonFileCounterStore):
            counters.save()
    return EXIT_FAILED if failed else EXIT_OK
