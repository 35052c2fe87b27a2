"""`citynode flash` end to end: real esptool 5.1 against emulated ROM bootloaders on ptys.

The emulator (tests/esprom) answers esptool's serial protocol for an ESP32 or ESP32-S3 and
keeps a 4 MB flash we read back byte for byte. MACs, chips and failure behaviours are set
per board here, so every expectation below comes from the test's own setup.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from citynode.cli import main
from citynode.paths import project_root
from esprom import EmulatedBoard, firmware

pytestmark = pytest.mark.slow

ESP32_BOARD = "heltec_v2"  # boards/heltec_v2.json: esp32, flash_offset 4096
S3_BOARD = "heltec_v3"  # boards/heltec_v3.json: esp32s3, flash_offset 0
MAC_A = bytes.fromhex("240ac4a1b2c3")
MAC_B = bytes.fromhex("240ac4d4e5f6")
MAC_S3 = bytes.fromhex("f412fa0a0b0c")
FILL = 0xA5  # what the emulated flash holds before: anything the flasher touches shows
PR_CAPBSET_DROP = 24  # linux/prctl.h
CAP_DAC_OVERRIDE = 1  # linux/capability.h
CAP_DAC_READ_SEARCH = 2


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fw")
    out = {}
    for chip in ("esp32", "esp32s3"):
        path = root / f"{chip}.bin"
        path.write_bytes(firmware(chip, app_kib=96, seed=7))
        out[chip] = path
    return out


def flash(ports: list[str], board: str, image: Path, *extra: str) -> int:
    argv = ["flash", "--board", board, "--firmware", str(image), *extra]
    for port in ports:
        argv += ["--port", port]
    return main(argv)


def assert_landed(board: EmulatedBoard, image: bytes, offset: int) -> None:
    """The image is at `offset`, byte for byte; flash before it is untouched."""
    assert bytes(board.flash[offset : offset + len(image)]) == image
    assert board.flash[:offset] == bytearray([FILL]) * offset
    end = offset + len(image)
    end += -end % 0x1000  # the loader erases whole 4 KB sectors
    assert board.flash[end : end + 0x1000] == bytearray([FILL]) * 0x1000


def test_flash_esp32_lands_at_0x1000_and_reports_mac(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = images["esp32"].read_bytes()
    with EmulatedBoard(chip="esp32", mac=MAC_A, fill=FILL) as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy")
        assert_landed(board, data, 0x1000)
        assert 0x05 in board.commands and 0x10 in board.commands  # stub uploaded, compressed writes
    assert code == 0
    out = capsys.readouterr().out
    assert mac_text(MAC_A) in out
    assert "1 of 1 board(s) flashed" in out


def test_flash_esp32s3_through_rom_loader_lands_at_0x0(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = images["esp32s3"].read_bytes()
    with EmulatedBoard(chip="esp32s3", mac=MAC_S3, fill=FILL) as board:
        code = flash([board.port], S3_BOARD, images["esp32s3"], "--no-stub", "--no-deploy", "--json")
        assert_landed(board, data, 0x0)
        assert 0x05 not in board.commands  # --no-stub: no RAM download at all
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    (result,) = report["boards"]
    assert result["ok"] is True
    assert result["chip"] == "esp32s3"
    assert result["mac"] == mac_text(MAC_S3)
    assert report["firmware"]["offset"] == 0


def test_erase_wipes_the_whole_flash_first(images: dict[str, Path]) -> None:
    data = images["esp32"].read_bytes()
    with EmulatedBoard(chip="esp32", fill=FILL) as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--erase", "--no-deploy")
        assert 0xD0 in board.commands  # ERASE_FLASH, a stub command
        assert bytes(board.flash[0x1000 : 0x1000 + len(data)]) == data
        assert board.flash[:0x1000] == b"\xff" * 0x1000
        assert board.flash[-0x1000:] == b"\xff" * 0x1000
    assert code == 0


def test_wrong_chip_for_board_file_writes_nothing(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatedBoard(chip="esp32s3", mac=MAC_S3, fill=FILL) as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy")
        assert not board.wrote_anything
        assert board.flash == bytearray([FILL]) * board.flash_size
    assert code == 2
    captured = capsys.readouterr()
    assert "ESP32-S3" in captured.out and "nothing was written" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_board_not_in_download_mode(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatedBoard(chip="esp32", answer=False) as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy", "--connect-attempts", "1")
        assert board.flash == b"\xff" * board.flash_size
    assert code == 3
    out = capsys.readouterr().out
    assert "not in download mode" in out
    assert "hold BOOT" in out


def test_garbled_responses_give_a_clear_message(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatedBoard(chip="esp32", corrupt_after=1) as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy", "--connect-attempts", "1")
    assert code == 3
    out = capsys.readouterr().out
    assert "garbled data" in out
    assert "failed again at 115200 baud" in out  # retried once at the safe speed


def test_stub_that_never_starts_points_to_no_stub(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with EmulatedBoard(chip="esp32", stub=False) as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy")
        assert not board.wrote_anything
    assert code == 3
    out = capsys.readouterr().out
    assert "flasher stub did not start" in out
    assert "--no-stub" in out


def test_cable_pulled_on_one_board_others_finish(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--port given three times: one cable is pulled mid-write; the two others are flashed."""
    data = images["esp32"].read_bytes()
    with (
        EmulatedBoard(chip="esp32", mac=MAC_A, fill=FILL) as a,
        EmulatedBoard(chip="esp32", mac=bytes.fromhex("240ac4000bad"), drop_after=2) as pulled,
        EmulatedBoard(chip="esp32", mac=MAC_B, fill=FILL) as b,
    ):
        code = flash([a.port, pulled.port, b.port], ESP32_BOARD, images["esp32"], "--no-deploy")
        assert_landed(a, data, 0x1000)
        assert_landed(b, data, 0x1000)
        assert pulled.dropped
    assert code == 1
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ /dev/")}
    assert "ok" in rows[a.port] and mac_text(MAC_A) in rows[a.port]
    assert "ok" in rows[b.port] and mac_text(MAC_B) in rows[b.port]
    assert "FAILED: connection lost" in rows[pulled.port]
    assert f"{pulled.port}: lost the connection to the board while writing" in out
    assert "2 of 3 board(s) flashed" in out


def test_several_boards_json_is_parseable(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with (
        EmulatedBoard(chip="esp32", mac=MAC_A) as a,
        EmulatedBoard(chip="esp32", answer=False) as silent,
        EmulatedBoard(chip="esp32", mac=MAC_B) as b,
    ):
        code = flash(
            [a.port, silent.port, b.port],
            ESP32_BOARD,
            images["esp32"],
            "--no-deploy",
            "--json",
            "--connect-attempts",
            "1",
        )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [r["port"] for r in report["boards"]] == [a.port, silent.port, b.port]
    assert [r["ok"] for r in report["boards"]] == [True, False, True]
    assert [r["mac"] for r in report["boards"]] == [mac_text(MAC_A), None, mac_text(MAC_B)]
    assert report["boards"][1]["error"]["kind"] == "not-answering"
    assert "BOOT" in report["boards"][1]["error"]["hint"]
    assert report["firmware"]["sha256"] and report["firmware"]["offset"] == 0x1000


def test_missing_port(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = flash(["/dev/ttyUSB-citynode-none"], ESP32_BOARD, images["esp32"], "--no-deploy")
    assert code == 3
    assert "does not exist" in capsys.readouterr().out


def test_busy_port_names_the_holder(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatedBoard(chip="esp32") as board:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import serial, sys, time\n"
                "s = serial.Serial(sys.argv[1], exclusive=True)\n"
                "print('held', flush=True)\n"
                "time.sleep(60)\n",
                board.port,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy")
        finally:
            holder.kill()
            holder.wait()
        assert not board.wrote_anything
    assert code == 3
    out = capsys.readouterr().out
    assert "is busy" in out
    assert str(holder.pid) in out


def _without_dac_override() -> None:
    """In the child, before exec: root loses the capabilities that ignore file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_no_permission_mentions_dialout(images: dict[str, Path]) -> None:
    """A port the user may not open (mode 000). As root, the CLI runs without CAP_DAC_OVERRIDE,
    so permissions apply to it as to a technician's account."""
    with EmulatedBoard(chip="esp32") as board:
        os.chmod(board.port, 0o000)
        argv = [sys.executable, "-m", "citynode.cli", "flash", "--port", board.port, "--board", ESP32_BOARD]
        argv += ["--firmware", str(images["esp32"]), "--no-deploy"]
        env = {**os.environ, "CITYNODE_ROOT": str(project_root())}
        try:
            run = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=env,
                preexec_fn=_without_dac_override if os.geteuid() == 0 else None,
                timeout=120,
            )
        except subprocess.SubprocessError as exc:  # no CAP_SETPCAP in this container
            pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {exc}")
        assert not board.wrote_anything
    assert run.returncode == 3, run.stdout + run.stderr
    assert "no permission" in run.stdout
    assert "usermod -aG dialout" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_next_step_is_printed_when_deploy_is_not_installed(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "citynode.deploy", None)  # as if the deploy command were absent
    with EmulatedBoard(chip="esp32") as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"])
    assert code == 0
    assert f"next: citynode deploy --port {board.port} --board {ESP32_BOARD}" in capsys.readouterr().out


def test_flashed_boards_are_handed_to_deploy(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    fake = types.ModuleType("citynode.deploy")
    fake.__spec__ = importlib.machinery.ModuleSpec("citynode.deploy", None)
    fake.deploy_board = lambda port, board: calls.append((port, board))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "citynode.deploy", fake)
    with (
        EmulatedBoard(chip="esp32") as good,
        EmulatedBoard(chip="esp32s3") as wrong,
    ):
        code = flash([good.port, wrong.port], ESP32_BOARD, images["esp32"], "--json")
    assert calls == [(good.port, ESP32_BOARD)]  # only the board that was flashed
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["boards"][0]["deploy"] == {"ok": True}
    assert report["boards"][1]["deploy"] is None


def test_no_deploy_skips_the_handoff(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    fake = types.ModuleType("citynode.deploy")
    fake.__spec__ = importlib.machinery.ModuleSpec("citynode.deploy", None)
    fake.deploy_board = lambda port, board: calls.append(port)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "citynode.deploy", fake)
    with EmulatedBoard(chip="esp32") as board:
        code = flash([board.port], ESP32_BOARD, images["esp32"], "--no-deploy")
    assert code == 0
    assert calls == []
    assert "next:" not in capsys.readouterr().out
