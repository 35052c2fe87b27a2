"""Check a firmware file before any board is touched: right kind, complete, intact, right chip.

MicroPython's ESP32 firmware.bin is written at the chip's bootloader offset and holds
  the bootloader (an ESP image) | partition table at flash 0x8000 | app image(s) at their partitions.
ESP image format (ESP-IDF "App Image Format"): 8-byte header (magic 0xE9, segment count, SPI
mode, size/freq, entry), 16-byte extended header (chip id at byte 4, hash_appended last),
segments (address u32, length u32, data), zero padding up to a checksum byte that ends a
16-byte block (0xEF xor all segment data), then the SHA-256 of the image if hash_appended.
Partition table: 32-byte entries starting 0xAA 0x50, an optional 0xEB 0xEB MD5 entry, 0xFF end.

Every image found is checked in full (segments inside the file, checksum, SHA-256), so a
truncated download or a flipped bit is refused here, not discovered on a bricked board.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from citynode.errors import EXIT_USAGE, CliError

MAGIC = 0xE9
MAX_SEGMENTS = 16
PARTITION_TABLE_OFFSET = 0x8000
IMAGE_CHIP_IDS = {0: "esp32", 2: "esp32s2", 5: "esp32c3", 9: "esp32s3", 12: "esp32c2", 13: "esp32c6", 16: "esp32h2"}
# Flash-mapped (XIP) address ranges: a first image living there is an app, not a bootloader.
FLASH_MAPPED = {
    "esp32": ((0x3F400000, 0x3F800000), (0x400D0000, 0x40400000)),
    "esp32s3": ((0x3C000000, 0x3E000000), (0x42000000, 0x44000000)),
}
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class ImageProblem(Exception):
    """Why the bytes are not a valid image (internal: turned into a CliError with a hint)."""


@dataclass(frozen=True)
class EspImage:
    start: int  # file offset
    end: int  # file offset just after the image (checksum block and hash)
    chip_id: int
    segments: tuple[tuple[int, int], ...]  # (load address, length)


@dataclass(frozen=True)
class FirmwareInfo:
    path: Path
    size: int
    sha256: str
    chip: str
    offset: int
    images: tuple[EspImage, ...]
    sha256_checked: str | None  # where the expected checksum came from, None if not checked


def parse_esp_image(data: bytes, start: int) -> EspImage:
    """Parse and verify one ESP image at `start`; raise ImageProblem if it is not whole and intact."""
    if len(data) - start < 24:
        raise ImageProblem(f"image at {start:#x} is cut short: only {len(data) - start} bytes of header")
    magic, count = data[start], data[start + 1]
    if magic != MAGIC:
        raise ImageProblem(f"no ESP image at {start:#x} (first byte {magic:#04x}, expected 0xe9)")
    if not 1 <= count <= MAX_SEGMENTS:
        raise ImageProblem(f"image at {start:#x} claims {count} segments (must be 1 to {MAX_SEGMENTS})")
    chip_id = struct.unpack_from("<H", data, start + 12)[0]
    hash_appended = data[start + 23]
    if hash_appended not in (0, 1):
        raise ImageProblem(f"image at {start:#x} has an invalid header (hash flag {hash_appended})")
    pos = start + 24
    check = 0xEF
    segments = []
    for n in range(count):
        if pos + 8 > len(data):
            raise ImageProblem(f"image at {start:#x} is truncated: file ends in segment {n + 1} of {count}")
        addr, length = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + length > len(data):
            raise ImageProblem(
                f"image at {start:#x} is truncated: segment {n + 1} of {count} needs {length} bytes, "
                f"the file has {len(data) - pos}"
            )
        for b in data[pos : pos + length]:
            check ^= b
        segments.append((addr, length))
        pos += length
    pos += 15 - (pos - start) % 16  # zero padding, the checksum ends a 16-byte block
    if pos >= len(data):
        raise ImageProblem(f"image at {start:#x} is truncated: its checksum byte is missing")
    if data[pos] != check:
        raise ImageProblem(f"image at {start:#x} is corrupt: checksum {data[pos]:#04x}, computed {check:#04x}")
    pos += 1
    if hash_appended:
        if pos + 32 > len(data):
            raise ImageProblem(f"image at {start:#x} is truncated: its SHA-256 digest is missing")
        if hashlib.sha256(data[start:pos]).digest() != data[pos : pos + 32]:
            raise ImageProblem(f"image at {start:#x} is corrupt: its SHA-256 digest does not match")
        pos += 32
    return EspImage(start=start, end=pos, chip_id=chip_id, segments=tuple(segments))


def app_partitions(data: bytes, table_at: int) -> list[tuple[str, int, int]]:
    """(label, flash offset, size) of the app partitions in the table at `table_at`."""
    apps = []
    entries = bytearray()
    for pos in range(table_at, min(table_at + 0xC00, len(data) - 31), 32):
        entry = data[pos : pos + 32]
        if entry[:2] == b"\xaa\x50":
            ptype, _subtype, offset, size = struct.unpack_from("<BBII", entry, 2)
            label = entry[12:28].rstrip(b"\0").decode("ascii", "replace")
            if ptype == 0:
                apps.append((label, offset, size))
            entries += entry
        elif entry[:2] == b"\xeb\xeb":
            if hashlib.md5(entries).digest() != entry[16:32]:
                raise ImageProblem(f"partition table at {table_at:#x} is corrupt (its MD5 does not match)")
            break
        else:
            break
    return apps


def _kind_of(data: bytes) -> str | None:
    """Name a file format that is not a raw ESP image, to say what to use instead."""
    if data[:4] == b"\x7fELF":
        return "an ELF file (use the .bin firmware, not the .elf)"
    if data[:4] == b"UF2\n":
        return "a UF2 file (for drag-and-drop bootloaders; use the .bin firmware)"
    if data[:1] == b":" and all(c in b"0123456789ABCDEFabcdef:\r\n" for c in data[:256]):
        return "an Intel HEX file (use the .bin firmware)"
    if data[:2] == b"PK":
        return "a ZIP archive (unpack it and use the firmware .bin inside)"
    if data[:2] == b"\x1f\x8b":
        return "a gzip archive (unpack it first)"
    if data.lstrip()[:1] in (b"<", b"{"):
        return "a text/HTML file (a download error page?)"
    return None


def read_firmware(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"firmware file {path} does not exist", "check the path to the .bin file") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory", "give the path of the firmware .bin file") from None
    except OSError as exc:
        raise CliError(f"cannot read firmware file {path}: {exc.strerror}", "check the file") from None


def check_firmware(name: str, data: bytes, chip: str, offset: int) -> list[EspImage]:
    """The images in `data`, or raise CliError saying what is wrong with the file."""
    refuse = "nothing was written; download the firmware again (MicroPython's firmware.bin for this board)"
    if not data:
        raise CliError(f"firmware file {name} is empty", refuse, EXIT_USAGE)
    if data[0] != MAGIC:
        kind = _kind_of(data)
        what = kind or f"not an ESP32 firmware image (first byte {data[0]:#04x}, expected 0xe9)"
        raise CliError(f"{name} is {what}", "give MicroPython's firmware .bin for this board", EXIT_USAGE)
    images = []
    try:
        first = parse_esp_image(data, 0)
        images.append(first)
        chip_name = IMAGE_CHIP_IDS.get(first.chip_id, f"chip id {first.chip_id}")
        if chip_name != chip:
            raise CliError(
                f"{name} is built for {chip_name}, but this board is {chip}",
                "use the MicroPython firmware for this board's chip, or check --board",
                EXIT_USAGE,
            )
        mapped = FLASH_MAPPED.get(chip, ())
        if any(lo <= addr < hi for addr, _ in first.segments for lo, hi in mapped):
            raise CliError(
                f"{name} is an application image, not a full firmware image with bootloader",
                f"use the full firmware.bin (written at {offset:#x}), not micropython.bin",
                EXIT_USAGE,
            )
        table_at = PARTITION_TABLE_OFFSET - offset
        if len(data) <= table_at:
            raise ImageProblem(
                f"file ends at {len(data):#x}, before the partition table (file offset {table_at:#x}): truncated"
            )
        apps = app_partitions(data, table_at)
        if not apps:
            raise ImageProblem(f"no partition table at file offset {table_at:#x}")
        for label, part_offset, _size in apps:
            at = part_offset - offset
            if at >= len(data):
                if label == apps[0][0]:
                    raise ImageProblem(
                        f"file ends at {len(data):#x}, before the '{label}' app at file offset {at:#x}: truncated"
                    )
                continue  # an OTA slot left empty by the image: normal
            images.append(parse_esp_image(data, at))
    except ImageProblem as problem:
        raise CliError(f"{name}: {problem}", refuse, EXIT_USAGE) from None
    return images


def expected_sha256(path: Path, given: str | None) -> tuple[str, str] | None:
    """(expected hex digest, where it came from) from --sha256 or a FILE.sha256 sidecar."""
    if given:
        value = given.strip().lower()
        if not HEX64.match(value):
            raise CliError(f"--sha256 {given!r} is not 64 hex digits", "copy the SHA-256 from the release page")
        return value, "--sha256"
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        return None
    lines = [ln.split() for ln in sidecar.read_text(errors="replace").splitlines() if ln.strip()]
    for parts in lines:
        named = parts[1].lstrip("*") if len(parts) > 1 else None
        if HEX64.match(parts[0]) and (named is None or len(lines) == 1 or Path(named).name == path.name):
            return parts[0].lower(), sidecar.name
    raise CliError(
        f"{sidecar.name} has no SHA-256 for {path.name}",
        "it should hold a line '<64 hex digits>  <file name>' (sha256sum format)",
    )


def verify_sha256(path: Path, data: bytes, given: str | None) -> tuple[str, str | None]:
    """SHA-256 of `data`, checked against --sha256 / the sidecar if there is one."""
    actual = hashlib.sha256(data).hexdigest()
    expected = expected_sha256(path, given)
    if expected is None:
        return actual, None
    want, source = expected
    if actual != want:
        raise CliError(
            f"checksum mismatch: {path.name} has SHA-256 {actual[:16]}..., {source} expects {want[:16]}...",
            "the file is corrupt or not the one you meant; download it again. Nothing was written",
            EXIT_USAGE,
        )
    return actual, source


def load_firmware(path: Path, chip: str, offset: int, sha256: str | None) -> tuple[bytes, FirmwareInfo]:
    """All checks, in order: readable, checksum (if one is known), ESP image structure and chip."""
    data = read_firmware(path)
    if not data:
        check_firmware(path.name, data, chip, offset)  # raises: empty
    digest, source = verify_sha256(path, data, sha256)
    images = check_firmware(path.name, data, chip, offset)
    info = FirmwareInfo(
        path=path,
        size=len(data),
        sha256=digest,
        chip=chip,
        offset=offset,
        images=tuple(images),
        sha256_checked=source,
    )
    return data, info
