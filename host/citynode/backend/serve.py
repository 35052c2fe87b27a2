"""`citynode serve`: sources -> pipeline -> store, health endpoint, graceful shutdown.

Shutdown (SIGTERM, SIGINT, or `stop` set by the caller): sources stop taking uplinks,
the pipeline commits and acknowledges what it holds, then connections close. Anything a
source had received but not handed over is never acknowledged, so MQTT redelivers it.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from citynode.backend.ingest import Ingestor, Result
from citynode.backend.keys import load_keys
from citynode.backend.log import Log
from citynode.backend.metrics import HealthServer, Metrics
from citynode.backend.model import Uplink
from citynode.backend.monitor import DEFAULT_RULES, AlertRule, SecurityMonitor
from citynode.backend.pipeline import Pipeline
from citynode.backend.sources import HttpSource, MqttSource, Source, StdinSource, UdpSource
from citynode.backend.store import open_store, safe_url
from citynode.errors import EXIT_FAILED, CliError


@dataclass
class ServeConfig:
    db: str = "citynode.db"
    keys: str = ""
    udp: list[str] = field(default_factory=list)
    http: list[str] = field(default_factory=list)
    mqtt: str | None = None
    topics: list[str] = field(default_factory=list)
    share: str | None = None
    client_id: str | None = None
    session_expiry_s: int = 86400
    stdin: bool = False
    stdin_format: str = "auto"
    health_port: int | None = None
    log_json: bool = False
    log_level: str = "info"
    dup_window_s: float = 120.0
    rules: tuple[AlertRule, ...] = DEFAULT_RULES
    max_batch: int = 64
    min_tag_len: int = 8
    drain_timeout_s: float = 15.0
    keys_reload_s: float = 5.0


def default_client_id() -> str:
    return f"citynode-serve-{socket.gethostname()}"


def run_serve(config: ServeConfig, stop: threading.Event | None = None, *,
              ready: Callable[[dict[str, object]], None] | None = None,
              on_result: Callable[[Uplink, Result], None] | None = None, log: Log | None = None) -> int:
    """Run until stopped (or until stdin ends, when it is the only source). Returns an exit code."""
    if not (config.udp or config.http or config.mqtt or config.stdin):
        raise CliError("no source to listen to",
                       "give --udp HOST:PORT, --http HOST:PORT, --mqtt URL --topic T, or --stdin")
    if config.mqtt and not config.topics:
        raise CliError("--mqtt needs at least one --topic",
                       "ChirpStack: application/APP/device/+/event/up; TTS: v3/APP@TENANT/devices/+/up")
    log = log or Log(json_lines=config.log_json, level=config.log_level)
    stop = stop or threading.Event()
    keys_path = Path(config.keys)
    keys = load_keys(keys_path)
    keys_mtime = _mtime(keys_path)
    store = open_store(config.db)
    metrics = Metrics()
    ingestor = Ingestor(store, keys, SecurityMonitor(store, config.rules), dup_window_s=config.dup_window_s,
                        min_tag_len=config.min_tag_len)
    pipeline = Pipeline(ingestor, metrics, log, max_batch=config.max_batch, on_result=on_result)
    sources: list[Source] = []
    started: list[Source] = []
    health: HealthServer | None = None
    restore = _install_signals(stop, log)
    code = 0
    try:
        pipeline.start()
        for address in config.udp:
            sources.append(UdpSource(address, pipeline, metrics, log))
        for address in config.http:
            sources.append(HttpSource(address, pipeline, metrics, log))
        if config.mqtt:
            sources.append(MqttSource(config.mqtt, config.topics, pipeline, metrics, log,
                                      client_id=config.client_id or default_client_id(), share=config.share,
                                      session_expiry_s=config.session_expiry_s))
        if config.stdin:
            sources.append(StdinSource(pipeline, metrics, log, fmt=config.stdin_format))
        for src in sources:
            src.start()
            started.append(src)
        if config.health_port is not None:
            health = HealthServer(metrics, config.health_port, healthy=lambda: _healthy(pipeline, sources))
            health.start()
        info: dict[str, object] = {"db": safe_url(config.db), "devices": len(keys), "pid": os.getpid(),
                                   "sources": [s.name for s in sources],
                                   "health_port": None if health is None else health.port}
        log.info("serve_started", f"citynode serve: {len(keys)} device key(s), {len(sources)} source(s)", **info)
        if ready is not None:
            ready(info)
        next_check = time.monotonic() + config.keys_reload_s
        while not stop.is_set():
            if sources and all(s.finished() for s in sources) and pipeline.idle():
                break
            if not pipeline.alive():
                log.error("pipeline_died", "the ingest worker stopped")
                code = EXIT_FAILED
                break
            for src in sources:
                if not src.running() and src.restart():
                    metrics.count("source_restarts")
                    log.error("source_restarted", f"{src.name} stopped receiving; started it again")
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + config.keys_reload_s
                mtime = _mtime(keys_path)
                if mtime != keys_mtime:
                    try:
                        ingestor.keys = load_keys(keys_path)
                        keys_mtime = mtime
                        log.info("keys_reloaded", f"{len(ingestor.keys)} device key(s)")
                    except CliError as err:
                        log.error("keys_reload_failed", err.message)
            stop.wait(0.05)
    finally:
        log.info("serve_stopping", "stopping sources, committing what is in flight")
        for src in started:
            src.stop_receiving()
        drained = pipeline.stop(timeout=config.drain_timeout_s)
        for src in started:
            src.close()
        if health is not None:
            health.stop()
        store.close()
        restore()
        snap = metrics.snapshot()
        log.info("serve_stopped", "all in-flight frames committed" if drained else
                 "stopped before every frame was committed (those were not acknowledged)",
                 stored=snap["accepted"], duplicates=snap["duplicates"], redelivered=snap["redelivered"],
                 rejected=snap["rejected"],
                 alerts=snap["alerts"])
        if not drained:
            code = EXIT_FAILED
    return code


def _healthy(pipeline: Pipeline, sources: list[Source]) -> tuple[bool, str]:
    if not pipeline.alive():
        return False, "the ingest worker stopped"
    dead = [s.name for s in sources if not s.running()]
    if dead:
        return False, f"source not running: {', '.join(dead)}"
    return True, "ok"


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _install_signals(stop: threading.Event, log: Log) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        log.info("signal", f"received {signal.Signals(signum).name}; shutting down")
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)
    return restore
