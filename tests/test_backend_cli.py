"""`citynode serve --stdin`, `citynode serve status` and `citynode export` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from backend_services import CITYNODE, Fleet
from citynode.backend.timeutil import iso, parse_time
from citynode.cli import main
from citynode.protocol import encode

T0 = parse_time("2026-11-20T08:00:00Z")


@pytest.fixture
def fed_db(tmp_path: Path) -> tuple[str, dict[tuple[str, int, str], tuple[str, float]], Fleet]:
    """A database filled by `citynode serve --stdin` from a file of JSON, hex and base64 lines."""
    fleet = Fleet.create(tmp_path, 2)
    dev_a, dev_b = sorted(fleet.keys)
    expected: dict[tuple[str, int, str], tuple[str, float]] = {}
    lines = ["# frames captured at the town hall gateway"]
    for c in range(1, 7):
        t = T0 + 3600 * c
        vwc, temp = 20.0 + c * 1.5, 10.0 + c / 10
        fa = encode({"battery_v": 3.5, "soil_vwc": vwc, "soil_temp": temp}, device_id=dev_a, counter=c,
                    secret=fleet.keys[dev_a], long_counter=c == 1)
        lines.append(json.dumps({"frame": fa.hex(), "gateway": "aa555a0000000001", "time": iso(t), "rssi": -90}))
        for ch, v in (("battery_v", 3.5), ("soil_vwc", vwc), ("soil_temp", temp)):
            expected[(f"{dev_a:08x}", c, ch)] = (iso(t), v)
        fb = encode({"parking_occupied": c % 2 == 1, "parking_changes": c}, device_id=dev_b, counter=c,
                    secret=fleet.keys[dev_b], long_counter=c == 1)
        lines.append(json.dumps({"b64": __import__("base64").b64encode(fb).decode(), "time": t + 60}))
        for ch, v in (("parking_occupied", float(c % 2 == 1)), ("parking_changes", float(c))):
            expected[(f"{dev_b:08x}", c, ch)] = (iso(t + 60), v)
    forged = bytearray(bytes.fromhex(json.loads(lines[1])["frame"]))
    forged[9] ^= 4
    lines += [forged.hex(), "this is not a frame"]
    db = str(tmp_path / "cli.db")
    proc = subprocess.run([*CITYNODE, "serve", "--stdin", "--db", db, "--keys", str(fleet.path), "--log-json"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    stopped = next(e for e in events if e["event"] == "serve_stopped")
    assert (stopped["stored"], stopped["rejected"]) == (12, 1)
    assert any(e["event"] == "bad_input" for e in events)
    return db, expected, fleet


def export(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["export", *args]) == 0
    return capsys.readouterr().out


def test_export_csv_round_trip(fed_db: tuple[str, dict, Fleet], capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[type-arg]
    db, expected, _ = fed_db
    rows = list(csv.DictReader(io.StringIO(export(capsys, "--db", db))))
    got = {(r["device"], int(r["counter"]), r["channel"]): (r["time"], float(r["value"])) for r in rows}
    assert got == expected
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    assert {r["unit"] for r in rows if r["channel"] == "soil_temp"} == {"°C"}


def test_export_jsonl_round_trip_and_filters(fed_db: tuple[str, dict, Fleet],  # type: ignore[type-arg]
                                             capsys: pytest.CaptureFixture[str]) -> None:
    db, expected, fleet = fed_db
    dev_a = f"{sorted(fleet.keys)[0]:08x}"
    rows = [json.loads(x) for x in export(capsys, "--db", db, "--format", "jsonl").splitlines()]
    assert {(r["device"], r["counter"], r["channel"]): (r["time"], r["value"]) for r in rows} == expected
    since, until = iso(T0 + 2 * 3600), iso(T0 + 4 * 3600)
    rows = [json.loads(x) for x in export(capsys, "--db", db, "--format", "jsonl", "--device", dev_a, "--channel",
                                          "soil_vwc", "--since", since, "--until", until).splitlines()]
    assert [(r["counter"], r["value"]) for r in rows] == [(2, 23.0), (3, 24.5)]


def test_export_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", str(tmp_path / "none.db")]) == 2
    assert "no database" in capsys.readouterr().err
    (tmp_path / "x.db").write_bytes(b"")
    assert main(["export", "--db", str(tmp_path / "x.db"), "--channel", "nope"]) == 2
    assert "unknown channel" in capsys.readouterr().err


def test_status(fed_db: tuple[str, dict, Fleet], capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[type-arg]
    db, _, _ = fed_db
    assert main(["serve", "status", "--db", db, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["devices"], figures["frames"], figures["readings"]) == (2, 12, 30)
    assert figures["rejects_by_reason"] == {"bad_tag": 1}


def test_serve_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = Fleet.create(tmp_path, 1)
    assert main(["serve", "--keys", str(fleet.path), "--db", str(tmp_path / "a.db")]) == 2
    assert "no source" in capsys.readouterr().err
    assert main(["serve", "--keys", str(fleet.path), "--mqtt", "mqtt://127.0.0.1:1"]) == 2
    assert "--topic" in capsys.readouterr().err
    assert main(["serve", "--keys", str(fleet.path), "--stdin", "--alert", "nonsense=3"]) == 2
    assert "unknown alert rule" in capsys.readouterr().err
