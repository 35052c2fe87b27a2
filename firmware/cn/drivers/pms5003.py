"""Plantower PMS5003 (and PMS7003, same frame) PM sensor on the board's UART (9600 8N1).

Frame (32 bytes): 42 4D 00 1C, 13 big-endian u16 data words (PM1.0/2.5/10 CF=1,
PM1.0/2.5/10 atmospheric, six particle counts, reserved), u16 checksum = sum of bytes
0..29. We report the atmospheric PM2.5/PM10 (ug/m3, integers). Commands: 42 4D CMD DH DL
then the u16 sum of the five bytes: passive mode E1 00 00, read in passive mode E2 00 00,
sleep E4 00 00, wake E4 00 01. 30 s warm-up after wake (cfg "warmup_ms").
Command acknowledgements are short frames (length field != 28) and are skipped.
"""

from cn import registry as R
from cn.drivers import base
from cn.drivers.uartframe import FrameReader

_PASSIVE = (0xE1, 0x00, 0x00)
_READ = (0xE2, 0x00, 0x00)
_SLEEP = (0xE4, 0x00, 0x00)
_WAKE = (0xE4, 0x00, 0x01)


def command(buf, cmd):
    buf[0] = 0x42
    buf[1] = 0x4D
    buf[2] = cmd[0]
    buf[3] = cmd[1]
    buf[4] = cmd[2]
    s = 0x42 + 0x4D + cmd[0] + cmd[1] + cmd[2]
    buf[5] = s >> 8
    buf[6] = s & 0xFF
    return buf


def frame_ok(f):
    if f[2] != 0x00 or f[3] != 0x1C:
        return False
    s = 0
    for i in range(30):
        s += f[i]
    return s == (f[30] << 8) | f[31]


class PMS5003(base.Sensor):
    NAME = "pms5003"
    CHANNELS = (R.PM2_5, R.PM10)

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.uart = bus if bus is not None else base.make_uart(board, 9600)
        self.rx = FrameReader(self.uart, 0x42, 0x4D, 32)
        self.cmd = bytearray(7)
        self.warmup_ms = self.cfg.get("warmup_ms", 30000)

    def _send(self, cmd):
        self.uart.write(command(self.cmd, cmd))

    def _valid(self, f):
        if frame_ok(f):
            return True
        if f[2] == 0x00 and f[3] == 0x1C:  # a data frame with a bad checksum
            self.errors += 1
        return False

    def start(self):
        self._send(_WAKE)
        self._send(_PASSIVE)
        return self.warmup_ms

    def read(self, values, deadline):
        self.rx.flush()
        self._send(_PASSIVE)  # again: a command sent while the sensor was booting may be lost
        self._send(_READ)
        if not self.rx.next_frame(deadline, self._valid):
            self.skipped = self.rx.skipped
            raise base.SensorError("pms5003: no valid frame", base.E_CHECKSUM if self.errors else base.E_TIMEOUT)
        self.skipped = self.rx.skipped
        f = self.rx.frame
        pm25 = (f[12] << 8) | f[13]  # atmospheric environment, ug/m3
        pm10 = (f[14] << 8) | f[15]
        return base.put(values, R.PM2_5, pm25 * 1000) | base.put(values, R.PM10, pm10 * 1000)

    def stop(self):
        self._send(_SLEEP)

    def selftest(self):
        info = base.selftest_read(self)
        info["checksum_errors"] = self.errors
        return info


DRIVER = PMS5003
