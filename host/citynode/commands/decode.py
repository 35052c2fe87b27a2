"""`citynode decode`: check and decode frames from a file or stdin, one JSON object per line.

Input lines are hex or base64 (auto-detected per line); blank lines and # comments are
skipped. A frame that fails prints {"error": reason, "message": ..., "line": N}; the exit
status is 1 if any frame failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from citynode.errors import EXIT_FAILED, EXIT_OK, CliError
from citynode.inputs import BAD_INPUT, FORMATS, iter_frames
from citynode.keystore import Keystore
from citynode.protocol import CounterStore, FrameError, JsonFileCounterStore, MemoryCounterStore, decode

EPILOG = """examples:
  citynode decode --keys fleet.keys frames.txt
  echo 480000002a0005... | citynode decode --keys fleet.keys -
  citynode decode --keys fleet.keys --counters state.json frames.txt   # remember counters across runs

Without --counters, replays are detected within the run only.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("decode", help="verify and decode frames (hex or base64 lines) to JSON",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", default="-", help="file of frames, one per line ('-' = stdin, default)")
    p.add_argument("--keys", required=True, metavar="KEYSTORE", help="keystore file (citynode keys new ...)")
    p.add_argument("--counters", metavar="FILE", type=Path,
                   help="JSON replay state, read and updated (default: in memory for this run)")
    p.add_argument("--format", choices=FORMATS, default="auto", help="input format (default: auto per line)")
    p.set_defaults(func=cmd_decode)


def decode_lines(lines: Iterable[str], keys: dict[int, bytes], counters: CounterStore, fmt: str,
                 out: TextIO) -> int:
    """Decode every frame, print one JSON object each; return how many failed."""
    failed = 0
    for item in iter_frames(lines, fmt):
        if item.frame is None:
            failed += 1
            out.write(json.dumps({"error": BAD_INPUT, "message": item.error, "line": item.line}) + "\n")
            continue
        try:
            frame = decode(item.frame, keys, counters)
        except FrameError as err:
            failed += 1
            out.write(json.dumps({"error": err.reason, "message": err.message, "line": item.line}) + "\n")
            continue
        obj = frame.to_json()
        obj["line"] = item.line
        if item.metadata:
            obj["metadata"] = item.metadata
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
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
            failed = decode_lines(sys.stdin, keys, counters, args.format, sys.stdout)
        else:
            try:
                with open(args.input, encoding="utf-8", errors="replace") as f:
                    failed = decode_lines(f, keys, counters, args.format, sys.stdout)
            except FileNotFoundError:
                raise CliError(f"input file {args.input} does not exist", "check the path") from None
    finally:
        if isinstance(counters, JsonFileCounterStore):
            counters.save()
    return EXIT_FAILED if failed else EXIT_OK
