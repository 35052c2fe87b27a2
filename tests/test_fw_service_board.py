"""The service protocol end to end: the host ServiceClient over the virtual board's serial
port, talking to the real firmware (provisioning, proofs, test frame, lock, bad input)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from citynode.protocol import MemoryCounterStore, decode
from citynode.service import ServiceClient, ServiceError, probe
from citynode.sim.firmware import run_free_until, scenario, seed
from test_fw_node_vboard import DEV, KEY, SECRET, SOIL_V3, decode_packets, needs_vboard

pytestmark = [pytest.mark.slow, needs_vboard]


def test_provision_prove_and_run_over_serial(tmp_path: Path) -> None:
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3")  # flashed and deployed, not provisioned
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        info = probe(vb.port, timeout=10)
        assert info is not None and info["provisioned"] is False and info["board"] == "heltec_v3"
        with ServiceClient(vb.port, timeout=10) as node:
            node.wake()
            node.set_config({**SOIL_V3, "window_ms": 1000})
            node.set_key(SECRET, device_id=DEV)
            assert node.commit() == ["config", "key"]
            assert node.prove_key(SECRET, DEV)
            assert not node.prove_key(bytes(16), DEV)
            frame = decode(node.test_frame(), {DEV: SECRET}, MemoryCounterStore())
            assert frame.counter == 0 and "soil_vwc" in frame.values()
            diag = node.diagnostics()
            assert diag["fcnt_next"] == 1
            node.lock()
            with pytest.raises(ServiceError) as err:
                node.set_key(bytes(range(16)))
            assert err.value.code == "LOCKED"
            hello = node.hello()
            assert hello["locked"] and hello["provisioned"]
            text = str(hello) + str(diag)
            assert SECRET.hex() not in text
            node.reboot()
        start = vb.control.virtual_ms()
        run_free_until(vb, start + 5 * 60_000)
        frames, errors = decode_packets(vb.radio_packets())
    assert not errors and frames
    assert frames[0].counter >= 1  # the test frame's counter is never sent again


def test_service_window_after_reset_and_rekey_with_proof(tmp_path: Path) -> None:
    from citynode.sim import VirtualBoard

    seed(tmp_path, "heltec_v3", {**SOIL_V3, "window_ms": 2000}, KEY)
    new_secret = bytes(range(40, 56))
    with VirtualBoard(board="heltec_v3", scenario=scenario("soil_week.json"), state_dir=tmp_path) as vb:
        run_free_until(vb, 30_000)  # first frame sent, asleep
        with ServiceClient(vb.port, timeout=10) as node:
            # as at the bench: keep calling while the board is reset; it listens for 2 s
            waker = threading.Thread(target=node.wake, kwargs={"timeout": 15})
            waker.start()
            time.sleep(0.5)
            vb.press_reset()
            waker.join()
            assert node.hello()["provisioned"]
            node.lock()
            with pytest.raises(ServiceError) as err:
                node.set_key(new_secret, current_key=bytes(16))
            assert err.value.code == "BAD_PROOF"
            node.set_key(new_secret, current_key=SECRET)
            node.commit()
            rekeyed = vb.control.virtual_ms()
            assert node.prove_key(new_secret, DEV)
            node.run()
        run_free_until(vb, vb.control.virtual_ms() + 60_000)
        packets = vb.radio_packets()
    store = MemoryCounterStore()
    frames = [decode(bytes.fromhex(p["bytes"]), {DEV: new_secret}, store) for p in packets if p["t_ms"] > rekeyed]
    assert frames and frames[0].counter == 0 and frames[0].long_counter  # new key: counter restarts
    assert frames[0].status.reset_cause == "hard_reset"
    old = [decode(bytes.fromhex(p["bytes"]), {DEV: SECRET}, MemoryCounterStore()) for p in packets[:1]]
    assert old[0].counter == 0
