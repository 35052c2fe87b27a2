"""The switched sensor supply (board file "sensor_power": pin, active_low).

The node turns the rail on for the measuring part of a cycle and off before it sleeps, so
sensors draw nothing in deep sleep; a board without a switch is always on. The battery
voltage is a sensor like any other (cn.drivers.battery).
"""


class Supply:
    def __init__(self, board, pin=None):
        from cn.drivers.base import Power

        spec = board.get("sensor_power")
        self.rail = Power(spec, pin) if (spec or pin) else None

    def on(self):
        if self.rail is not None:
            self.rail.on()

    def off(self):
        if self.rail is not None:
            self.rail.off()
