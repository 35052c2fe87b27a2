"""Run an ES module given as text on Node, for tests of the virtual board's JavaScript models.

Not a pytest module.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any


def node_module(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`node --input-type=module -e script args...`, output captured as text."""
    return subprocess.run(["node", "--input-type=module", "-e", script, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def node_json(script: str, *args: str) -> Any:
    """Run the script, which must succeed, and parse what it wrote to stdout as JSON."""
    proc = node_module(script, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
