"""Service mode on the MicroPython VM: the real cn.service and cn.node behind a scripted
console, checked with the host's own line parser, decoder and proof functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from citynode.protocol import MemoryCounterStore, decode, derive_keys
from citynode.service.lines import Reply, command, frame_line, parse_reply
from citynode.service.proofs import prove_mac, rekey_proof
from test_fw_node_fakes import DEV, SECRET, SOIL, fake_files, run_fw

NONCE = bytes.fromhex("00112233445566778899aabbccddeeff")

SESSION = r'''
import io
from cn.service import LineIO, Service

class Out:
    def write(self, s):
        print("R " + s.rstrip("\n"))

node = boot_node()
lio = LineIO(io.BytesIO(INPUT), Out(), None)
from cn.nodesvc import ServiceContext
svc = Service(ServiceContext(node), lio)
while True:
    if NONCE is not None:
        svc.nonce = NONCE
    line = lio.readline(60000)
    if line == b"" and lio.eof:
        break
    svc.handle(line)
POST
'''


def session(lines: list[bytes], files: dict[str, bytes] | None = None, post: str = "",
            nonce: bytes | None = NONCE) -> tuple[list[Reply], str]:
    """Feed lines to the node's service loop; (parsed replies, output). nonce: the challenge
    the node issues before every line (None: the node's own random ones)."""
    body = (SESSION.replace("INPUT", repr(b"".join(lines)))
            .replace("NONCE", repr(nonce)).replace("POST", post))
    out = run_fw(body, files)
    replies = [parse_reply(line[2:].encode()) for line in out.splitlines() if line.startswith("R ")]
    assert all(r is not None for r in replies), out
    return [r for r in replies if r is not None], out


def cmd(seq: int, verb: str, *args: str) -> bytes:
    return command(seq, verb, *args)


def provision_lines(start: int = 1, config: dict[str, Any] | None = None) -> list[bytes]:
    return [
        cmd(start, "CONFIG", json.dumps(config or SOIL)),
        cmd(start + 1, "KEY", f"{DEV:08x}", SECRET.hex()),
        cmd(start + 2, "COMMIT"),
    ]


def test_hello_on_a_fresh_node_reports_identity_and_unprovisioned_state() -> None:
    replies, _ = session([cmd(7, "HELLO")])
    r = replies[0]
    assert r.seq == 7 and r.ok
    assert r.data["hw_id"] == "246f28aabbcc"
    assert r.data["board"] == "heltec_v2"
    assert r.data["provisioned"] is False and r.data["locked"] is False
    assert r.data["device_id"] is None
    assert r.data["config_error"] == "no config"


def test_bad_lines_get_clear_errors_and_change_nothing() -> None:
    good = cmd(3, "CONFIG", json.dumps(SOIL))
    corrupted = good.replace(b"900", b"901")  # checksum no longer matches
    lines = [
        corrupted,
        cmd(4, "FROBNICATE"),
        b"hello there\n",
        b"CN 5 HELLO *ZZZZ\n",
        b"CN " + b"x" * 5000 + b"\n",  # longer than the node's line limit
        cmd(6, "CONFIG", "{not json"),
        cmd(7, "CONFIG", json.dumps({**SOIL, "period_s": 5})),
        cmd(8, "KEY", "0000002a", "abcd"),
        cmd(9, "KEY", "00000000", SECRET.hex()),
        cmd(10, "COMMIT"),
        cmd(11, "HELLO"),
    ]
    replies, _ = session(lines)
    codes = [(r.seq, r.code) for r in replies[:-1]]
    assert codes == [
        (3, "BAD_CRC"), (4, "UNKNOWN"), (0, "BAD_LINE"), (5, "BAD_CRC"), (0, "TOO_LONG"),
        (6, "BAD_CONFIG"), (7, "BAD_CONFIG"), (8, "BAD_ARG"), (9, "BAD_ARG"), (10, "NOTHING_STAGED"),
    ]
    assert all(r.message for r in replies[:-1])
    assert "period_s" in replies[6].message
    hello = replies[-1]
    assert hello.ok and hello.data["staged"] == [] and hello.data["provisioned"] is False


def test_provisioning_then_proof_and_a_test_frame_the_host_decodes() -> None:
    host_nonce = bytes(range(100, 116))
    lines = [*provision_lines(), cmd(4, "HELLO"), cmd(5, "PROVE", host_nonce.hex()), cmd(6, "FRAME")]
    replies, _ = session(lines, fake_files())
    assert [r.ok for r in replies] == [True] * 6
    assert replies[2].data["applied"] == ["config", "key"]
    hello = replies[3].data
    assert hello["provisioned"] is True and hello["device_id"] == "0000002a"
    assert bytes.fromhex(replies[4].data["mac"]) == prove_mac(SECRET, DEV, host_nonce)
    frame = bytes.fromhex(replies[5].data["frame"])
    decoded = decode(frame, {DEV: SECRET}, MemoryCounterStore())
    assert decoded.device_id == DEV
    assert decoded.counter == 0 == replies[5].data["fcnt"]


def test_the_key_is_never_readable_back() -> None:
    keys = derive_keys(SECRET, DEV)
    lines = [*provision_lines(), cmd(4, "HELLO"), cmd(5, "DIAG"), cmd(6, "SELFTEST"), cmd(7, "FRAME"),
             cmd(8, "PROVE", NONCE.hex()), cmd(9, "KEY"), cmd(10, "LOCK"), cmd(11, "HELLO")]
    replies, out = session(lines)
    assert all(r.ok for r in replies if r.seq != 9)
    text = out.lower()
    for secret in (SECRET, keys.auth, keys.enc, keys.prove):
        assert secret.hex() not in text
        assert secret.hex()[:16] not in text


def test_a_locked_node_changes_key_only_with_a_proof_of_the_current_key() -> None:
    new_secret = bytes(range(50, 66))
    good = rekey_proof(SECRET, DEV, NONCE, DEV, new_secret)
    wrong = rekey_proof(bytes(16), DEV, NONCE, DEV, new_secret)
    lines = [
        *provision_lines(),
        cmd(4, "LOCK"),
        cmd(5, "KEY", f"{DEV:08x}", new_secret.hex()),
        cmd(6, "KEY", f"{DEV:08x}", new_secret.hex(), wrong.hex()),
        cmd(7, "COMMIT"),
        cmd(8, "PROVE", NONCE.hex()),
        cmd(9, "KEY", f"{DEV:08x}", new_secret.hex(), good.hex()),
        cmd(10, "COMMIT"),
        cmd(11, "PROVE", NONCE.hex()),
        cmd(12, "HELLO"),
    ]
    replies, _ = session(lines)
    by_seq = {r.seq: r for r in replies}
    assert by_seq[5].code == "LOCKED"
    assert by_seq[6].code == "BAD_PROOF"
    assert by_seq[7].code == "NOTHING_STAGED"
    assert bytes.fromhex(by_seq[8].data["mac"]) == prove_mac(SECRET, DEV, NONCE)  # old key still there
    assert by_seq[9].ok and by_seq[10].ok
    assert bytes.fromhex(by_seq[11].data["mac"]) == prove_mac(new_secret, DEV, NONCE)
    assert by_seq[12].data["locked"] is True


def test_the_rekey_nonce_changes_after_every_attempt() -> None:
    lines = [cmd(1, "HELLO"), cmd(2, "KEY", "0000002a", "zz"), cmd(3, "HELLO")]
    replies, _ = session(lines, nonce=None)
    assert replies[0].seq == 1 and replies[2].seq == 3
    assert replies[0].data["nonce"] != replies[2].data["nonce"]


def test_prove_refuses_anything_but_a_16_byte_nonce() -> None:
    # a longer "nonce" could otherwise be the rekey message itself: PROVE must not sign it
    rekey_msg = b"citynode/v1/rekey" + NONCE + DEV.to_bytes(4, "big") + bytes(16)
    replies, _ = session([*provision_lines(), cmd(4, "LOCK"), cmd(5, "PROVE", rekey_msg.hex())])
    assert replies[-1].code == "BAD_ARG"


@pytest.mark.parametrize("cut_at", range(1, 9))
def test_commit_is_all_or_nothing_when_power_is_cut(cut_at: int) -> None:
    """Cut power at every flash operation of a commit: after the next boot the node has
    the old state (nothing) or the new one (config and key), never half."""
    post = r'''
'''
    body = SESSION.replace("INPUT", repr(b"".join(provision_lines()))).replace("NONCE", repr(NONCE))
    body = body.replace("POST", post)
    body = body.replace("node = boot_node()", "node = boot_node()\nesp32.fail_at[0] = esp32.ops[0] + CUT")
    body = body.replace("    svc.handle(line)", "    try:\n        svc.handle(line)\n"
                        "    except esp32.PowerCut:\n        print('CUT')\n        break")
    body = body.replace("CUT", str(cut_at), 1)
    body += r'''
esp32.fail_at[0] = -1
machine.power_cut()
node = boot_node()
print("J " + json.dumps({"key": node.store.key() is not None, "config": node.cfg is not None}))
'''
    out = run_fw(body)
    state = json.loads(out.split("J ", 1)[1].splitlines()[0])
    assert state in ({"key": False, "config": False}, {"key": True, "config": True}), out
    if "CUT" not in out:
        assert state == {"key": True, "config": True}


def test_corrupt_config_on_disk_means_service_mode_not_a_crash() -> None:
    files = fake_files(config=None)
    files["/config.json"] = b'{"kind": "soil", "period_s": 9'
    body = r'''
import io
from cn.service import LineIO
class Out:
    def write(self, s):
        print("R " + s.rstrip("\n"))
node, ms, how = wake(LineIO(io.BytesIO(INPUT), Out(), None))
print("J " + json.dumps({"how": how}))
'''
    out = run_fw(body.replace("INPUT", repr(cmd(1, "HELLO"))), files)
    replies = [parse_reply(x[2:].encode()) for x in out.splitlines() if x.startswith("R ")]
    assert replies[0] and replies[0].data["event"] == "READY" and replies[0].data["mode"] == "service"
    assert replies[1] and replies[1].data["config_error"] == "config unreadable"
    assert '"how": "reset"' in out  # left service mode by rebooting, no traceback
    assert "Traceback" not in out


def test_line_checksum_is_crc16_ccitt_false_on_both_sides() -> None:
    # 0x29B1 is the catalogued check value of CRC-16/CCITT-FALSE for "123456789"
    out = run_fw("from cn.crc16 import crc16\nprint(crc16(b'123456789'), crc16(b'CN 1 HELLO'))")
    fw_check, fw_line = (int(x) for x in out.split())
    assert fw_check == 0x29B1
    assert frame_line("CN 1 HELLO") == b"CN 1 HELLO *%04X\n" % fw_line
