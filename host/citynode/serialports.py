"""Serial ports: discovery, what is plugged in, and port errors a technician can fix.

Every command that opens a serial port (flash, deploy, provision, ports) uses this module so
that a wrong, busy or forbidden port gets the same clear message everywhere:

    check_port(path)          raise CliError (exit 3) before opening, naming the cause
    open_serial(path, ...)    pyserial open with the same translation of failures
    port_error(path, exc)     turn an OSError/SerialException from an open into a CliError
    list_ports(), esp_ports() what is connected, with the likely USB bridge / chip
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citynode.errors import EXIT_DEVICE, CliError

DIALOUT_HINT = (
    "add yourself to the group that owns serial ports: sudo usermod -aG dialout $USER "
    "(Arch/Fedora: uucp), then log out and back in (or reboot) for it to take effect"
)
DOWNLOAD_MODE_HINT = (
    "put the board in download mode: hold BOOT (IO0), press and release RST (EN), then release BOOT; "
    "check the cable carries data (not a charge-only cable)"
)

# USB VID:PID of the bridges and native USB found on ESP32 LoRa boards -> what it is.
USB_BRIDGES: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "CP210x USB-UART (ESP32 boards: Heltec V2, LilyGO T3/T-Beam, DevKits)",
    (0x1A86, 0x7523): "CH340 USB-UART (ESP32 boards)",
    (0x1A86, 0x55D4): "CH9102 USB-UART (ESP32 boards, LilyGO)",
    (0x1A86, 0x55D3): "CH343 USB-UART (ESP32 boards)",
    (0x0403, 0x6001): "FTDI FT232R USB-UART",
    (0x0403, 0x6010): "FTDI FT2232 USB-UART (ESP-Prog, WROVER-KIT)",
    (0x0403, 0x6014): "FTDI FT232H USB-UART",
    (0x0403, 0x6015): "FTDI FT-X USB-UART",
    (0x303A, 0x1001): "ESP32-S3/C3 native USB (USB-Serial/JTAG)",
    (0x303A, 0x0002): "ESP32-S2/S3 native USB (download mode, USB-OTG)",
    (0x303A, 0x4001): "Espressif native USB CDC (TinyUSB, e.g. MicroPython on ESP32-S3)",
}
ESPRESSIF_VID = 0x303A


@dataclass(frozen=True)
class PortInfo:
    """One serial port as pyserial sees it, plus what we think is behind it."""

    device: str
    vid: int | None
    pid: int | None
    description: str
    manufacturer: str
    serial_number: str
    bridge: str | None

    @property
    def usb_id(self) -> str:
        if self.vid is None or self.pid is None:
            return "-"
        return f"{self.vid:04x}:{self.pid:04x}"

    @property
    def looks_like_esp(self) -> bool:
        return self.bridge is not None


def bridge_for(vid: int | None, pid: int | None) -> str | None:
    """The likely USB bridge / chip for a VID:PID, or None if it is not one we know."""
    if vid is None or pid is None:
        return None
    known = USB_BRIDGES.get((vid, pid))
    if known:
        return known
    if vid == ESPRESSIF_VID:
        return "Espressif native USB"
    return None


def list_ports() -> list[PortInfo]:
    """Every serial port pyserial finds, sorted by device path."""
    from serial.tools import list_ports as lp

    found = []
    for p in lp.comports():
        found.append(
            PortInfo(
                device=p.device,
                vid=p.vid,
                pid=p.pid,
                description=p.description or "",
                manufacturer=p.manufacturer or "",
                serial_number=p.serial_number or "",
                bridge=bridge_for(p.vid, p.pid),
            )
        )
    return sorted(found, key=lambda info: info.device)


def esp_ports() -> list[PortInfo]:
    """Ports that look like an ESP32 board (known USB bridge or Espressif native USB)."""
    return [p for p in list_ports() if p.looks_like_esp]


def is_pty(path: str) -> bool:
    """True for a pseudo-terminal (a virtual board or an emulator): no DTR/RTS reset lines there."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISCHR(st.st_mode):
        return False
    # Unix98 pty slaves use majors 136-143 on Linux; elsewhere fall back to the path.
    return 136 <= os.major(st.st_rdev) <= 143 or os.path.realpath(path).startswith("/dev/pts/")


def _holders(path: str) -> list[str]:
    """Best effort: 'PID (name)' of processes that have this device open (ours to see only)."""
    try:
        target = os.stat(path).st_rdev
    except OSError:
        return []
    me = os.getpid()
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    st = os.stat(fd)
                except OSError:
                    continue
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == target:
                    name = (entry / "comm").read_text().strip()
                    found.append(f"{entry.name} ({name})")
                    break
        except OSError:
            continue
    return found


def _uucp_lock_holder(path: str) -> str | None:
    """A live process holding a UUCP lock file (minicom, old tools) on this device."""
    base = os.path.basename(path)
    for lockdir in ("/run/lock", "/var/lock"):
        lock = Path(lockdir) / f"LCK..{base}"
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if Path(f"/proc/{pid}").exists():
            return str(pid)
    return None


def missing_port(path: str) -> CliError:
    known = [p.device for p in esp_ports()]
    hint = "check the port name and that the board is plugged in with a data cable"
    if known:
        hint += f"; ESP32 ports connected now: {', '.join(known)}"
    else:
        hint += "; run 'citynode ports' to list serial ports"
    return CliError(f"serial port {path} does not exist", hint, EXIT_DEVICE)


def permission_denied(path: str) -> CliError:
    return CliError(f"no permission to open {path}", DIALOUT_HINT, EXIT_DEVICE)


def busy_port(path: str) -> CliError:
    holders = _holders(path)
    more = f" and {len(holders) - 3} more" if len(holders) > 3 else ""
    who = f" (held by PID {', '.join(holders[:3])}{more})" if holders else ""
    return CliError(
        f"serial port {path} is busy: another program has it open{who}",
        "close the other program using it (serial monitor, screen, minicom, another citynode or esptool, "
        "the Arduino IDE), then try again",
        EXIT_DEVICE,
    )


_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")


def port_error(path: str, exc: BaseException) -> CliError:
    """Translate a failure to open `path` (OSError, SerialException, esptool's FatalError)."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if not isinstance(code, int):
        match = _ERRNO_IN_TEXT.search(text)
        code = int(match.group(1)) if match else None
    if "exclusively lock" in text or code in (errno.EAGAIN, errno.EBUSY):
        return busy_port(path)
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return permission_denied(path)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return missing_port(path)
    if code == errno.ENOTTY:
        return CliError(f"{path} is not a serial port", "give the path of a serial device", EXIT_DEVICE)
    detail = text.splitlines()[0] if text else type(exc).__name__
    return CliError(
        f"cannot open serial port {path}: {detail}",
        "unplug and replug the board, then try again",
        EXIT_DEVICE,
    )


def _flock_holders(path: str) -> list[int] | None:
    """PIDs holding a flock on `path` (pyserial/esptool exclusive open), None if unknown."""
    try:
        st = os.stat(path)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    pids = []
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            same = (int(major, 16), int(minor, 16), int(inode)) == (
                os.major(st.st_dev),
                os.minor(st.st_dev),
                st.st_ino,
            )
            if same:
                pids.append(int(parts[4]))
        except ValueError:
            continue
    return pids


def check_port(path: str) -> None:
    """Raise a CliError if `path` cannot be used: missing, not a tty, forbidden or busy.

    Never opens the device: opening a USB-UART toggles DTR/RTS, which can reset a board the
    technician just put in download mode by hand. 'Busy' means someone holds the exclusive
    flock pyserial and esptool take (read from /proc/locks), a UUCP lock file, or (for a
    real device, not a pty whose other side is legitimately open) another process has it
    open: a serial monitor that takes no lock would still eat the board's replies. Racy by
    nature: callers still translate errors at the real open with port_error().
    """
    if os.name == "nt":
        return  # COM ports: no device node to inspect; errors are translated at open
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise missing_port(path) from None
    except PermissionError:
        raise permission_denied(path) from None
    if not stat.S_ISCHR(st.st_mode):
        raise CliError(f"{path} is not a serial device", "give the path of a serial port", EXIT_DEVICE)
    if not os.access(path, os.R_OK | os.W_OK):
        raise permission_denied(path)
    if _flock_holders(path) or _uucp_lock_holder(path):
        raise busy_port(path)
    if not is_pty(path) and _holders(path):
        raise busy_port(path)


def open_serial(path: str, baudrate: int = 115200, timeout: float = 1.0, **kwargs: Any) -> Any:
    """Open `path` exclusively with pyserial; failures become a CliError with what to do."""
    import serial

    try:
        return serial.Serial(path, baudrate=baudrate, timeout=timeout, exclusive=True, **kwargs)
    except (OSError, serial.SerialException) as exc:
        raise port_error(path, exc) from None
