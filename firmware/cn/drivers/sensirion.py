"""Sensirion I2C conventions shared by SCD4x and SHT4x: commands (16-bit big-endian on the
SCD4x, 8-bit on the SHT4x), data words each followed by CRC-8 (polynomial 0x31, init 0xFF,
no final XOR; 0xBEEF -> 0x92)."""

from cn.drivers import base


def crc8(buf, start, n):
    crc = 0xFF
    for i in range(start, start + n):
        crc ^= buf[i]
        for _ in range(8):
            if crc & 0x80:
                crc = ((crc << 1) ^ 0x31) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
    return crc


def check_words(buf, nwords):
    """True if every (MSB, LSB, CRC) triple in buf is intact."""
    for w in range(nwords):
        if crc8(buf, 3 * w, 2) != buf[3 * w + 2]:
            return False
    return True


def word(buf, w):
    return (buf[3 * w] << 8) | buf[3 * w + 1]


class SensirionI2C:
    """Command/read helper around a machine.I2C-like bus (writeto, readfrom_into)."""

    def __init__(self, i2c, addr, cmd_len=2):
        """cmd_len: 2 for the SCD4x's 16-bit commands, 1 for the SHT4x's 8-bit ones."""
        self.i2c = i2c
        self.addr = addr
        self.cmd_len = cmd_len
        self.cmd = bytearray(cmd_len)
        self.cmd_arg = bytearray(5)

    def send(self, code):
        c = self.cmd
        if self.cmd_len == 1:
            c[0] = code
        else:
            c[0] = code >> 8
            c[1] = code & 0xFF
        self.i2c.writeto(self.addr, c)

    def send_arg(self, code, arg):
        c = self.cmd_arg
        c[0] = code >> 8
        c[1] = code & 0xFF
        c[2] = arg >> 8
        c[3] = arg & 0xFF
        c[4] = crc8(c, 2, 2)
        self.i2c.writeto(self.addr, c)

    def read_words(self, code, buf, wait_ms, deadline):
        """Send `code`, wait its execution time, read len(buf) bytes, check every CRC.
        Raises SensorError on a CRC failure or when the wait would pass the deadline."""
        self.send(code)
        if wait_ms:
            if base.remaining(deadline) < wait_ms:
                raise base.SensorError("sensirion: deadline", base.E_TIMEOUT)
            base.sleep_ms(wait_ms)
        self.i2c.readfrom_into(self.addr, buf)
        if not check_words(buf, len(buf) // 3):
            raise base.SensorError("sensirion: bad CRC", base.E_CHECKSUM)
