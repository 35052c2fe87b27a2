"""ST LIS3MDL 3-axis magnetometer at I2C 0x1C (SA1 low; 0x1E high), for parking bays.

WHO_AM_I 0x0F = 0x3D. CTRL_REG1 0x20 (OM[6:5] XY mode, DO[4:2]), CTRL_REG2 0x21 (FS[6:5]:
00 = +-4 gauss, 6842 LSB/G), CTRL_REG3 0x22 (MD[1:0]: 01 single conversion, 11 power-down),
CTRL_REG4 0x23 (OMZ[3:2]), CTRL_REG5 0x24 (bit 6 BDU), STATUS_REG 0x27 (bit 3 ZYXDA),
OUT_X_L 0x28..OUT_Z_H 0x2D little-endian; a multi-byte I2C read sets bit 7 of the register
address (auto-increment): 0xA8. One single conversion per sample, power-down between.
"""

from cn.drivers import base
from cn.drivers.magparking import MagParking

WHO_AM_I = 0x0F
CTRL_REG1 = 0x20
CTRL_REG2 = 0x21
CTRL_REG3 = 0x22
CTRL_REG4 = 0x23
CTRL_REG5 = 0x24
STATUS_REG = 0x27
OUT_X_L = 0x28
AUTO_INC = 0x80
ID = 0x3D


class LIS3MDL(MagParking):
    NAME = "lis3mdl"
    ADDR = 0x1C

    def start(self):
        if self._r(WHO_AM_I) != ID:
            raise base.SensorError("lis3mdl: wrong WHO_AM_I", base.E_IDENTITY)
        self._w(CTRL_REG1, 0x30)  # medium-performance XY, 10 Hz (single mode ignores DO)
        self._w(CTRL_REG2, 0x00)  # +-4 gauss
        self._w(CTRL_REG4, 0x04)  # medium-performance Z, little-endian
        self._w(CTRL_REG5, 0x40)  # block data update
        return 0

    def _sample(self, deadline):
        self._w(CTRL_REG3, 0x01)  # one conversion, then the chip idles
        self._wait(STATUS_REG, 0x08, deadline)
        self.i2c.readfrom_mem_into(self.addr, OUT_X_L | AUTO_INC, self.raw6)

    def _mg(self, total, n):
        d = 6842 * n
        t = total * 1000
        return (t + d // 2) // d

    def stop(self):
        self._w(CTRL_REG3, 0x03)  # power-down


DRIVER = LIS3MDL
