"""An emulated ESP32 / ESP32-S3 in download mode, behind a pseudo-terminal.

`EmulatedBoard` opens a pty (the slave path is what esptool opens, like /dev/ttyUSB0), and a
thread answers esptool's serial protocol on the master side, as documented in esptool's
"Serial Protocol" page and read by esptool 5.1's loader.py:

- requests: SLIP frames of  dir=0x00, cmd, size u16, checksum u32, data
- responses: dir=0x01, cmd, size u16, value u32, data + status bytes; the ROM sends
  4 status bytes (status, error, 0, 0), the flasher stub 2 (status, error)
- SYNC is answered 8 times, with a non-zero value from the ROM (0 from the stub)
- the ROM erases the whole region on FLASH_BEGIN / FLASH_DEFL_BEGIN; SPI_FLASH_MD5 returns
  32 lowercase hex characters from the ROM, 16 raw bytes from the stub
- ESP32's ROM does not know GET_SECURITY_INFO (answers "invalid message", error 0x05);
  esptool then reads the chip-detect magic register. The S3 answers it with chip id 9.

The flasher stub cannot run here (it is Xtensa code), so when esptool uploads it with
MEM_BEGIN/MEM_DATA/MEM_END and asks to run it, the board switches to the stub's protocol and
sends the stub's "OHAI" greeting, as the real stub does. That covers esptool's default path
(stub, compressed writes, erase-flash); `stub=False` makes the board behave as if the stub
never started, and esptool's --no-stub path talks to the ROM emulation only.

Flash is a bytearray with NOR semantics: erase sets 0xFF, a write can only clear bits.

Behaviours for failure tests:
  answer=False          not in download mode: reads everything, never answers
  drop_after=N          after N flash data blocks the cable is pulled (pty closed)
  corrupt_after=N       after N flash data blocks every response is garbled
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import struct
import threading
import time
import tty
import zlib
from dataclasses import dataclass, field

from . import slip
from .chips import SPI_CMD_USR, ChipModel, jedec_id, model

SECTOR = 0x1000
MIB = 1024 * 1024

# command ids (esptool loader.py ESP_CMDS)
FLASH_BEGIN = 0x02
FLASH_DATA = 0x03
FLASH_END = 0x04
MEM_BEGIN = 0x05
MEM_END = 0x06
MEM_DATA = 0x07
SYNC = 0x08
WRITE_REG = 0x09
READ_REG = 0x0A
SPI_SET_PARAMS = 0x0B
SPI_ATTACH = 0x0D
READ_FLASH_SLOW = 0x0E
CHANGE_BAUDRATE = 0x0F
FLASH_DEFL_BEGIN = 0x10
FLASH_DEFL_DATA = 0x11
FLASH_DEFL_END = 0x12
SPI_FLASH_MD5 = 0x13
GET_SECURITY_INFO = 0x14
ERASE_FLASH = 0xD0
ERASE_REGION = 0xD1
RUN_USER_CODE = 0xD3

DATA_COMMANDS = (FLASH_DATA, FLASH_DEFL_DATA)
WRITE_COMMANDS = (FLASH_BEGIN, FLASH_DATA, FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, ERASE_FLASH, ERASE_REGION)

# ROM error codes (esptool docs: ROM Loader Errors) and stub ones (0xC*).
ROM_INVALID_MESSAGE = 0x05
ROM_FAILED = 0x06
ROM_BAD_CHECKSUM = 0x07
ROM_DEFLATE_ERROR = 0x0B
STUB_BAD_CHECKSUM = 0xC1
STUB_NOT_IN_FLASH_MODE = 0xC6
STUB_INFLATE_ERROR = 0xC7
STUB_NOT_IMPLEMENTED = 0xFF


def checksum(data: bytes) -> int:
    state = 0xEF
    for b in data:
        state ^= b
    return state


@dataclass
class _Download:
    """State between a *_BEGIN and its data blocks."""

    offset: int
    block_size: int
    compressed: bool
    inflater: zlib._Decompress | None = None
    written: int = 0
    blocks: int = 0


@dataclass
class EmulatedBoard:
    chip: str = "esp32"
    mac: bytes = bytes.fromhex("240ac4123456")
    flash_size: int = 4 * MIB
    answer: bool = True
    stub: bool = True
    drop_after: int | None = None
    corrupt_after: int | None = None
    fill: int = 0xFF
    # what happened, for the test to check
    commands: list[int] = field(default_factory=list)
    bauds: list[int] = field(default_factory=list)
    ran_app: bool = False
    dropped: bool = False

    def __post_init__(self) -> None:
        self.model: ChipModel = model(self.chip, self.mac)
        self.flash = bytearray([self.fill]) * self.flash_size
        self.registers = dict(self.model.registers)
        self.in_stub = False
        self._download: _Download | None = None
        self._data_blocks = 0
        self._master = -1
        self._slave = -1
        self.port = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EmulatedBoard:
        self._master, self._slave = os.openpty()
        # raw mode at once: a cooked pty echoes what the board sends back to the board
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name=f"esprom {self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()

    def __enter__(self) -> EmulatedBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = -1

    def pull_cable(self) -> None:
        """The USB cable is pulled: the device node goes away, reads on the host side fail."""
        self.dropped = True
        self._stop.set()
        self._close()

    @property
    def wrote_anything(self) -> bool:
        return any(c in WRITE_COMMANDS for c in self.commands)

    # -- I/O loop --------------------------------------------------------------------------

    def _run(self) -> None:
        decoder = slip.Decoder()
        while not self._stop.is_set():
            master = self._master
            if master < 0:
                return
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                # no process has the port open right now (EIO on Linux): wait for the next one
                time.sleep(0.01)
                continue
            if not self.answer:
                continue
            for frame in decoder.feed(data):
                self._handle(frame)
                if self._stop.is_set():
                    return

    def _send(self, payload: bytes) -> None:
        if self.corrupt_after is not None and self._data_blocks >= self.corrupt_after:
            # a noisy line: bytes arrive, but not as frames esptool can accept
            payload = bytes(b ^ 0x5A for b in payload)
            raw = b"\x55" + payload + b"\xc0"
        else:
            raw = slip.encode(payload)
        with self._lock:
            fd = self._master
            if fd < 0:
                return
            view = memoryview(raw)
            while view:
                try:
                    n = os.write(fd, view)
                except BlockingIOError:
                    time.sleep(0.001)
                    continue
                except OSError:
                    return
                view = view[n:]

    def _reply(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> None:
        status = bytes([1 if error else 0, error])
        if not self.in_stub:
            status += b"\0\0"  # the ROM sends 4 status bytes, the stub 2
        body = data + status
        self._send(struct.pack("<BBHI", 0x01, op, len(body), value) + body)

    # -- protocol --------------------------------------------------------------------------

    def _handle(self, frame: bytes) -> None:
        if len(frame) < 8 or frame[0] != 0x00:
            return  # not a request: the ROM ignores it
        _, op, size, chk = struct.unpack("<BBHI", frame[:8])
        data = frame[8:]
        self.commands.append(op)
        if len(data) != size:
            self._reply(op, error=ROM_INVALID_MESSAGE if not self.in_stub else 0xC0)
            return
        handler = getattr(self, f"_cmd_{op:02x}", None)
        if handler is None:
            self._reply(op, error=STUB_NOT_IMPLEMENTED if self.in_stub else ROM_INVALID_MESSAGE)
            return
        handler(op, data, chk)

    # SYNC
    def _cmd_08(self, op: int, data: bytes, chk: int) -> None:
        if data[:4] != b"\x07\x07\x12\x20":
            self._reply(op, error=ROM_INVALID_MESSAGE)
            return
        value = 0 if self.in_stub else 0x20120707
        for _ in range(8):
            self._reply(op, value=value)

    # READ_REG
    def _cmd_0a(self, op: int, data: bytes, chk: int) -> None:
        (addr,) = struct.unpack("<I", data[:4])
        self._reply(op, value=self.registers.get(addr, 0))

    # WRITE_REG: one or more (address, value, mask, delay_us) records
    def _cmd_09(self, op: int, data: bytes, chk: int) -> None:
        for i in range(0, len(data) - 15, 16):
            addr, value, mask, _delay = struct.unpack("<IIII", data[i : i + 16])
            old = self.registers.get(addr, 0)
            self.registers[addr] = (old & ~mask) | (value & mask)
            if addr == self.model.spi_base and value & SPI_CMD_USR:
                self._spi_command()
        self._reply(op)

    def _spi_command(self) -> None:
        """Run the SPI flash command esptool set up in USR2, result into W0."""
        m = self.model
        command = self.registers.get(m.spi_base + m.spi_usr2, 0) & 0xFF
        result = jedec_id(self.flash_size) if command == 0x9F else 0
        self.registers[m.spi_base + m.spi_w0] = result
        self.registers[m.spi_base] = self.registers.get(m.spi_base, 0) & ~SPI_CMD_USR

    # GET_SECURITY_INFO
    def _cmd_14(self, op: int, data: bytes, chk: int) -> None:
        if not self.model.security_info:
            self._reply(op, error=ROM_INVALID_MESSAGE)
            return
        info = struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, self.model.image_chip_id, 0)
        self._reply(op, data=info)

    # SPI_ATTACH, SPI_SET_PARAMS
    def _cmd_0d(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op)

    def _cmd_0b(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op)

    # CHANGE_BAUDRATE (a pty has no baud rate: just record it)
    def _cmd_0f(self, op: int, data: bytes, chk: int) -> None:
        (baud,) = struct.unpack("<I", data[:4])
        self.bauds.append(baud)
        self._reply(op)

    # MEM_BEGIN / MEM_DATA / MEM_END: RAM download, used to load the flasher stub
    def _cmd_05(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op)

    def _cmd_07(self, op: int, data: bytes, chk: int) -> None:
        length = struct.unpack("<I", data[:4])[0]
        block = data[16:]
        if length != len(block) or checksum(block) != chk & 0xFF:
            self._reply(op, error=STUB_BAD_CHECKSUM if self.in_stub else ROM_BAD_CHECKSUM)
            return
        self._reply(op)

    def _cmd_06(self, op: int, data: bytes, chk: int) -> None:
        no_entry, entry = struct.unpack("<II", data[:8])
        self._reply(op)
        if no_entry == 0 and entry:
            if self.stub:
                self.in_stub = True
                self._send(b"OHAI")
            else:
                self.answer = False  # jumped into code we cannot run: silence

    # Flash writes
    def _erase(self, offset: int, size: int) -> bool:
        if size == 0:
            return True
        start = offset - offset % SECTOR
        end = offset + size
        end += (-end) % SECTOR
        if end > self.flash_size:
            return False
        self.flash[start:end] = b"\xff" * (end - start)
        return True

    def _program(self, offset: int, data: bytes) -> bool:
        end = offset + len(data)
        if end > self.flash_size:
            return False
        old = self.flash[offset:end]
        self.flash[offset:end] = bytes(a & b for a, b in zip(old, data, strict=True))
        return True

    def _begin(self, op: int, data: bytes, compressed: bool) -> None:
        size, _blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        # ROM: size is the region to erase now. Stub: the byte count; it erases as it writes,
        # which leaves the same sectors erased by the end.
        if not self._erase(offset, size):
            self._reply(op, error=STUB_NOT_IN_FLASH_MODE if self.in_stub else ROM_FAILED)
            return
        self._download = _Download(offset=offset, block_size=block_size, compressed=compressed)
        if compressed:
            self._download.inflater = zlib.decompressobj()
        self._reply(op)

    def _data(self, op: int, data: bytes, chk: int) -> None:
        dl = self._download
        if dl is None or dl.compressed != (op == FLASH_DEFL_DATA):
            self._reply(op, error=STUB_NOT_IN_FLASH_MODE if self.in_stub else ROM_INVALID_MESSAGE)
            return
        length, seq = struct.unpack("<II", data[:8])
        block = data[16:]
        if length != len(block) or checksum(block) != chk & 0xFF:
            self._reply(op, error=STUB_BAD_CHECKSUM if self.in_stub else ROM_BAD_CHECKSUM)
            return
        if self.drop_after is not None and self._data_blocks >= self.drop_after:
            self.pull_cable()
            return
        if dl.compressed:
            assert dl.inflater is not None
            try:
                plain = dl.inflater.decompress(block)
            except zlib.error:
                self._reply(op, error=STUB_INFLATE_ERROR if self.in_stub else ROM_DEFLATE_ERROR)
                return
            ok = self._program(dl.offset + dl.written, plain)
            dl.written += len(plain)
        else:
            ok = self._program(dl.offset + seq * dl.block_size, block)
        dl.blocks += 1
        self._data_blocks += 1
        self._reply(op, error=0 if ok else (STUB_NOT_IN_FLASH_MODE if self.in_stub else ROM_FAILED))

    def _end(self, op: int, data: bytes) -> None:
        (stay,) = struct.unpack("<I", data[:4]) if len(data) >= 4 else (1,)
        self._download = None
        self._reply(op)
        if stay == 0:
            # reboot: back in the ROM loader (the strapping pins still say download mode)
            self.in_stub = False
        elif not self.in_stub:
            self.ran_app = True  # ROM "run user code": the app takes the UART
            self.answer = False

    def _cmd_02(self, op: int, data: bytes, chk: int) -> None:
        self._begin(op, data, compressed=False)

    def _cmd_03(self, op: int, data: bytes, chk: int) -> None:
        self._data(op, data, chk)

    def _cmd_04(self, op: int, data: bytes, chk: int) -> None:
        self._end(op, data)

    def _cmd_10(self, op: int, data: bytes, chk: int) -> None:
        self._begin(op, data, compressed=True)

    def _cmd_11(self, op: int, data: bytes, chk: int) -> None:
        self._data(op, data, chk)

    def _cmd_12(self, op: int, data: bytes, chk: int) -> None:
        self._end(op, data)

    # SPI_FLASH_MD5
    def _cmd_13(self, op: int, data: bytes, chk: int) -> None:
        addr, size = struct.unpack("<II", data[:8])
        if addr + size > self.flash_size:
            self._reply(op, error=0xC4 if self.in_stub else 0x0A)
            return
        digest = hashlib.md5(self.flash[addr : addr + size])
        if self.in_stub:
            self._reply(op, data=digest.digest())
        else:
            self._reply(op, data=digest.hexdigest().encode())

    # READ_FLASH_SLOW (ROM): 64-byte blocks
    def _cmd_0e(self, op: int, data: bytes, chk: int) -> None:
        if self.in_stub:
            self._reply(op, error=STUB_NOT_IMPLEMENTED)
            return
        addr, size = struct.unpack("<II", data[:8])
        if size > 64 or addr + size > self.flash_size:
            self._reply(op, error=0x0A)
            return
        chunk = bytes(self.flash[addr : addr + size]).ljust(64, b"\xff")
        self._reply(op, data=chunk)

    # Stub-only commands
    def _cmd_d0(self, op: int, data: bytes, chk: int) -> None:
        if not self.in_stub:
            self._reply(op, error=ROM_INVALID_MESSAGE)
            return
        self.flash[:] = b"\xff" * self.flash_size
        self._reply(op)

    def _cmd_d1(self, op: int, data: bytes, chk: int) -> None:
        if not self.in_stub:
            self._reply(op, error=ROM_INVALID_MESSAGE)
            return
        offset, size = struct.unpack("<II", data[:8])
        if offset % SECTOR or size % SECTOR or not self._erase(offset, size):
            self._reply(op, error=0xC0)
            return
        self._reply(op)

    def _cmd_d3(self, op: int, data: bytes, chk: int) -> None:
        if not self.in_stub:
            self._reply(op, error=ROM_INVALID_MESSAGE)
            return
        self.ran_app = True
        self.answer = False
