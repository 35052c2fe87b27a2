"""Stand-ins for the ESP32-only modules (machine, esp32, lora), written in MicroPython, so
the node core can be unit-tested on the plain VM runner. Not tests themselves.

They model what the node relies on: RTC memory that survives everything but a power cut,
NVS that survives everything, a reset cause, deep sleep and reset that end the program
(as BaseException subclasses, so the firmware's crash handler cannot swallow them), and a
radio that records packets. Everything persists in module globals, so one VM run can boot
the node many times ("reboot" = drop the cn modules and boot again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citynode.vm import run

# The stand-in node's identity and a soil config the tests provision it with.
SECRET = bytes(range(16))
DEV = 0x0000002A
SOIL: dict[str, Any] = {
    "kind": "soil",
    "period_s": 900,
    "sensors": [{"type": "soil_cap", "dry_mv": 2800, "wet_mv": 1300}],
    "window_ms": 0,
}

MACHINE = r'''
import time
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
cause = [PWRON_RESET]
rtc_mem = [b""]
adc_uv = {}
pins = {}
wdt = []

class Sleep(BaseException):
    pass

class Reset(BaseException):
    pass

def reset_cause():
    return cause[0]

def unique_id():
    return b"\x24\x6f\x28\xaa\xbb\xcc"

def deepsleep(ms=0):
    cause[0] = DEEPSLEEP_RESET
    raise Sleep(ms)

def reset():
    cause[0] = HARD_RESET
    raise Reset()

def power_cut():
    rtc_mem[0] = b""
    cause[0] = PWRON_RESET

class RTC:
    def memory(self, data=None):
        if data is None:
            return rtc_mem[0]
        rtc_mem[0] = bytes(data)

class WDT:
    def __init__(self, id=0, timeout=5000):
        wdt.append(timeout)
    def feed(self):
        pass

class Pin:
    IN = 1
    OUT = 2
    PULL_UP = 3
    def __init__(self, n, mode=None, pull=None, value=None):
        self.n = n
        if value is not None:
            pins[n] = value
    def value(self, v=None):
        if v is None:
            v = pins.get(self.n, 1)   # inputs idle high (pull-up)
            return v() if callable(v) else v
        pins[self.n] = v
    def init(self, *a, **k):
        pass

class ADC:
    ATTN_11DB = 3
    def __init__(self, pin):
        self.n = pin.n
    def atten(self, a):
        pass
    def read_uv(self):
        v = adc_uv.get(self.n, 0)
        if isinstance(v, Exception):
            raise v
        return v

class SPI:
    def __init__(self, *a, **k):
        pass

class I2C:
    def __init__(self, *a, **k):
        raise OSError(19)
'''

ESP32 = r'''
store = {}
ops = [0]
fail_at = [-1]

class PowerCut(BaseException):
    pass

def _tick():
    ops[0] += 1
    if ops[0] == fail_at[0]:
        raise PowerCut()

class NVS:
    def __init__(self, ns):
        self.ns = ns
    def set_i32(self, k, v):
        _tick()
        store[(self.ns, k)] = v
    def get_i32(self, k):
        try:
            return store[(self.ns, k)]
        except KeyError:
            raise OSError(-4354)
    def set_blob(self, k, v):
        _tick()
        store[(self.ns, k)] = bytes(v)
    def get_blob(self, k, buf):
        v = store.get((self.ns, k))
        if v is None:
            raise OSError(-4354)
        buf[0:len(v)] = v
        return len(v)
    def erase_key(self, k):
        _tick()
        if (self.ns, k) not in store:
            raise OSError(-4354)
        del store[(self.ns, k)]
    def commit(self):
        pass
'''

LORA = r'''
packets = []
fail = [False]

class _Modem:
    def __init__(self, spi, cs, **kw):
        self.cfg = kw.get("lora_cfg")
    def send(self, packet):
        if fail[0]:
            raise OSError(5)
        packets.append(bytes(packet))
        return 0
    def sleep(self):
        pass

class SX1276(_Modem):
    pass

class SX1262(_Modem):
    pass
'''

# Helpers available to test programs: reboot the node with a cause, run one wake.
HARNESS = r'''
import sys, json
import machine, esp32, lora

def fresh():
    for name in list(sys.modules):
        if name == "cn" or name.startswith("cn."):
            del sys.modules[name]

def boot_node(io=None):
    fresh()
    from cn.node import Node
    node = Node(machine, io=io)
    node.boot()
    return node

def wake(io=None):
    """One boot and run to deep sleep; returns (node, sleep ms or None, exception name)."""
    node = None
    try:
        node = boot_node(io)
        node.run()
        return node, None, "returned"
    except machine.Sleep as e:
        return node, e.args[0], "sleep"
    except machine.Reset:
        return node, None, "reset"
'''


def program(body: str) -> str:
    return HARNESS + "\n" + body


def fake_files(board: str | None = "heltec_v2", config: dict[str, Any] | None = None) -> dict[str, bytes]:
    from citynode.paths import boards_dir

    files = {"/machine.py": MACHINE.encode(), "/esp32.py": ESP32.encode(), "/lora.py": LORA.encode(),
             # the frame encoder's AES test double (FIPS-197 checked in test_fw_frame.py)
             "/lib/cryptolib.py": (Path(__file__).parent / "micropython" / "cryptolib.py").read_bytes()}
    if board:
        files["/board.json"] = (boards_dir() / f"{board}.json").read_bytes()
    if config is not None:
        files["/config.json"] = json.dumps(config).encode()
    return files


def run_fw(body: str, files: dict[str, bytes] | None = None, heap: int = 256 * 1024) -> str:
    return run(program(body), files if files is not None else fake_files())


def json_lines(out: str, prefix: str = "J ") -> list[Any]:
    return [json.loads(line[len(prefix):]) for line in out.splitlines() if line.startswith(prefix)]
