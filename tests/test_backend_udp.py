"""`citynode serve --udp` with the Semtech gateway simulator: ACKs, stored frames, counted rejects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from backend_services import CITYNODE, Fleet, free_port, log_events, start_serve, wait_for, wait_log_event
from citynode.backend import Result, ServeConfig, Uplink, open_store, run_serve
from citynode.backend.log import Log
from citynode.protocol import encode
from gwsim import GatewaySim, rxpk


def soil(fleet: Fleet, dev: int, counter: int, vwc: float) -> bytes:
    return encode({"battery_v": 3.6, "soil_vwc": vwc, "soil_temp": 15.0}, device_id=dev, counter=counter,
                  secret=fleet.keys[dev], long_counter=counter == 1)


def test_gateway_simulator_against_serve(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path, 3)
    devs = sorted(fleet.keys)
    db = str(tmp_path / "udp.db")
    port = free_port(kind=2)  # SOCK_DGRAM
    stop = threading.Event()
    ready = threading.Event()
    results: list[tuple[Uplink, Result]] = []
    config = ServeConfig(db=db, keys=str(fleet.path), udp=[f"127.0.0.1:{port}"])
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log_stream:
        thread = threading.Thread(target=run_serve, args=(config, stop),
                                  kwargs={"ready": lambda info: ready.set(),
                                          "on_result": lambda u, r: results.append((u, r)),
                                          "log": Log(json_lines=True, stream=log_stream)})
        thread.start()
        try:
            assert ready.wait(10)
            gw_a = GatewaySim(("127.0.0.1", port), eui=bytes.fromhex("aa555a0000000001"))
            gw_b = GatewaySim(("127.0.0.1", port), eui=bytes.fromhex("aa555a0000000002"))
            assert gw_a.pull() and gw_b.pull()  # PULL_DATA keepalive answered with the same token
            expected_frames = {(d, c): soil(fleet, d, c, 20.0 + c) for c in (1, 2) for d in devs}
            valid = list(expected_frames.values())
            lorawan = bytes([0x40, 0x01, 0x02, 0x03, 0x04, 0x80, 0x05, 0x00, 0x01]) + os.urandom(12)
            joinreq = bytes([0x00]) + os.urandom(22)
            for frame in valid:
                # Both gateways hear every frame; gateway B also hears a corrupted copy (CRC failed).
                assert gw_a.push([rxpk(frame)])
                assert gw_b.push([rxpk(frame, rssi=-110), rxpk(frame[:-3] + b"\0\0\0", stat=-1)])
            assert gw_a.push([rxpk(lorawan), rxpk(joinreq)], stat={"rxnb": 3, "rxok": 3})
            assert gw_a.wrong_acks == gw_b.wrong_acks == 0
            expected = len(valid) * 3 + 2
            wait_for(lambda: len(results) >= expected, 20, "every uplink processed")
        finally:
            stop.set()
            thread.join(20)
    assert not thread.is_alive()
    store = open_store(db)
    try:
        frames = {(int(d), int(c)): bytes(raw) for d, c, raw in store.db.query(
            "SELECT device_id, counter, raw FROM frames")}
        assert frames == expected_frames
        receptions = store.db.query("SELECT gateway, COUNT(*) FROM frame_receptions GROUP BY gateway ORDER BY 1")
        assert receptions == [("aa555a0000000001", 6), ("aa555a0000000002", 6)]
        rejects = sorted(r[0] for r in store.db.query("SELECT reason FROM rejects"))
        assert rejects == ["crc_failed"] * 6 + ["unknown_device", "unknown_version"]
        assert store.db.one("SELECT COUNT(*) FROM readings") == (18,)
    finally:
        store.close()
    stopped = [e for e in log_events(log_path) if e["event"] == "serve_stopped"]
    assert stopped and stopped[0]["stored"] == 6 and stopped[0]["duplicates"] == 6


@pytest.mark.slow
def test_serve_process_health_metrics_and_sigterm(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path, 1)
    dev = next(iter(fleet.keys))
    db = str(tmp_path / "p.db")
    port, hport = free_port(kind=2), free_port()
    log_path = tmp_path / "serve.log"
    proc = start_serve(["--udp", f"127.0.0.1:{port}", "--db", db, "--keys", str(fleet.path),
                        "--health-port", str(hport), "--log-json"], log_path)
    try:
        wait_log_event(log_path, "serve_started")
        gw = GatewaySim(("127.0.0.1", port))
        for c in range(1, 6):
            assert gw.push([rxpk(soil(fleet, dev, c, 30.0))])
        forged = bytearray(soil(fleet, dev, 9, 30.0))
        forged[-1] ^= 0xFF
        assert gw.push([rxpk(bytes(forged))])
        assert gw.push([rxpk(b"\x41" + os.urandom(14), stat=-1)])

        def health() -> dict[str, object]:
            with urllib.request.urlopen(f"http://127.0.0.1:{hport}/health", timeout=5) as resp:
                return dict(json.load(resp))
        wait_for(lambda: health()["accepted"] == 5 and health()["rejected"] == 2, 20, "health figures")
        doc = health()
        assert doc["status"] == "ok" and doc["rejects_by_reason"] == {"bad_tag": 1, "crc_failed": 1}
        with urllib.request.urlopen(f"http://127.0.0.1:{hport}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        assert 'citynode_frames_total{result="stored"} 5' in metrics
        assert 'citynode_rejects_total{reason="bad_tag"} 1' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_log_event(log_path, "serve_stopped")["stored"] == 5
    out = subprocess.run([*CITYNODE, "serve", "status", "--db", db, "--json"], capture_output=True, text=True,
                         check=True)
    figures = json.loads(out.stdout)
    assert (figures["frames"], figures["readings"], figures["rejects"]) == (5, 15, 2)
    text = subprocess.run([*CITYNODE, "serve", "status", "--db", db], capture_output=True, text=True, check=True)
    assert "bad_tag" in text.stdout and "frames     5" in text.stdout
