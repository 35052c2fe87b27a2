"""`make demo` end to end (a shortened simulated day) and its report, rendered by headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citynode.demo.report import PALETTE
from pngread import read_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, profile: Path) -> None:
    subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1400,2600",
         f"--screenshot={png}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )


def colour(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (tests/services/ensure.sh installs it)")
def test_demo_runs_the_chain_and_its_report_renders(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "citynode.demo", "--out", str(out), "--hours", "8"],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    nodes = {row["node"]: row for row in summary["summary"]}
    assert set(nodes) == {"soil", "air", "noise", "parking"}
    for name in ("soil", "air", "noise"):  # periodic nodes: every frame sent was verified and stored
        assert int(nodes[name]["frames sent"]) > 0
        assert nodes[name]["frames stored"] == nodes[name]["frames sent"], nodes[name]
    assert nodes["parking"]["frames stored"] == nodes["parking"]["frames sent"]
    # the scripted attack at mid-run: forged frames and replays rejected, and reported as alerts
    reasons = sorted({r["reason"] for r in summary["rejected"]})
    assert reasons == ["bad_tag", "replay"]
    assert {a["rule"] for a in summary["alerts"]} == {"bad_tag_device", "replay_device"}

    html = (out / "report.html").read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert len(re.findall(r'<svg class="plot"', html)) == 4

    png = tmp_path / "report.png"
    screenshot(out / "report.html", png, tmp_path / "chromium-profile")
    pixels = read_png(png)
    first_series = colour(PALETTE[0])
    drawn_rows = [y for y, row in enumerate(pixels) if sum(1 for p in row if p == first_series) > 3]
    assert drawn_rows, "no plotted series is visible in the rendered report"
    # four plots with a drawn series each: the rows holding the series colour form 2 bands of 2 side-by-side
    # plots (the grid is two columns at this width), each band well over 100 px tall
    bands: list[list[int]] = []
    for y in drawn_rows:
        if bands and y - bands[-1][-1] <= 40:
            bands[-1].append(y)
        else:
            bands.append([y])
    tall = [b for b in bands if b[-1] - b[0] > 60]
    assert len(tall) >= 2, [(b[0], b[-1]) for b in bands]
    per_plot_columns = {x // 700 for y in drawn_rows for x, p in enumerate(pixels[y]) if p == first_series}
    assert per_plot_columns == {0, 1}
