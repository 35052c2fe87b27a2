"""`citynode flash` throughput on emulated boards (tests/esprom): one board, ROM vs stub, and N at once.

What this measures is the host side: esptool, citynode's worker processes and the emulator,
over ptys that have no baud rate. It does not predict time on real hardware, where the UART
(115200 to 921600 baud) is the limit; it shows the overhead citynode adds and whether
flashing several boards at once scales (a real bench is bounded by USB, not by this).
The image is a MicroPython-sized firmware.bin (1.5 MB app) of random, incompressible data.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from citynode.cli import main  # noqa: E402
from esprom import EmulatedBoard, firmware  # noqa: E402

APP_KIB = 1536
BOARD = "heltec_v2"


def _flash(ports: list[str], image: Path, *extra: str) -> tuple[float, dict[str, Any]]:
    argv = ["flash", "--board", BOARD, "--firmware", str(image), "--no-deploy", "--json", *extra]
    for port in ports:
        argv += ["--port", port]
    out = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    seconds = time.monotonic() - start
    report = json.loads(out.getvalue())
    if code != 0:
        raise RuntimeError(f"flash failed: {report}")
    return seconds, report


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "firmware.bin"
        data = firmware("esp32", app_kib=APP_KIB, seed=3)
        image.write_bytes(data)
        kbit = len(data) * 8 / 1000
        figures: dict[str, Any] = {"flash_image_bytes": len(data)}

        for label, extra in (("stub", ()), ("rom", ("--no-stub",))):
            with EmulatedBoard(chip="esp32") as board:
                seconds, _ = _flash([board.port], image, *extra)
                assert bytes(board.flash[0x1000 : 0x1000 + len(data)]) == data
            figures[f"flash_one_board_{label}_s"] = round(seconds, 2)
            figures[f"flash_one_board_{label}_kbit_s"] = round(kbit / seconds, 1)

        for count in (4, 8):
            boards = [EmulatedBoard(chip="esp32", mac=bytes([0x24, 0x0A, 0xC4, 0, 0, n])) for n in range(count)]
            for b in boards:
                b.start()
            try:
                seconds, _ = _flash([b.port for b in boards], image)
            finally:
                for b in boards:
                    b.stop()
            figures[f"flash_{count}_boards_s"] = round(seconds, 2)
            sequential = count * figures["flash_one_board_stub_s"]
            figures[f"flash_{count}_boards_vs_sequential"] = round(sequential / seconds, 2)
        return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
