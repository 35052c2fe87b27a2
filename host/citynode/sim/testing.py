"""Test helpers for the virtual board: pytest fixtures and the real mpremote CLI.

tests/sim_fixtures.py re-exports the fixtures as a pytest plugin; test modules write
`pytest_plugins = ("sim_fixtures",)` and import the helpers from here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citynode.sim.board import VirtualBoard
from citynode.sim.control import BoardControl

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def sim_available() -> bool:
    return shutil.which("node") is not None


needs_sim = pytest.mark.skipif(not sim_available(), reason="Node is needed for the virtual board")


def mpremote(port: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real mpremote CLI against the port; raises with its output if it fails."""
    proc = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"mpremote {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _params(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    params: dict[str, Any] = dict(getattr(request, "param", None) or {})
    params.setdefault("state_dir", tmp_path / "board")
    return params


@pytest.fixture
def virtual_board(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, BoardControl]]:
    """A powered virtual board: (serial port path, control handle).

    Parametrise with indirect=True to choose: {"board": "heltec_v3", "scenario": {...}, "heap": ...}.
    """
    with VirtualBoard(**_params(request, tmp_path)) as vb:
        yield vb.port, vb.control


@pytest.fixture
def virtual_board_obj(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VirtualBoard]:
    """The VirtualBoard itself (write_file/read_file while powered off, state_dir, run_until...)."""
    with VirtualBoard(**_params(request, tmp_path)) as vb:
        yield vb
