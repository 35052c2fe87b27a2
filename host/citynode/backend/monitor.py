"""Security monitoring: rates of rejected frames per device and per gateway, and alerts.

The counts come from the rejects table (not process memory), so several serve processes
splitting one stream still see the whole picture, and one alert per rule and subject is
raised per window across all of them (alert_state is claimed atomically).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from citynode.backend.store import Store


@dataclass(frozen=True)
class AlertRule:
    """Raise `name` when `threshold` distinct frames with one of `reasons` hit one subject in `window_s`."""

    name: str
    reasons: tuple[str, ...]
    per: str  # "device" or "gateway"
    threshold: int
    window_s: float
    why: str


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("bad_tag_device", ("bad_tag",), "device", 5, 600,
              "frames with a wrong tag for one device: someone may be trying keys or forging frames"),
    AlertRule("replay_device", ("replay",), "device", 3, 600,
              "old frames of one device sent again: a replay attack or a node whose counter went back"),
    AlertRule("bad_tag_gateway", ("bad_tag",), "gateway", 20, 600,
              "many frames with a wrong tag through one gateway: forging near that gateway"),
    AlertRule("malformed_gateway", ("malformed", "truncated_sample", "value_out_of_range", "reserved_bit",
                                    "too_long", "counter_gap", "bad_encoding"), "gateway", 10, 60,
              "a burst of malformed frames through one gateway: fuzzing, or a broken node nearby"),
    AlertRule("unknown_device_gateway", ("unknown_device",), "gateway", 100, 600,
              "many frames from unknown devices through one gateway (shared gateways also hear "
              "other networks; raise this threshold if that is normal here)"),
)


@dataclass(frozen=True)
class Alert:
    rule: str
    subject: str
    count: int
    threshold: int
    window_s: float
    message: str

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "subject": self.subject, "count": self.count,
                "threshold": self.threshold, "window_s": self.window_s, "message": self.message}


def parse_rule_override(text: str, rules: tuple[AlertRule, ...] = DEFAULT_RULES) -> AlertRule:
    """'bad_tag_device=5/600' -> that rule with threshold 5 in 600 s."""
    name, sep, spec = text.partition("=")
    count, slash, window = spec.partition("/")
    base = {r.name: r for r in rules}.get(name.strip())
    if not sep or base is None:
        raise ValueError(f"unknown alert rule in {text!r}; rules: {', '.join(r.name for r in rules)}")
    try:
        threshold = int(count)
        window_s = float(window) if slash else base.window_s
    except ValueError:
        raise ValueError(f"{text!r}: expected RULE=COUNT or RULE=COUNT/SECONDS") from None
    if threshold < 1 or window_s <= 0:
        raise ValueError(f"{text!r}: COUNT must be >= 1 and SECONDS > 0")
    return AlertRule(base.name, base.reasons, base.per, threshold, window_s, base.why)


def apply_overrides(overrides: list[str], rules: tuple[AlertRule, ...] = DEFAULT_RULES) -> tuple[AlertRule, ...]:
    changed = {r.name: r for r in (parse_rule_override(o, rules) for o in overrides)}
    return tuple(changed.get(r.name, r) for r in rules)


class SecurityMonitor:
    """Called for each reject inside the ingest transaction; returns the alerts it raised."""

    def __init__(self, store: Store, rules: tuple[AlertRule, ...] = DEFAULT_RULES,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock

    def on_reject(self, reason: str, device_id: int | None, gateway: str, now: float | None = None) -> list[Alert]:
        now = self.clock() if now is None else now
        raised = []
        for rule in self.rules:
            if reason not in rule.reasons:
                continue
            value: object
            if rule.per == "device":
                if device_id is None:
                    continue
                column, value, subject = "device_id", device_id, f"device {device_id:08x}"
            else:
                if not gateway:
                    continue
                column, value, subject = "gateway", gateway, f"gateway {gateway}"
            count = self.store.count_rejects(rule.reasons, column, value, now - rule.window_s)
            if count < rule.threshold:
                continue
            if not self.store.claim_alert(rule.name, subject, now, rule.window_s):
                continue
            message = (f"{subject}: {count} rejected frames ({', '.join(rule.reasons)}) in "
                       f"{rule.window_s:g} s (threshold {rule.threshold}): {rule.why}")
            alert = Alert(rule.name, subject, count, rule.threshold, rule.window_s, message)
            self.store.insert_alert(raised_at=now, rule=rule.name, subject=subject, count=count,
                                    threshold=rule.threshold, window_s=rule.window_s, message=message)
            raised.append(alert)
        return raised
