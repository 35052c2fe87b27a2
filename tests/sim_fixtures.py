"""Virtual-board fixtures as a pytest plugin (the code is in citynode.sim.testing).

In a test module:
    pytest_plugins = ("sim_fixtures",)
    from citynode.sim.testing import mpremote, needs_sim

    def test_x(virtual_board):
        port, control = virtual_board            # pty path, citynode.sim.BoardControl
        assert mpremote(port, "exec", "print(1)").stdout.strip() == "1"

    @pytest.mark.parametrize("virtual_board", [{"board": "heltec_v3", "scenario": {...}}], indirect=True)
    def test_y(virtual_board): ...

`virtual_board_obj` yields the VirtualBoard itself (power_cut, write_file, run_until, ...).
"""

from __future__ import annotations

from citynode.sim.testing import MPREMOTE, mpremote, needs_sim, virtual_board, virtual_board_obj

__all__ = ["MPREMOTE", "mpremote", "needs_sim", "virtual_board", "virtual_board_obj"]
