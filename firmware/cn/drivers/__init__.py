"""Sensor drivers, one module per sensor: the config's sensor "type" is the module name
(cn.drivers.<type>), and each module defines DRIVER, its base.Sensor class.

    from cn.drivers import load
    drv = load("sds011")(board, cfg)

Modules are imported only when configured (RAM on the board is scarce)."""

NAMES = ("battery", "soil_cap", "seesaw_soil", "sds011", "pms5003", "scd4x", "sht4x", "noise_i2s", "qmc5883l",
         "lis3mdl")


def load(name):
    """The driver class for a config name; ValueError for an unknown name."""
    if name not in NAMES:
        raise ValueError("unknown sensor %s" % name)
    m = __import__("cn.drivers." + name, None, None, ("DRIVER",))
    return m.DRIVER
