"""Run MicroPython code on the official WebAssembly port (under Node), for tests and benches.

This is the batch runner: one program, one fresh VM, stdout back. The virtual board
(citynode.sim) is the interactive, serial-port-shaped sibling.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from citynode.paths import firmware_dir

RUNNER = Path(__file__).with_name("run.mjs")
DEFAULT_HEAP = 112 * 1024


class MicroPythonError(RuntimeError):
    """The program raised on the VM; the message is MicroPython's traceback."""


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node not found on PATH; run 'make setup' (it installs Node if missing)")
    return node


def tree_files(root: Path, prefix: str = "/") -> dict[str, bytes]:
    """Every file under root, keyed by its path on the board (prefix + relative path)."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[prefix + path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def firmware_files() -> dict[str, bytes]:
    """The firmware tree laid out as on a board's filesystem root (boot.py, main.py, cn/...)."""
    return tree_files(firmware_dir())


def run(
    code: str,
    files: Mapping[str, bytes] | None = None,
    *,
    with_firmware: bool = True,
    heap: int = DEFAULT_HEAP,
    timeout: float = 120.0,
) -> str:
    """Run `code` as __main__ on a fresh VM and return what it printed.

    With with_firmware, the firmware tree is on the VM's filesystem as on a board, so
    `import cn.frame` works. Extra `files` are added (or override) by board path.
    """
    all_files = firmware_files() if with_firmware else {}
    all_files.update(files or {})
    job = {
        "heap": heap,
        "code": code,
        "files": {path: base64.b64encode(data).decode() for path, data in all_files.items()},
    }
    proc = subprocess.run(
        [node_binary(), str(RUNNER)],
        input=json.dumps(job).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise MicroPythonError(proc.stderr.decode(errors="replace") or f"node exited {proc.returncode}")
    return proc.stdout.decode(errors="replace")
