"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): RTC-memory checksum and service-line check.

Chosen because every language has it (and a 4-hex-digit check fits a typed line); it guards
against line noise and torn writes, not against an attacker (the keys do that).
"""


def crc16(data, start=0, end=-1, crc=0xFFFF):
    """CRC of data[start:end] (end -1: to the end), without slicing."""
    if end < 0:
        end = len(data)
    for i in range(start, end):
        crc ^= data[i] << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc
