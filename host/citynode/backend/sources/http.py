"""Webhooks from a network server: ChirpStack's HTTP integration and The Things Stack's webhooks.

Each POST carries one uplink event as JSON. The answer is 200 only once its frames are
committed (or recognised as duplicates), and 503 if that does not happen in time: nothing
answered 200 is lost. What the sender does with a 503 is its own affair: The Things Stack's
webhooks retry, ChirpStack's HTTP integration logs the error and does NOT retry (use MQTT
with ChirpStack where every frame matters). Non-uplink events (joins, status, acks) are
answered 204 and ignored. Every answer has a JSON body saying why.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from citynode.backend.formats import FormatError, parse_line
from citynode.backend.log import Log
from citynode.backend.metrics import Metrics
from citynode.backend.pipeline import Pipeline
from citynode.backend.sources.base import Source
from citynode.backend.sources.udp import parse_address
from citynode.errors import CliError

MAX_BODY = 64 * 1024
COMMIT_TIMEOUT_S = 10.0


class HttpSource(Source):
    name = "http"

    def __init__(self, address: str, pipeline: Pipeline, metrics: Metrics, log: Log) -> None:
        self.address = parse_address(address, default_host="127.0.0.1")
        self.pipeline = pipeline
        self.metrics = metrics
        self.log = log
        self.accepting = True
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
                return  # serve's structured log says what matters

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                source.handle(self)

        try:
            self._server = ThreadingHTTPServer(self.address, Handler)
        except OSError as err:
            raise CliError(f"cannot listen on {self.address[0]}:{self.address[1]} for webhooks: {err.strerror}",
                           "pick a free port (--http HOST:PORT) or stop what uses it") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()
        self.metrics.source_state(self.name, f"listening on {self.address[0]}:{self.address[1]}")

    def stop_receiving(self) -> None:
        self.accepting = False

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        if not self.accepting:
            _answer(request, 503, "shutting down")
            return
        event = parse_qs(urlparse(request.path).query).get("event", ["up"])[0]
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length <= 0 or length > MAX_BODY:
            _answer(request, 413 if length > MAX_BODY else 400, "body must be 1 byte to 64 KiB of JSON")
            return
        body = request.rfile.read(length)
        if event != "up":
            request.send_response(204)
            request.end_headers()
            return
        try:
            uplinks = parse_line(body.decode("utf-8", "replace").replace("\n", " "), "auto", source="webhook")
        except FormatError as err:
            self.metrics.count("bad_input")
            self.log.info("bad_input", f"webhook: {err}")
            _answer(request, 400, str(err))
            return
        done = threading.Semaphore(0)
        for up in uplinks:
            self.pipeline.submit(up, done.release)
        committed = all(done.acquire(timeout=COMMIT_TIMEOUT_S) for _ in uplinks)
        if committed:
            _answer(request, 200, "stored")
        else:
            _answer(request, 503, "not stored yet: the store did not commit in time")


def _answer(request: BaseHTTPRequestHandler, code: int, message: str) -> None:
    """A JSON body for every answer: network servers log it, and a person reading it sees why."""
    body = json.dumps({"status": code, "message": message}).encode()
    request.send_response(code)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
