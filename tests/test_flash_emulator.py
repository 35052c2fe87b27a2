"""The emulated ROM bootloader (tests/esprom) driven by esptool's own command line.

If esptool, unmodified, can identify, write, verify and read back through the emulator, the
flash tests that rely on it test citynode against the protocol real boards speak.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from esprom import EmulatedBoard, firmware
from esprom.slip import Decoder, encode

pytestmark = pytest.mark.slow


def esptool(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "esptool", "--port", port, "--before", "no-reset", "--after", "no-reset"]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120)


def test_slip_round_trip_with_escapes() -> None:
    payload = bytes([0x00, 0xC0, 0xDB, 0x01, 0xDB, 0xDC, 0xC0])
    frame = encode(payload)
    assert frame[0] == 0xC0 and frame[-1] == 0xC0
    assert 0xC0 not in frame[1:-1]
    decoder = Decoder()
    # arbitrary chunking, garbage before the frame is dropped
    frames = decoder.feed(b"noise" + frame[:3]) + decoder.feed(frame[3:] + encode(b"\x01"))
    assert frames == [payload, b"\x01"]


@pytest.mark.parametrize(
    ("chip", "title", "mac"),
    [("esp32", "ESP32-D0WD-V3", "24:0a:c4:01:02:03"), ("esp32s3", "ESP32-S3", "f4:12:fa:01:02:03")],
)
def test_esptool_identifies_the_emulated_chip(chip: str, title: str, mac: str) -> None:
    with EmulatedBoard(chip=chip, mac=bytes.fromhex(mac.replace(":", ""))) as board:
        run = esptool(board.port, "--no-stub", "read-mac")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Detecting chip type... {chip.upper().replace('ESP32S3', 'ESP32-S3')}" in run.stdout
    assert title in run.stdout
    assert f"MAC:                {mac}" in run.stdout


@pytest.mark.parametrize("stub", [False, True], ids=["rom", "stub"])
def test_esptool_write_verify_and_read_back(tmp_path: Path, stub: bool) -> None:
    data = firmware("esp32", app_kib=32)
    image = tmp_path / "fw.bin"
    image.write_bytes(data)
    mode = [] if stub else ["--no-stub"]
    with EmulatedBoard(chip="esp32") as board:
        write = esptool(board.port, *mode, "write-flash", "0x1000", str(image))
        assert write.returncode == 0, write.stdout + write.stderr
        assert bytes(board.flash[0x1000 : 0x1000 + len(data)]) == data
        verify = esptool(board.port, *mode, "verify-flash", "0x1000", str(image))
        assert verify.returncode == 0, verify.stdout + verify.stderr
        if not stub:  # the ROM's READ_FLASH_SLOW, 64 bytes at a time
            out = tmp_path / "back.bin"
            read = esptool(board.port, "--no-stub", "read-flash", "0x1000", "256", str(out))
            assert read.returncode == 0, read.stdout + read.stderr
            assert out.read_bytes() == data[:256]
        # a byte changed on the board is caught by esptool's MD5 verification
        board.flash[0x1000 + 100] ^= 0xFF
        bad = esptool(board.port, *mode, "verify-flash", "0x1000", str(image))
        assert bad.returncode != 0
