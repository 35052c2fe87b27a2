"""Show flashing as it happens (one progress bar per board) and the result table at the end.

On a terminal: rich progress bars on stderr. Elsewhere (CI logs, pipes): one plain line per
stage change, so a log file stays readable. The table goes to stdout; --json replaces it.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .runner import BoardResult

STAGE_STATUS = {
    "connect": "connecting",
    "identify": "reading chip",
    "stub": "starting stub",
    "baud": "changing speed",
    "attach": "attaching flash",
    "erase": "erasing",
    "write": "writing",
    "verify": "verifying",
    "reset": "resetting",
    "retry": "retrying at 115200 baud",
}


class Reporter:
    """Receives worker events (from several threads) and draws them."""

    def __init__(self, ports: list[str], console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self._lock = threading.Lock()
        self._chips: dict[str, str] = {}
        self._last: dict[str, str] = {}
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        if self.live:
            self._progress = Progress(
                TextColumn("{task.fields[port]}", style="bold"),
                TextColumn("{task.fields[chip]}"),
                BarColumn(bar_width=30),
                TaskProgressColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            for port in ports:
                self._tasks[port] = self._progress.add_task("", total=100, port=port, chip="", status="waiting")

    def __enter__(self) -> Reporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_event(self, port: str, event: dict[str, Any]) -> None:
        with self._lock:
            if self._progress is not None:
                self._live_event(port, event)
            elif not self.quiet:
                self._plain_event(port, event)

    def _status(self, event: dict[str, Any]) -> str | None:
        kind = event.get("event")
        if kind == "stage":
            return STAGE_STATUS.get(str(event["stage"]))
        if kind == "result":
            if event.get("ok"):
                return "done"
            failure = event.get("failure") or {}
            return f"FAILED: {failure.get('message', '')}"
        return None

    def _live_event(self, port: str, event: dict[str, Any]) -> None:
        assert self._progress is not None
        task = self._tasks[port]
        kind = event.get("event")
        if kind == "stage" and event.get("stage") == "retry":
            self._progress.reset(task)  # a second run for this board: bar and clock restart
        if kind == "chip":
            self._progress.update(task, chip=f"{event['title']} {event['mac']}")
        elif kind == "progress" and event.get("total"):
            self._progress.update(task, completed=100.0 * event["done"] / event["total"])
        status = self._status(event)
        if status:
            style = "green" if status == "done" else "red" if status.startswith("FAILED") else ""
            self._progress.update(task, status=f"[{style}]{status}[/]" if style else status)
        if kind == "result":
            if event.get("ok"):
                self._progress.update(task, completed=100)
            self._progress.stop_task(task)

    def _plain_event(self, port: str, event: dict[str, Any]) -> None:
        kind = event.get("event")
        line = None
        if kind == "chip":
            line = f"{event['description']}, MAC {event['mac']}"
        elif kind == "progress" and event.get("total"):
            step = int(4 * event["done"] / event["total"])  # report each quarter
            key = f"progress{step}"
            if step and self._last.get(port) != key:
                self._last[port] = key
                line = f"writing {25 * step}%"
        else:
            line = self._status(event)
        if line:
            print(f"[{port}] {line}", file=sys.stderr, flush=True)


SHORT = {
    "wrong-chip": "wrong chip",
    "not-answering": "not in download mode",
    "connection-lost": "connection lost",
    "garbled": "garbled data",
    "port-busy": "port busy",
    "port-permission": "no permission",
    "port-missing": "no such port",
    "verify-failed": "verify failed",
    "board-error": "board error",
}


def short_result(r: BoardResult) -> str:
    if r.ok:
        if r.deploy is None:
            return "[green]ok[/]"
        return "[green]ok, deployed[/]" if r.deploy.get("ok") else "[yellow]flashed, deploy failed[/]"
    kind = r.failure.kind if r.failure else "failed"
    return f"[red]FAILED[/]: {SHORT.get(kind, kind.replace('-', ' '))}"


def result_table(results: list[BoardResult]) -> Table:
    table = Table(title=None, show_lines=False)
    for column in ("port", "chip", "MAC", "result", "time"):
        table.add_column(column, justify="right" if column == "time" else "left")
    for r in results:
        chip = r.description or (r.chip or "-")
        table.add_row(r.port, chip, r.mac or "-", short_result(r), f"{r.seconds:.1f} s")
    return table


def print_summary(results: list[BoardResult], console: Console) -> None:
    console.print(result_table(results))
    for r in results:
        if not r.ok and r.failure:
            console.print(f"{r.port}: {r.failure.message}", markup=False)
            console.print(f"  what to do: {r.failure.hint}", markup=False)
        elif r.deploy is not None and not r.deploy.get("ok"):
            console.print(f"{r.port}: deploy failed: {r.deploy.get('message', '')}", markup=False)
            if r.deploy.get("hint"):
                console.print(f"  what to do: {r.deploy['hint']}", markup=False)
    ok = sum(r.ok for r in results)
    console.print(f"{ok} of {len(results)} board(s) flashed.", markup=False)
    steps = [r.next_step for r in results if r.ok and r.next_step]
    for step in steps:
        console.print(f"next: {step}", markup=False)
