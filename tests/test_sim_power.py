"""Power, resets and virtual time on the virtual board: what survives what, as on an ESP32."""

from __future__ import annotations

import random
import time
from pathlib import Path

from citynode.sim import VirtualBoard
from citynode.sim.testing import mpremote, needs_sim

pytestmark = needs_sim
pytest_plugins = ("sim_fixtures",)

WRITER = """import os
n = 0
try:
    n = int(open('count.txt').read())
except OSError:
    pass
print('boot saw', n)
while True:
    n += 1
    f = open('data.txt', 'w')
    for i in range(40):
        f.write('%06d\\n' % n)
    f.close()
    f = open('count.tmp', 'w')
    f.write(str(n))
    f.close()
    os.rename('count.tmp', 'count.txt')
"""


def test_power_cut_during_writes_leaves_old_or_new_never_partial(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    vb.power_cut()
    vb.write_file("main.py", WRITER)
    rng = random.Random(7)
    seen = []
    for _ in range(12):
        mark = vb.control.console_offset()
        vb.power_on()
        vb.control.wait_console("boot saw", since=mark, timeout=20)
        time.sleep(rng.uniform(0.02, 0.3))  # the loop rewrites the files thousands of times a second
        vb.power_cut()
        data = vb.read_file("data.txt")
        count = vb.read_file("count.txt")
        if data is not None and data != b"":  # a new file is created empty, as LittleFS does
            lines = data.decode().split()
            assert len(lines) == 40 and len(set(lines)) == 1, f"torn file: {lines[:3]}..{lines[-3:]}"
        if count is not None:
            seen.append(int(count))
            assert data is not None and int(data.split()[0]) in (int(count), int(count) + 1)
        assert vb.read_file("count.tmp") in (None, b"") or vb.read_file("count.tmp").isdigit()
    assert seen and seen == sorted(seen) and seen[-1] > 12  # progress is durable and never goes back


def test_deepsleep_cycles_keep_rtc_memory_and_advance_time(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    vb.power_cut()
    vb.write_file("main.py", """import machine, time
m = machine.RTC().memory()
n = int(m) if m else 0
print('wake', n, machine.reset_cause(), machine.wake_reason(), time.time(), time.ticks_ms() < 5000)
machine.RTC().memory(str(n + 1).encode())
if n < 5:
    machine.deepsleep(600000)
""")
    mark = vb.control.console_offset()
    vb.power_on()
    log = vb.control.wait_console("wake 5 ", since=mark, timeout=30)
    wakes = [ln.split() for ln in log.splitlines() if ln.startswith("wake")]
    assert [w[1] for w in wakes] == ["0", "1", "2", "3", "4", "5"]  # RTC memory survived each sleep
    assert wakes[0][2] == "1" and all(w[2] == "4" for w in wakes[1:])  # PWRON, then DEEPSLEEP_RESET
    assert all(w[3] == "4" for w in wakes[1:])  # TIMER_WAKE
    times = [int(w[4]) for w in wakes]
    assert all(600 <= b - a <= 602 for a, b in zip(times, times[1:], strict=False))  # RTC counts through sleep
    assert all(w[5] == "True" for w in wakes)  # ticks_ms restarts at each chip reset
    vb.power_cut()
    mark = vb.control.console_offset()
    vb.power_on()
    first = vb.control.wait_console("wake ", since=mark, timeout=30)
    assert "wake 0 1 " in first  # a power cut loses RTC memory: counting starts again, PWRON_RESET


def test_watchdog_not_fed_resets_the_board(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    for body in ("time.sleep(10)", "while True:\n        pass"):
        vb.power_cut()
        vb.write_file("main.py", f"""import machine, time
print('cause', machine.reset_cause())
if machine.reset_cause() != machine.WDT_RESET:
    w = machine.WDT(timeout=1500)
    w.feed()
    {body}
    print('watchdog did not fire')
""")
        mark = vb.control.console_offset()
        vb.power_on()
        log = vb.control.wait_console("cause 3", since=mark, timeout=30)
        assert "watchdog did not fire" not in log


def test_nvs_commit_is_durable_and_uncommitted_is_not(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    mpremote(vb.port, "exec", "import esp32\nn = esp32.NVS('app')\nn.set_i32('a', 7)\nn.set_blob('b', b'xyz')\n"
                              "n.commit()\nn.set_i32('a', 8)\nprint(n.get_i32('a'))")
    vb.power_cut()
    vb.power_on()
    out = mpremote(vb.port, "exec", "import esp32\nn = esp32.NVS('app')\nbuf = bytearray(8)\n"
                                    "k = n.get_blob('b', buf)\nprint(n.get_i32('a'), buf[:k])\n"
                                    "try:\n    n.get_i32('zz')\nexcept OSError as e:\n    print(e.errno)").stdout
    assert out.split() == ["7", "bytearray(b'xyz')", "-4354"]  # ESP_ERR_NVS_NOT_FOUND


def test_reset_button_and_state_dir_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "node"
    with VirtualBoard(state_dir=state) as vb:
        mpremote(vb.port, "exec", "with open('hello.txt', 'w') as f:\n    f.write('still here')")
        uid = mpremote(vb.port, "exec", "import machine; print(machine.unique_id().hex())\n"
                                        "machine.RTC().memory(b'soft-kept')").stdout.strip()
        mpremote(vb.port, "exec", "import machine; machine.soft_reset()", check=False)
        assert "soft-kept" in mpremote(vb.port, "exec", "import machine; print(machine.RTC().memory())").stdout
        vb.press_reset()  # the EN pin: a chip reset, RTC memory goes with it
        out = mpremote(vb.port, "exec", "import machine; print(machine.reset_cause(), machine.RTC().memory())")
        assert out.stdout.split() == ["2", "b''"]
    with VirtualBoard(state_dir=state) as vb:
        out = mpremote(vb.port, "exec", "import machine; print(machine.unique_id().hex(), open('hello.txt').read())")
        assert out.stdout.split() == [uid, "still", "here"] and len(uid) == 12
        assert Path(state / "port").resolve() == Path(vb.port)


def test_virtual_time_runs_a_day_of_sleep_fast(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    t0 = vb.control.virtual_ms()
    out = mpremote(vb.port, "exec", "import time\nt = time.ticks_ms()\ntime.sleep(86400)\n"
                                    "print(time.ticks_diff(time.ticks_ms(), t) // 1000)", timeout=120).stdout
    assert int(out) >= 86400
    assert vb.control.virtual_ms() - t0 >= 86_400_000


def test_run_until_holds_a_sleeping_node_and_advance_steps_it(virtual_board_obj: VirtualBoard) -> None:
    vb = virtual_board_obj
    vb.power_cut()
    vb.write_file("main.py", "import machine, time\nprint('wake at', time.time())\nmachine.deepsleep(900000)\n")
    start = vb.control.virtual_ms()
    mark = vb.control.console_offset()
    vb.power_on()
    vb.control.run_until(start + 3_000_000)  # wakes at +0, +900, +1800, +2700 s, then held asleep
    time.sleep(0.5)
    assert vb.control.console_log(mark).count("wake at") == 4
    vb.advance(900_000)
    deadline = time.monotonic() + 10
    while vb.control.console_log(mark).count("wake at") < 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert vb.control.console_log(mark).count("wake at") == 5
    vb.control.set_time_limit(None)
