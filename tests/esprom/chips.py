"""What an emulated chip answers to register reads: ESP32 and ESP32-S3.

Register addresses and bit positions are the ones esptool 5.1 reads (esptool/targets/esp32.py,
esp32s3.py): the chip-detect magic word (ESP32), GET_SECURITY_INFO's chip id (S3), the eFuse
words holding the MAC, package and revision, and the SPI peripheral registers esptool drives
to read the flash JEDEC id. Anything not listed reads as zero, like unused eFuses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SPI_CMD_USR = 1 << 18


@dataclass(frozen=True)
class ChipModel:
    name: str  # "esp32" / "esp32s3", as boards/*.json say
    title: str  # esptool's CHIP_NAME
    image_chip_id: int
    security_info: bool  # answers GET_SECURITY_INFO (S3 and later)
    spi_base: int
    spi_usr2: int
    spi_w0: int
    registers: dict[int, int] = field(default_factory=dict)


def _esp32_registers(mac: bytes) -> dict[int, int]:
    efuse = 0x3FF5A000
    regs = {
        0x40001000: 0x00F01D83,  # CHIP_DETECT_MAGIC_REG_ADDR: ESP32
        # MAC: esptool packs (word2, word1) big-endian and drops the 2-byte CRC at the top.
        efuse + 4 * 1: struct.unpack(">I", mac[2:6])[0],
        efuse + 4 * 2: (0x5A << 16) | struct.unpack(">H", mac[0:2])[0],
        # word3: package 1 (D0WD) in bits 9-11, rev bit0 (bit 15) for a v3 chip.
        efuse + 4 * 3: (1 << 9) | (1 << 15),
        # word4: CK8M frequency calibration byte (used by ESP32 change_baud's workaround).
        efuse + 4 * 4: 100,
        # word5: rev bit1 (bit 20).
        efuse + 4 * 5: 1 << 20,
        0x3FF6607C: 1 << 31,  # APB_CTL_DATE: rev bit2 -> major revision 3
        0x3FF5F06C: 1024 << 7,  # RTCCALICFG1: ROM-calibrated 8M clock -> 40 MHz crystal
        0x3FF40014: 347,  # UART_CLKDIV at 115200 baud from 40 MHz
    }
    return regs


def _esp32s3_registers(mac: bytes) -> dict[int, int]:
    block1 = 0x60007044
    regs = {
        0x40001000: 0x00000009,  # not used by esptool for S3 (chip id comes from security info)
        block1: struct.unpack(">I", mac[2:6])[0],  # MAC_EFUSE_REG
        block1 + 4: struct.unpack(">H", mac[0:2])[0],
        # word3: minor revision low bits (2) in 18-20 -> v0.2; package 0 (QFN56).
        block1 + 4 * 3: 2 << 18,
        0x3FCEF14C: 0,  # UARTDEV_BUF_NO: UART0 (a USB-UART bridge, not native USB)
        0x60000014: 347,
    }
    return regs


def model(name: str, mac: bytes) -> ChipModel:
    if name == "esp32":
        return ChipModel(
            name="esp32",
            title="ESP32",
            image_chip_id=0,
            security_info=False,
            spi_base=0x3FF42000,
            spi_usr2=0x24,
            spi_w0=0x80,
            registers=_esp32_registers(mac),
        )
    if name == "esp32s3":
        return ChipModel(
            name="esp32s3",
            title="ESP32-S3",
            image_chip_id=9,
            security_info=True,
            spi_base=0x60002000,
            spi_usr2=0x20,
            spi_w0=0x58,
            registers=_esp32s3_registers(mac),
        )
    raise ValueError(f"no emulated chip {name!r} (esp32, esp32s3)")


def jedec_id(flash_size: int) -> int:
    """JEDEC id as esptool reads it from W0: vendor (Winbond 0xEF), type 0x40, capacity log2."""
    return (flash_size.bit_length() - 1) << 16 | 0x40 << 8 | 0xEF
