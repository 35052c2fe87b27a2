"""Provisioning one node over its serial console: identity, key, config, checks.

Every step is idempotent and resumable. The keystore is written before the node is (a new
key is *staged* in the keystore, sent, committed on the node, proven by challenge, and only
then promoted), so a cable pulled at any moment leaves either the old or the new state on
both sides, and running the command again finishes the job.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citynode.errors import EXIT_DEVICE, EXIT_SECURITY, CliError
from citynode.fleet import Fleet
from citynode.keystore import Keystore
from citynode.protocol import DecodedFrame, FrameError, MemoryCounterStore, decode, derive_keys
from citynode.service.client import ServiceClient

# What a node of each kind measures unless the installer says otherwise (sensor "type" = driver).
KIND_SENSORS: dict[str, list[str]] = {
    "soil": ["soil_cap", "battery"],
    "air": ["sds011", "scd4x", "battery"],
    "noise": ["noise_i2s"],
    "parking": ["qmc5883l", "battery"],
}


@dataclass
class Plan:
    device_id: int
    kind: str | None = None
    board: str | None = None
    site: str | None = None
    position: str | None = None
    sensors: list[str] | None = None
    config: dict[str, Any] | None = None  # a full config file, used as given
    rotate_key: bool = False
    lock: bool = False
    selftest: bool = True


@dataclass
class Step:
    name: str
    ok: bool
    detail: str


@dataclass
class Result:
    device_id: int
    hardware_id: str = ""
    board: str = ""
    steps: list[Step] = field(default_factory=list)
    selftest: list[dict[str, Any]] = field(default_factory=list)
    frame: DecodedFrame | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": f"{self.device_id:08x}", "hardware_id": self.hardware_id, "board": self.board,
            "ok": self.ok, "seconds": self.seconds,
            "steps": [step.__dict__ for step in self.steps], "selftest": self.selftest,
            "test_frame": self.frame.to_json() if self.frame else None,
        }


def build_config(plan: Plan) -> dict[str, Any]:
    """The config to send: the installer's file as given, or the node kind's defaults."""
    if plan.config is not None:
        return plan.config
    if plan.kind not in KIND_SENSORS:
        raise CliError(
            "no config: give --config FILE or --kind (soil, air, noise, parking)",
            hint="citynode provision --port PORT --device-id ID --kind soil",
        )
    sensors = plan.sensors or KIND_SENSORS[plan.kind]
    return {"version": 1, "kind": plan.kind, "sensors": [{"type": name} for name in sensors]}


def load_config_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"config file {path} does not exist", hint="check the path") from None
    except ValueError as err:
        raise CliError(f"config file {path} is not valid JSON: {err}", hint="fix the file (it is JSON)") from None
    if not isinstance(data, dict):
        raise CliError(f"config file {path} must hold one JSON object", hint="see firmware/cn/config.py")
    return data


class Provisioner:
    """Runs the provisioning steps on one open service session."""

    def __init__(
        self,
        client: ServiceClient,
        keystore: Keystore,
        fleet: Fleet,
        report: Callable[[Step], None] = lambda step: None,
    ) -> None:
        self.client = client
        self.keystore = keystore
        self.fleet = fleet
        self.report = report

    def _step(self, result: Result, name: str, detail: str, ok: bool = True) -> None:
        step = Step(name, ok, detail)
        result.steps.append(step)
        self.report(step)

    def _proves(self, secret: bytes, device_id: int) -> bool:
        try:
            return self.client.prove_key(secret, device_id)
        except CliError:
            return False  # NO_KEY: nothing committed yet

    def run(self, plan: Plan) -> Result:
        started = time.monotonic()
        result = Result(device_id=plan.device_id)
        self.client.wake()
        info = self.client.hello()
        result.hardware_id = str(info.get("hw_id", ""))
        result.board = str(info.get("board") or plan.board or "")
        if plan.board and info.get("board") and info["board"] != plan.board:
            raise CliError(
                f"the node says it is a {info['board']} board, not {plan.board}",
                hint="check which board you plugged in, or deploy with the right --board",
                exit_code=EXIT_DEVICE,
            )
        self._step(result, "connect", f"{result.board or 'unknown board'}, hardware {result.hardware_id}, "
                                      f"firmware {info.get('fw', '?')}")
        claimed_now = self.fleet.get(plan.device_id) is None
        self.fleet.claim(plan.device_id, result.hardware_id)
        try:
            return self._provision(plan, info, result, started)
        except BaseException:
            # The claim stands only with a key behind it (staged or installed): a run cut before the
            # key was staged leaves no row binding this board to an id it holds no key for.
            if claimed_now and not self._has_key(plan.device_id):
                self.fleet.release(plan.device_id, result.hardware_id)
            raise

    def _has_key(self, device_id: int) -> bool:
        """True when the keystore holds a key for the id, installed or staged (an unreadable one: False)."""
        try:
            return self.keystore.get(device_id) is not None or self.keystore.pending(device_id) is not None
        except CliError:
            return False

    def _provision(self, plan: Plan, info: Mapping[str, Any], result: Result, started: float) -> Result:
        secret = self._install_key(plan, info, result)
        config = build_config(plan)
        self.client.set_config(config)
        applied = self.client.commit()
        self._step(result, "config", f"committed ({', '.join(applied) or 'unchanged'}): kind {config.get('kind')}, "
                                     f"sensors {', '.join(s.get('type', '?') for s in config.get('sensors', []))}")
        if self.keystore.pending(plan.device_id) is not None:
            if not self._proves(secret, plan.device_id):
                raise CliError(
                    "the node did not prove the new key after committing it",
                    hint="run the same command again: the key is kept in the keystore until the node holds it",
                    exit_code=EXIT_SECURITY,
                )
            self.keystore.promote(plan.device_id)
            fingerprint = derive_keys(secret, plan.device_id).fingerprint()
            self._step(result, "key", f"installed and proven (fingerprint {fingerprint})")

        if plan.selftest:
            tests = self.client.selftest()
            result.selftest = list(tests.get("sensors", [])) if isinstance(tests, dict) else list(tests)
            if isinstance(tests, dict) and isinstance(tests.get("battery"), dict):
                result.selftest.append(tests["battery"])
            failed = [t.get("name", "?") for t in result.selftest if not t.get("ok")]
            answering = len(result.selftest) - len(failed)
            detail = f"{answering}/{len(result.selftest)} sensors answer"
            if failed:
                detail += f"; failing: {', '.join(failed)}"
            self._step(result, "self-test", detail, ok=not failed)

        frame = self.client.test_frame()
        try:
            result.frame = decode(frame, self.keystore.secrets(), MemoryCounterStore())
        except FrameError as err:
            self._step(result, "test frame", f"REJECTED by the decoder: {err.reason}: {err}", ok=False)
        else:
            self._step(result, "test frame", f"signed frame #{result.frame.counter} verified: the backend will "
                                             "accept this node")

        if plan.lock and not info.get("locked"):
            self.client.lock()
            self._step(result, "lock", "locked: changing its key now needs the current key")
        self.fleet.update(
            plan.device_id,
            board=result.board or None, kind=config.get("kind"), site=plan.site, position=plan.position,
            sensors=",".join(s.get("type", "?") for s in config.get("sensors", [])),
            key_fingerprint=derive_keys(secret, plan.device_id).fingerprint(),
            config_sha256=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
            locked=int(bool(plan.lock or info.get("locked"))),
            provisioned_at=time.time(),
        )
        # End with a clean boot, not RUN (which works too, SERVICE.md 4): the node shows here, at the
        # bench, that it starts from flash into the committed config and key as it will after every
        # reset in the field, and measures from a clean heap. REBOOT drops nothing: all is committed.
        self.client.reboot()
        result.seconds = round(time.monotonic() - started, 2)
        return result

    def _install_key(self, plan: Plan, info: Mapping[str, Any], result: Result) -> bytes:
        """Make sure the node will hold the device's key after COMMIT; returns that key."""
        device_id = plan.device_id
        node_id = int(info["device_id"], 16) if info.get("device_id") else None
        current = self.keystore.get(device_id)
        pending = self.keystore.pending(device_id)
        if pending is not None:
            target = pending  # a previous run was cut after staging: finish it, never make a second key
            if node_id == device_id and self._proves(target, device_id):
                return target  # it reached the node; promoted after COMMIT
        elif current is not None and not plan.rotate_key:
            if node_id == device_id and self._proves(current.secret, device_id):
                self._step(result, "key", f"already installed and proven (fingerprint {current.fingerprint})")
                return current.secret
            target = current.secret  # the key the backend already trusts for this id: send it again
        else:
            target = self.keystore.stage(device_id)  # a new device, or --rotate-key
        current_key = None
        if info.get("locked"):
            holder = self.keystore.get(node_id) if node_id is not None else None
            if holder is None:
                raise CliError(
                    f"this node is locked by device id {info.get('device_id')} and this keystore has no key for it",
                    hint="use the keystore that provisioned it, or factory-reset the node (protocol/SERVICE.md)",
                    exit_code=EXIT_SECURITY,
                )
            current_key = holder.secret
        self.client.set_key(target, current_key=current_key, device_id=device_id)
        if self.keystore.pending(device_id) is None:
            # Re-sending an existing key: nothing to promote, but the node must prove it after COMMIT.
            self.keystore.stage(device_id, target)
        return target


