"""Backend ingest rates and losses: real `citynode serve` processes fed by a simulated gateway or MQTT.

- ingest_fps_sqlite / ingest_fps_postgres: frames per second from the first PUSH_DATA to
  the last frame committed, one Semtech UDP gateway waiting for each PUSH_ACK (one rxpk
  per datagram, as a gateway forwards them), one serve process.
- ingest_fps_mqtt_2workers: two serve processes on one MQTT 5 shared subscription and one
  PostgreSQL, QoS 1, from the first publish to the last commit.
- ingest_lost: a UDP burst sent without waiting for acknowledgements, and an MQTT burst to
  the two workers: frames sent minus frames stored (must be 0).
PostgreSQL and Mosquitto are private instances started here (tests/backend_services.py),
PostgreSQL with fsync=off (as in the tests), SQLite with synchronous=FULL (serve's default).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import backend_services as services  # noqa: E402
from citynode.protocol import encode  # noqa: E402
from gwsim import GatewaySim, rxpk  # noqa: E402

N_FRAMES = 3000
N_BURST = 5000


def make_frames(keys: dict[int, bytes], n: int) -> list[bytes]:
    """n frames, devices interleaved, each device's counters in order (as a fleet sends them)."""
    devs = sorted(keys)
    out = []
    for i in range(n):
        dev, counter = devs[i % len(devs)], i // len(devs) + 1
        out.append(encode({"battery_v": 3.6, "soil_vwc": (i % 200) / 2, "soil_temp": 12.0}, device_id=dev,
                          counter=counter, secret=keys[dev], long_counter=counter == 1))
    return out


def wait_count(url: str, target: int, timeout: float, stall: float = 10.0) -> tuple[int, float]:
    """Poll until `target` frames are stored, or nothing new for `stall` s; (count, time of last change)."""
    last_n, last_change = -1, time.perf_counter()
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        n = services.count_rows(url)
        now = time.perf_counter()
        if n != last_n:
            last_n, last_change = n, now
        if n >= target or now - last_change > stall:
            break
        time.sleep(0.02)
    return last_n, last_change


def serve(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    proc = services.start_serve([*args, "--log-json"], log)
    services.wait_log_event(log, "serve_started", timeout=30)
    return proc


def udp_run(work: Path, db: str, fleet: services.Fleet, frames: list[bytes], wait_ack: bool) -> dict[str, Any]:
    port = services.free_port(kind=2)
    proc = serve(["--udp", f"127.0.0.1:{port}", "--db", db, "--keys", str(fleet.path)], work / f"udp-{port}.log")
    try:
        gw = GatewaySim(("127.0.0.1", port))
        start = time.perf_counter()
        acked = sum(gw.push([rxpk(f, tmst=i)], wait_ack=wait_ack) for i, f in enumerate(frames))
        sent_s = time.perf_counter() - start
        stored, done = wait_count(db, len(frames), timeout=300)
        gw.close()
    finally:
        services.stop_all([proc])
    return {"sent": len(frames), "acked": acked if wait_ack else None, "stored": stored,
            "fps": round(stored / (done - start), 1), "send_s": round(sent_s, 2)}


def mqtt_run(work: Path, broker: services.MosquittoServer, db: str, fleet: services.Fleet,
             frames: list[bytes]) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    topic = f"bench/{os.getpid()}/{time.monotonic_ns()}/up"
    logs = [work / f"w{i}-{time.monotonic_ns()}.log" for i in range(2)]
    procs = [services.start_serve(["--mqtt", broker.url, "--topic", topic, "--share", "bench", "--db", db,
                                   "--keys", str(fleet.path), "--client-id", f"bench-w{i}-{topic}", "--log-json"],
                                  log) for i, log in enumerate(logs)]
    try:
        for log in logs:
            services.wait_log_event(log, "mqtt_subscribed", timeout=30)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}", protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(1000)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        start = time.perf_counter()
        infos = [pub.publish(topic, json.dumps({"b64": base64.b64encode(f).decode(), "gateway": "gw-bench",
                                                "rx_id": str(i)}), qos=1) for i, f in enumerate(frames)]
        for info in infos:
            info.wait_for_publish(60)
        published = sum(1 for info in infos if info.is_published())
        stored, done = wait_count(db, len(frames), timeout=300)
        pub.disconnect()
        pub.loop_stop()
    finally:
        services.stop_all(procs)
    rejected = services.count_rows(db, "rejects")
    split = []
    for log in logs:
        ev = [e for e in services.log_events(log) if e.get("event") == "serve_stopped"]
        split.append(int(str(ev[-1]["stored"])) if ev else None)
    return {"sent": len(frames), "published": published, "stored": stored, "rejected": rejected,
            "fps": round(stored / (done - start), 1), "per_worker_stored": split}


def guarded(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except BaseException as err:  # pytest.skip (missing server binaries) is a BaseException
        if isinstance(err, KeyboardInterrupt):
            raise
        return {"skipped": f"{name}: {type(err).__name__}: {err}"}


def run() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="citynode-bench-backend-"))
    results: dict[str, Any] = {"ingest_frames": N_FRAMES, "ingest_burst_frames": N_BURST}
    fleet = services.Fleet.create(work, 500)
    frames = make_frames(fleet.keys, N_FRAMES)
    burst = make_frames(fleet.keys, N_BURST)
    pg = broker = None
    try:
        sqlite = udp_run(work, str(work / "fps.db"), fleet, frames, wait_ack=True)
        results["ingest_fps_sqlite"] = sqlite["fps"]
        results["ingest_detail_udp_sqlite"] = sqlite

        def postgres_part() -> dict[str, Any]:
            nonlocal pg
            pg = services.start_postgres()
            return udp_run(work, pg.create_db(), fleet, frames, wait_ack=True)
        pg_res = guarded("postgres", postgres_part)
        results["ingest_fps_postgres"] = pg_res.get("fps")
        results["ingest_detail_udp_postgres"] = pg_res

        def mqtt_part() -> dict[str, Any]:
            nonlocal broker
            if pg is None:
                raise RuntimeError("needs PostgreSQL")
            broker = services.start_mosquitto()
            return mqtt_run(work, broker, pg.create_db(), fleet, frames)
        mq = guarded("mqtt", mqtt_part)
        results["ingest_fps_mqtt_2workers"] = mq.get("fps")
        results["ingest_detail_mqtt_2workers"] = mq

        udp_burst = udp_run(work, str(work / "burst.db"), fleet, burst, wait_ack=False)
        results["ingest_detail_udp_burst"] = udp_burst
        lost = {"udp_sqlite": udp_burst["sent"] - udp_burst["stored"]}
        if broker is not None and pg is not None:
            mq_burst = guarded("mqtt burst", lambda: mqtt_run(work, broker, pg.create_db(), fleet, burst))  # type: ignore[union-attr]
            results["ingest_detail_mqtt_burst"] = mq_burst
            if "stored" in mq_burst:
                lost["mqtt_2workers_postgres"] = mq_burst["sent"] - mq_burst["stored"]
        results["ingest_lost"] = sum(lost.values())
        results["ingest_lost_by_path"] = lost
    finally:
        if broker is not None:
            broker.stop()
            shutil.rmtree(broker.workdir, ignore_errors=True)
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.datadir.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
