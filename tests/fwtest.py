"""Run MicroPython test programs on the VM (citynode.vm.run) and collect their JSON results.

A program prints one line `@@RESULT <json>`; run_fw() returns the decoded value. The bus
doubles in tests/fwbus.py (MicroPython source) are installed as /lib/fwbus.py, so a program
can `import fwbus`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from citynode.vm import run

HERE = Path(__file__).resolve().parent
MARK = "@@RESULT "

PRELUDE = """
import json
def result(v):
    print('@@RESULT ' + json.dumps(v))
"""


def run_fw(code: str, files: Mapping[str, bytes] | None = None, timeout: float = 120.0) -> Any:
    """Run `code` (with result() defined) on a fresh VM; the value it passed to result()."""
    all_files = {"/lib/fwbus.py": (HERE / "fwbus.py").read_bytes()}
    all_files.update(files or {})
    out = run(PRELUDE + code, all_files, timeout=timeout)
    for line in reversed(out.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise AssertionError("the program printed no result:\n" + out)
