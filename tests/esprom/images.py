"""Build ESP32 / ESP32-S3 firmware images for tests, laid out like MicroPython's firmware.bin.

ESP app image format (ESP-IDF "App Image Format"; esptool bin_image.py reads the same):
  header   8 B: magic 0xE9, segment count, SPI mode, SPI size/freq, entry point u32
  extended 16 B: wp pin, 3 drive bytes, chip id u16, min rev u8, min/max rev full u16 x2,
                 4 reserved, hash_appended u8
  segments: load address u32, length u32, data
  padding with zeros so that the checksum byte (0xEF xor every segment data byte) is the last
  byte of a 16-byte block, then optionally the SHA-256 of everything before it.

firmware.bin as written to flash at the bootloader offset (0x1000 ESP32, 0x0 S3):
  bootloader image | 0xFF padding | partition table at flash 0x8000 | app image at flash 0x10000
"""

from __future__ import annotations

import hashlib
import random
import struct

CHIP_IDS = {"esp32": 0, "esp32s3": 9}
BOOTLOADER_OFFSET = {"esp32": 0x1000, "esp32s3": 0x0}
PARTITION_TABLE = 0x8000
APP_OFFSET = 0x10000

# (load address) of plausible segments per chip: bootloader in RAM, app in flash-mapped space
_LOAD = {
    "esp32": {"bootloader": (0x3FFF0000, 0x40078000), "app": (0x3F400020, 0x3FFB0000, 0x400D0020)},
    "esp32s3": {"bootloader": (0x3FCE3808, 0x403C9700), "app": (0x3C020020, 0x3FC90000, 0x42000020)},
}


def app_image(
    chip: str,
    segments: list[tuple[int, bytes]],
    *,
    entry: int = 0x40080000,
    hash_appended: bool = True,
    chip_id: int | None = None,
) -> bytes:
    """One ESP image with the given (load address, data) segments."""
    header = struct.pack("<BBBBI", 0xE9, len(segments), 2, 0x20, entry)
    extended = struct.pack(
        "<BBBBHBHH4BB",
        0xEE,
        0,
        0,
        0,
        CHIP_IDS[chip] if chip_id is None else chip_id,
        0,
        0,
        0xFFFF,
        0,
        0,
        0,
        0,
        1 if hash_appended else 0,
    )
    out = bytearray(header + extended)
    check = 0xEF
    for addr, data in segments:
        data = data + b"\0" * (-len(data) % 4)
        out += struct.pack("<II", addr, len(data)) + data
        for b in data:
            check ^= b
    out += b"\0" * (15 - len(out) % 16)
    out.append(check)
    if hash_appended:
        out += hashlib.sha256(out).digest()
    return bytes(out)


def partition_table(app_size: int = 0x1F0000) -> bytes:
    """nvs, phy_init, factory app at 0x10000 (MicroPython's layout), plus the MD5 entry."""
    entries = [
        (0x01, 0x02, 0x9000, 0x6000, b"nvs"),
        (0x01, 0x01, 0xF000, 0x1000, b"phy_init"),
        (0x00, 0x00, APP_OFFSET, app_size, b"factory"),
    ]
    table = bytearray()
    for ptype, subtype, offset, size, label in entries:
        table += struct.pack("<2sBBII16sI", b"\xaa\x50", ptype, subtype, offset, size, label, 0)
    table += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(table).digest()
    return bytes(table.ljust(0xC00, b"\xff"))


def firmware(chip: str, app_kib: int = 64, seed: int = 1) -> bytes:
    """A complete firmware.bin for `chip`, app of about `app_kib` KiB of random (incompressible) data."""
    rng = random.Random(seed)
    boot_ram, boot_iram = _LOAD[chip]["bootloader"]
    bootloader = app_image(
        chip,
        [(boot_ram, rng.randbytes(0x800)), (boot_iram, rng.randbytes(0x1400))],
        entry=boot_iram + 0x40,
    )
    drom, dram, irom = _LOAD[chip]["app"]
    app_bytes = app_kib * 1024
    app = app_image(
        chip,
        [
            (drom, rng.randbytes(app_bytes // 4)),
            (dram, rng.randbytes(0x400)),
            (irom, rng.randbytes(app_bytes - app_bytes // 4)),
        ],
        entry=irom + 0x100,
    )
    base = BOOTLOADER_OFFSET[chip]
    out = bytearray(bootloader)
    out += b"\xff" * (PARTITION_TABLE - base - len(out))
    out += partition_table()
    out += b"\xff" * (APP_OFFSET - base - len(out))
    out += app
    return bytes(out)
