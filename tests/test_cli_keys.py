"""`citynode keys` and the Keystore API: what a fleet operator relies on."""

from __future__ import annotations

import json
import os
import stat
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
