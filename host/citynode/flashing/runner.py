"""Flash many boards at once: one worker process per board, events fed back to the caller.

A failed board never stops the others. Each worker's events (stage, chip, progress, result)
arrive through `on_event(port, event)` from reader threads, so a display can draw one
progress bar per board; the final `BoardResult`s carry what the summary table shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from citynode import serialports
from citynode.errors import CliError

from .failures import Failure, port_failure

EventSink = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class FlashJob:
    port: str
    board: str
    chip: str
    chip_title: str
    offset: int
    image: str
    sha256: str
    erase: bool = False
    baud: int = 460800
    stub: bool = True
    before: str = "default-reset"
    after: str = "hard-reset"
    connect_attempts: int = 7

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


@dataclass
class BoardResult:
    port: str
    ok: bool = False
    chip: str | None = None
    description: str | None = None
    mac: str | None = None
    stage: str = "waiting"
    percent: float | None = None
    seconds: float = 0.0
    failure: Failure | None = None
    log: list[str] = field(default_factory=list)
    next_step: str | None = None
    deploy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "ok": self.ok,
            "chip": self.chip,
            "chip_description": self.description,
            "mac": self.mac,
            "seconds": round(self.seconds, 2),
            "stage": self.stage,
            "error": self.failure.to_dict() if self.failure else None,
            "next": self.next_step,
            "deploy": self.deploy,
        }


def _apply(result: BoardResult, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "stage":
        result.stage = str(event["stage"])
    elif kind == "chip":
        result.chip = str(event["chip"])
        result.description = str(event.get("description") or "")
        result.mac = str(event.get("mac") or "") or None
    elif kind == "progress":
        total = int(event.get("total") or 0)
        result.percent = 100.0 * int(event["done"]) / total if total else None
    elif kind == "result":
        result.ok = bool(event.get("ok"))
        failure = event.get("failure")
        if failure:
            result.failure = Failure(**failure)


_live: set[subprocess.Popen[str]] = set()
_live_lock = threading.Lock()


def flash_board(job: FlashJob, on_event: EventSink, timeout: float = 900.0) -> BoardResult:
    """Flash one board in a worker process; never raises for a board problem."""
    result = BoardResult(port=job.port)
    start = time.monotonic()

    def emit(event: dict[str, Any]) -> None:
        _apply(result, event)
        on_event(job.port, event)

    try:
        serialports.check_port(job.port)
    except CliError as err:
        result.failure = port_failure(err)
        emit({"event": "result", "ok": False, "failure": result.failure.to_dict()})
        result.seconds = time.monotonic() - start
        return result

    proc = subprocess.Popen(
        [sys.executable, "-m", "citynode.flashing.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    with _live_lock:
        _live.add(proc)
    stderr_reader = threading.Thread(target=lambda: result.log.extend(proc.stderr or []), daemon=True)
    stderr_reader.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    got_result = False
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(job.to_json())
        proc.stdin.close()
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                result.log.append(line)
                continue
            got_result = got_result or event.get("event") == "result"
            emit(event)
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        stderr_reader.join(timeout=5)
        with _live_lock:
            _live.discard(proc)
    if not got_result:
        timed_out = time.monotonic() - start >= timeout
        message = (
            f"flashing took longer than {timeout:.0f} s and was stopped"
            if timed_out
            else f"the flashing process for this board stopped unexpectedly (exit code {code})"
        )
        failure = Failure("internal", message, "run again with --verbose to see esptool's output")
        emit({"event": "result", "ok": False, "failure": failure.to_dict()})
    result.seconds = time.monotonic() - start
    return result


def flash_boards(jobs: list[FlashJob], on_event: EventSink, parallel: int | None = None) -> list[BoardResult]:
    """Flash every job concurrently (at most `parallel` at a time); results in job order."""
    if not jobs:
        return []
    workers = max(1, min(parallel or len(jobs), len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flash") as pool:
        futures = [pool.submit(flash_board, job, on_event) for job in jobs]
        try:
            return [f.result() for f in futures]
        except BaseException:  # Ctrl-C: stop every board now rather than wait for them
            for f in futures:
                f.cancel()
            with _live_lock:
                for proc in _live:
                    proc.kill()
            raise
