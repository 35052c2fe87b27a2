"""Flash one board, in a process of its own: `python -m citynode.flashing.worker < job.json`.

Why a process per board: esptool 5's logger is a process-wide singleton (esptool.logger.log)
and its config and stub-selection state are module globals, so two boards flashed from
threads of one process would mix their output and progress. A process per board gives each
its own esptool, its own output, and a crash that stays with that board.

The job arrives as JSON on stdin. Events go out as JSON lines on the original stdout:
  {"event": "stage", "stage": "connect"}
  {"event": "chip", "chip": "esp32", "title": "ESP32", "description": "...", "mac": "24:0a:..."}
  {"event": "progress", "done": 4096, "total": 65536}
  {"event": "result", "ok": true} / {"event": "result", "ok": false, "failure": {...}}
Everything esptool prints goes to stderr, which the parent keeps as the board's log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from typing import Any, TextIO

from citynode.errors import CliError

from .boards import CHIP_NAMES
from .failures import Failure, classify, wrong_chip

ROM_BAUD = 115200
READ_TIMEOUT = 3.0  # seconds, esptool's DEFAULT_TIMEOUT


class _Events:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.stage = "open"
        self.percent: float | None = None
        self.serial_error: str | None = None

    def emit(self, event: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()

    def set_stage(self, stage: str) -> None:
        self.stage = stage
        self.emit("stage", stage=stage)


def _install_logger(events: _Events) -> None:
    """Route esptool's log to stderr, and its progress bar to progress events."""
    from esptool.logger import EsptoolLogger, log

    # A subclass, switched in the way esptool's own set_logger() does (by __class__): methods
    # bound to the old logger before the switch (esptool's reset warning) keep working.
    class BoardLogger(EsptoolLogger):
        def print(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("file", None)
            print(*args, file=sys.stderr, **kwargs)

        def note(self, message: str) -> None:
            print(f"Note: {message}", file=sys.stderr)

        def warning(self, message: str) -> None:
            print(f"Warning: {message}", file=sys.stderr)

        def error(self, message: str) -> None:
            print(message, file=sys.stderr)

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(
            self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "", bar_length: int = 30
        ) -> None:
            if events.stage == "write" and total_iters:
                events.percent = 100.0 * cur_iter / total_iters
                events.emit("progress", done=cur_iter, total=total_iters)
                if cur_iter >= total_iters:
                    events.set_stage("verify")

        def set_verbosity(self, verbosity: str) -> None:
            pass

    log.__class__ = BoardLogger


def _record_serial_errors(events: _Events) -> None:
    """Remember why esptool's SLIP reader died.

    When the reader hits garbage it raises FatalError once, and every later read on the dead
    generator is a bare StopIteration; without the first message a noisy line would look
    like a pulled cable.
    """
    import esptool.loader as loader

    original = loader.slip_reader

    def recording_reader(port: Any, trace: Any) -> Any:
        try:
            yield from original(port, trace)
        except Exception as exc:
            events.serial_error = str(exc)
            raise

    loader.slip_reader = recording_reader


def flash(job: dict[str, Any], events: _Events) -> None:
    """Connect, check the chip, (erase), write, verify, reset. Raises on failure."""
    from esptool.cmds import attach_flash, detect_chip, erase_flash, reset_chip, run_stub, write_flash
    from esptool.util import NotImplementedInROMError

    port = job["port"]
    with open(job["image"], "rb") as f:
        image = f.read()
    if hashlib.sha256(image).hexdigest() != job["sha256"]:
        raise CliError("the firmware file changed after it was checked", "run the command again")

    events.set_stage("connect")
    esp = detect_chip(port, ROM_BAUD, job["before"], False, job["connect_attempts"])
    # esptool leaves the port without a read timeout outside its commands: a stub that never
    # says hello would block forever. Bound every bare read.
    esp._port.timeout = READ_TIMEOUT
    try:
        events.set_stage("identify")
        chip = CHIP_NAMES.get(esp.CHIP_NAME, esp.CHIP_NAME.lower())
        mac = ":".join(f"{b:02x}" for b in esp.read_mac())
        description = esp.get_chip_description()
        events.emit("chip", chip=chip, title=esp.CHIP_NAME, description=description, mac=mac)
        if chip != job["chip"]:
            found = wrong_chip(esp.CHIP_NAME, job["chip_title"], job["board"])
            events.emit("result", ok=False, failure=found.to_dict())
            return
        if job["stub"]:
            events.set_stage("stub")
            esp = run_stub(esp)
        if job["baud"] > ROM_BAUD:
            events.set_stage("baud")
            try:
                esp.change_baud(job["baud"])
            except NotImplementedInROMError:
                print(f"Warning: cannot change speed with this loader, staying at {ROM_BAUD}", file=sys.stderr)
        events.set_stage("attach")
        attach_flash(esp)
        if job["erase"]:
            events.set_stage("erase")
            erase_flash(esp)
        events.set_stage("write")
        write_flash(esp, [(job["offset"], image)], flash_size="keep")
        events.set_stage("reset")
        reset_chip(esp, job["after"])
        events.emit("result", ok=True)
    finally:
        with contextlib.suppress(Exception):  # the port may already be gone with the cable
            esp._port.close()


def main() -> int:
    events = _Events(os.fdopen(os.dup(1), "w", buffering=1))
    os.dup2(2, 1)  # stray prints to stdout join the board's log, never the event stream
    job = json.loads(sys.stdin.read())
    _install_logger(events)
    _record_serial_errors(events)
    try:
        flash(job, events)
    except CliError as err:
        events.emit("result", ok=False, failure=Failure("input", err.message, err.hint, err.exit_code).to_dict())
    except KeyboardInterrupt:
        events.emit("result", ok=False, failure=Failure("interrupted", "interrupted", "run again").to_dict())
        return 130
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a message for this board
        import traceback

        traceback.print_exc(file=sys.stderr)  # to the board's log only (--verbose)
        failure = classify(exc, events.stage, events.percent, job["port"], events.serial_error)
        events.emit("result", ok=False, failure=failure.to_dict())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
