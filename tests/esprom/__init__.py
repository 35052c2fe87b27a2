"""Test fixture: an emulated ESP32 / ESP32-S3 ROM bootloader on a pty, and image builders.

    with EmulatedBoard(chip="esp32") as board:
        run esptool / citynode flash against board.port
        board.flash[0x1000:...]  # what landed in the emulated 4 MB flash
"""

from .images import BOOTLOADER_OFFSET, app_image, firmware, partition_table
from .rom import EmulatedBoard

__all__ = ["BOOTLOADER_OFFSET", "EmulatedBoard", "app_image", "firmware", "partition_table"]
