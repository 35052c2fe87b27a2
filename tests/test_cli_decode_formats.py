"""`citynode decode` on what network servers deliver, and as CSV for spreadsheets."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest

from citynode.cli import main
from citynode.keystore import Keystore
from citynode.protocol import encode


@pytest.fixture()
def keystore_and_frame(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "fleet.keys"
    secret = Keystore(path).add(0x2A)
    frame = encode({"battery_v": 3.71, "soil_vwc": 31.5, "soil_temp": 12.3}, device_id=0x2A, counter=9, secret=secret)
    return path, frame


def chirpstack_event(frame: bytes) -> str:
    # The fields ChirpStack v4 publishes on application/{app}/device/{devEui}/event/up.
    return json.dumps({
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d", "time": "2026-11-25T09:34:15.775Z",
        "deviceInfo": {"devEui": "0101010101010101", "applicationName": "city"}, "fCnt": 3, "fPort": 1,
        "data": base64.b64encode(frame).decode(),
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -36, "snr": 10.5, "gwTime": "2026-11-25T09:34:15.770Z"}],
    })


def test_chirpstack_events_decode_with_gateway_metadata(
    keystore_and_frame: tuple[Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystore, frame = keystore_and_frame
    lines = tmp_path / "events.jsonl"
    lines.write_text(chirpstack_event(frame) + "\n" + chirpstack_event(frame) + "\n")
    assert main(["decode", "--keys", str(keystore), str(lines)]) == 1  # the second copy is a replay
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["device_id"] == "0000002a" and first["counter"] == 9
    assert first["metadata"]["gateway"] == "0016c001f153a14c" and first["metadata"]["rssi"] == -36
    assert first["time"].startswith("2026-11-25")
    assert second["error"] == "replay" and second["line"] == 2


def test_csv_has_one_row_per_reading_and_errors_as_rows(
    keystore_and_frame: tuple[Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystore, frame = keystore_and_frame
    lines = tmp_path / "frames.txt"
    lines.write_text(frame.hex() + "\nnot a frame\n")
    assert main(["decode", "--keys", str(keystore), "--csv", str(lines)]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    readings = {r["channel"]: float(r["value"]) for r in rows if r["channel"]}
    assert readings == {"battery_v": 3.71, "soil_vwc": 31.5, "soil_temp": 12.3}
    assert all(r["device_id"] == "0000002a" and r["counter"] == "9" for r in rows if r["channel"])
    [error] = [r for r in rows if r["error"]]
    assert error["line"] == "2" and error["error"] == "bad_input"
