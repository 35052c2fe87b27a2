"""QST QMC5883L 3-axis magnetometer at I2C 0x0D, for parking bays.

Registers: 0x00..0x05 data X, Y, Z (LSB first, signed 16-bit); 0x06 status (bit 0 DRDY,
bit 1 OVL overflow, bit 2 DOR); 0x09 control 1 = OSR[7:6] RNG[5:4] ODR[3:2] MODE[1:0];
0x0A control 2 (bit 7 soft reset); 0x0B SET/RESET period (datasheet: write 0x01); 0x0D
chip id 0xFF. We use OSR 512, 2 G (12000 LSB/G = 12 LSB/mG), 50 Hz, continuous while
measuring (control 1 = 0x05) and standby (0x00) between cycles.
"""

from cn.drivers import base
from cn.drivers.magparking import MagParking

CTRL1 = 0x09
CTRL2 = 0x0A
SET_RESET = 0x0B
STATUS = 0x06
CHIP_ID = 0x0D
MODE_CONT_50HZ_2G = 0x05
MODE_STANDBY = 0x00


class QMC5883L(MagParking):
    NAME = "qmc5883l"
    ADDR = 0x0D

    def start(self):
        self._w(SET_RESET, 0x01)
        self._w(CTRL1, MODE_CONT_50HZ_2G)
        return 25  # first conversion at 50 Hz

    def _sample(self, deadline):
        st = self._wait(STATUS, 0x01, deadline)
        self.i2c.readfrom_mem_into(self.addr, 0x00, self.raw6)  # also clears DRDY
        if st & 0x02:
            raise base.SensorError("qmc5883l: field over range", base.E_RANGE)

    def _mg(self, total, n):
        d = 12 * n
        return (total + d // 2) // d

    def stop(self):
        self._w(CTRL1, MODE_STANDBY)

    def selftest(self):
        info = super().selftest()
        try:
            info["chip_id"] = self._r(CHIP_ID)
        except OSError as e:
            info["chip_id_error"] = str(e)
        return info


DRIVER = QMC5883L
