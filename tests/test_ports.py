"""Serial port discovery and port errors (citynode.serialports) and `citynode ports`."""

from __future__ import annotations

import importlib.machinery
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from citynode import serialports
from citynode.cli import build_parser, main
from citynode.errors import EXIT_DEVICE, CliError
from esprom import EmulatedBoard


def fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    """Stand-in for a module another command provides (the simulator, the service client)."""
    build_parser()  # load every command module first: they may import the real one
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


@pytest.fixture
def board() -> Iterator[EmulatedBoard]:
    with EmulatedBoard(chip="esp32") as b:
        yield b


@pytest.fixture
def holder(board: EmulatedBoard) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the board's port open exclusively, as esptool or a monitor would."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import serial, sys, time\ns = serial.Serial(sys.argv[1], exclusive=True)\nprint('held', flush=True)\n"
            "time.sleep(60)\n",
            board.port,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize(
    ("vid", "pid", "word"),
    [
        (0x10C4, 0xEA60, "CP210x"),
        (0x1A86, 0x7523, "CH340"),
        (0x1A86, 0x55D4, "CH9102"),
        (0x0403, 0x6001, "FTDI"),
        (0x303A, 0x1001, "ESP32-S3"),
    ],
)
def test_esp32_usb_bridges_are_recognised(vid: int, pid: int, word: str) -> None:
    bridge = serialports.bridge_for(vid, pid)
    assert bridge is not None and word in bridge


def test_other_usb_serial_devices_are_not_taken_for_boards() -> None:
    assert serialports.bridge_for(0x2341, 0x0043) is None  # an Arduino Uno
    assert serialports.bridge_for(0x1546, 0x01A7) is None  # a u-blox GPS
    assert serialports.bridge_for(None, None) is None  # a built-in UART


def test_pty_is_recognised(board: EmulatedBoard) -> None:
    assert serialports.is_pty(board.port)
    assert not serialports.is_pty("/dev/null")
    assert not serialports.is_pty("/dev/ttyUSB-citynode-none")


def test_check_port_accepts_a_free_port(board: EmulatedBoard) -> None:
    serialports.check_port(board.port)


def test_check_port_missing() -> None:
    with pytest.raises(CliError) as info:
        serialports.check_port("/dev/ttyUSB-citynode-none")
    assert "does not exist" in info.value.message
    assert info.value.exit_code == EXIT_DEVICE
    assert "citynode ports" in info.value.hint or "connected now" in info.value.hint


def test_check_port_busy_names_the_holder(board: EmulatedBoard, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(CliError) as info:
        serialports.check_port(board.port)
    assert "busy" in info.value.message
    assert str(holder.pid) in info.value.message
    assert info.value.exit_code == EXIT_DEVICE


def test_device_held_open_without_a_lock_is_busy() -> None:
    """A serial monitor that takes no lock still eats the board's replies: a real (non-pty)
    device another process has open is busy. /dev/null stands in for the device here."""
    child = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        with pytest.raises(CliError) as info:
            serialports.check_port("/dev/null")
        assert "busy" in info.value.message
    finally:
        child.kill()
        child.wait()


def test_check_port_rejects_a_regular_file(tmp_path: Any) -> None:
    path = tmp_path / "ttyUSB0"
    path.write_text("")
    with pytest.raises(CliError) as info:
        serialports.check_port(str(path))
    assert "not a serial device" in info.value.message


def test_open_serial_translates_busy(board: EmulatedBoard, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(CliError) as info:
        serialports.open_serial(board.port)
    assert "busy" in info.value.message


def test_port_error_translates_what_pyserial_raises() -> None:
    with pytest.raises(serial.SerialException) as missing:
        serial.Serial("/dev/ttyUSB-citynode-none")
    assert "does not exist" in serialports.port_error("/dev/ttyUSB-citynode-none", missing.value).message
    denied = PermissionError(13, "Permission denied")
    err = serialports.port_error("/dev/ttyUSB0", denied)
    assert "no permission" in err.message and "dialout" in err.hint


def test_open_serial_works_and_is_exclusive(board: EmulatedBoard) -> None:
    port = serialports.open_serial(board.port, timeout=0.1)
    try:
        with pytest.raises(CliError) as info:
            serialports.open_serial(board.port)
        assert "busy" in info.value.message
    finally:
        port.close()


def test_ports_json_lists_virtual_boards_and_probe_results(
    board: EmulatedBoard, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_module(monkeypatch, "citynode.sim", list_boards=lambda: [{"name": "soil-1", "port": board.port}])
    asked: list[str] = []

    def probe(port: str, timeout: float) -> dict[str, Any] | None:
        asked.append(port)
        return {"device_id": "0000002a"} if port == board.port else None

    fake_module(monkeypatch, "citynode.service.client", probe=probe)
    assert main(["ports", "--json", "--probe"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["device"]: row for row in report["ports"]}
    assert rows[board.port]["virtual"] is True
    assert rows[board.port]["device_id"] == "0000002a"
    assert "soil-1" in rows[board.port]["description"]
    # only boards are probed: never a port that does not look like one
    assert all(rows[p]["esp32"] or rows[p]["virtual"] for p in asked)


def test_ports_survives_a_probe_that_fails(
    board: EmulatedBoard, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_module(monkeypatch, "citynode.sim", list_boards=lambda: [board.port])

    def probe(port: str, timeout: float) -> dict[str, Any] | None:
        raise OSError(5, "Input/output error")

    fake_module(monkeypatch, "citynode.service.client", probe=probe)
    assert main(["ports", "--probe"]) == 0
    out = capsys.readouterr()
    assert board.port in out.out
    assert "Traceback" not in out.out + out.err


def test_ports_works_without_the_optional_modules(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_parser()
    monkeypatch.setitem(sys.modules, "citynode.sim", None)
    monkeypatch.setitem(sys.modules, "citynode.service.client", None)
    assert main(["ports", "--json", "--probe"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert all(row["device_id"] is None and not row["virtual"] for row in report["ports"])
