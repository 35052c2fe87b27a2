"""Where background virtual boards are registered, so `citynode sim list/stop` work from any shell.

One directory per board under $CITYNODE_SIM_DIR (default ~/.cache/citynode/sim): info.json,
pid, the control socket and the supervisor's log.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any


def run_root() -> Path:
    env = os.environ.get("CITYNODE_SIM_DIR")
    root = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "citynode" / "sim"
    root.mkdir(parents=True, exist_ok=True)
    return root


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_info(run_dir: Path) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = json.loads((run_dir / "info.json").read_text())
    except (OSError, ValueError):
        return None
    info["alive"] = pid_alive(int(info.get("pid", 0)))
    return info


def list_boards() -> list[dict[str, Any]]:
    """Running background boards: name, board, port, pid, state_dir (stale entries are removed)."""
    out = []
    for d in sorted(run_root().iterdir()):
        if not d.is_dir():
            continue
        info = read_info(d)
        if info is None:
            continue
        if not info["alive"]:
            remove(d, info)
            continue
        out.append(info)
    return out


def remove(run_dir: Path, info: dict[str, Any] | None) -> None:
    """Forget a board; its state goes too unless it was given with --state."""
    if info and info.get("own_state") and info.get("state_dir"):
        shutil.rmtree(info["state_dir"], ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)
