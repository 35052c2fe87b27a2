"""What flashing needs from a board file: the chip and where MicroPython's image goes.

Board data comes from citynode.boards (boards/NAME.json, the single source); this adds the
check that the file's flash offset is the one the chip boots from.
"""

from __future__ import annotations

from dataclasses import dataclass

from citynode import boards
from citynode.errors import EXIT_USAGE, CliError

# esptool CHIP_NAME -> board file "chip" value
CHIP_NAMES = {
    "ESP32": "esp32",
    "ESP32-S2": "esp32s2",
    "ESP32-S3": "esp32s3",
    "ESP32-C2": "esp32c2",
    "ESP32-C3": "esp32c3",
    "ESP32-C6": "esp32c6",
    "ESP32-H2": "esp32h2",
    "ESP8266": "esp8266",
}
CHIP_TITLES = {v: k for k, v in CHIP_NAMES.items()}
# the bootloader offset of each chip: MicroPython's firmware.bin starts with the bootloader
BOOTLOADER_OFFSETS = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}


@dataclass(frozen=True)
class BoardFlash:
    name: str
    title: str
    chip: str  # "esp32" / "esp32s3"
    offset: int  # where firmware.bin is written

    @property
    def chip_title(self) -> str:
        return CHIP_TITLES.get(self.chip, self.chip.upper())


def load_board(name: str) -> BoardFlash:
    try:
        board = boards.load_board(name)
    except (KeyError, ValueError, TypeError) as exc:
        raise CliError(
            f"board file for {name!r} is missing chip or micropython.flash_offset ({exc})",
            "fix the board file (see boards/*.json)",
            EXIT_USAGE,
        ) from None
    expected = BOOTLOADER_OFFSETS.get(board.chip)
    if expected is not None and expected != board.flash_offset:
        raise CliError(
            f"board file {name} says flash_offset {board.flash_offset:#x}, but {board.chip} boots from {expected:#x}",
            "fix micropython.flash_offset in the board file",
            EXIT_USAGE,
        )
    return BoardFlash(name=board.name, title=board.title, chip=board.chip, offset=board.flash_offset)
