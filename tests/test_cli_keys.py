"""`citynode keys` and the Keystore API: what a fleet operator relies on."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from citynode.cli import main
from citynode.errors import CliError
from citynode.keystore import Keystore, parse_device_id
from citynode.protocol import decode, derive_keys, encode


def test_new_creates_a_private_keystore_and_never_prints_the_secret(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ks = tmp_path / "fleet.keys"
    assert main(["keys", "new", "--keystore", str(ks), "--device-id", "0x2a"]) == 0
    out = capsys.readouterr().out
    assert stat.S_IMODE(ks.stat().st_mode) == 0o600
    secret = Keystore(ks).secrets()[0x2A]
    assert len(secret) == 16 and secret != bytes(16)
    assert secret.hex() not in out
    assert derive_keys(secret, 0x2A).fingerprint() in out
    assert main(["keys", "list", "--keystore", str(ks)]) == 0
    assert main(["keys", "show", "--keystore", str(ks), "--device-id", "42"]) == 0
    shown = capsys.readouterr().out
    assert "0000002a" in shown and secret.hex() not in shown


def test_reveal_prints_the_secret_that_decodes_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ks = tmp_path / "k"
    assert main(["keys", "new", "--keystore", str(ks), "--device-id", "7", "--reveal"]) == 0
    secret = bytes.fromhex(capsys.readouterr().out.split("secret ")[1].strip())
    frame = encode({"battery_v": 3.3}, device_id=7, counter=1, secret=secret)
    assert decode(frame, Keystore(ks).secrets()).values() == {"battery_v": 3.3}
    assert main(["keys", "show", "--keystore", str(ks), "--device-id", "7", "--reveal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["secret"] == secret.hex()


def test_secrets_are_random_per_device(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "k")
    secrets = {ks.add(i).hex() for i in range(1, 21)}
    assert len(secrets) == 20
    assert set(ks.secrets()) == set(range(1, 21))


@pytest.mark.parametrize("bad", ["0", "0xffffffff", "4294967295", "-1", "abc", "0x1_0000_0000"])
def test_invalid_device_ids_are_refused(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--keystore", str(tmp_path / "k"), "--device-id", bad]) == 2
    assert "device id" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()


def test_parse_device_id_accepts_decimal_and_hex() -> None:
    assert parse_device_id("42") == parse_device_id("0x2A") == parse_device_id(" 0x0000002a ") == 42


def test_existing_id_needs_force_rotate_which_is_audited(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k"
    ks = Keystore(path)
    first = ks.add(5)
    assert main(["keys", "new", "--keystore", str(path), "--device-id", "5"]) == 4
    assert "already has a key" in capsys.readouterr().err
    assert ks.secrets()[5] == first
    assert main(["keys", "new", "--keystore", str(path), "--device-id", "5", "--force-rotate"]) == 0
    assert ks.secrets()[5] != first
    audit = ks.audit()
    assert len(audit) == 1 and "rotated 00000005" in audit[0]
    assert first.hex() not in path.read_text() and first.hex() not in audit[0]


def test_keystore_readable_by_others_is_refused_with_the_fix(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k"
    Keystore(path).add(1)
    os.chmod(path, 0o640)
    assert main(["keys", "list", "--keystore", str(path)]) == 4
    err = capsys.readouterr().err
    assert "chmod 600" in err and "Traceback" not in err
    with pytest.raises(CliError):
        Keystore(path).secrets()


def test_remove_forgets_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k"
    ks = Keystore(path)
    ks.add(1)
    ks.add(2)
    assert main(["keys", "remove", "--keystore", str(path), "--device-id", "1"]) == 0
    assert set(ks.secrets()) == {2}
    assert main(["keys", "delete", "--keystore", str(path), "--device-id", "1"]) == 1
    assert "removed 00000001" in ks.audit()[0]


def test_show_of_a_device_without_a_key_says_where_to_look(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k"
    Keystore(path).add(1)
    assert main(["keys", "show", "--keystore", str(path), "--device-id", "2"]) == 1
    err = capsys.readouterr().err
    assert "no key for device 00000002" in err and "citynode keys list" in err


def test_changes_by_another_process_are_seen_by_a_keystore_already_read(tmp_path: Path) -> None:
    """A long provisioning run keeps its Keystore open while an operator adds, stages or
    removes keys from another shell: it must never work from the file as it was."""
    path = tmp_path / "k"
    ks = Keystore(path)
    first = ks.add(1)
    assert ks.get(2) is None and ks.pending(1) is None  # read once, now kept
    other = ("import sys\nfrom citynode.keystore import Keystore\nks = Keystore(sys.argv[1])\n"
             "ks.add(2)\nks.stage(1)\nks.add(1, force_rotate=True)\nprint(ks.secrets()[2].hex())\n")
    out = subprocess.run([sys.executable, "-c", other, str(path)], capture_output=True, text=True, check=True).stdout
    assert ks.secrets()[2].hex() == out.strip()
    assert ks.get(1) is not None and ks.get(1).secret != first  # type: ignore[union-attr]
    assert ks.pending(1) is not None
    assert any("rotated 00000001" in line for line in ks.audit())
    Keystore(path).remove(2)  # another instance in this process
    assert ks.get(2) is None and set(ks.secrets()) == {1}
    assert "removed 00000002" in ks.audit()[-1]


def test_a_kept_keystore_made_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    ks = Keystore(path)
    ks.add(1)
    assert ks.get(1) is not None
    os.chmod(path, 0o644)
    with pytest.raises(CliError, match="read by group or others"):
        ks.get(1)


def test_list_json_has_no_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k"
    secret = Keystore(path).add(0xC0FFEE)
    assert main(["keys", "list", "--keystore", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    row = json.loads(out)
    assert row["device_id"] == "00c0ffee" and set(row) == {"device_id", "created", "fingerprint"}
    assert secret.hex() not in out


def test_missing_keystore_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "list", "--keystore", str(tmp_path / "nope")]) == 2
    assert "citynode keys new" in capsys.readouterr().err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "--help"])
    assert "examples:" in capsys.readouterr().out
