"""After flashing: hand each board over to `citynode deploy`, or say what to run next.

`citynode deploy` is another command (citynode.deploy.deploy_board(port, board)); when it is
not installed, the technician still gets the exact next command for each board.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from citynode.errors import CliError

DeployFn = Callable[[str, str], Any]


def next_command(port: str, board: str) -> str:
    return f"citynode deploy --port {port} --board {board}"


def find_deploy() -> DeployFn | None:
    """citynode.deploy.deploy_board if that module exists, else None."""
    try:
        if importlib.util.find_spec("citynode.deploy") is None:
            return None
    except (ImportError, ValueError):
        return None
    module = importlib.import_module("citynode.deploy")
    fn = getattr(module, "deploy_board", None)
    return fn if callable(fn) else None


def deploy(fn: DeployFn, port: str, board: str) -> dict[str, Any]:
    """Run the deploy step for one board; a failure is reported, never raised."""
    try:
        fn(port, board)
    except CliError as err:
        return {"ok": False, "message": err.message, "hint": err.hint}
    except Exception as exc:  # noqa: BLE001 - one board's deploy must not stop the others
        return {
            "ok": False,
            "message": f"{type(exc).__name__}: {exc}",
            "hint": f"run it again by hand: {next_command(port, board)}",
        }
    return {"ok": True}
