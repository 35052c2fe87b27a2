"""Every source survives every input: a message of any shape is a counted reject, never the end of
a source, and /health tells a supervisor the truth (issue 13)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend_services import (  # noqa: F401 (fixtures)
    CITYNODE,
    Fleet,
    MosquittoServer,
    free_port,
    mosquitto_server,
    start_serve,
    stop_all,
    wait_for,
    wait_log_event,
)
from citynode.backend import ServeConfig, open_store, run_serve
from citynode.backend.formats import FormatError, parse_json, parse_line
from citynode.backend.log import Log
from citynode.protocol import encode

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
# Shapes that look like the real formats, with every field replaced by anything.
FIELDS = ["rxpk", "data", "rxInfo", "txInfo", "deviceInfo", "uplink_message", "end_device_ids", "frm_payload",
          "rx_metadata", "modulation", "lora", "settings", "gateway", "time", "tmst", "stat", "fCnt", "device_id"]
LOOKALIKE = st.dictionaries(st.sampled_from(FIELDS), JSON, min_size=1, max_size=5)
POISON = [{"rxpk": 5}, {"rxInfo": 5, "data": "AA=="}, {"rxpk": [5, "x", {"data": 7}, {"data": []}]},
          {"uplink_message": 5, "end_device_ids": {}}, {"deviceInfo": [], "data": "AA==", "txInfo": 3},
          {"end_device_ids": 1, "uplink_message": {"frm_payload": {"a": 1}, "rx_metadata": 5}}]


@settings(max_examples=400, deadline=None)
@given(st.one_of(JSON, LOOKALIKE))
def test_any_json_shape_is_an_uplink_or_a_format_error(obj: Any) -> None:
    with contextlib.suppress(FormatError):
        parse_json(obj)


@pytest.mark.parametrize("obj", POISON)
def test_known_poison_shapes_are_format_errors(obj: dict[str, Any]) -> None:
    with contextlib.suppress(FormatError):
        parse_json(obj)


def test_rxpk_data_without_base64_padding_is_accepted() -> None:
    """The packet forwarder's own PROTOCOL.TXT example is unpadded."""
    frame = bytes(range(1, 20))  # 19 bytes: padded base64 ends in '='
    padded = base64.b64encode(frame).decode()
    assert padded.endswith("=")
    (up,) = parse_line(json.dumps({"rxpk": [{"data": padded.rstrip("="), "stat": 1}], "gateway": "aa"}))
    assert up.frame == frame and up.problem is None


def _push_data(body: bytes) -> bytes:
    return bytes([2]) + os.urandom(2) + bytes([0]) + bytes.fromhex("aa555a0000000009") + body


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_udp_source_survives_poison_datagrams_and_stores_the_next_frame(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path, 1)
    (dev,) = fleet.keys
    db = str(tmp_path / "udp.db")
    port, health_port = free_port(kind=socket.SOCK_DGRAM), free_port()
    stop, ready = threading.Event(), threading.Event()
    config = ServeConfig(db=db, keys=str(fleet.path), udp=[f"127.0.0.1:{port}"], health_port=health_port)
    with open(tmp_path / "serve.log", "w") as log_stream:
        thread = threading.Thread(target=run_serve, args=(config, stop),
                                  kwargs={"ready": lambda info: ready.set(),
                                          "log": Log(json_lines=True, stream=log_stream)})
        thread.start()
        try:
            assert ready.wait(10)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rng = random.Random(13)
            bodies = [json.dumps(p).encode() for p in POISON] + [b"\xff\xfe", b"[]", b"5", b"{", b""]
            bodies += [rng.randbytes(rng.randrange(0, 64)) for _ in range(50)]
            for body in bodies:
                sock.sendto(_push_data(body), ("127.0.0.1", port))
            frame = encode({"soil_vwc": 31.0}, device_id=dev, counter=1, secret=fleet.keys[dev], long_counter=True)
            good = {"rxpk": [{"data": base64.b64encode(frame).decode(), "stat": 1, "rssi": -80}]}
            sock.sendto(_push_data(json.dumps(good).encode()), ("127.0.0.1", port))
            store = open_store(db)
            try:
                wait_for(lambda: store.db.one("SELECT COUNT(*) FROM frames") == (1,), 20, "the genuine frame stored")
            finally:
                store.close()
            code, doc = _health(health_port)
            assert code == 200 and doc["status"] == "ok", doc
        finally:
            stop.set()
            thread.join(20)
    assert not thread.is_alive()


def test_health_is_unhealthy_naming_a_source_that_stopped(tmp_path: Path) -> None:
    """A source whose thread died and cannot be restarted makes /health unhealthy (HTTP 503, HealthServer)
    with its name."""
    from citynode.backend.serve import _healthy
    from citynode.backend.sources.base import Source

    class Dead(Source):
        name = "udp:dead"

        def running(self) -> bool:
            return False

    class Alive:
        def alive(self) -> bool:
            return True

    ok, why = _healthy(Alive(), [Dead()])  # type: ignore[arg-type]
    assert not ok and "udp:dead" in why


@pytest.mark.slow
def test_mqtt_poison_is_acknowledged_as_a_reject_and_the_worker_carries_on(
        tmp_path: Path, mosquitto_server: MosquittoServer) -> None:  # noqa: F811
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    fleet = Fleet.create(tmp_path, 1)
    (dev,) = fleet.keys
    db = str(tmp_path / "mq.db")
    base = f"poison{random.getrandbits(32):x}"
    topic = f"{base}/application/+/device/+/event/up"
    log = tmp_path / "serve.log"
    args = ["--mqtt", mosquitto_server.url, "--topic", topic, "--db", db, "--keys", str(fleet.path),
            "--log-json", "--client-id", f"w-{base}"]
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{base}", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto_server.port)
    pub.loop_start()

    def publish(payload: bytes) -> None:
        info = pub.publish(f"{base}/application/city/device/01/event/up", payload, qos=1)
        info.wait_for_publish(10)

    frame = encode({"soil_vwc": 12.0}, device_id=dev, counter=1, secret=fleet.keys[dev], long_counter=True)
    good = {"deviceInfo": {"devEui": "0101010101010101"}, "fCnt": 1, "fPort": 1,
            "data": base64.b64encode(frame).decode(), "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -60}]}
    proc = start_serve(args, log)
    try:
        wait_log_event(log, "mqtt_subscribed")
        for p in POISON:
            publish(json.dumps(p).encode())
        publish(b"\x00\xffnot json")
        publish(json.dumps(good).encode())
        store = open_store(db)
        try:
            wait_for(lambda: store.db.one("SELECT COUNT(*) FROM frames") == (1,), 20, "the genuine frame stored")
        finally:
            store.close()
    finally:
        codes = stop_all([proc])
    assert codes == [0]
    first = _events(log)
    assert [e for e in first if e.get("event") == "bad_input"], "the non-JSON message is a counted reject"
    # A restarted worker with the same session gets nothing again: every poison message was acknowledged.
    proc = start_serve(args, log)
    try:
        wait_for(lambda: len([e for e in _events(log) if e.get("event") == "mqtt_subscribed"]) >= 2, 20,
                 "the second worker subscribed")
        # The broker delivers in order: once this next genuine frame is stored, any poison it had
        # kept for this session would already have come back.
        frame2 = encode({"soil_vwc": 13.0}, device_id=dev, counter=2, secret=fleet.keys[dev])
        publish(json.dumps({**good, "fCnt": 2, "data": base64.b64encode(frame2).decode()}).encode())
        store = open_store(db)
        try:
            wait_for(lambda: store.db.one("SELECT COUNT(*) FROM frames") == (2,), 20, "the next frame stored")
        finally:
            store.close()
    finally:
        codes = stop_all([proc])
        pub.loop_stop()
        pub.disconnect()
    assert codes == [0]
    events = _events(log)
    assert len([e for e in events if e.get("event") == "bad_input"]) == \
        len([e for e in first if e.get("event") == "bad_input"]), "poison was redelivered"
    assert not [e for e in events if e.get("event") == "mqtt_handler_error"]
    store = open_store(db)
    try:
        assert store.db.one("SELECT COUNT(*) FROM frames") == (2,)
    finally:
        store.close()


def _events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CITYNODE, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_bad_inputs_give_a_message_and_no_traceback(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path, 1)
    (tmp_path / "afile").write_text("x")
    keystore = tmp_path / "ks.json"
    assert _cli("keys", "new", "--keystore", str(keystore), "--device-id", "0c170001", cwd=tmp_path).returncode == 0
    cases = [
        (["decode", "--keys", str(keystore), str(tmp_path)], 2, "is a directory"),
        (["keys", "list", "--keystore", str(tmp_path / "afile" / "k.json")], 2, "keystore"),
        (["keys", "new", "--keystore", str(tmp_path / "afile" / "k.json"), "--device-id", "0c170001"], 2,
         "keystore"),
        (["serve", "--keys", str(fleet.path), "--db", str(tmp_path / "x.db"), "--udp", "127.0.0.1:0",
          "--health-port", "70000"], 2, "health port"),
        (["serve", "--keys", str(fleet.path), "--db", str(tmp_path / "x.db"), "--mqtt", "mqtt://h:notaport",
          "--topic", "t"], 2, "MQTT URL"),
    ]
    for args, code, words in cases:
        done = _cli(*args, cwd=tmp_path)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        assert done.returncode == code, (args, done.returncode, done.stderr)
        assert words in done.stderr, (args, done.stderr)
        assert "what to do" in done.stderr, (args, done.stderr)


def test_health_port_in_use_is_a_message(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path, 1)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _cli("serve", "--keys", str(fleet.path), "--db", str(tmp_path / "x.db"), "--udp", "127.0.0.1:0",
                    "--health-port", str(port), cwd=tmp_path)
    assert "Traceback" not in done.stderr and "what to do" in done.stderr, done.stderr
    assert done.returncode != 0


def test_decode_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    """`citynode decode ... | head -1`: no BrokenPipeError, the way Unix tools behave."""
    from citynode.keystore import Keystore

    dev = 0x0C170001
    secret = Keystore(tmp_path / "ks.json").add(dev)
    lines = [encode({"soil_vwc": 20.0}, device_id=dev, counter=c, secret=secret, long_counter=True).hex()
             for c in range(1, 3001)]
    (tmp_path / "frames.txt").write_text("\n".join(lines) + "\n")
    cmd = " ".join([*CITYNODE, "decode", "--keys", str(tmp_path / "ks.json"), str(tmp_path / "frames.txt")])
    done = subprocess.run(f"set -o pipefail; {cmd} | head -1", shell=True, executable="/bin/bash", cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141
