"""The virtual board's serial port as pyserial sees it: friendly REPL, raw REPL, blocking stdin."""

from __future__ import annotations

import time

import serial

from citynode.sim import BoardControl, VirtualBoard
from citynode.sim.testing import needs_sim

pytestmark = needs_sim
pytest_plugins = ("sim_fixtures",)


def read_until(s: serial.Serial, end: bytes, timeout: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(end):
        assert time.monotonic() < deadline, f"no {end!r} in {got[-300:]!r}"
        got += s.read(1)
    return got


def test_pyserial_talks_to_the_friendly_repl(virtual_board: tuple[str, BoardControl]) -> None:
    port, _ = virtual_board
    with serial.Serial(port, 115200, timeout=0.2) as s:
        time.sleep(0.3)  # let the boot banner arrive, then drop it
        s.reset_input_buffer()
        s.write(b"\r")
        read_until(s, b"\r\n>>> ")
        s.write(b"print(6 * 7)\r")
        out = read_until(s, b">>> ")
        assert out == b"print(6 * 7)\r\n42\r\n>>> "  # echo, then the answer, cooked \r\n
        s.write(b"for i in range(2):\r")
        assert read_until(s, b"...     ").endswith(b"\r\n...     ")  # auto-indent after ':'
        s.write(b"print(i)\r\r")
        assert read_until(s, b">>> ").endswith(b"0\r\n1\r\n>>> ")
        s.write(b"1/0\r")
        assert b"ZeroDivisionError: divide by zero\r\n>>> " in read_until(s, b">>> ")


def test_raw_repl_protocol_by_hand(virtual_board: tuple[str, BoardControl]) -> None:
    port, _ = virtual_board
    with serial.Serial(port, 115200, timeout=0.2) as s:
        s.write(b"\r\x03\x03")
        time.sleep(0.2)
        s.reset_input_buffer()
        s.write(b"\x01")
        assert read_until(s, b"raw REPL; CTRL-B to exit\r\n>").endswith(b"raw REPL; CTRL-B to exit\r\n>")
        s.write(b"print('out')\nraise KeyError(3)\x04")
        reply = read_until(s, b"\x04>")
        normal, err, _ = reply.split(b"\x04")
        assert normal == b"OKout\r\n" and err.endswith(b"KeyError: 3\r\n")
        s.write(b"\x02")
        assert b"MicroPython v1.27.0" in read_until(s, b">>> ")


def test_blocking_stdin_service_loop_as_firmware_writes_it(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    vb.power_cut()
    vb.write_file("main.py", """import sys, select
p = select.poll()
p.register(sys.stdin, select.POLLIN)
buf = bytearray(1)
line = b''
print('ready')
while True:
    if not p.poll(5000):
        print('idle')
        continue
    sys.stdin.buffer.readinto(buf)
    if buf[0] == 10:
        sys.stdout.buffer.write(b'got:' + line.strip() + b'\\n')
        sys.stdout.write('text\\n')
        line = b''
    else:
        line += bytes(buf)
""")
    vb.power_on()
    with serial.Serial(vb.port, 115200, timeout=0.2) as s:
        read_until(s, b"ready\r\n")
        s.write(b"ping\n")
        out = read_until(s, b"text\r\n")
        assert out.endswith(b"got:ping\ntext\r\n")  # .buffer is raw, text is cooked
        s.write(b"\x03")  # Ctrl-C while the loop waits on stdin
        assert b"KeyboardInterrupt" in read_until(s, b">>> ")
