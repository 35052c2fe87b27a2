"""Turn what esptool and pyserial raise into one clear message and what to do about it.

esptool reports everything as FatalError text (plus SerialException/OSError from pyserial);
the stage we were in tells a lost cable during writing apart from a board that never
answered. The wording is for a technician at a bench, not for a developer.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from citynode import serialports
from citynode.errors import EXIT_DEVICE, EXIT_FAILED, EXIT_USAGE, CliError


@dataclass(frozen=True)
class Failure:
    kind: str
    message: str
    hint: str
    exit_code: int = EXIT_DEVICE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CABLE_HINT = (
    "check the USB cable and hub (try a shorter cable, a port on the PC itself, or a powered hub), "
    "then flash this board again"
)

_LOST = re.compile(
    r"No serial data received|Serial data stream stopped|Packet content transfer stopped|"
    r"device disconnected|read failed|write failed|Input/output error|Write timeout|"
    r"chip stopped responding|Could not open .* port|could not open port|Errno 5\b|Errno 19\b",
    re.IGNORECASE,
)
_GARBLED = re.compile(r"Invalid head of packet|Invalid SLIP escape|Response doesn't match request", re.I)


def port_failure(err: CliError) -> Failure:
    """A port problem found by citynode.serialports, as a board failure."""
    if "busy" in err.message:
        kind = "port-busy"
    elif "permission" in err.message:
        kind = "port-permission"
    elif "does not exist" in err.message:
        kind = "port-missing"
    else:
        kind = "port-error"
    return Failure(kind, err.message, err.hint, err.exit_code)


def wrong_chip(found: str, expected: str, board: str) -> Failure:
    return Failure(
        "wrong-chip",
        f"this board is an {found}, but board file '{board}' is for an {expected}; nothing was written",
        "check which board is on this port, or pick the right --board (citynode ports shows the ports)",
        EXIT_USAGE,
    )


def not_answering(detail: str = "") -> Failure:
    extra = f" ({detail})" if detail else ""
    return Failure(
        "not-answering",
        f"the board does not answer: it is not in download mode{extra}",
        serialports.DOWNLOAD_MODE_HINT + ", then run the same command again",
    )


def classify(
    exc: BaseException, stage: str, percent: float | None, port: str, serial_error: str | None = None
) -> Failure:
    """What went wrong, from the exception, the stage it happened in and the last serial error."""
    text = str(exc).strip()
    if isinstance(exc, StopIteration) and serial_error:
        text = serial_error  # esptool's reader died earlier with this reason
    first = text.splitlines()[0] if text else type(exc).__name__
    written = "" if percent is None else f" ({percent:.0f}% written)" if percent >= 1 else " (<1% written)"
    where = f" while {stage_words(stage)}{written}"

    if stage in ("open", "connect") and ("Could not open" in text or "could not open port" in text):
        return port_failure(serialports.port_error(port, exc))
    if "Failed to connect to" in text:
        if _GARBLED.search(text):
            return Failure(
                "garbled",
                "the board answers with garbled data while connecting",
                "close any serial monitor on this port, check the cable, try --baud 115200, then retry",
            )
        reason = ""
        if "Wrong boot mode detected" in text:
            reason = "it booted its application instead"
        elif "TX path seems to be down" in text:
            reason = "it is in download mode but its replies do not reach the PC"
        return not_answering(reason)
    if "Unexpected chip" in text and "autodetect" in text:
        return Failure(
            "unknown-chip",
            f"the device on {port} answers but is not a chip esptool knows ({first})",
            "check this is an ESP32 board; citynode supports esp32 and esp32s3 boards",
        )
    if stage == "stub":
        return Failure(
            "stub-failed",
            f"the flasher stub did not start on the board ({first})",
            "press RST with BOOT held and try again; if it keeps failing, add --no-stub (slower)",
        )
    if "MD5 of file does not match" in text or "written flash region is empty" in text:
        return Failure(
            "verify-failed",
            "the data read back from the board's flash does not match the image: the flash was not written correctly",
            "flash this board again with --erase; if it fails again, its flash chip may be faulty",
        )
    if "will not fit in" in text:
        return Failure(
            "flash-too-small",
            f"the image does not fit in this board's flash ({first})",
            "check the board variant and the firmware build (4 MB boards need a 4 MB build)",
            EXIT_USAGE,
        )
    if "is not an" in text and "image" in text or "requires chip revision" in text:
        return Failure(
            "image-mismatch",
            f"esptool refused the image for this chip: {first}",
            "use the MicroPython build for this board's chip and revision",
            EXIT_USAGE,
        )
    if "Secure Boot" in text or "flash encryption" in text.lower() or "Secure Download Mode" in text:
        return Failure(
            "secured-chip",
            f"the chip has security features enabled and refuses this write: {first}",
            "this board has Secure Boot or flash encryption; flash it with its signed/encrypted workflow",
            EXIT_DEVICE,
        )
    if _GARBLED.search(text):
        return Failure(
            "garbled",
            f"garbled data from the board{where}",
            "check the cable; try a lower speed (--baud 115200); close serial monitors on this port, then retry",
        )
    if isinstance(exc, StopIteration | OSError) or _LOST.search(text) or type(exc).__name__ == "SerialException":
        if stage in ("open", "connect"):
            return not_answering()
        return Failure("connection-lost", f"lost the connection to the board{where}", CABLE_HINT)
    if "result was" in text:
        return Failure(
            "board-error",
            f"the board reported an error{where}: {first}",
            "try a lower speed (--baud 115200) and a better cable, then flash this board again",
        )
    return Failure(
        "esptool-error", f"esptool failed{where}: {first}", "run again with --verbose for details", EXIT_FAILED
    )


def stage_words(stage: str) -> str:
    return {
        "open": "opening the port",
        "connect": "connecting",
        "identify": "reading the chip",
        "stub": "starting the flasher stub",
        "baud": "changing speed",
        "attach": "attaching the flash",
        "erase": "erasing",
        "write": "writing",
        "verify": "verifying",
        "reset": "resetting",
    }.get(stage, stage)
