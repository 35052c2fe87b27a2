"""Where the project's data lives: the registry, board files and firmware tree.

One place resolves them so that tools work from a checkout (editable install) or with
CITYNODE_ROOT pointing at one.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout that holds protocol/, boards/ and firmware/."""
    env = os.environ.get("CITYNODE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "protocol" / "registry.toml").is_file():
            return parent
    raise FileNotFoundError("cannot find the citynode checkout (protocol/registry.toml); set CITYNODE_ROOT")


def protocol_dir() -> Path:
    return project_root() / "protocol"


def boards_dir() -> Path:
    return project_root() / "boards"


def firmware_dir() -> Path:
    return project_root() / "firmware"
