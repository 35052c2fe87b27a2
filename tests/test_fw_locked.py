"""A locked node keeps its REPL shut to anyone with a cable (issue 17): Ctrl-C is a plain byte
once boot.py has read the lock, so the real mpremote can neither interrupt main.py nor reach a
raw REPL, and nothing the node writes on the line carries its secret. The virtual board models
the port's `micropython.kbd_intr(-1)` (Ctrl-C no longer raises KeyboardInterrupt) as the ESP32
port's C code does; an unlocked board keeps Ctrl-C (test_sim_mpremote, deploy tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citynode.protocol import derive_keys
from citynode.sim.firmware import NVS_NAMESPACE, run_free_until, scenario, seed
from citynode.sim.testing import mpremote
from test_fw_node_vboard import DEV, KEY, SECRET, SOIL_V3, decode_packets, needs_vboard

pytestmark = [pytest.mark.slow, needs_vboard]


def test_a_locked_node_gives_no_repl_to_mpremote(tmp_path: Path) -> None:
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3", {**SOIL_V3, "window_ms": 500}, KEY)
    nvs = json.loads((tmp_path / "nvs.json").read_text())
    nvs[NVS_NAMESPACE]["locked"] = {"t": "i32", "v": 1}
    (tmp_path / "nvs.json").write_text(json.dumps(nvs))
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        run_free_until(vb, 30_000)  # booted, measured, sent, asleep
        attempt = mpremote(vb.port, "exec", "import esp32; print('REPL', 6 * 7)", timeout=60, check=False)
        assert attempt.returncode != 0
        assert "REPL 42" not in attempt.stdout
        assert vb.stats()["interrupts"] == 0  # no Ctrl-C ever became a KeyboardInterrupt
        run_free_until(vb, vb.control.virtual_ms() + 20 * 60_000)
        frames, errors = decode_packets(vb.radio_packets())
        console = vb.console_log()
    assert not errors and len(frames) >= 2  # the node kept measuring and sending through the attempt
    keys = derive_keys(SECRET, DEV)
    secrets = [SECRET.hex(), keys.auth.hex(), keys.enc.hex(), keys.prove.hex()]
    assert not any(s in console.lower() for s in secrets)
    assert ">>>" not in console and "raw REPL" not in console
