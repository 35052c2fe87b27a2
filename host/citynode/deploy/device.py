"""Talk to a board with the real mpremote CLI (subprocess): query it, copy files, install packages."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from citynode.errors import EXIT_DEVICE, CliError

# Runs on the board: what it runs, and a SHA-256 of every file so deploy knows what will change.
INFO_SCRIPT = """
import sys, os, json, hashlib, binascii
def _walk(d, out):
    for e in os.ilistdir(d):
        p = (d if d != '/' else '') + '/' + e[0]
        if e[1] == 0x4000:
            _walk(p, out)
        else:
            h = hashlib.sha256()
            b = bytearray(512)
            with open(p, 'rb') as f:
                while True:
                    n = f.readinto(b)
                    if not n:
                        break
                    h.update(b[:n])
            out[p] = binascii.hexlify(h.digest()).decode()
_files = {}
_walk('/', _files)
try:
    import lora
    _lora = getattr(lora, '__file__', None) or getattr(lora, '__path__', None) or 'built-in'
except ImportError:
    _lora = None
print('CNDEPLOY ' + json.dumps({'version': list(sys.implementation.version[:3]),
    'mpy': getattr(sys.implementation, '_mpy', 0), 'machine': getattr(sys.implementation, '_machine', ''),
    'platform': sys.platform, 'files': _files, 'lora': _lora}))
"""

# .mpy architecture codes (sys.implementation._mpy >> 10) to mpy-cross -march names.
MPY_ARCHES = {
    0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
    7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc",
}


@dataclass(frozen=True)
class DeviceInfo:
    version: tuple[int, int, int]
    arch: str | None
    machine: str
    platform: str
    files: dict[str, str]  # board path -> sha256 hex
    lora: str | None  # where the radio driver is: a file path, "built-in", or None


def mpremote(port: str, *args: str, timeout: float = 300.0) -> str:
    """Run `mpremote connect PORT ARGS...` and return its output; a failure becomes a CliError."""
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CliError(
            f"the board on {port} stopped answering (mpremote timed out after {timeout:.0f} s)",
            hint="check the cable, press the board's reset button, and run the command again",
            exit_code=EXIT_DEVICE,
        ) from exc
    if proc.returncode != 0:
        raise CliError(
            f"mpremote failed on {port}: {mpremote_error(proc.stdout + proc.stderr)}",
            hint="check that the port is right (citynode ports), nothing else uses it, and the board runs MicroPython",
            exit_code=EXIT_DEVICE,
        )
    return proc.stdout


def mpremote_error(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def query(port: str) -> DeviceInfo:
    out = mpremote(port, "exec", INFO_SCRIPT)
    for line in out.splitlines():
        if line.startswith("CNDEPLOY "):
            data = json.loads(line[len("CNDEPLOY "):])
            break
    else:
        raise CliError(
            f"the board on {port} did not report its MicroPython version",
            hint="is MicroPython flashed? run 'citynode flash' first",
            exit_code=EXIT_DEVICE,
        )
    version = tuple(int(v) for v in data["version"])
    return DeviceInfo(
        version=(version[0], version[1], version[2]),
        arch=MPY_ARCHES.get(int(data["mpy"]) >> 10),
        machine=str(data["machine"]),
        platform=str(data["platform"]),
        files={str(k): str(v) for k, v in data["files"].items()},
        lora=data["lora"],
    )
