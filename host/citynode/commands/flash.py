"""`citynode flash`: write MicroPython to one board or to every board plugged in, at once."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from citynode import serialports
from citynode.errors import EXIT_DEVICE, EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from citynode.flashing import handoff
from citynode.flashing.boards import BoardFlash, load_board
from citynode.flashing.failures import Failure
from citynode.flashing.image import FirmwareInfo, load_firmware
from citynode.flashing.report import Reporter, print_summary
from citynode.flashing.runner import BoardResult, FlashJob, flash_boards

SAFE_BAUD = 115200
RETRY_KINDS = ("garbled", "board-error")

EPILOG = """\
examples:
  citynode flash --port /dev/ttyUSB0 --board heltec_v2 --firmware ESP32_GENERIC-v1.27.0.bin
  citynode flash --all --board heltec_v3 --firmware ESP32_GENERIC_S3-v1.27.0.bin --erase
  citynode flash --port /dev/ttyUSB0 --port /dev/ttyUSB1 --board lilygo_t3_v1_6_1 \\
      --firmware fw.bin --sha256 1f2e...   (or put fw.bin.sha256 from sha256sum next to fw.bin)
  citynode flash --all --board heltec_v2 --firmware fw.bin --json > results.json

what it does, per board: checks the image (ESP header, segments, checksums, chip, SHA-256)
before touching any board; connects; refuses a chip that does not match the board file;
writes at the board's offset (0x1000 ESP32, 0x0 ESP32-S3); verifies; resets; then runs
'citynode deploy' for the board if installed, or prints that next step (--no-deploy skips).
--all flashes every port that looks like an ESP32 USB bridge (CP210x, CH340, CH9102, FTDI,
ESP32-S3 native USB) in parallel; a failed board does not stop the others.

exit codes: 0 every board flashed; 1 some boards failed (several boards);
  for a single board: 2 wrong input (image, checksum, chip), 3 port or board problem.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "flash",
        help="write MicroPython to ESP32 boards (one, several, or all plugged in)",
        description="Write the MicroPython firmware image to ESP32 boards with esptool, several at once.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", action="append", metavar="PORT", help="serial port (repeat for several boards)")
    where.add_argument("--all", action="store_true", help="every connected ESP32 USB serial port")
    p.add_argument("--board", required=True, metavar="NAME", help="board file name in boards/ (e.g. heltec_v2)")
    p.add_argument("--firmware", required=True, metavar="FILE", help="MicroPython firmware .bin for this board")
    p.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of FILE (default: FILE.sha256 if present)")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first (wipes old files and keys)")
    p.add_argument(
        "--baud",
        type=int,
        default=460800,
        metavar="N",
        help="flashing speed (default 460800; a board that fails is retried once at 115200)",
    )
    p.add_argument("--no-deploy", action="store_true", help="do not run 'citynode deploy' after flashing")
    p.add_argument("--json", action="store_true", help="print machine-readable results instead of the table")
    p.add_argument(
        "--no-stub",
        action="store_true",
        help="talk to the ROM loader only (slower; no --erase); for boards where the stub fails",
    )
    p.add_argument(
        "--no-reset",
        action="store_true",
        help="do not reset into download mode with DTR/RTS: the boards are already in it "
        "(held BOOT, pressed RST). Automatic for virtual boards (ptys)",
    )
    p.add_argument(
        "--connect-attempts", type=int, default=7, metavar="N", help="connection attempts per board (default 7)"
    )
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="boards flashed at the same time (default all)")
    p.add_argument("--verbose", action="store_true", help="show esptool's output for boards that failed")
    p.set_defaults(func=run)


def _ports(args: argparse.Namespace) -> list[str]:
    if args.all:
        found = [p.device for p in serialports.esp_ports()]
        if not found:
            raise CliError(
                "no ESP32 board found on any USB serial port",
                "plug the boards in with data cables (not charge-only), check 'citynode ports', "
                "or name them with --port",
                EXIT_DEVICE,
            )
        return found
    ports: list[str] = []
    seen: dict[str, str] = {}
    for port in args.port:
        real = os.path.realpath(port)
        if real in seen:
            raise CliError(f"{port} is given twice (same device as {seen[real]})", "list each board once")
        seen[real] = port
        ports.append(port)
    return ports


def _job(port: str, board: BoardFlash, info: FirmwareInfo, args: argparse.Namespace) -> FlashJob:
    manual = args.no_reset or serialports.is_pty(port)
    return FlashJob(
        port=port,
        board=board.name,
        chip=board.chip,
        chip_title=board.chip_title,
        offset=board.offset,
        image=str(info.path.resolve()),
        sha256=info.sha256,
        erase=args.erase,
        baud=args.baud,
        stub=not args.no_stub,
        before="no-reset" if manual else "default-reset",
        # a pty has no reset line; a real board is reset so it boots MicroPython for deploy
        after="no-reset" if serialports.is_pty(port) else "hard-reset",
        connect_attempts=args.connect_attempts,
    )


def _retry_slow(results: list[BoardResult], jobs: list[FlashJob], reporter: Reporter) -> list[BoardResult]:
    """Boards that failed with garbled data at high speed get one more try at 115200 baud."""
    retry = [
        (i, job)
        for i, (job, r) in enumerate(zip(jobs, results, strict=True))
        if not r.ok and r.failure and r.failure.kind in RETRY_KINDS and job.baud > SAFE_BAUD
    ]
    if not retry:
        return results
    slow = [dataclasses.replace(job, baud=SAFE_BAUD) for _, job in retry]
    for job in slow:
        reporter.on_event(job.port, {"event": "stage", "stage": "retry"})
    again = flash_boards(slow, reporter.on_event)
    for (i, _job), second in zip(retry, again, strict=True):
        first = results[i]
        if second.ok:
            second.seconds += first.seconds
            results[i] = second
        elif first.failure is not None:
            first.failure = Failure(
                first.failure.kind,
                first.failure.message + f" (failed again at {SAFE_BAUD} baud)",
                "check the USB cable and hub, close any serial monitor on this port, "
                "then flash this board again",
                first.failure.exit_code,
            )
        first.seconds += second.seconds
        first.log += ["--- retry at 115200 ---\n", *second.log]
    return results


def _handoff(results: list[BoardResult], board: str, skip: bool, console: Console | None) -> None:
    """Deploy each flashed board in turn (deploy drives mpremote; one board at a time is safe)."""
    if skip:
        return
    deploy = handoff.find_deploy()
    for r in results:
        if not r.ok:
            continue
        if deploy is None:
            r.next_step = handoff.next_command(r.port, board)
            continue
        if console is not None:
            console.print(f"[{r.port}] deploying citynode firmware...", markup=False)
        r.deploy = handoff.deploy(deploy, r.port, board)


def _exit_code(results: list[BoardResult]) -> int:
    deploy_failed = any(r.deploy is not None and not r.deploy.get("ok") for r in results)
    if all(r.ok for r in results) and not deploy_failed:
        return EXIT_OK
    if len(results) == 1 and not results[0].ok and results[0].failure:
        return results[0].failure.exit_code
    return EXIT_FAILED


def run(args: argparse.Namespace) -> int:
    if args.erase and args.no_stub:
        raise CliError(
            "--erase needs esptool's flasher stub: the ESP32 ROM loader has no erase-flash command",
            "drop --no-stub (the ROM loader still erases the sectors it writes)",
            EXIT_USAGE,
        )
    if args.baud < 9600:
        raise CliError(f"--baud {args.baud} is too low", "use 115200 or more (default 460800)")
    board = load_board(args.board)
    path = Path(args.firmware)
    _data, info = load_firmware(path, board.chip, board.offset, args.sha256)
    ports = _ports(args)
    jobs = [_job(port, board, info, args) for port in ports]

    err = Console(stderr=True, highlight=False)
    if not args.json:
        checked = (
            f"SHA-256 matches {info.sha256_checked}"
            if info.sha256_checked
            else ("no SHA-256 to check against (give --sha256 or FILE.sha256)")
        )
        err.print(
            f"{path.name}: {info.size} bytes, {len(info.images)} ESP images OK, {checked}; "
            f"writing at {board.offset:#x} on {len(ports)} board(s) ({board.title})",
            markup=False,
        )
    with Reporter(ports, console=err, quiet=args.json) as reporter:
        results = flash_boards(jobs, reporter.on_event, args.jobs)
        results = _retry_slow(results, jobs, reporter)
    _handoff(results, board.name, args.no_deploy, None if args.json else err)

    if args.json:
        print(json.dumps(_json_report(results, board, info), indent=2))
    else:
        out = Console(highlight=False)
        if not out.is_terminal:
            out = Console(highlight=False, width=160)  # logs: no wrapping of the table
        print_summary(results, out)
        if args.verbose:
            for r in results:
                if not r.ok:
                    print(f"\n--- esptool output for {r.port} ---", file=sys.stderr)
                    print("".join(r.log), file=sys.stderr)
    return _exit_code(results)


def _json_report(results: list[BoardResult], board: BoardFlash, info: FirmwareInfo) -> dict[str, Any]:
    return {
        "ok": _exit_code(results) == EXIT_OK,
        "board": board.name,
        "chip": board.chip,
        "firmware": {
            "path": str(info.path),
            "size": info.size,
            "sha256": info.sha256,
            "sha256_checked_against": info.sha256_checked,
            "offset": info.offset,
        },
        "boards": [r.to_dict() for r in results],
    }
