"""Counters for /metrics and /health, updated by the pipeline and the sources (thread-safe).

/metrics is the Prometheus text format, so a town's existing monitoring can scrape it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from citynode.errors import CliError


class Metrics:
    def __init__(self, rate_window_s: float = 60.0) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.results: Counter[str] = Counter()  # stored, duplicate, redelivered, rejected
        self.rejects: Counter[str] = Counter()  # by reason
        self.events: Counter[str] = Counter()  # source-level: udp_packets, mqtt_messages, bad_input, ...
        self.alerts = 0
        self.queue_depth = 0
        self.last_commit: float | None = None
        self.sources: dict[str, str] = {}
        self._window = rate_window_s
        self._recent: deque[tuple[float, int]] = deque()

    def count(self, event: str, n: int = 1) -> None:
        with self._lock:
            self.events[event] += n

    def source_state(self, name: str, state: str) -> None:
        with self._lock:
            self.sources[name] = state

    def batch(self, statuses: list[tuple[str, str | None]], alerts: int) -> None:
        now = time.time()
        with self._lock:
            for status, reason in statuses:
                self.results[status] += 1
                if reason:
                    self.rejects[reason] += 1
            self.alerts += alerts
            self.last_commit = now
            self._recent.append((now, len(statuses)))
            while self._recent and self._recent[0][0] < now - self._window:
                self._recent.popleft()

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            recent = sum(n for t, n in self._recent if t >= now - self._window)
            span = min(self._window, max(now - self.started, 1e-3))
            return {
                "uptime_s": round(now - self.started, 3),
                "frames_per_s": round(recent / span, 3),
                "frames": dict(self.results),
                "accepted": self.results["stored"],
                "duplicates": self.results["duplicate"],
                "redelivered": self.results["redelivered"],
                "rejected": self.results["rejected"],
                "rejects_by_reason": dict(self.rejects),
                "alerts": self.alerts,
                "events": dict(self.events),
                "queue_depth": self.queue_depth,
                "last_commit_age_s": None if self.last_commit is None else round(now - self.last_commit, 3),
                "sources": dict(self.sources),
            }

    def prometheus(self) -> str:
        snap = self.snapshot()
        lines = [
            "# HELP citynode_frames_total Uplinks processed, by result.",
            "# TYPE citynode_frames_total counter",
        ]
        for status in ("stored", "duplicate", "redelivered", "rejected"):
            lines.append(f'citynode_frames_total{{result="{status}"}} {snap["frames"].get(status, 0)}')
        lines += ["# HELP citynode_rejects_total Rejected uplinks, by reason.", "# TYPE citynode_rejects_total counter"]
        for reason, n in sorted(snap["rejects_by_reason"].items()):
            lines.append(f'citynode_rejects_total{{reason="{reason}"}} {n}')
        lines += ["# HELP citynode_source_events_total Source-level events (packets, messages, bad input).",
                  "# TYPE citynode_source_events_total counter"]
        for event, n in sorted(snap["events"].items()):
            lines.append(f'citynode_source_events_total{{event="{event}"}} {n}')
        lines += [
            "# HELP citynode_alerts_total Security alerts raised by this process.",
            "# TYPE citynode_alerts_total counter", f"citynode_alerts_total {snap['alerts']}",
            "# HELP citynode_frames_per_second Uplinks per second over the last minute.",
            "# TYPE citynode_frames_per_second gauge", f"citynode_frames_per_second {snap['frames_per_s']}",
            "# HELP citynode_queue_depth Uplinks received but not yet committed.",
            "# TYPE citynode_queue_depth gauge", f"citynode_queue_depth {snap['queue_depth']}",
        ]
        return "\n".join(lines) + "\n"


class HealthServer:
    """GET /health (JSON) and /metrics (Prometheus text) on a loopback port, in a thread."""

    def __init__(self, metrics: Metrics, port: int, host: str = "127.0.0.1",
                 healthy: Any = lambda: (True, "ok")) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.split("?")[0] == "/metrics":
                    body, ctype, code = outer.metrics.prometheus().encode(), "text/plain; version=0.0.4", 200
                elif self.path.split("?")[0] == "/health":
                    ok, why = outer.healthy()
                    doc = {"status": "ok" if ok else "unhealthy", "detail": why, **outer.metrics.snapshot()}
                    body, ctype, code = json.dumps(doc).encode(), "application/json", 200 if ok else 503
                else:
                    body, ctype, code = b"not found: try /health or /metrics\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.metrics = metrics
        self.healthy = healthy
        if not 0 <= port <= 65535:
            raise CliError(f"bad health port {port}", "ports are 0..65535 (0 picks a free one)")
        try:
            self.httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as err:
            raise CliError(f"cannot serve /health on {host}:{port}: {err.strerror}",
                           "pick a free port (--health-port N) or stop what uses it") from None
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
