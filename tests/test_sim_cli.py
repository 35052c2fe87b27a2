"""`citynode sim start/list/stop`: background boards other shells (and mpremote) can use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citynode.sim.testing import mpremote, needs_sim

pytestmark = needs_sim
CITYNODE = str(Path(sys.executable).with_name("citynode"))


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYNODE, "sim", *args], capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ, CITYNODE_SIM_DIR=str(tmp_path / "run"))
    yield e
    cli("stop", "--all", env=e)


def test_start_list_use_and_stop(env: dict[str, str], tmp_path: Path) -> None:
    state = tmp_path / "state"
    r = cli("start", "--board", "heltec_v2", "--state", str(state), "--name", "soil-1", env=env)
    assert r.returncode == 0, r.stderr
    port = r.stdout.strip()
    assert port.startswith("/dev/pts/") and (state / "port").resolve() == Path(port)
    listed = json.loads(cli("list", "--json", env=env).stdout)
    assert [(b["name"], b["port"]) for b in listed] == [("soil-1", port)]
    mpremote(port, "exec", "with open('x.txt', 'w') as f:\n    f.write('durable')")
    again = cli("start", "--name", "soil-1", env=env)
    assert again.returncode == 2 and "already running" in again.stderr
    assert cli("stop", "soil-1", env=env).returncode == 0
    assert json.loads(cli("list", "--json", env=env).stdout) == []
    assert (state / "flash" / "x.txt").read_text() == "durable"  # --state keeps the flash


def test_unknown_board_and_bad_scenario_are_clear_errors(env: dict[str, str], tmp_path: Path) -> None:
    r = cli("start", "--board", "nosuch", env=env)
    assert r.returncode == 2 and "unknown board" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli("start", "--scenario", str(bad), env=env)
    assert r.returncode == 2 and "not valid JSON" in r.stderr
