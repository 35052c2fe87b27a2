"""Sources put uplinks in a bounded queue; one worker commits them in small batches, then acknowledges.

The acknowledgement callback (MQTT PUBACK) runs only after the batch's COMMIT, so a
process killed at any moment has acknowledged only what is in the database. A full queue
blocks the source (MQTT then stops reading; the broker holds the messages).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from citynode.backend.ingest import Ingestor, Result
from citynode.backend.log import Log
from citynode.backend.metrics import Metrics
from citynode.backend.model import Uplink


@dataclass
class Item:
    uplink: Uplink
    ack: Callable[[], None] | None = None


class Pipeline:
    def __init__(self, ingestor: Ingestor, metrics: Metrics, log: Log, *, max_batch: int = 64,
                 max_wait_s: float = 0.01, maxsize: int = 10000,
                 on_result: Callable[[Uplink, Result], None] | None = None) -> None:
        self.ingestor = ingestor
        self.metrics = metrics
        self.log = log
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_result = on_result
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.failed: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def submit(self, uplink: Uplink, ack: Callable[[], None] | None = None) -> None:
        with self._lock:
            self._in_flight += 1
        self._queue.put(Item(uplink, ack))
        self.metrics.queue_depth = self._in_flight

    def idle(self) -> bool:
        with self._lock:
            return self._in_flight == 0

    def alive(self) -> bool:
        return self._thread.is_alive()

    def drain(self, timeout: float) -> bool:
        """Wait until everything submitted is committed (or timeout); True if drained."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.01)
        return True

    def stop(self, timeout: float = 10.0) -> bool:
        drained = self.drain(timeout)
        self._stop.set()
        self._thread.join(timeout=5.0)
        return drained

    def _take(self) -> list[Item]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        pending: list[Item] = []
        delay = 0.1
        while True:
            if not pending:
                if self._stop.is_set():
                    return
                pending = self._take()
                if not pending:
                    continue
            try:
                results = self.ingestor.ingest_batch([it.uplink for it in pending])
            except Exception as err:  # database down: keep the batch, unacknowledged, and retry
                self.log.error("db_error", f"cannot store a batch of {len(pending)}; retrying",
                               error=f"{type(err).__name__}: {str(err).strip()[:300]}")
                if self._stop.is_set():
                    self.failed = err
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self._done(pending, results)
            pending = []

    def _done(self, items: list[Item], results: list[Result]) -> None:
        n_alerts = 0
        for item, res in zip(items, results, strict=True):
            self._log_result(res)
            n_alerts += len(res.alerts)
            if self.on_result is not None:
                self.on_result(item.uplink, res)
        self.metrics.batch([(r.status, r.reason) for r in results], n_alerts)
        for item in items:
            if item.ack is not None:
                try:
                    item.ack()
                except Exception as err:  # the broker will redeliver; the store makes that harmless
                    self.log.warning("ack_failed", str(err))
        with self._lock:
            self._in_flight -= len(items)
            self.metrics.queue_depth = self._in_flight

    def _log_result(self, res: Result) -> None:
        dev = None if res.device_id is None else f"{res.device_id:08x}"
        gw = ",".join(res.gateways) or None
        if res.status == "rejected":
            self.log.info("frame_rejected", res.detail, reason=res.reason, device=dev, gateway=gw)
        elif self.log.enabled("debug"):
            self.log.debug(f"frame_{res.status}", device=dev, counter=res.counter, readings=res.readings or None,
                           gateway=gw)
        for alert in res.alerts:
            self.log.warning("security_alert", alert.message, rule=alert.rule, subject=alert.subject,
                             count=alert.count, threshold=alert.threshold, window_s=alert.window_s)
