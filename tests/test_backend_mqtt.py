"""`citynode serve --mqtt` end to end: real Mosquitto, real PostgreSQL, real serve processes.

- Two workers on one MQTT 5 shared subscription and one PostgreSQL database, fed a stream
  with every frame heard by up to three gateways, forged frames and replays: each valid
  frame is stored exactly once, nothing forged or replayed is stored, alerts are raised.
- A worker killed with SIGKILL mid-stream and restarted loses nothing it acknowledged:
  its persistent session (clean_start=False, session expiry) gets the rest redelivered.
"""

from __future__ import annotations

import base64
import json
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend_services import (  # noqa: F401 (fixtures)
    Fleet,
    MosquittoServer,
    count_rows,
    log_events,
    mosquitto_server,
    pg_url,
    postgres_server,
    start_serve,
    stop_all,
    wait_for,
    wait_log_event,
)
from citynode.backend.db import connect
from citynode.protocol import encode

pytestmark = pytest.mark.slow


class Publisher:
    """A QoS 1 publisher that waits for every PUBACK (the broker has the message)."""

    def __init__(self, server: MosquittoServer) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{random.getrandbits(32):x}",
                                  protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", server.port)
        self.client.loop_start()
        self.sent = 0

    def publish(self, topic: str, obj: dict[str, object]) -> None:
        info = self.client.publish(topic, json.dumps(obj), qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
        self.sent += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto_server: MosquittoServer) -> Iterator[Publisher]:  # noqa: F811
    pub = Publisher(mosquitto_server)
    yield pub
    pub.close()


def reception(frame: bytes, gateway: str, rx_id: str, rssi: int) -> dict[str, object]:
    return {"b64": base64.b64encode(frame).decode(), "gateway": gateway, "rx_id": rx_id, "rssi": rssi}


def wait_frames(url: str, n: int, timeout: float, settle_s: float = 0.5) -> None:
    """Wait until n frames are stored, then settle_s more: a worker that would store a frame
    twice (a redelivery, a duplicate) has had its chance before the counts are checked."""
    wait_for(lambda: count_rows(url) >= n, timeout, f"{n} frames stored")
    time.sleep(settle_s)


def test_two_workers_shared_subscription_postgres(tmp_path: Path, mosquitto_server: MosquittoServer,  # noqa: F811
                                                   pg_url: str, publisher: Publisher) -> None:  # noqa: F811
    rng = random.Random(42)
    fleet = Fleet.create(tmp_path, 8)
    devs = sorted(fleet.keys)
    victim, cloned = devs[0], devs[1]
    topic = f"citynode/{rng.getrandbits(32):x}/up"
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    common = ["--mqtt", mosquitto_server.url, "--topic", topic, "--share", "citynode", "--db", pg_url,
              "--keys", str(fleet.path), "--log-json", "--dup-window", "3"]
    procs = [start_serve([*common, "--client-id", f"w{i}-{topic}"], log) for i, log in enumerate(logs)]
    try:
        for log in logs:
            wait_log_event(log, "mqtt_subscribed")
        valid: dict[tuple[int, int], bytes] = {}
        forged: list[bytes] = []
        reencoded: list[bytes] = []
        receptions = 0
        rounds = 6
        for rnd in range(rounds):
            counter = rnd + 1
            for dev in devs:
                frame = encode({"battery_v": 3.6, "soil_vwc": rng.randrange(0, 200) / 2, "soil_temp": 11.0},
                               device_id=dev, counter=counter, secret=fleet.keys[dev], long_counter=rnd == 0)
                valid[(dev, counter)] = frame
                for g in rng.sample(["gw-a", "gw-b", "gw-c"], rng.randint(1, 3)):
                    publisher.publish(topic, reception(frame, g, f"{g}-{dev}-{counter}", -rng.randint(60, 120)))
                    receptions += 1
            # An attacker near gw-c forges frames for the victim (a flipped bit, or a guessed key).
            bad = bytearray(valid[(victim, counter)])
            bad[rng.randrange(7, len(bad))] ^= 1 << rng.randrange(8)
            forged.append(bytes(bad))
            publisher.publish(topic, reception(bytes(bad), "gw-c", f"forged-{rnd}", -70))
            # A cloned node (same key, counter gone back) sends frames with used counters and new bytes.
            if rnd >= 2:
                again = encode({"battery_v": 3.0, "soil_vwc": 1.0, "soil_temp": 1.0}, device_id=cloned,
                               counter=rnd - 1, secret=fleet.keys[cloned], long_counter=True)
                reencoded.append(again)
                publisher.publish(topic, reception(again, "gw-a", f"clone-{rnd}", -75))
            # Nodes send minutes apart: let the round land before the next one (both workers race on it).
            wait_frames(pg_url, len(devs) * counter, 30, settle_s=0)
        time.sleep(3.5)  # past the duplicate window: resending captured bytes is now a replay
        replayed = [valid[(devs[2], 1)], valid[(devs[3], 2)], valid[(devs[3], 3)]]
        for i, frame in enumerate(replayed):
            publisher.publish(topic, reception(frame, "gw-b", f"replay-{i}", -80))
        expected_rejects = len(forged) + len(reencoded) + len(replayed)
        wait_for(lambda: count_rows(pg_url, "rejects") >= expected_rejects, 30, "rejects")
        wait_for(lambda: count_rows(pg_url, "frame_receptions") >= receptions, 30, "receptions")
    finally:
        codes = stop_all(procs)
    assert codes == [0, 0]

    db = connect(pg_url)
    try:
        stored = {(int(d), int(c)): bytes(raw) for d, c, raw in db.query("SELECT device_id, counter, raw FROM frames")}
        assert stored == valid  # every valid frame exactly once (UNIQUE(device_id, counter)), with its own bytes
        assert db.one("SELECT COUNT(*) FROM frame_receptions") == (receptions,)
        assert db.one("SELECT COUNT(*) FROM readings") == (len(valid) * 3,)
        reject_raw = {bytes(r[0]): r[1] for r in db.query("SELECT raw, reason FROM rejects")}
        assert all(reject_raw[f] == "bad_tag" for f in forged)
        assert all(reject_raw[f] == "replay" for f in reencoded + replayed)
        assert not set(forged + reencoded) & set(stored.values())
        alerts = {(r, s) for r, s in db.query("SELECT rule, subject FROM alerts")}
        assert ("bad_tag_device", f"device {victim:08x}") in alerts
        assert ("replay_device", f"device {cloned:08x}") in alerts
        assert db.one("SELECT COUNT(*) FROM alerts WHERE rule = 'bad_tag_device'") == (1,)  # once, not per worker
    finally:
        db.close()
    # The broker really split the stream: both workers processed uplinks.
    done = [wait_log_event(log, "serve_stopped") for log in logs]
    handled = [int(str(d["stored"])) + int(str(d["duplicates"])) + int(str(d["rejected"])) for d in done]
    assert all(n > 0 for n in handled), handled
    assert sum(int(str(d["stored"])) for d in done) == len(valid)
    alert_lines = [e for log in logs for e in log_events(log) if e.get("event") == "security_alert"]
    assert {e["rule"] for e in alert_lines} >= {"bad_tag_device", "replay_device"}


@pytest.mark.parametrize("share", [None, "citynode"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_stop_mid_stream_loses_nothing_acknowledged(tmp_path: Path, mosquitto_server: MosquittoServer,  # noqa: F811
                                                    publisher: Publisher, share: str | None, sig: int) -> None:
    """SIGKILL: no shutdown at all; SIGTERM: graceful (commit in-flight, acknowledge, keep the session)."""
    fleet = Fleet.create(tmp_path, 20)
    devs = sorted(fleet.keys)
    db = str(tmp_path / "kill.db")
    topic = f"citynode/kill{random.getrandbits(32):x}/up"
    args = ["--mqtt", mosquitto_server.url, "--topic", topic, "--db", db, "--keys", str(fleet.path), "--log-json",
            "--client-id", f"killme-{topic}", "--session-expiry", "600", *(["--share", share] if share else [])]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc = start_serve(args, first_log)
    frames = {(d, c): encode({"parking_occupied": c % 2 == 0, "parking_changes": c, "battery_v": 3.3},
                             device_id=d, counter=c, secret=fleet.keys[d], long_counter=c == 1)
              for c in range(1, 16) for d in devs}
    order = sorted(frames, key=lambda k: (k[1], k[0]))  # each device's counters in order, devices interleaved
    try:
        wait_log_event(first_log, "mqtt_subscribed")
        killed_at = None
        for i, key in enumerate(order):
            publisher.publish(topic, reception(frames[key], "gw-a", f"k{i}", -90))
            if killed_at is None and i >= 60 and count_rows(db) >= 40:
                proc.send_signal(sig)
                code = proc.wait(30)
                assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
                killed_at = count_rows(db)
        assert killed_at is not None and killed_at < len(frames), "serve finished before it could be killed"
        proc = start_serve(args, second_log)  # same client id: the broker resumes the session
        wait_frames(db, len(frames), 60)
    finally:
        codes = stop_all([proc])
    assert codes == [0]
    conn = connect(db)
    try:
        rows = conn.query("SELECT device_id, counter, raw FROM frames")
        stored = {(int(d), int(c)): bytes(raw) for d, c, raw in rows}
        assert stored == frames
        assert conn.one("SELECT COUNT(*) FROM frame_receptions") == (len(frames),)  # redeliveries are not receptions
        assert conn.one("SELECT COUNT(*) FROM rejects") == (0,)
    finally:
        conn.close()
    started = wait_log_event(second_log, "source_started")
    assert started["session_present"] is True


def test_chirpstack_and_tts_messages(tmp_path: Path, mosquitto_server: MosquittoServer,  # noqa: F811
                                     publisher: Publisher) -> None:
    fleet = Fleet.create(tmp_path, 2)
    dev_a, dev_b = sorted(fleet.keys)
    db = str(tmp_path / "ns.db")
    base = f"ns{random.getrandbits(32):x}"
    log = tmp_path / "serve.log"
    proc = start_serve(["--mqtt", mosquitto_server.url, "--topic", f"{base}/application/+/device/+/event/up",
                        "--topic", f"{base}/v3/+/devices/+/up", "--db", db, "--keys", str(fleet.path),
                        "--log-json", "--client-id", f"ns-{base}"], log)
    fa = encode({"soil_vwc": 42.0}, device_id=dev_a, counter=1, secret=fleet.keys[dev_a], long_counter=True)
    fb = encode({"air_temp": 21.5, "co2": 612.0}, device_id=dev_b, counter=1, secret=fleet.keys[dev_b],
                long_counter=True)
    chirpstack = {
        "deduplicationId": "0b9f5ee5-9a3c-4d0e-b1c4-5b61bbf1f2a0", "time": "2026-11-25T08:00:00.123456789Z",
        "deviceInfo": {"devEui": "0101010101010101", "applicationName": "city"}, "fCnt": 1, "fPort": 1,
        "data": base64.b64encode(fa).decode(),
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -60, "snr": 9.0},
                   {"gatewayId": "0016c001f153a14d", "rssi": -103, "snr": -4.5}],
        "txInfo": {"frequency": 868300000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 10}}},
    }
    tts = {
        "end_device_ids": {"device_id": "air-1", "application_ids": {"application_id": "city"}},
        "correlation_ids": ["as:up:01JTEST"], "received_at": "2026-11-25T08:00:01Z",
        "uplink_message": {"f_port": 1, "f_cnt": 1, "frm_payload": base64.b64encode(fb).decode(),
                           "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-1", "eui": "B827EBFFFE000001"},
                                            "rssi": -77, "snr": 6.0}],
                           "settings": {"frequency": "867100000"}, "received_at": "2026-11-25T08:00:01Z"},
    }
    try:
        wait_log_event(log, "mqtt_subscribed")
        publisher.publish(f"{base}/application/city/device/0101010101010101/event/up", chirpstack)
        publisher.publish(f"{base}/v3/city@ttn/devices/air-1/up", tts)
        publisher.publish(f"{base}/application/city/device/0101010101010101/event/up", chirpstack)  # redelivered
        wait_frames(db, 2, 20)
    finally:
        codes = stop_all([proc])
    assert codes == [0]
    conn = connect(db)
    try:
        rows = conn.query("SELECT f.device_id, r.source, r.gateway, r.rssi, r.freq_mhz, r.datr FROM frames f "
                          "JOIN frame_receptions r ON r.frame_id = f.id ORDER BY r.gateway")
        assert rows == [
            (dev_a, "chirpstack", "0016c001f153a14c", -60.0, 868.3, "SF10BW125"),
            (dev_a, "chirpstack", "0016c001f153a14d", -103.0, 868.3, "SF10BW125"),
            (dev_b, "tts", "b827ebfffe000001", -77.0, 867.1, None),
        ]
        values = dict(conn.query("SELECT channel, value FROM readings"))
        assert values == {"soil_vwc": 42.0, "air_temp": 21.5, "co2": 612.0}
        assert conn.one("SELECT COUNT(*) FROM rejects") == (0,)
    finally:
        conn.close()
