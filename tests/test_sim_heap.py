"""The virtual board's heap behaves like a board's: garbage is collected while a program runs,
a leak ends in MemoryError at the board's heap size, and live objects survive every collection."""

from __future__ import annotations

import pytest

from citynode.sim import BoardControl
from citynode.sim.testing import mpremote, needs_sim

pytestmark = needs_sim
pytest_plugins = ("sim_fixtures",)

Board = tuple[str, BoardControl]
KIB = 1024


def run(port: str, code: str, timeout: float = 120) -> str:
    return mpremote(port, "exec", code, timeout=timeout).stdout.strip()


@pytest.mark.parametrize("virtual_board", [{"heap": 64 * KIB}], indirect=True)
def test_garbage_made_by_a_running_program_is_collected_at_its_sleeps(virtual_board: Board) -> None:
    # 3000 rounds of 5 KB garbage (15 MB in all) in one program that never returns to the REPL:
    # without collections while it runs, this port would grow its heap to 15 MB.
    port, control = virtual_board
    out = run(port, """import time
kept = []
for i in range(3000):
    junk = [bytes(100) for _ in range(50)]
    if i % 100 == 0:
        kept.append(bytes([i % 256]) * 32)
    time.sleep_ms(10)
print(len(kept), all(k == bytes([(n * 100) % 256]) * 32 for n, k in enumerate(kept)))
""")
    assert out == "30 True"
    st = control.stats()
    assert st["gc_runs"] > 100
    assert st["heap_over_limit"] == 0
    assert control.peak_heap() < 64 * KIB  # an upper bound of the peak, far below 15 MB
    assert 5 * KIB <= control.live_heap_peak() < 64 * KIB


@pytest.mark.parametrize("virtual_board", [{"heap": 64 * KIB}], indirect=True)
def test_a_leak_ends_in_memory_error_at_the_board_heap_size(virtual_board: Board) -> None:
    port, control = virtual_board
    out = run(port, """import time
leak = []
try:
    while True:
        leak.append(bytearray(1024))
        time.sleep_ms(100)
except MemoryError as e:
    n = len(leak)
    leak = None
    print('MemoryError after', n)
""")
    assert out.startswith("MemoryError after ")
    kib_kept = int(out.split()[-1])
    assert 48 <= kib_kept <= 64  # the firmware's share is the board's heap, give or take the REPL's own
    assert control.stats()["heap_over_limit"] >= 1
    assert control.live_heap_peak() > 64 * KIB


# Every place a live object can be held while the program waits: locals of several frames, a
# generator's frame, a closure cell, the instance under __init__, an exception being handled,
# a with-block's context manager, *args/**kwargs calls, a bound method, a for-loop iterator.
SURVIVORS = """import time, gc

def nap():
    time.sleep_ms(1)
    junk = [bytearray(200) for _ in range(20)]  # garbage, so each nap collects
    time.sleep_ms(1)

def gen(n):
    local = [bytes([j]) * 50 for j in range(n)]
    for x in local:
        nap()
        yield x

def closure():
    cell = {'k': bytes(range(40))}
    def inner():
        nap()
        return cell['k']
    return inner

class Box:
    def __init__(self, a, *rest, **kw):
        self.a = a
        nap()
        self.rest = rest
        self.kw = kw

class Ctx:
    def __enter__(self):
        self.token = bytearray(b'ctx' * 20)
        return self
    def __exit__(self, *e):
        nap()
        return False

def deep(n, acc):
    mine = bytes([n]) * 60
    if n:
        deep(n - 1, acc)
    nap()
    acc.append(mine)

ok = []
for rnd in range(5):
    got = [x for x in gen(6)]
    ok.append(got == [bytes([j]) * 50 for j in range(6)])
    ok.append(closure()() == bytes(range(40)))
    b = Box(bytes(30), *[bytes(31), bytes(32)], key=bytes(33))
    ok.append((len(b.a), [len(r) for r in b.rest], len(b.kw['key'])) == (30, [31, 32], 33))
    try:
        raise ValueError(bytes(b'exc' * 10))
    except ValueError as e:
        nap()
        ok.append(e.args[0] == b'exc' * 10)
    with Ctx() as c:
        nap()
        ok.append(c.token == bytearray(b'ctx' * 20))
    acc = []
    deep(8, acc)
    ok.append(acc == [bytes([n]) * 60 for n in range(9)])
    m = Box(bytes(5)).__init__
    nap()
    m(bytes(6))
    s = 'x' * 10
    for i, part in enumerate(['a' * 40, 'b' * 40]):
        nap()
        s += part
    ok.append(len(s) == 90)
print(len(ok), all(ok))
"""


@pytest.mark.parametrize("virtual_board", [{"heap": 64 * KIB, "gc_every_bytes": 0}], indirect=True)
def test_live_objects_survive_a_collection_at_every_safe_point(virtual_board: Board) -> None:
    port, control = virtual_board
    assert run(port, SURVIVORS) == "35 True"
    st = control.stats()
    assert st["gc_runs"] > 200
    assert st["gc_skipped"] == 0


@pytest.mark.parametrize("virtual_board", [{"heap": 64 * KIB}], indirect=True)
def test_gc_collect_in_the_firmware_really_frees(virtual_board: Board) -> None:
    port, _ = virtual_board
    out = run(port, """import gc
def make():
    x = [bytearray(500) for _ in range(40)]
    return len(x)
def f():
    make()
    a = gc.mem_alloc()
    gc.collect()
    return a - gc.mem_alloc()
print(f() >= 20000)
""")
    assert out == "True"
