"""The virtual board: an ESP32 running MicroPython 1.27 (the real VM, WebAssembly port)
behind a pty that mpremote, pyserial and citynode's tools cannot tell from a board.

`VirtualBoard` starts one (context manager); `BoardControl` moves virtual time, cuts power,
presses reset and drains the radio log. `citynode sim` is the command-line face.
"""

from __future__ import annotations

from citynode.sim.board import DEFAULT_HEAP, VirtualBoard
from citynode.sim.control import BoardControl, ControlClient, ControlError
from citynode.sim.rundir import list_boards

__all__ = ["DEFAULT_HEAP", "BoardControl", "ControlClient", "ControlError", "VirtualBoard", "list_boards"]
