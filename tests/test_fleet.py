"""The fleet registry: ids are claimed once, retired ids can be reused, exports hold no secrets."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from citynode.cli import main
from citynode.errors import EXIT_SECURITY, CliError
from citynode.fleet import Fleet
from citynode.ids import format_device_id, parse_device_id


def test_device_ids_parse_as_users_type_them() -> None:
    assert parse_device_id("42") == 42
    assert parse_device_id("0x2A") == 42
    assert parse_device_id("0000002a") == 42
    assert parse_device_id("12345678") == 0x12345678  # 8 characters: always hex, as printed
    assert format_device_id(42) == "0000002a"
    for bad in ("0", "0xffffffff", "4294967295", "-1", "node7", ""):
        with pytest.raises(CliError):
            parse_device_id(bad)


def test_an_id_belongs_to_one_board_until_retired(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "fleet.db")
    fleet.claim(7, "aabbccddeeff")
    fleet.claim(7, "aabbccddeeff")  # the same board again: idempotent
    with pytest.raises(CliError) as err:
        fleet.claim(7, "112233445566")
    assert err.value.exit_code == EXIT_SECURITY
    assert "already in use" in err.value.message
    with pytest.raises(CliError, match="already registered as device 00000007"):
        fleet.claim(8, "aabbccddeeff")
    assert fleet.retire(7)
    assert not fleet.retire(7)
    fleet.claim(7, "112233445566")
    device = fleet.get(7)
    assert device is not None and device.hardware_id == "112233445566" and device.retired_at is None


def test_registry_survives_reopen_and_exports_without_keys(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    fleet = Fleet(path)
    fleet.claim(0x2A, "aabbccddeeff")
    fleet.update(0x2A, board="heltec_v2", kind="soil", site="parc-est", key_fingerprint="0123abcd")
    fleet.close()

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["fleet", "--fleet", str(path), "export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["device_id"] == "0000002a" and rows[0]["site"] == "parc-est"
    assert not any("secret" in column or column == "key" for column in rows[0])

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["fleet", "--fleet", str(path), "show", "0000002a"]) == 0
    assert json.loads(out.getvalue())["board"] == "heltec_v2"
    assert main(["fleet", "--fleet", str(path), "show", "0000002b"]) != 0
