"""Nova SDS011 PM2.5/PM10 sensor on the board's UART (9600 8N1).

Data frame (10 bytes): AA C0 PM25_L PM25_H PM10_L PM10_H ID1 ID2 CHK AB, CHK = sum of
bytes 2..7 & 0xFF, values in 0.1 ug/m3 (the registry's raw unit for pm2_5/pm10).
Commands (19 bytes): AA B4 CMD D1..D12 FF FF CHK AB, CHK = sum of bytes 2..16 & 0xFF
(FF FF = all devices). The node duty-cycles the fan and laser: work at start(), sleep at
stop(); readings are trusted only after the warm-up (cfg "warmup_ms", default 30 s).
Replies to commands (AA C5 ...) are not data frames and are skipped as garbage.
"""

from cn import registry as R
from cn.drivers import base
from cn.drivers.uartframe import FrameReader

_CMD_SLEEP = (0x06, 0x01, 0x00)  # set sleep/work: write, sleep
_CMD_WORK = (0x06, 0x01, 0x01)  # set sleep/work: write, work
_CMD_QUERY = (0x04,)  # query data


def command(buf, data):
    """Fill the 19-byte command `buf` for the data bytes (CMD, D1, ...), device FF FF."""
    buf[0] = 0xAA
    buf[1] = 0xB4
    for i in range(2, 15):
        buf[i] = 0
    for i in range(len(data)):
        buf[2 + i] = data[i]
    buf[15] = 0xFF
    buf[16] = 0xFF
    s = 0
    for i in range(2, 17):
        s += buf[i]
    buf[17] = s & 0xFF
    buf[18] = 0xAB
    return buf


def frame_ok(f):
    """A data frame: header AA C0, tail AB, checksum of bytes 2..7."""
    if f[1] != 0xC0 or f[9] != 0xAB:
        return False
    return (f[2] + f[3] + f[4] + f[5] + f[6] + f[7]) & 0xFF == f[8]


class SDS011(base.Sensor):
    NAME = "sds011"
    CHANNELS = (R.PM2_5, R.PM10)

    def __init__(self, board, cfg, bus=None):
        super().__init__(board, cfg)
        self.uart = bus if bus is not None else base.make_uart(board, 9600)
        self.rx = FrameReader(self.uart, 0xAA, 0xC0, 10)
        self.cmd = bytearray(19)
        self.warmup_ms = self.cfg.get("warmup_ms", 30000)
        self.device_id = -1

    def _send(self, data):
        self.uart.write(command(self.cmd, data))

    def _valid(self, f):
        if frame_ok(f):
            return True
        if f[1] == 0xC0:  # a data frame header with a bad checksum or tail
            self.errors += 1
        return False

    def start(self):
        self._send(_CMD_WORK)
        return self.warmup_ms

    def read(self, values, deadline):
        self.rx.flush()
        self._send(_CMD_QUERY)  # answered in query mode; in active mode a frame comes each second
        if not self.rx.next_frame(deadline, self._valid):
            self.skipped = self.rx.skipped
            raise base.SensorError("sds011: no valid frame", base.E_CHECKSUM if self.errors else base.E_TIMEOUT)
        self.skipped = self.rx.skipped
        f = self.rx.frame
        self.device_id = f[6] | (f[7] << 8)
        pm25 = f[2] | (f[3] << 8)  # 0.1 ug/m3
        pm10 = f[4] | (f[5] << 8)
        return base.put(values, R.PM2_5, pm25 * 100) | base.put(values, R.PM10, pm10 * 100)

    def stop(self):
        self._send(_CMD_SLEEP)

    def selftest(self):
        info = base.selftest_read(self)
        info["device_id"] = self.device_id
        info["checksum_errors"] = self.errors
        return info


DRIVER = SDS011
