"""Device secrets for verification, from the project keystore (citynode.keystore).

A JSON key file {"keys": {"0000002a": "<32 hex digits>"}} (the `keys` object of
protocol/vectors.json, used by tests and simulators) is accepted too.
"""

from __future__ import annotations

import json
from pathlib import Path

from citynode.errors import EXIT_SECURITY, CliError


def load_keys(path: Path) -> dict[int, bytes]:
    """Device id -> 16-byte secret. CliError (never the secrets) when the file is unusable."""
    if not str(path):
        raise CliError("no keystore given", "pass --keys KEYSTORE (made by `citynode keys new`)")
    if not path.is_file():
        raise CliError(f"keystore {path} not found", "pass --keys KEYSTORE (made by `citynode keys new`)")
    if _looks_like_json_keys(path):
        return _load_json(path)
    try:
        from citynode.keystore import Keystore  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _load_json(path)
    try:
        return dict(Keystore(path).secrets())
    except CliError:
        raise
    except Exception as err:
        raise CliError(f"cannot read keystore {path}: {type(err).__name__}", "check the file and its permissions",
                       EXIT_SECURITY) from None


def _looks_like_json_keys(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and set(doc) == {"keys"} and isinstance(doc["keys"], dict)


def _load_json(path: Path) -> dict[int, bytes]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        items = doc.get("keys", doc) if isinstance(doc, dict) else None
        if not isinstance(items, dict):
            raise ValueError("not an object")
        keys = {int(dev, 16): bytes.fromhex(secret) for dev, secret in items.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        raise CliError(f"cannot read keystore {path}",
                       "expected a keystore made by `citynode keys new`") from None
    if any(len(s) != 16 for s in keys.values()):
        raise CliError(f"keystore {path}: every secret must be 16 bytes", "regenerate it with `citynode keys new`")
    return keys
