"""Per-device secrets for a fleet, in one JSON file only its owner can read.

The file holds each device's 16-byte secret S (hex), its creation time and fingerprint
(first 8 hex digits of SHA-256 of K_auth, safe to show), plus an audit trail of rotations
and removals. It is created with mode 0600, refused if group or others can read it, and
rewritten atomically (temp file, fsync, rename) under a lock file so two commands never
lose each other's changes. Secrets are never printed by this module.

A provisioning run asks for keys many times: the parsed file is kept and read again only
when the file changes (another identity, size or modification time: every change through
this module renames a new file in place, so another process's change is always seen).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from citynode.errors import EXIT_SECURITY, EXIT_USAGE, CliError
from citynode.ids import parse_device_id
from citynode.protocol.counters import atomic_write
from citynode.protocol.crypto import SECRET_LEN, derive_keys

FORMAT = "citynode-keystore/1"


class KeystoreError(CliError):
    """A keystore problem the operator can fix (message + what to do)."""


@dataclass(frozen=True)
class KeyEntry:
    device_id: int
    secret: bytes
    created: str  # ISO 8601, UTC

    @property
    def fingerprint(self) -> str:
        return derive_keys(self.secret, self.device_id).fingerprint()

    def public_json(self) -> dict[str, Any]:
        """What may be shown: never the secret."""
        return {"device_id": f"{self.device_id:08x}", "created": self.created, "fingerprint": self.fingerprint}

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"KeyEntry(device_id={self.device_id:#010x}, fingerprint={self.fingerprint})"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What changes whenever the file's content can have changed (a rename gives a new inode)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class _Parsed:
    """One read of the keystore file: its JSON, and its entries checked on first use."""

    def __init__(self, path: Path, signature: tuple[int, ...] | None, data: dict[str, Any]) -> None:
        self.path = path
        self.signature = signature
        self.data = data  # shared by every reader: never changed in place

    @functools.cached_property
    def entries(self) -> dict[int, KeyEntry]:
        out: dict[int, KeyEntry] = {}
        for dev, item in sorted(self.data["devices"].items()):
            secret = bytes.fromhex(item["secret"])
            if len(secret) != SECRET_LEN:
                raise KeystoreError(f"{self.path}: device {dev} has a malformed secret", "restore from backup")
            out[int(dev, 16)] = KeyEntry(int(dev, 16), secret, item.get("created", ""))
        return out


class Keystore:
    """Keys by device id. Reads lazily (and again only when the file changed); every change
    is locked, reloaded, applied and saved."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._parsed: _Parsed | None = None

    # ------------------------------------------------------------ reading

    def _check_mode(self, st: os.stat_result | None = None) -> None:
        if st is None:
            st = self.path.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeystoreError(
                f"keystore {self.path} can be read by group or others (mode {stat.S_IMODE(st.st_mode):04o})",
                f"run: chmod 600 {self.path}", EXIT_SECURITY)

    def _read(self) -> _Parsed:
        """The file as it is now: the kept copy if the file has not changed since it was read."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return _Parsed(self.path, None, {"format": FORMAT, "devices": {}, "audit": []})
        except OSError as err:  # a path through a file (NotADirectoryError), permissions
            raise KeystoreError(f"cannot open keystore {self.path}: {err.strerror}",
                                "give a keystore path in a directory you can write (--keystore FILE)",
                                EXIT_USAGE) from None
        self._check_mode(st)  # on every call: a chmod does not change the content
        parsed = self._parsed
        if parsed is not None and parsed.signature == _signature(st):
            return parsed
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise KeystoreError(f"cannot read keystore {self.path}: {err}",
                                "check the path; restore the file from your backup", EXIT_USAGE) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("devices"), dict):
            raise KeystoreError(f"{self.path} is not a citynode keystore", "check the path", EXIT_USAGE)
        # Signature taken before the read: a change in between makes the next call read again.
        self._parsed = parsed = _Parsed(self.path, _signature(st), data)
        return parsed

    def _load(self) -> dict[str, Any]:
        return self._read().data

    def exists(self) -> bool:
        return self.path.exists()

    def require(self) -> None:
        """Fail clearly if the keystore file does not exist (commands that only read)."""
        if not self.path.exists():
            raise KeystoreError(f"keystore {self.path} does not exist",
                                f"create keys with: citynode keys new --keystore {self.path} --device-id ID")
        self._check_mode()

    def entries(self) -> list[KeyEntry]:
        return list(self._read().entries.values())

    def secrets(self) -> dict[int, bytes]:
        """device id -> secret S, the `keys` argument of citynode.protocol.decode."""
        return {e.device_id: e.secret for e in self.entries()}

    def get(self, device_id: int) -> KeyEntry | None:
        return self._read().entries.get(device_id)

    def audit(self) -> list[str]:
        return list(self._load().get("audit", []))

    # ------------------------------------------------------------ changes

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise KeystoreError(f"cannot write keystore {self.path}: {err.strerror}",
                                "give a keystore path in a directory you can write (--keystore FILE)",
                                EXIT_USAGE) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = copy.deepcopy(self._load())  # the kept copy stays as the file is if the change fails
            yield data
            atomic_write(self.path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), mode=0o600)
            # Still under the lock, so the file is the one just written: keep what was written.
            self._parsed = _Parsed(self.path, _signature(self.path.stat()), data)
        finally:
            os.close(fd)

    def add(self, device_id: int, *, force_rotate: bool = False) -> bytes:
        """Create a random secret for a new device (or rotate with force_rotate); returns it."""
        device_id = parse_device_id(device_id)
        key = f"{device_id:08x}"
        secret = secrets.token_bytes(SECRET_LEN)
        with self._locked() as data:
            old = data["devices"].get(key)
            if old is not None and not force_rotate:
                raise KeystoreError(
                    f"device {key} already has a key (fingerprint "
                    f"{derive_keys(bytes.fromhex(old['secret']), device_id).fingerprint()})",
                    "use another id, or --force-rotate to replace it (the node must then be re-provisioned)",
                    EXIT_SECURITY)
            now = _now()
            if old is not None:
                old_fp = derive_keys(bytes.fromhex(old["secret"]), device_id).fingerprint()
                new_fp = derive_keys(secret, device_id).fingerprint()
                data.setdefault("audit", []).append(f"{now} rotated {key}: {old_fp} -> {new_fp}")
            data["devices"][key] = {"secret": secret.hex(), "created": now}
        return secret

    # ------------------------------------------------------------ staged rotation

    def pending(self, device_id: int) -> bytes | None:
        """A key generated for a device but not yet confirmed on it (see stage)."""
        item = self._load().get("pending", {}).get(f"{parse_device_id(device_id):08x}")
        return bytes.fromhex(item["secret"]) if item else None

    def stage(self, device_id: int, secret: bytes | None = None) -> bytes:
        """Keep a device's next key (a new random one unless given) beside the current one until
        the device proves it holds it (promote). A rotation cut half-way never loses either key."""
        device_id = parse_device_id(device_id)
        key = f"{device_id:08x}"
        with self._locked() as data:
            staged = data.setdefault("pending", {})
            if key not in staged:
                chosen = secret if secret is not None else secrets.token_bytes(SECRET_LEN)
                staged[key] = {"secret": chosen.hex(), "created": _now()}
            return bytes.fromhex(staged[key]["secret"])

    def promote(self, device_id: int) -> None:
        """The device holds its staged key: make it the current one (audited)."""
        device_id = parse_device_id(device_id)
        key = f"{device_id:08x}"
        with self._locked() as data:
            item = data.get("pending", {}).pop(key, None)
            if item is None:
                return
            old = data["devices"].get(key)
            new_fp = derive_keys(bytes.fromhex(item["secret"]), device_id).fingerprint()
            if old is not None and old["secret"] != item["secret"]:
                old_fp = derive_keys(bytes.fromhex(old["secret"]), device_id).fingerprint()
                data.setdefault("audit", []).append(f"{_now()} rotated {key}: {old_fp} -> {new_fp}")
            data["devices"][key] = old if old is not None and old["secret"] == item["secret"] else item

    def remove(self, device_id: int) -> bool:
        """Forget a device's key (its frames can no longer be decoded). False if it had none."""
        key = f"{parse_device_id(device_id):08x}"
        with self._locked() as data:
            old = data["devices"].pop(key, None)
            if old is not None:
                fp = derive_keys(bytes.fromhex(old["secret"]), int(key, 16)).fingerprint()
                data.setdefault("audit", []).append(f"{_now()} removed {key}: {fp}")
        return old is not None
