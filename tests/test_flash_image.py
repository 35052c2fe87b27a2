"""`citynode flash` refuses a bad firmware file before touching any board.

Images are built by tests/esprom/images.py from the ESP image format; the checks under test
live in citynode.flashing.image. Every refusal is also checked end to end: the emulated board
on the port must not have received a single byte-level command.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from citynode.cli import main
from citynode.errors import CliError
from citynode.flashing.image import check_firmware, expected_sha256, load_firmware, parse_esp_image
from esprom import BOOTLOADER_OFFSET, EmulatedBoard, app_image, firmware

ESP32_BOARD = "heltec_v2"  # boards/heltec_v2.json: chip esp32, flash_offset 0x1000


def write(tmp_path: Path, data: bytes, name: str = "firmware.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(data: bytes, chip: str = "esp32") -> str:
    """The CliError message check_firmware raises for `data`."""
    with pytest.raises(CliError) as info:
        check_firmware("fw.bin", data, chip, BOOTLOADER_OFFSET[chip])
    return info.value.message


@pytest.mark.parametrize("chip", ["esp32", "esp32s3"])
def test_complete_firmware_is_accepted_with_both_images(chip: str) -> None:
    data = firmware(chip)
    images = check_firmware("fw.bin", data, chip, BOOTLOADER_OFFSET[chip])
    # the bootloader at the start of the file, the app at flash 0x10000
    assert [img.start for img in images] == [0, 0x10000 - BOOTLOADER_OFFSET[chip]]
    assert images[-1].end == len(data)


def test_image_parser_reads_the_segments_it_was_built_with() -> None:
    image = app_image("esp32", [(0x3FFB0000, b"\x01" * 32), (0x40080000, b"\x02" * 64)])
    parsed = parse_esp_image(image, 0)
    assert parsed.segments == ((0x3FFB0000, 32), (0x40080000, 64))
    assert parsed.chip_id == 0
    assert parsed.end == len(image)


def test_empty_file_is_refused() -> None:
    assert "empty" in refused(b"")


def test_file_that_is_not_an_esp_image_is_named() -> None:
    assert "ELF" in refused(b"\x7fELF" + b"\0" * 100)
    assert "UF2" in refused(b"UF2\n" + b"\0" * 100)
    assert "not an ESP32 firmware image" in refused(b"\x00\x01\x02" * 100)
    assert "HTML" in refused(b"<!DOCTYPE html><html>404</html>")


@pytest.mark.parametrize(
    "cut",
    [
        20,  # inside the header
        40,  # inside the bootloader's first segment
        0x7000 - 0x10,  # before the partition table (file offset 0x7000 for ESP32)
        0xF000 - 0x10,  # before the app (file offset 0xF000)
        0xF000 + 5000,  # inside the app
        -10,  # inside the app's SHA-256
    ],
)
def test_truncated_firmware_is_refused(cut: int) -> None:
    data = firmware("esp32")
    message = refused(data[:cut])
    assert "truncated" in message or "cut short" in message


def test_flipped_bit_in_app_is_refused() -> None:
    data = bytearray(firmware("esp32"))
    data[0xF000 + 0x100] ^= 0x01  # a byte of the app's first segment
    assert "corrupt" in refused(bytes(data))


def test_corrupt_partition_table_is_refused() -> None:
    data = bytearray(firmware("esp32"))
    data[0x7000 + 2] = 0x00  # nvs (data) becomes an app partition: the table MD5 no longer matches
    assert "partition table" in refused(bytes(data))


def test_impossible_segment_count_is_refused() -> None:
    data = bytearray(firmware("esp32"))
    data[1] = 40
    assert "segments" in refused(bytes(data))


def test_image_for_the_other_chip_is_refused() -> None:
    message = refused(firmware("esp32s3"), chip="esp32")
    assert "esp32s3" in message and "esp32" in message


def test_app_only_image_is_refused_with_the_right_file_to_use() -> None:
    # micropython.bin: an app mapped in flash (DROM/IROM), not a bootloader
    app = app_image("esp32", [(0x3F400020, b"\x11" * 256), (0x400D0020, b"\x22" * 256)])
    assert "application image" in refused(app)


def test_sha256_sidecar_in_sha256sum_format_is_used(tmp_path: Path) -> None:
    data = firmware("esp32")
    path = write(tmp_path, data)
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "firmware.bin.sha256").write_text(f"{digest}  firmware.bin\n")
    assert expected_sha256(path, None) == (digest, "firmware.bin.sha256")
    _, info = load_firmware(path, "esp32", 0x1000, None)
    assert info.sha256_checked == "firmware.bin.sha256"


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, firmware("esp32"))
    with pytest.raises(CliError) as info:
        load_firmware(path, "esp32", 0x1000, "00" * 32)
    assert "checksum mismatch" in info.value.message


def test_malformed_sha256_argument_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, firmware("esp32"))
    with pytest.raises(CliError) as info:
        load_firmware(path, "esp32", 0x1000, "abc")
    assert "64 hex" in info.value.message


# -- end to end: the CLI refuses before any byte reaches the board ---------------------------


def flash(port: str, path: Path, *extra: str) -> int:
    return main(["flash", "--port", port, "--board", ESP32_BOARD, "--firmware", str(path), "--no-deploy", *extra])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[: len(d) // 2],  # truncated download
        lambda d: d[:100] + bytes([d[100] ^ 0xFF]) + d[101:],  # corrupt bootloader byte
        lambda d: b"",  # empty
        lambda d: b"PK\x03\x04" + d,  # a zip
    ],
    ids=["truncated", "corrupt", "empty", "zip"],
)
def test_cli_refuses_bad_image_before_touching_the_board(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: object
) -> None:
    data = mutate(firmware("esp32"))  # type: ignore[operator]
    path = write(tmp_path, data)
    with EmulatedBoard(chip="esp32", fill=0xA5) as board:
        code = flash(board.port, path)
        assert board.commands == []  # not even a SYNC
        assert board.flash == bytearray([0xA5]) * board.flash_size
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "what to do:" in err


def test_cli_refuses_checksum_mismatch_from_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = firmware("esp32")
    path = write(tmp_path, data)
    other = hashlib.sha256(data + b"x").hexdigest()
    (tmp_path / "firmware.bin.sha256").write_text(f"{other}  firmware.bin\n")
    with EmulatedBoard(chip="esp32") as board:
        code = flash(board.port, path)
        assert board.commands == []
    assert code == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "firmware.bin.sha256" in err


def test_cli_refuses_image_built_for_another_chip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, firmware("esp32s3"))
    with EmulatedBoard(chip="esp32") as board:
        code = flash(board.port, path)
        assert board.commands == []
    assert code == 2
    assert "built for esp32s3" in capsys.readouterr().err


def test_cli_refuses_erase_without_stub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, firmware("esp32"))
    with EmulatedBoard(chip="esp32") as board:
        code = flash(board.port, path, "--erase", "--no-stub")
        assert board.commands == []
    assert code == 2
    assert "--erase needs" in capsys.readouterr().err


def test_header_fields_used_by_the_checks_are_where_the_format_says() -> None:
    # independent of the parser: chip id is the u16 at byte 12, hash flag the byte at 23
    image = app_image("esp32s3", [(0x3FC90000, b"\0" * 16)], hash_appended=True)
    assert image[0] == 0xE9 and image[1] == 1
    assert struct.unpack_from("<H", image, 12)[0] == 9
    assert image[23] == 1
    assert hashlib.sha256(image[:-32]).digest() == image[-32:]
