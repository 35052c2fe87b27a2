"""Technician and installer tools on the virtual board: provisioning time and re-deploy traffic.

provision_s: `citynode provision` of a freshly deployed soil node, end to end (service mode,
fleet, key staged/sent/proven, config committed, self-test, signed test frame decoded).
redeploy_bytes_unchanged / redeploy_bytes_one_file: file content `citynode deploy` sends again
when nothing changed / when one module on the board differs (mpremote skips files whose
SHA-256 matches).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from citynode.sim import VirtualBoard


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citynode.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, check=True)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, CITYNODE_KEYSTORE=str(Path(tmp) / "k.keys"), CITYNODE_FLEET=str(Path(tmp) / "f.db"))
        with VirtualBoard(board="heltec_v3", scenario="host/citynode/sim/scenarios/soil_week.json") as vb:
            deploy = ["deploy", "--port", vb.port, "--board", "heltec_v3", "--json"]
            first = json.loads(_cli(*deploy, "--no-reset", env=env).stdout)[0]
            unchanged = json.loads(_cli(*deploy, "--no-reset", env=env).stdout)[0]
            subprocess.run([sys.executable, "-m", "mpremote", "connect", vb.port, "exec",
                            "with open('/cn/soil.mpy','wb') as f: f.write(b'old')"], check=True, capture_output=True)
            one_file = json.loads(_cli(*deploy, env=env).stdout)[0]
            started = time.monotonic()
            _cli("provision", "--port", vb.port, "--device-id", "0c170001", "--kind", "soil", env=env)
            provision_s = time.monotonic() - started
    return {
        "deploy_bytes_first": first["bytes_sent"],
        "redeploy_bytes_unchanged": unchanged["bytes_sent"],
        "redeploy_bytes_one_file": one_file["bytes_sent"],
        "deploy_s_first": first["seconds"],
        "redeploy_s_unchanged": unchanged["seconds"],
        "provision_s": round(provision_s, 2),
    }
