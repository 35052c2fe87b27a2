"""Verify a frame and store it exactly once, or record why not.

For each uplink, in one database transaction (a savepoint inside a batch):
1. Same bytes already stored: a reception by another gateway within `dup_window_s` adds
   a reception row (not a replay); the same reception again (an MQTT redelivery, a file
   read twice) changes nothing; the same bytes long after are a replayed frame.
2. Otherwise decode with the database as the CounterStore: the counter advance, the
   frame, its receptions and readings commit together. A `replay` may be another worker
   that just stored the same bytes, so step 1 is checked again before rejecting.
3. Anything that fails verification goes to `rejects` only, and the security monitor
   counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from citynode.backend.db import TransientDbError
from citynode.backend.model import Reception, Uplink
from citynode.backend.monitor import Alert, SecurityMonitor
from citynode.backend.store import Store, raw_hash
from citynode.protocol import DecodedFrame, FrameError, decode

# The fleet's floor on tag length (SPEC.md 6.3): a node's config (or someone who changed it through
# a cable) cannot lower what the backend accepts. 8 bytes = 64-bit forgery resistance per try.
DEFAULT_MIN_TAG_LEN = 8


class _TagTooShort(Exception):
    """A genuine frame whose tag is shorter than the fleet accepts: refused, its counter not consumed."""

    reason = "tag_too_short"

    def __init__(self, tag_len: int, minimum: int) -> None:
        super().__init__(f"a {tag_len}-byte tag; this fleet accepts {minimum} bytes or more "
                         f"(serve --min-tag-len); set the node's tag_len to {minimum} or 16")


# Reasons found after the device id is known to be where a v1 frame carries it (SPEC.md 5, steps 5+).
_DEVICE_REASONS = frozenset({"unknown_device", "bad_tag", "replay", "counter_unknown", "counter_gap", "malformed",
                             "truncated_sample", "value_out_of_range", "internal_error", "tag_too_short"})


@dataclass
class Result:
    """What happened to one uplink: stored, duplicate (new reception), redelivered (nothing new), rejected."""

    status: str
    device_id: int | None = None
    counter: int | None = None
    reason: str | None = None
    detail: str = ""
    frame_id: int | None = None
    readings: int = 0
    gateways: tuple[str, ...] = ()
    alerts: list[Alert] = field(default_factory=list)
    frame: DecodedFrame | None = None

    @property
    def accepted(self) -> bool:
        return self.status != "rejected"


class Ingestor:
    def __init__(self, store: Store, keys: Mapping[int, bytes], monitor: SecurityMonitor | None = None, *,
                 dup_window_s: float = 120.0, clock: Callable[[], float] = time.time, retries: int = 5,
                 min_tag_len: int = DEFAULT_MIN_TAG_LEN) -> None:
        self.store = store
        self.min_tag_len = min_tag_len
        self.keys = keys
        self.monitor = monitor
        self.dup_window_s = dup_window_s
        self.clock = clock
        self.retries = retries

    def ingest(self, frame: bytes, meta: Reception | Sequence[Reception] = ()) -> Result:
        """Verify and store one frame (its own transaction)."""
        recs = (meta,) if isinstance(meta, Reception) else tuple(meta)
        return self.ingest_batch([Uplink(bytes(frame), recs or (Reception(),))])[0]

    def ingest_batch(self, uplinks: Sequence[Uplink]) -> list[Result]:
        """One transaction for the batch, a savepoint per uplink; retried whole on deadlock or lost connection."""
        for attempt in range(self.retries + 1):
            try:
                with self.store.transaction():
                    return [self._one(up) for up in uplinks]
            except TransientDbError:
                if attempt == self.retries:
                    raise
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
                self.store.db.recover()
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ one uplink

    def _one(self, up: Uplink) -> Result:
        now = self.clock()
        recs = up.receptions or (Reception(),)
        times = [r.time for r in recs if r.time is not None]
        t = min(times) if times else now
        raw = up.frame
        claimed = int.from_bytes(raw[1:5], "big") if len(raw) >= 5 else None
        if up.problem:
            return self._reject(up, recs, None, up.problem, up.detail, t)
        digest = raw_hash(raw)
        seen = self._existing(up, digest, recs, t, claimed)
        if seen is not None:
            return seen
        reason = detail = ""
        try:
            with self.store.transaction():
                frame = decode(raw, self.keys, self.store.counters)
                if frame.tag_len < self.min_tag_len:  # raised inside: the counter advance rolls back
                    raise _TagTooShort(frame.tag_len, self.min_tag_len)
                frame_id = self.store.insert_frame(frame, digest, t)
                for rec in recs:
                    self.store.add_reception(frame_id, rec, now if rec.time is None else rec.time)
                n = self.store.insert_readings(frame_id, frame, t)
            return Result("stored", frame.device_id, frame.counter, frame_id=frame_id, readings=n,
                          gateways=_gateways(recs), frame=frame)
        except (FrameError, _TagTooShort) as err:
            reason, detail = err.reason, str(err)
        except TransientDbError:
            raise
        except Exception as err:  # a bug (decoder, constraint) must not wedge the pipeline on one frame
            reason, detail = "internal_error", f"{type(err).__name__}: {err}"
        if reason == "replay":
            seen = self._existing(up, digest, recs, t, claimed)
            if seen is not None:
                return seen
        return self._reject(up, recs, claimed if reason in _DEVICE_REASONS else None, reason, detail, t)

    def _existing(self, up: Uplink, digest: str, recs: tuple[Reception, ...], t: float,
                  claimed: int | None) -> Result | None:
        stored = self.store.find_frame(digest, up.frame)
        if stored is None:
            return None
        new = [rec for rec in recs if not self.store.has_reception(stored.frame_id, rec)]
        if not new:
            return Result("redelivered", stored.device_id, stored.counter, frame_id=stored.frame_id,
                          gateways=_gateways(recs))
        age = t - stored.received_at
        if abs(age) > self.dup_window_s:
            detail = (f"the same bytes as frame {stored.counter} of device {stored.device_id:08x}, "
                      f"first received {age:.0f} s earlier (duplicate window {self.dup_window_s:g} s)")
            return self._reject(up, recs, claimed, "replay", detail, t)
        now = self.clock()
        for rec in new:
            self.store.add_reception(stored.frame_id, rec, now if rec.time is None else rec.time)
        return Result("duplicate", stored.device_id, stored.counter, frame_id=stored.frame_id,
                      gateways=_gateways(new))

    def _reject(self, up: Uplink, recs: tuple[Reception, ...], device_id: int | None, reason: str,
                detail: str, t: float) -> Result:
        alerts: list[Alert] = []
        seen: set[tuple[str, str]] = set()
        for rec in recs:
            if (rec.source, rec.gateway) in seen:
                continue
            seen.add((rec.source, rec.gateway))
            self.store.insert_reject(received_at=t, device_id=device_id, gateway=rec.gateway, source=rec.source,
                                     reason=reason, detail=detail, raw=up.frame or None)
        if self.monitor is not None:
            for _, gateway in sorted(seen):
                alerts += self.monitor.on_reject(reason, device_id, gateway, now=t)
        return Result("rejected", device_id, None, reason=reason, detail=detail, gateways=_gateways(recs),
                      alerts=alerts)


def _gateways(recs: Sequence[Reception]) -> tuple[str, ...]:
    return tuple(r.gateway for r in recs if r.gateway)
