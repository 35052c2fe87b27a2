"""The board-only modules on the virtual board's VM: machine, esp32, cryptolib, time, gc."""

from __future__ import annotations

import pytest

from citynode.sim import BoardControl
from citynode.sim.testing import mpremote, needs_sim

pytestmark = needs_sim
pytest_plugins = ("sim_fixtures",)

Board = tuple[str, BoardControl]


def run(port: str, code: str) -> str:
    return mpremote(port, "exec", code).stdout.strip()


def test_cryptolib_aes_matches_fips197_and_chains_cbc(virtual_board: Board) -> None:
    port, _ = virtual_board
    out = run(port, """import cryptolib
k = bytes(range(16))
pt = bytes.fromhex('00112233445566778899aabbccddeeff')
print(cryptolib.aes(k, 1).encrypt(pt).hex())
a = cryptolib.aes(k, 2, bytes(16)); one = a.encrypt(pt) + a.encrypt(pt)
b = cryptolib.aes(k, 2, bytes(16)); two = b.encrypt(pt + pt)
print(one == two, one[:16] != one[16:])
out = bytearray(16); cryptolib.aes(k, 1).decrypt(bytes.fromhex('69c4e0d86a7b0430d8cdb78070b4c55a'), out)
print(out.hex())
for bad in ((k, 6), (k[:5], 1)):
    try:
        cryptolib.aes(*bad); print('no error')
    except ValueError as e:
        print('ValueError')
""")
    assert out.split() == ["69c4e0d86a7b0430d8cdb78070b4c55a", "True", "True",
                           "00112233445566778899aabbccddeeff", "ValueError", "ValueError"]


def test_i2c_nack_raises_enodev_and_pins_are_checked(virtual_board: Board) -> None:
    port, _ = virtual_board
    out = run(port, """from machine import I2C, Pin, ADC
i2c = I2C(0, sda=Pin(4), scl=Pin(15))
try:
    i2c.writeto(0x11, b'x')
except OSError as e:
    print(e.errno)
for p in (40, 36):
    try:
        Pin(p, Pin.OUT)
    except ValueError as e:
        print(e)
a = ADC(Pin(37), atten=ADC.ATTN_11DB)
print(0 <= a.read_u16() <= 65535, 0 <= a.read() <= 4095)
""")
    assert out.splitlines() == ["19", "invalid pin", "pin can only be input", "True True"]


def test_time_sleep_is_virtual_and_epoch_is_2000(virtual_board: Board) -> None:
    port, control = virtual_board
    before = control.virtual_ms()
    out = run(port, """import time
t0 = time.ticks_ms(); s0 = time.time()
time.sleep(3600)
print(time.ticks_diff(time.ticks_ms(), t0) >= 3600000, time.time() - s0 >= 3600, time.gmtime(0)[:3])
""")
    assert out == "True True (2000, 1, 1)"
    assert control.virtual_ms() - before >= 3_600_000


@pytest.mark.parametrize("virtual_board", [{"heap": 64 * 1024}], indirect=True)
def test_heap_is_reported_against_the_board_size(virtual_board: Board) -> None:
    port, control = virtual_board
    out = run(port, "import gc\nx = bytearray(20000)\n"
                    "print(gc.mem_alloc() >= 20000, gc.mem_free() <= 64 * 1024 - 20000)")
    assert out == "True True"
    assert 20000 <= control.peak_heap() < 64 * 1024
    assert control.stats()["heap_limit"] == 64 * 1024


ADC_1V = {"devices": [{"id": "probe", "type": "adc", "pin": 36, "mv": 1000}]}


@pytest.mark.parametrize("virtual_board", [{"scenario": ADC_1V}], indirect=True)
def test_adc_reads_the_device_models_and_follows_a_live_scenario(virtual_board: Board) -> None:
    port, control = virtual_board
    read = "from machine import ADC, Pin\nprint(ADC(Pin(36), atten=ADC.ATTN_11DB).read_uv())"
    assert abs(int(run(port, read)) - 1_000_000) < 20_000
    control.set_scenario({"devices": [{"id": "probe", "type": "adc", "pin": 36, "mv": 2000}]})
    assert abs(int(run(port, read)) - 2_000_000) < 20_000
    # beyond the 11 dB range the converter saturates, as the ESP32's does
    control.set_scenario({"devices": [{"id": "probe", "type": "adc", "pin": 36, "mv": 3300}]})
    assert int(run(port, read)) < 3_300_000


PM = {"devices": [{"id": "pm", "type": "sds011", "pm25": 12.3, "pm10": 20}]}


@pytest.mark.parametrize("virtual_board", [{"scenario": PM}], indirect=True)
def test_uart_reads_a_sensor_in_virtual_time(virtual_board: Board) -> None:
    port, _ = virtual_board
    out = run(port, """from machine import UART
import time
u = UART(2, 9600, tx=23, rx=17, timeout=3000)
t0 = time.ticks_ms()
f = u.read(10)
print(f[0] == 0xAA, f[1] == 0xC0, f[9] == 0xAB, (f[2] | f[3] << 8) / 10)
print(time.ticks_diff(time.ticks_ms(), t0) <= 3000, UART(2, 9600, timeout=0).read(10))
""")
    lines = out.splitlines()
    assert lines[0] == "True True True 12.3"  # the SDS011's data frame, PM2.5 in 0.1 ug/m3
    assert lines[1] == "True None"  # a fresh UART starts empty; timeout 0 does not wait


MIC = {"devices": [{"id": "mic", "type": "inmp441",
                    "signals": [{"kind": "tone", "freq": 1000, "db_spl": 94}]}]}


@pytest.mark.parametrize("virtual_board", [{"scenario": MIC}], indirect=True)
def test_i2s_fills_a_word_array_by_bytes_and_takes_its_time(virtual_board: Board) -> None:
    """readinto counts a buffer in bytes, as the port's C code does: an array('i') of 960 words
    is 3840 bytes of 32-bit slots, 20 ms of 48 kHz mono audio."""
    port, _ = virtual_board
    out = run(port, """from machine import I2S, Pin
from array import array
import time
mic = I2S(0, sck=Pin(13), ws=Pin(12), sd=Pin(34), mode=I2S.RX, bits=32, format=I2S.MONO, rate=48000, ibuf=40000)
words = array("i", bytes(4 * 960))
t0 = time.ticks_us()
n = mic.readinto(memoryview(words))
print(n, time.ticks_diff(time.ticks_us(), t0) // 1000, sum(1 for w in words if w == 0) < 10)
""")
    n, elapsed_ms, filled = out.split()
    assert int(n) == 3840
    # A blocking readinto waits until the buffer is full: 960 samples at 48 kHz cannot arrive in less
    # than 20 ms of board time. No upper bound: the free-running board's clock follows the host's,
    # and a loaded host makes it later (that is a timing, measured in bench/, not a behaviour).
    assert int(elapsed_ms) >= 19
    assert filled == "True"  # every word carries audio, not only the first quarter
