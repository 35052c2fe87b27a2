"""`citynode deploy`: put the firmware on a board that runs MicroPython.

Compiles firmware/ with the mpy-cross matching the board's MicroPython (read from the
board itself), copies it with mpremote (which skips files whose SHA-256 already matches),
removes stale firmware files, writes the board file, installs the radio driver with mip,
and verifies every file by hash.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from citynode.boards import Board, board_path, load_board
from citynode.deploy.build import BuildResult, build_firmware
from citynode.deploy.device import DeviceInfo, mpremote, query
from citynode.errors import EXIT_DEVICE, CliError
from citynode.serialports import check_port

# Board paths that deploy owns: anything else under these is removed as stale.
MANAGED_DIR = "/cn/"
BOARD_FILE = "board.json"


@dataclass
class DeployReport:
    port: str
    board: str
    micropython: str = ""
    arch: str = ""
    files_total: int = 0
    files_sent: int = 0
    bytes_sent: int = 0
    removed: list[str] = field(default_factory=list)
    radio_driver: str = ""
    notes: list[str] = field(default_factory=list)
    verified: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def plan_changes(build: BuildResult, device: DeviceInfo) -> tuple[dict[str, Path], list[str]]:
    """Which built files differ from the board's (to report), and which board files are stale."""
    changed: dict[str, Path] = {}
    for rel, local in build.files.items():
        digest = hashlib.sha256(local.read_bytes()).hexdigest()
        if device.files.get("/" + rel) != digest:
            changed[rel] = local
    wanted = {"/" + rel for rel in build.files}
    stale = sorted(p for p in device.files if p.startswith(MANAGED_DIR) and p not in wanted)
    return changed, stale


def check_compatible(board: Board, device: DeviceInfo, report: DeployReport) -> str | None:
    """The architecture to compile for; refuses a board whose MicroPython cannot load our .mpy."""
    if device.version < (1, 23, 0):
        raise CliError(
            f"the board on {report.port} runs MicroPython {report.micropython}; citynode needs 1.23 or newer",
            hint=f"flash MicroPython {board.micropython_version}: "
            f"citynode flash --port {report.port} --board {board.name} --firmware FILE",
            exit_code=EXIT_DEVICE,
        )
    if device.arch is None:
        report.notes.append("board reports no native architecture (virtual board): bytecode-only .mpy")
    elif device.arch != board.arch:
        raise CliError(
            f"the board on {report.port} is {device.arch}, but board file {board.name} says {board.arch}",
            hint="pick the board file that matches this hardware (citynode deploy --board ...)",
            exit_code=EXIT_DEVICE,
        )
    return device.arch


def on_filesystem(path: str, device: DeviceInfo) -> bool:
    """A module file or package directory that lives on the board's user filesystem (not frozen)."""
    prefix = path.rstrip("/") + "/"
    return any(p == path or p.startswith(prefix) for p in device.files)


def install_radio_driver(port: str, board: Board, device: DeviceInfo, mip_index: str | None,
                         report: DeployReport) -> str:
    """micropython-lib's LoRa driver for the board's radio, with mip (mpremote mip install)."""
    if device.lora is not None and not on_filesystem(device.lora, device):
        return "built into the firmware image (frozen): not installed"
    args = ["mip", "install"]
    if mip_index:
        args += ["--index", mip_index]
    args += ["lora-sync", board.radio_package]
    try:
        out = mpremote(port, *args)
    except CliError as err:
        where = mip_index or "micropython.org"
        if device.lora is None:
            raise CliError(
                f"could not install the radio driver {board.radio_package} from {where}: {err.message}",
                hint="connect to the internet, or give --mip-index DIR with a local mirror of the mip index "
                "(or --no-radio-driver to skip)",
                exit_code=err.exit_code,
            ) from None
        report.notes.append(f"radio driver not updated ({where} unreachable); the installed one is kept")
        return f"{board.radio_package} (kept: {device.lora})"
    installed = sum(1 for line in out.splitlines() if line.startswith("Installing:"))
    return f"{board.radio_package} ({'up to date' if installed == 0 else f'{installed} files installed'})"


def deploy_board(
    port: str,
    board_name: str,
    *,
    mip_index: str | None = None,
    radio_driver: bool = True,
    reset: bool = True,
) -> DeployReport:
    started = time.monotonic()
    board = load_board(board_name)
    report = DeployReport(port=port, board=board.name)
    check_port(port)  # missing, busy or forbidden port: one clear message before mpremote runs
    device = query(port)
    report.micropython = ".".join(map(str, device.version))
    arch = check_compatible(board, device, report)
    report.arch = arch or "bytecode"

    with tempfile.TemporaryDirectory(prefix="citynode-deploy-") as tmp:
        build = build_firmware(device.version, arch, Path(tmp))
        _copy_and_verify(port, board, device, build, report, mip_index=mip_index, radio_driver=radio_driver)
    if reset:
        mpremote(port, "reset")  # a chip reset: boot.py then main.py run, as after power-on
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _copy_and_verify(
    port: str, board: Board, device: DeviceInfo, build: BuildResult, report: DeployReport,
    *, mip_index: str | None, radio_driver: bool,
) -> None:
    (build.root / BOARD_FILE).write_bytes(board_path(board.name).read_bytes())
    build.files[BOARD_FILE] = build.root / BOARD_FILE
    report.notes.extend(build.skipped)
    changed, stale = plan_changes(build, device)
    report.files_total = len(build.files)
    report.files_sent = len(changed)
    report.bytes_sent = sum(path.stat().st_size for path in changed.values())
    report.removed = stale

    commands: list[str] = []
    for path in stale:
        commands += ["fs", "rm", ":" + path, "+"]
    top_files = sorted(str(build.root / rel) for rel in build.files if "/" not in rel)
    commands += ["fs", "cp", *top_files, ":", "+"]
    if (build.root / "cn").is_dir():
        commands += ["fs", "cp", "-r", str(build.root / "cn"), ":", "+"]
    mpremote(port, *commands[:-1])

    if radio_driver:
        report.radio_driver = install_radio_driver(port, board, device, mip_index, report)
    else:
        report.radio_driver = "skipped (--no-radio-driver)"

    after = query(port)
    expected = {"/" + rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in build.files.items()}
    mismatched = sorted(p for p, digest in expected.items() if after.files.get(p) != digest)
    if mismatched:
        raise CliError(
            f"verification failed on {port}: {len(mismatched)} file(s) differ after copying "
            f"({', '.join(mismatched[:3])})",
            hint="the board's filesystem may be full or failing: run 'citynode deploy' again, or erase and re-flash",
            exit_code=EXIT_DEVICE,
        )
    report.verified = True
