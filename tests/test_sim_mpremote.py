"""The virtual board seen by the real mpremote CLI (1.27): files, hashes, scripts, resets, Ctrl-C, mip."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import serial

from citynode.sim import BoardControl
from citynode.sim.testing import MPREMOTE, mpremote, needs_sim

pytestmark = needs_sim
pytest_plugins = ("sim_fixtures",)

Board = tuple[str, BoardControl]


def test_copy_tree_list_and_hash(virtual_board: Board, tmp_path: Path) -> None:
    port, control = virtual_board
    tree = tmp_path / "app"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.py").write_text("A = 1\n")
    blob = os.urandom(5000)
    (tree / "sub" / "data.bin").write_bytes(blob)
    mpremote(port, "fs", "cp", "-r", str(tree), ":")
    top = mpremote(port, "fs", "ls", ":app").stdout
    assert "a.py" in top and "sub/" in top
    sub = mpremote(port, "fs", "ls", ":app/sub").stdout
    assert "5000 data.bin" in " ".join(sub.split())
    out = mpremote(port, "fs", "sha256sum", ":app/sub/data.bin").stdout
    assert hashlib.sha256(blob).hexdigest() in out
    # what mpremote wrote is on the board's flash, byte for byte
    assert (Path(control.status()["state_dir"]) / "flash" / "app" / "sub" / "data.bin").read_bytes() == blob
    mpremote(port, "fs", "rm", ":app/a.py")
    assert "a.py" not in mpremote(port, "fs", "ls", ":app").stdout


def test_run_and_exec_stream_output(virtual_board: Board, tmp_path: Path) -> None:
    port, _ = virtual_board
    script = tmp_path / "hello.py"
    script.write_text("import sys\nfor i in range(3):\n    print('line', i)\nprint(sys.platform)\n")
    out = mpremote(port, "run", str(script)).stdout
    assert out.splitlines() == ["line 0", "line 1", "line 2", "esp32"]
    bad = mpremote(port, "exec", "raise ValueError('boom')", check=False)
    assert bad.returncode == 1 and "ValueError: boom" in bad.stdout + bad.stderr


def test_soft_reset_runs_boot_and_main_again(virtual_board: Board, tmp_path: Path) -> None:
    port, control = virtual_board
    (tmp_path / "boot.py").write_text(
        "try:\n    n = int(open('boots.txt').read())\nexcept OSError:\n    n = 0\n"
        "f = open('boots.txt', 'w')\nf.write(str(n + 1))\nf.close()\n"
    )
    (tmp_path / "main.py").write_text("print('main ran', open('boots.txt').read())\n")
    mpremote(port, "fs", "cp", str(tmp_path / "boot.py"), ":boot.py", "+", "fs", "cp", str(tmp_path / "main.py"),
             ":main.py")
    mpremote(port, "soft-reset")  # from the raw REPL: boot.py runs, main.py does not
    assert mpremote(port, "resume", "exec", "print(open('boots.txt').read())").stdout.strip() == "1"
    # Ctrl-D at the friendly REPL: soft reboot, boot.py then main.py, output on the console
    with serial.Serial(port, 115200, timeout=0.2) as s:
        s.write(b"\r\x02")  # leave the raw REPL mpremote left us in
        time.sleep(0.3)
        s.reset_input_buffer()
        s.write(b"\x04")
        got = b""
        deadline = time.monotonic() + 10
        while b"main ran 2" not in got or not got.endswith(b">>> "):
            assert time.monotonic() < deadline, got
            got += s.read(4096)
    assert b"MPY: soft reboot\r\n" in got and b"main ran 2\r\n" in got
    assert got.index(b"MPY: soft reboot") < got.index(b"main ran 2")


def test_ctrl_c_stops_a_tight_loop_and_a_sleeping_loop(virtual_board: Board) -> None:
    port, _ = virtual_board
    for program in ("while True: pass", "import time\nwhile True:\n    time.sleep(1)"):
        proc = subprocess.Popen([MPREMOTE, "connect", port, "exec", program], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(1.5)
        assert proc.poll() is None  # still running on the board
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        # the next mpremote interrupts it with Ctrl-C and the board answers
        assert mpremote(port, "exec", "print('alive', 6 * 7)", timeout=30).stdout.strip() == "alive 42"


def test_reset_gives_a_fresh_board_with_files_kept(virtual_board: Board) -> None:
    port, control = virtual_board
    mpremote(port, "exec", "with open('keep.txt', 'w') as f:\n    f.write('kept')")
    mark = control.console_offset()
    mpremote(port, "reset")
    control.wait_console("rst:0xc (SW_CPU_RESET)", since=mark)  # the ROM's boot message
    out = mpremote(port, "exec", "import machine; print(machine.reset_cause(), open('keep.txt').read())").stdout
    assert out.split() == ["5", "kept"]  # SOFT_RESET: what esp_restart() reports on the ESP32 port


def test_mip_installs_a_local_package(virtual_board: Board, tmp_path: Path) -> None:
    port, _ = virtual_board
    pkg = tmp_path / "greet"
    (pkg / "greet").mkdir(parents=True)
    (pkg / "greet" / "__init__.py").write_text("from greet.words import WORD\n")
    (pkg / "greet" / "words.py").write_text("WORD = 'bonjour'\n")
    (pkg / "package.json").write_text(json.dumps({
        "urls": [["greet/__init__.py", "greet/__init__.py"], ["greet/words.py", "greet/words.py"]],
        "version": "0.1",
    }))
    out = mpremote(port, "mip", "install", str(pkg / "package.json")).stdout
    assert "Installing: /lib/greet/words.py" in out
    assert mpremote(port, "exec", "import greet; print(greet.WORD)").stdout.strip() == "bonjour"
    assert "words.py" in mpremote(port, "fs", "ls", ":lib/greet").stdout
