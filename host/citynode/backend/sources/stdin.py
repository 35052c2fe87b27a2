"""Lines on standard input, in any `citynode decode` format (hex, base64, JSON lines, ChirpStack, TTS, rxpk)."""

from __future__ import annotations

import sys
import threading
from typing import IO

from citynode.backend.formats import FormatError, iter_lines
from citynode.backend.log import Log
from citynode.backend.metrics import Metrics
from citynode.backend.pipeline import Pipeline
from citynode.backend.sources.base import Source


class StdinSource(Source):
    name = "stdin"

    def __init__(self, pipeline: Pipeline, metrics: Metrics, log: Log, *, fmt: str = "auto",
                 stream: IO[str] | None = None) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.log = log
        self.fmt = fmt
        self.stream = stream
        self._stop = threading.Event()
        self._eof = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)

    def start(self) -> None:
        self.metrics.source_state(self.name, "reading")
        self._thread.start()

    def stop_receiving(self) -> None:
        self._stop.set()

    def finished(self) -> bool:
        return self._eof.is_set()

    def _run(self) -> None:
        stream = self.stream or sys.stdin
        try:
            for n, parsed in iter_lines(stream, self.fmt):
                if self._stop.is_set():
                    return
                if isinstance(parsed, FormatError):
                    self.metrics.count("bad_input")
                    self.log.info("bad_input", str(parsed), line=n)
                    continue
                for up in parsed:
                    self.pipeline.submit(up)
        finally:
            self.metrics.source_state(self.name, "end of input")
            self._eof.set()
