"""`citynode decode` and input parsing: JSON lines out, errors as data, exit status."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import pytest

from citynode.cli import main
from citynode.inputs import iter_frames
from citynode.keystore import Keystore
from citynode.protocol import encode

SOIL = {"battery_v": 3.71, "soil_vwc": 23.5, "soil_temp": 12.3}


@pytest.fixture
def keystore(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "fleet.keys"
    return path, Keystore(path).add(0x2A)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, object]]]:
    code = main(args)
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_decodes_hex_and_base64_lines(tmp_path: Path, keystore: tuple[Path, bytes],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, secret = keystore
    f1 = encode(SOIL, device_id=0x2A, counter=1, secret=secret)
    f2 = encode(SOIL, device_id=0x2A, counter=2, secret=secret, encrypt=True)
    frames = tmp_path / "frames.txt"
    frames.write_text(f"# captured on bench 3\n\n{f1.hex()}\n{base64.b64encode(f2).decode()}\n")
    code, out = run(["decode", "--keys", str(path), str(frames)], capsys)
    assert code == 0
    assert [o["counter"] for o in out] == [1, 2]
    assert [o["line"] for o in out] == [3, 4]
    assert out[1]["encrypted"] is True and out[0]["device_id"] == "0000002a"
    assert out[0]["readings"][0]["value"] == 3.71


def test_failures_are_json_and_exit_1(tmp_path: Path, keystore: tuple[Path, bytes],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, secret = keystore
    good = encode(SOIL, device_id=0x2A, counter=1, secret=secret)
    forged = encode(SOIL, device_id=0x2A, counter=2, secret=bytes(16))
    frames = tmp_path / "frames.txt"
    frames.write_text("\n".join([good.hex(), good.hex(), forged.hex(), "not a frame!", "4800"]) + "\n")
    code, out = run(["decode", "--keys", str(path), str(frames)], capsys)
    assert code == 1
    assert "counter" in out[0]
    assert [o.get("error") for o in out[1:]] == ["replay", "bad_tag", "bad_input", "too_short"]
    assert [o["line"] for o in out[1:]] == [2, 3, 4, 5]
    assert all(o["message"] for o in out[1:])


def test_counters_file_detects_replays_across_runs(tmp_path: Path, keystore: tuple[Path, bytes],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path, secret = keystore
    frames = tmp_path / "frames.txt"
    frames.write_text(encode(SOIL, device_id=0x2A, counter=9, secret=secret).hex() + "\n")
    state = tmp_path / "state.json"
    args = ["decode", "--keys", str(path), "--counters", str(state), str(frames)]
    assert run(args, capsys)[0] == 0
    assert json.loads(state.read_text()) == {"0000002a": 9}
    code, out = run(args, capsys)
    assert code == 1 and out[0]["error"] == "replay"
    # without the state file, each run starts fresh
    assert run(["decode", "--keys", str(path), str(frames)], capsys)[0] == 0


def test_reads_stdin(keystore: tuple[Path, bytes], capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    path, secret = keystore
    frame = encode(SOIL, device_id=0x2A, counter=3, secret=secret)
    monkeypatch.setattr(sys, "stdin", io.StringIO(" ".join(f"{b:02x}" for b in frame) + "\n"))
    code, out = run(["decode", "--keys", str(path), "-"], capsys)
    assert code == 0 and out[0]["counter"] == 3


def test_missing_keystore_or_input_is_a_clear_error(tmp_path: Path, keystore: tuple[Path, bytes],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--keys", str(tmp_path / "none"), "-"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["decode", "--keys", str(keystore[0]), str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_iter_frames_formats() -> None:
    items = list(iter_frames(["480a", "SAo=", "SAo", "0x48:0a", "# c", "", "zz!", "@@"]))
    assert [i.frame for i in items] == [b"\x48\x0a", b"\x48\x0a", b"\x48\x0a", b"\x48\x0a", None, None]
    assert [i.line for i in items] == [1, 2, 3, 4, 7, 8]
    assert items[-1].error and "line 8" in items[-1].error
    assert [i.frame for i in iter_frames(["480a"], fmt="base64")] == [base64.b64decode("480a")]


def test_help_lists_commands_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "decode" in out and "keys" in out
    with pytest.raises(SystemExit):
        main(["decode", "--help"])
    assert "examples:" in capsys.readouterr().out
