"""Start and stop a virtual board: a pty, a Node supervisor, the MicroPython VM behind it.

The pty is created here (Python has termios; Node has not) and both ends are handed to the
supervisor, which keeps the slave end open so the port stays valid between clients, as a
USB-serial adapter does.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import tty
from pathlib import Path
from types import TracebackType
from typing import Any

from citynode.boards import board_path, load_board
from citynode.errors import EXIT_DEVICE, CliError
from citynode.paths import boards_dir
from citynode.sim.control import BoardControl, ControlClient
from citynode.sim.shims import compiled_shims
from citynode.vm import node_binary

SIM_DIR = Path(__file__).resolve().parent
SUPERVISOR = SIM_DIR / "supervisor.mjs"
DEFAULT_HEAP = 112 * 1024
START_TIMEOUT_S = 30.0


def board_file(name: str) -> Path:
    """The board file for `name`; an unknown name gets the same message as every command."""
    load_board(name)
    return board_path(name)


def load_scenario(scenario: str | os.PathLike[str] | dict[str, Any] | None) -> dict[str, Any] | None:
    if scenario is None or isinstance(scenario, dict):
        return scenario
    path = Path(scenario)
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"scenario file {path} not found", "give the path of a scenario JSON file") from None
    except json.JSONDecodeError as err:
        raise CliError(f"scenario file {path} is not valid JSON ({err})", "fix the file") from None
    return data


def _socket_path(run_dir: Path) -> str:
    path = str(run_dir / "control.sock")
    if len(path) < 100:
        return path
    return os.path.join(tempfile.gettempdir(), f"cnsim-{os.getpid()}-{os.urandom(4).hex()}.sock")


class VirtualBoard:
    """An ESP32 running MicroPython 1.27 behind a pty, with a control handle.

    Use as a context manager. `port` is the serial device for mpremote/pyserial;
    `control` (also reachable as methods on this object) moves virtual time, cuts power,
    presses reset, drains radio packets, and reports heap use and stats.
    """

    def __init__(
        self,
        board: str = "heltec_v2",
        scenario: str | os.PathLike[str] | dict[str, Any] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        heap: int = DEFAULT_HEAP,
        *,
        pace: str = "fast",
        rx_grace_ms: int = 2000,
        name: str | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        standin_hardware: bool = False,
        detach: bool = False,
        without: tuple[str, ...] = (),
        gc_every_bytes: int = 2048,
    ) -> None:
        if pace not in ("fast", "realtime"):
            raise CliError(f"unknown pace {pace!r}", "use 'fast' or 'realtime'")
        if heap < 16 * 1024:
            raise CliError(f"heap of {heap} bytes is too small to boot MicroPython", "give at least 16384")
        self.board = board
        self.board_path = board_file(board)
        self.scenario = load_scenario(scenario)
        self._own_state = state_dir is None
        self._own_run = run_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="cnsim-state-"))
        self.run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="cnsim-run-"))
        self.heap = heap
        self.pace = pace
        self.rx_grace_ms = rx_grace_ms
        self.name = name or board
        self.standin_hardware = standin_hardware
        self.detach = detach
        self.without = tuple(without)  # board modules left out, e.g. ("lora",) to install the driver with mip
        self.gc_every_bytes = gc_every_bytes  # collect at a safe point once this much was allocated (0: every one)
        self.port = ""
        self.pid = 0
        self.socket_path = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: BoardControl | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> VirtualBoard:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        shim_dir = compiled_shims()
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.port = os.ttyname(slave)
            self.socket_path = _socket_path(self.run_dir)
            cfg = {
                "name": self.name,
                "boardFile": str(self.board_path),
                "scenario": self.scenario,
                "stateDir": str(self.state_dir),
                "heap": self.heap,
                "gcEveryBytes": self.gc_every_bytes,
                "heapTrace": bool(os.environ.get("CITYNODE_SIM_HEAP_TRACE")),
                "pace": self.pace,
                "rxGraceMs": self.rx_grace_ms,
                "masterFd": master,
                "slaveFd": slave,
                "slavePath": self.port,
                "socketPath": self.socket_path,
                "without": list(self.without),
                "standinHardware": self.standin_hardware,
                "shimDir": str(shim_dir) if shim_dir else None,
                "parentPid": 0 if self.detach else os.getpid(),
            }
            cfg_path = self.run_dir / "config.json"
            cfg_path.write_text(json.dumps(cfg))
            log = open(self.run_dir / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
            env = dict(os.environ)
            env.setdefault("CITYNODE_ROOT", str(boards_dir().parent))
            try:
                self._proc = subprocess.Popen(
                    [node_binary(), "--no-warnings", str(SUPERVISOR), str(cfg_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    pass_fds=(master, slave),
                    start_new_session=True,
                    env=env,
                )
            finally:
                log.close()
            self.pid = self._proc.pid
            self._wait_ready()
        finally:
            os.close(master)
            os.close(slave)
        link = self.state_dir / "port"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.port)
        (self.run_dir / "pid").write_text(str(self.pid))
        self._control = BoardControl(ControlClient(self.socket_path))
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        buf = b""
        fd = self._proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self._proc.poll() is not None:
                self._kill()
                log = (self.run_dir / "supervisor.log").read_text(errors="replace")
                errors = [ln.split("Error: ", 1)[1] for ln in log.splitlines() if "Error: " in ln]
                if errors:
                    raise CliError(f"the virtual board did not start: {errors[-1]}",
                                   "fix the scenario (or board file) it names", EXIT_DEVICE)
                raise CliError(
                    "the virtual board did not start" + (f": {log[-1500:].strip()}" if log.strip() else ""),
                    "run 'make setup' (Node and the MicroPython WebAssembly port are needed)",
                    EXIT_DEVICE,
                )
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                buf += chunk
        self._proc.stdout.close()
        info = json.loads(buf.split(b"\n", 1)[0])
        if not info.get("ready"):
            self._kill()
            why = info.get("error") or "it did not boot"
            raise CliError(f"the virtual board failed to start: {why}",
                           "check the scenario file; the supervisor log is in the run directory", EXIT_DEVICE)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=5)

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()
            self._control = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
            self._proc = None
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if self._own_run:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ control
    @property
    def control(self) -> BoardControl:
        if self._control is None:
            raise CliError("the virtual board is not running", "start it first (use it as a context manager)")
        return self._control

    def advance(self, ms: float) -> int:
        return self.control.advance(ms)

    def power_cut(self) -> None:
        self.control.power_cut()

    def power_on(self) -> None:
        self.control.power_on()

    def press_reset(self) -> None:
        self.control.press_reset()

    def radio_packets(self) -> list[dict[str, Any]]:
        return self.control.radio_packets()

    def set_scenario(self, scenario: dict[str, Any] | None) -> None:
        self.control.set_scenario(scenario)

    def peak_heap(self) -> int:
        return self.control.peak_heap()

    def live_heap_peak(self) -> int:
        return self.control.live_heap_peak()

    def stats(self) -> dict[str, Any]:
        return self.control.stats()

    def console_log(self, since: int = 0) -> str:
        return self.control.console_log(since)

    # ------------------------------------------------------------------ flash image (board powered off)
    def _flash_path(self, path: str) -> Path:
        rel = path.lstrip("/")
        if not rel or ".." in Path(rel).parts:
            raise CliError(f"bad path on the board: {path!r}", "use a path like /main.py or lib/x.py")
        return self.state_dir / "flash" / rel

    def write_file(self, path: str, data: bytes | str) -> None:
        """Put a file on the board's flash, as flashing a filesystem image would.

        Only while the board is off (power_cut() first) or before start(): a running VM
        has its own view of the flash.
        """
        if self._control is not None and self._control.status()["powered"]:
            raise CliError("the virtual board is powered", "call power_cut() first, then power_on()")
        dst = self._flash_path(path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data.encode() if isinstance(data, str) else data)

    def read_file(self, path: str) -> bytes | None:
        """A file's durable contents on the board's flash (None if absent)."""
        p = self._flash_path(path)
        return p.read_bytes() if p.is_file() else None
