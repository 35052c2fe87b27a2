"""Independent references written from datasheets, shared by the tests (not the code under test)."""

from __future__ import annotations


def sensirion_crc(data: bytes) -> int:
    """CRC-8 as the Sensirion datasheets define it (SCD4x, SHT4x): poly 0x31, init 0xFF, no reflection."""
    crc = 0xFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc
