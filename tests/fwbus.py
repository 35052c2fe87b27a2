# MicroPython test doubles of the BUSES only (UART, I2C, ADC, Pin, clock), for firmware
# tests on the VM: they move the bytes a real bus would; the drivers under test parse them.
# timed_read() runs one driver read against a deadline on the virtual clock.
# Installed as /lib/fwbus.py by tests/fwtest.py. Not a pytest module.


class Clock:
    """Virtual milliseconds: sleep_ms advances them, so warm-ups and deadlines cost nothing."""

    def __init__(self):
        self.t = 1000
        self.slept = 0

    def ticks(self):
        return self.t

    def sleep(self, ms):
        self.t += ms
        self.slept += ms

    def install(self):
        from cn.drivers import base

        base.set_clock(self.ticks, self.sleep)
        return self


def timed_read(drv, ms):
    """drv.read with a deadline ms away (Clock installed): {"mask": channels read} or
    {"code": SensorError code}, and "elapsed": the virtual ms the read took."""
    from cn.drivers import base

    t0 = base.ticks_ms()
    try:
        out = {"mask": drv.read([0] * 16, base.deadline_in(ms))}
    except base.SensorError as e:
        out = {"code": e.code}
    out["elapsed"] = base.ticks_ms() - t0
    return out


class UART:
    """rx: bytes the sensor sends; replies[cmd] queued when the driver writes exactly cmd."""

    def __init__(self, rx=b""):
        self.rx = bytearray(rx)
        self.writes = []
        self.replies = {}
        self.max_read = 0

    def feed(self, data):
        self.rx.extend(data)

    def any(self):
        return len(self.rx)

    def readinto(self, buf, n=None):
        if n is None:
            n = len(buf)
        n = min(n, len(self.rx), len(buf))
        self.max_read = max(self.max_read, n)
        if n == 0:
            return None
        for i in range(n):
            buf[i] = self.rx[i]
        self.rx = self.rx[n:]
        return n

    def write(self, b):
        b = bytes(b)
        self.writes.append(b)
        r = self.replies.get(b)
        if r is not None:
            self.rx.extend(r)
        return len(b)


class I2C:
    """Devices by address; each has .write(data) and .read(n) -> bytes (command devices) or
    .regs (a 256-byte register file; `autoinc_bit` 0x80 for ST parts) for register access.
    A missing address, or a device with .nack set, raises OSError(19) like machine.I2C."""

    def __init__(self, *devices):
        self.devs = {}
        self.log = []
        for d in devices:
            self.devs[d.addr] = d

    def _dev(self, addr):
        d = self.devs.get(addr)
        if d is None or getattr(d, "nack", False):
            raise OSError(19)
        return d

    def writeto(self, addr, buf):
        d = self._dev(addr)
        self.log.append(("w", addr, bytes(buf)))
        d.write(bytes(buf))
        return len(buf)

    def readfrom_into(self, addr, buf):
        d = self._dev(addr)
        data = d.read(len(buf))
        self.log.append(("r", addr, bytes(data)))
        for i in range(len(buf)):
            buf[i] = data[i]

    def writeto_mem(self, addr, reg, buf):
        d = self._dev(addr)
        self.log.append(("wm", addr, reg, bytes(buf)))
        d.write_reg(reg, bytes(buf))

    def readfrom_mem_into(self, addr, reg, buf):
        d = self._dev(addr)
        d.read_regs(reg, buf)
        self.log.append(("rm", addr, reg, bytes(buf)))


class RegDevice:
    """A register-file device; subclasses override on_write / on_read for behaviour."""

    autoinc_bit = 0  # 0: always auto-increment; 0x80: only when the register's bit 7 is set

    def __init__(self, addr):
        self.addr = addr
        self.regs = bytearray(256)
        self.nack = False

    def write_reg(self, reg, data):
        for i in range(len(data)):
            self.regs[reg + i] = data[i]
            self.on_write(reg + i, data[i])

    def read_regs(self, reg, buf):
        inc = True
        if self.autoinc_bit:
            inc = bool(reg & self.autoinc_bit)
            reg &= ~self.autoinc_bit & 0xFF
        for i in range(len(buf)):
            r = reg + i if inc else reg
            self.on_read(r)
            buf[i] = self.regs[r]

    def on_write(self, reg, v):
        pass

    def on_read(self, reg):
        pass


class CmdDevice:
    """A command device (Sensirion, seesaw): answers[cmd bytes] = reply bytes (or a
    callable returning them) for the next read after that command."""

    def __init__(self, addr):
        self.addr = addr
        self.answers = {}
        self.cmds = []
        self.pending = b""
        self.nack = False

    def write(self, data):
        self.cmds.append(data)
        a = self.answers.get(data)
        if callable(a):
            a = a()
        self.pending = a if a is not None else b""

    def read(self, n):
        p = self.pending
        if len(p) < n:
            raise OSError(5)  # the device NACKs a read it has nothing for
        return p[:n]


class ADC:
    def __init__(self, values_uv, log=None):
        self.values = list(values_uv)
        self.i = 0
        self.log = log

    def read_uv(self):
        v = self.values[self.i % len(self.values)]
        self.i += 1
        if self.log is not None:
            self.log.append(("adc", v))
        return v


class Pin:
    def __init__(self, log, name="pin"):
        self.log = log
        self.name = name
        self.v = None

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        self.log.append((self.name, v))
