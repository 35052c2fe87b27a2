"""The real firmware on the virtual board (citynode.sim), the quickest checks, and what the
slower virtual-board tests share: the test key and decoding what the board's gateway heard.
The week-long runs are in test_fw_node_week.py, the service protocol over the board's serial
port in test_fw_service_board.py.

citynode.sim.firmware puts the firmware on the board's flash as `citynode deploy` does and,
to start a long run quickly, writes the node's NVS and config before power-on (`seed`: the
state a node has after provisioning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from citynode.protocol import DecodedFrame, FrameError, MemoryCounterStore, decode
from citynode.sim.firmware import scenario, seed
from citynode.sim.testing import needs_sim

SECRET = bytes.fromhex("8f3a0c5be1d27946a0b3c4d5e6f70812")
DEV = 0x00C17E01
KEY = (DEV, SECRET)


def decode_packets(packets: list[dict[str, Any]], store: MemoryCounterStore | None = None,
                   ) -> tuple[list[DecodedFrame], list[tuple[int, str]]]:
    """Decode every packet the gateway heard; (frames, [(index, error reason)])."""
    store = store or MemoryCounterStore()
    frames: list[DecodedFrame] = []
    errors: list[tuple[int, str]] = []
    for i, p in enumerate(packets):
        try:
            frames.append(decode(bytes.fromhex(p["bytes"]), {DEV: SECRET}, store))
        except FrameError as err:
            errors.append((i, type(err).__name__))
    return frames, errors


needs_vboard = needs_sim

SOIL_V3 = {
    "kind": "soil",
    "period_s": 900,
    "sensors": [{"type": "soil_cap", "dry_mv": 2650, "wet_mv": 1250}, {"type": "seesaw_soil"}],
}


@needs_vboard
def test_first_frame_after_power_on_on_the_virtual_board(tmp_path: Path) -> None:
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3", SOIL_V3, KEY)
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        vb.control.run_until(60_000)  # held there: the next cycle (900 s on) cannot slip in
        packets = vb.radio_packets()
    frames, errors = decode_packets(packets)
    assert not errors and len(frames) == 1
    f = frames[0]
    assert f.counter == 0 and f.long_counter and f.profile == "soil"
    assert f.status.reset_cause == "power_on" and f.status.counter_jump
    values = f.values()
    assert {"battery_v", "soil_vwc", "soil_temp"} <= set(values)
    assert 35 <= values["soil_vwc"] <= 55  # scenario: moisture 0.45 between its dry and wet points
    assert packets[0]["syncword"] == 0x34 and packets[0]["cfg"]["preamble_len"] == 8
