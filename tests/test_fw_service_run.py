"""Leaving service mode: RUN (measure on in the same boot) and REBOOT (what provisioning
ends with), after a session as long as a provisioning one.

The virtual-board tests run the real firmware behind the board's serial port and check
what a user relies on: the node's frames reach the radio, verify with its key, never come
from a watchdog reset, and keep coming after the next deep sleep. The quick test runs the
node core on the plain VM with stand-in hardware.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from citynode.protocol import DecodedFrame, MemoryCounterStore, decode
from citynode.service import ServiceClient
from citynode.service.lines import command
from citynode.sim.firmware import scenario, seed
from citynode.sim.testing import needs_sim
from test_fw_node_fakes import SOIL, fake_files, run_fw
from test_fw_node_vboard import DEV, SECRET, SOIL_V3

_PERIOD_S = SOIL_V3["period_s"]
assert isinstance(_PERIOD_S, int)
PERIOD_MS = _PERIOD_S * 1000


def provisioning_session(node: ServiceClient) -> list[int]:
    """What `citynode provision` does and a technician's checks after it; returns the
    counters the test frames used (they are spent: the radio must never repeat them)."""
    node.wake()
    assert node.hello()["provisioned"] is False
    node.set_config({**SOIL_V3, "window_ms": 1000})
    node.set_key(SECRET, device_id=DEV)
    assert node.commit() == ["config", "key"]
    assert node.prove_key(SECRET, DEV)
    used = []
    for _ in range(2):  # the technician looks twice: the session lasts
        tests = node.selftest()
        assert any(s.get("ok") for s in tests["sensors"])
        frame = decode(node.test_frame(), {DEV: SECRET}, MemoryCounterStore())
        used.append(frame.counter)
        assert node.diagnostics()["fcnt_next"] == frame.counter + 1
    assert node.hello()["provisioned"] is True
    return used


def heard(vb: Any) -> list[DecodedFrame]:
    """The frames the board's gateway heard, each verified with the node's key."""
    store = MemoryCounterStore()
    return [decode(bytes.fromhex(p["bytes"]), {DEV: SECRET}, store) for p in vb.radio_packets()]


@pytest.mark.slow
@needs_sim
@pytest.mark.parametrize(("leave", "first_cause", "resets"), [
    ("RUN", "power_on", {"poweron": 1, "deepsleep": 1}),
    ("REBOOT", "soft_reset", {"poweron": 1, "soft": 1, "deepsleep": 1}),
])
def test_leaving_service_mode_after_a_long_session_sends_and_keeps_sending(
        tmp_path: Path, leave: str, first_cause: str, resets: dict[str, int]) -> None:
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3")  # firmware only: provisioned over the serial port below
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        with ServiceClient(vb.port, timeout=10) as node:
            used = provisioning_session(node)
            if leave == "RUN":
                node.run()
            else:
                node.reboot()
        left = vb.control.virtual_ms()
        # The first frame goes out at once, the next one a period later, after a deep sleep.
        vb.control.run_until(left + PERIOD_MS + 60_000)
        frames = heard(vb)
        stats = vb.control.stats()
    assert [f.counter for f in frames] == [max(used) + 1, max(used) + 2]
    assert frames[0].status.reset_cause == first_cause  # the boot that served the session
    assert frames[1].status.reset_cause == "none"  # woke from deep sleep, nothing to report
    assert all("soil_vwc" in f.values() for f in frames)
    # No watchdog reset at any point (the supervisor counts those it forces as wdt_forced);
    # one wake from deep sleep so far: the second sleep is still going on.
    assert stats["resets"] == resets and stats["crashes"] == 0


@pytest.mark.slow
@needs_sim
def test_time_moved_forward_while_the_node_waits_in_service_mode_is_not_a_hang(tmp_path: Path) -> None:
    """A node waiting for the next request feeds its watchdog every second: a minute that
    passes while it waits (twice the 30 s watchdog) must not reset it, and RUN is answered."""
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3", {**SOIL_V3, "window_ms": 1000}, (DEV, SECRET))
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        with ServiceClient(vb.port, timeout=5) as node:
            node.wake()  # provisioned and just powered on: caught in its wake-up window
            assert node.hello()["provisioned"]
            vb.advance(60_000)
            node.run()
        vb.control.run_until(vb.control.virtual_ms() + 60_000)
        frames = heard(vb)
        stats = vb.control.stats()
    assert "wdt" not in stats["resets"] and "wdt_forced" not in stats["resets"]
    assert frames and frames[0].status.reset_cause == "power_on"


RUN_AFTER_COMMIT = r'''
import io
from cn.service import LineIO

class Out:
    def write(self, s):
        pass

node, ms, how = wake(LineIO(io.BytesIO(INPUT), Out(), None))
print("J " + json.dumps({"how": how, "sent": len(lora.packets), "sleep_ms": ms}))
'''


@pytest.mark.parametrize(("duty_pct", "sent"), [(None, 1), (0.05, 0)])
def test_run_measures_with_the_config_committed_last(duty_pct: float | None, sent: int) -> None:
    """A DIAG before a new COMMIT has already built the duty budget from the old config; RUN
    must send under the new one, as a reboot would. At 0.05 % (1.8 s of airtime per hour) the
    worst-case frame a cold boot charges (2.466 s) already exceeds the hour: nothing goes out."""
    second = dict(SOIL, period_s=600)
    if duty_pct is not None:
        second["duty_pct"] = duty_pct
    lines = [
        command(1, "CONFIG", json.dumps(SOIL)),
        command(2, "KEY", f"{DEV:08x}", SECRET.hex()),
        command(3, "COMMIT"),
        command(4, "DIAG"),
        command(5, "CONFIG", json.dumps(second)),
        command(6, "COMMIT"),
        command(7, "RUN"),
    ]
    out = run_fw(RUN_AFTER_COMMIT.replace("INPUT", repr(b"".join(lines))), fake_files(config=None))
    result = json.loads(out.split("J ", 1)[1].splitlines()[0])
    assert result["how"] == "sleep", out  # left service mode and finished a cycle
    assert result["sent"] == sent, out
    assert 500_000 <= result["sleep_ms"] <= 600_000  # the new config's period, not the old one's
