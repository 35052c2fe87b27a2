"""Shared fixtures: protocol test vectors and the VM's cryptolib test double."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MICROPYTHON_DIR = Path(__file__).resolve().parent / "micropython"


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """protocol/vectors.json, parsed."""
    return json.loads((ROOT / "protocol" / "vectors.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def vector_keys(vectors: dict[str, Any]) -> dict[int, bytes]:
    return {int(dev, 16): bytes.fromhex(secret) for dev, secret in vectors["keys"].items()}


@pytest.fixture(scope="session")
def vm_cryptolib() -> dict[str, bytes]:
    """Extra VM files giving the WASM VM a `cryptolib` (FIPS-197 AES test double, ECB only)."""
    return {"/lib/cryptolib.py": (MICROPYTHON_DIR / "cryptolib.py").read_bytes()}
