"""Firmware frame encoder and crypto (firmware/cn/) on the MicroPython WebAssembly VM.

The VM runs the real firmware files; its missing `cryptolib` is the FIPS-197-checked test
double in tests/micropython/. Expected values come from RFC 4231, FIPS-197, SP 800-38A,
protocol/vectors.json and the host encoder.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citynode.protocol import REGISTRY, Status, encode
from citynode.vm import run
from protocol_cases import Case, cases

RFC4231 = [  # (key, data, HMAC-SHA256) test cases 1, 2, 3, 4, 6, 7 (5 is a truncation test)
    ("0b" * 20, b"Hi There".hex(), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe".hex(), b"what do ya want for nothing?".hex(),
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ("aa" * 20, "dd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)).hex(), "cd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    ("aa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First".hex(),
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ("aa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. The key "
     b"needs to be hashed before being used by the HMAC algorithm.".hex(),
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


def test_hmac256_rfc4231(vm_cryptolib: dict[str, bytes]) -> None:
    code = f"""
import binascii
from cn.hmac256 import Hmac256
for k, d, _ in {RFC4231!r}:
    data = binascii.unhexlify(d)
    whole = Hmac256(binascii.unhexlify(k)).digest(data)
    split = Hmac256(binascii.unhexlify(k)).digest(data[:3], memoryview(data)[3:])
    print(binascii.hexlify(whole).decode(), binascii.hexlify(split).decode())
"""
    lines = run(code).split()
    assert lines == [mac for _, _, mac in RFC4231 for _ in (0, 1)]


def test_aes_double_fips197_and_ctr_sp800_38a(vm_cryptolib: dict[str, bytes]) -> None:
    code = """
import binascii, cryptolib
from cn.aesctr import AesCtr
h = binascii.unhexlify
# FIPS-197 appendix C.1 (AES-128)
print(binascii.hexlify(cryptolib.aes(h("000102030405060708090a0b0c0d0e0f"), 1).encrypt(
    h("00112233445566778899aabbccddeeff"))).decode())
# SP 800-38A F.5.1 CTR-AES128.Encrypt
ctr = AesCtr(h("2b7e151628aed2a6abf7158809cf4f3c"))
iv = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
pt = ("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
buf = bytearray(h(pt))
ctr.block[:] = iv
ctr.xor(buf, 0, len(buf))
print(binascii.hexlify(buf).decode())
buf = bytearray(b"xx" + h(pt)[:37])  # partial last block, at an offset
ctr.block[:] = iv
ctr.xor(buf, 2, len(buf))
print(binascii.hexlify(buf[2:]).decode())
"""
    fips, full, partial = run(code, vm_cryptolib).split()
    assert fips == "69c4e0d86a7b0430d8cdb78070b4c55a"
    expected = ("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
                "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")
    assert full == expected
    assert partial == expected[:74]


def status_args(status: Status | None) -> tuple[int, int]:
    """(status bits 0-6 plus ERR, error byte) as SPEC.md 3.1 lays them out."""
    if status is None:
        return 0, 0
    b = (status.low_battery | status.sensor_fault << 1 | REGISTRY.reset_causes.index(status.reset_cause) << 2
         | status.duty_limited << 5 | status.counter_jump << 6)
    if status.error is None:
        return b, 0
    sub = {v: k for k, v in REGISTRY.error_subsystems.items()}[status.error[0]]
    return b | 0x80, sub << 4 | status.error[1]


FW_BATCH = """
import binascii, json
from cn.frame import Encoder
from cn import registry as R
jobs = json.loads(JOBS)
encoders = {}
for j in jobs:
    key = (j["dev"], j["secret"], j["tag_len"], j["encrypt"])
    enc = encoders.get(key)
    if enc is None:
        enc = Encoder(j["dev"], binascii.unhexlify(j["secret"]), j["tag_len"], j["encrypt"])
        encoders[key] = enc
    enc.clear()
    for ch, v in j["scalars"]:
        enc.set(ch, R.raw_from_milli(ch, v) if j["milli"] else v)
    for ch, vs in j["series"]:
        for v in vs:
            enc.add_sample(ch, R.raw_from_milli(ch, v) if j["milli"] else v)
    enc.interval = j["interval"]
    n = enc.encode(j["profile"], j["counter"], status=j["status"], error=j["error"], long_counter=j["long"])
    print(binascii.hexlify(enc.view(n)).decode())
"""


def run_firmware_batch(jobs: list[dict[str, Any]], files: dict[str, bytes]) -> list[str]:
    return run(f"JOBS = {json.dumps(json.dumps(jobs))}\n" + FW_BATCH, files).split()


def test_firmware_encodes_every_valid_vector(vectors: dict[str, Any], vm_cryptolib: dict[str, bytes]) -> None:
    jobs = []
    for entry in vectors["valid"]:
        inp = entry["input"]
        status, error = status_args(None if inp["status"] is None else Status.from_json(inp["status"]))
        pname = entry["expected"]["profile"]
        profile = REGISTRY.profiles_by_name[pname] if pname != "generic" else None
        scalars, series = [], []
        for name, value in inp["readings"].items():
            ch = REGISTRY.by_name[name]
            if isinstance(value, list):
                series.append([ch.id, [round(v * 1000) for v in value]])
            elif profile is not None and ch.id in profile.series:
                scalars.append([ch.id, round(value * 1000)])  # a scalar for a series channel: one sample
            else:
                scalars.append([ch.id, round(float(value) * 1000)])
        jobs.append({
            "dev": int(inp["device_id"], 16), "secret": vectors["keys"][inp["device_id"]],
            "tag_len": inp["tag_len"], "encrypt": inp["encrypt"], "long": inp["long_counter"],
            "counter": inp["counter"], "profile": 0 if profile is None else profile.id,
            "status": status, "error": error, "milli": True,
            "interval": REGISTRY.intervals_s.index(inp["series_interval_s"]),
            "scalars": scalars, "series": series,
        })
    frames = run_firmware_batch(jobs, vm_cryptolib)
    for entry, frame in zip(vectors["valid"], frames, strict=True):
        assert frame == entry["frame"], entry["name"]


S = bytes.fromhex("00112233445566778899aabbccddeeff")
DEV = 0x00ABCDEF


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(cases(), min_size=25, max_size=25))
def test_firmware_and_host_encoders_agree(batch: list[Case], vm_cryptolib: dict[str, bytes]) -> None:
    jobs = []
    for case in batch:
        status, error = status_args(case.status)
        jobs.append({
            "dev": DEV, "secret": S.hex(), "tag_len": case.tag_len, "encrypt": case.encrypt,
            "long": case.long_counter, "counter": case.counter, "profile": case.profile,
            "status": status, "error": error, "milli": False, "interval": case.interval_code,
            "scalars": sorted(case.raws.items()), "series": sorted(case.series.items()),
        })
    frames = run_firmware_batch(jobs, vm_cryptolib)
    for case, frame in zip(batch, frames, strict=True):
        host = encode(case.readings(), device_id=DEV, secret=S, **case.encode_args())
        assert frame == host.hex(), case


def test_registry_helpers_round_like_the_host(vm_cryptolib: dict[str, bytes]) -> None:
    # thousandths around every channel's edges and half-steps, including negatives
    points: list[tuple[int, int]] = []
    for ch in REGISTRY.channels.values():
        lo = round(ch.min * 1000)
        hi = round(ch.max * 1000)
        step = ch.scale_milli
        for base in (lo, hi, (lo + hi) // 2):
            for d in (-step, -step // 2, -1, 0, 1, step // 2, step, 3 * step // 2):
                points.append((ch.id, base + d))
    code = f"""
from cn import registry as R
for ch, m in {points!r}:
    print(R.raw_from_milli(ch, m))
"""
    got = [int(x) for x in run(code).split()]
    for (cid, milli), raw in zip(points, got, strict=True):
        ch = REGISTRY.channels[cid]
        try:
            want = ch.to_raw(milli / 1000)
        except ValueError:
            want = -1
        assert raw == want, (ch.name, milli)


ALLOC = """
import gc, hashlib
from cn.frame import Encoder
from cn import registry as R
N = 1000

def floor(fc, data, ipad, opad):
    h = hashlib.sha256(ipad)
    h.update(fc)
    h.update(data)
    inner = h.digest()
    h = hashlib.sha256(opad)
    h.update(inner)
    return h.digest()

def measure_encode(enc, profile):
    enc.encode(profile, 1)  # first frame: caches this length's memoryview
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for c in range(2, N + 2):
        enc.encode(profile, c)
    used = gc.mem_alloc() - before
    gc.enable()
    return used

def measure_floor(n):
    ipad = bytearray(64)
    opad = bytearray(64)
    fc = bytearray(4)
    data = memoryview(bytearray(n))
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for c in range(N):
        floor(fc, data, ipad, opad)
    used = gc.mem_alloc() - before
    gc.enable()
    return used

for encrypt in (False, True):
    enc = Encoder(42, bytes(16), 8, encrypt)
    enc.clear()
    enc.set(R.BATTERY_V, 171)
    enc.set(R.PM2_5, 124)
    enc.set(R.CO2, 612)
    print("air", encrypt, measure_encode(enc, R.PROFILE_AIR), measure_floor(20))
    enc.clear()
    for i in range(15):
        enc.add_sample(R.LAEQ, 400 + (i * 37) % 300)
    enc.set(R.LAMAX, 700)
    print("noise", encrypt, measure_encode(enc, R.PROFILE_NOISE), measure_floor(40))
    print("generic", encrypt, measure_encode(enc, R.PROFILE_GENERIC), measure_floor(20))
"""


def test_firmware_encode_allocates_no_more_than_bare_hmac(vm_cryptolib: dict[str, bytes]) -> None:
    lines = run(ALLOC, vm_cryptolib).strip().splitlines()
    assert len(lines) == 6
    for line in lines:
        name, encrypt, used, floor = line.split()
        # same VM, same 1000 frames: the encoder may not add more than 64 bytes in total
        assert int(used) <= int(floor) + 64, line
        assert int(floor) > 0, "the measurement sees hashlib's own allocations"
