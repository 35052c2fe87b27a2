"""Where frames go: raw LoRa through micropython-lib's sync modem, or the serial console.

LoRa: the modem class and pins come from the board file (boards/NAME.json, deployed as
/board.json), the channel from the config's region settings. The public sync word 0x34 and
an 8-symbol preamble make standard LoRaWAN gateways forward citynode frames (their packet
forwarder passes on every CRC-valid packet). The `lora` package is installed with mip by
`citynode deploy`; the virtual board provides its own.

Console: each frame as one line "CNFRAME <hex>" on stdout, which `citynode monitor` reads.
"""

import sys

from micropython import const

SYNC_PUBLIC = const(0x34)
PREAMBLE = const(8)
PREFIX = "CNFRAME "


def lora_cfg(radio, board_radio):
    """micropython-lib lora_cfg dict for the config's radio settings."""
    cfg = {
        "freq_khz": radio["freq_khz"],
        "sf": radio["sf"],
        "bw": str(radio["bw_khz"]),
        "coding_rate": radio["cr"],
        "output_power": radio["power_dbm"],
        "syncword": SYNC_PUBLIC,
        "preamble_len": PREAMBLE,
        "crc_en": True,
        "implicit_header": False,
    }
    if board_radio["type"].startswith("sx127"):
        # Every ESP32 SX127x board we support wires the antenna to PA_BOOST.
        cfg["tx_ant"] = board_radio.get("tx_ant", "PA_BOOST")
    return cfg


class LoraSink:
    """Builds the modem on first use (the radio stays off in service mode)."""

    def __init__(self, board, radio):
        self.board = board
        self.radio = radio
        self.modem = None
        self.sent = 0

    def _open(self):
        import machine

        b = self.board["radio"]
        s = b["spi"]
        Pin = machine.Pin
        spi = machine.SPI(s["id"], baudrate=2000000, sck=Pin(s["sck"]), mosi=Pin(s["mosi"]), miso=Pin(s["miso"]))
        cs = Pin(b["cs"], Pin.OUT, value=1)
        reset = Pin(b["reset"]) if b.get("reset") is not None else None
        cfg = lora_cfg(self.radio, b)
        if b["type"].startswith("sx126"):
            from lora import SX1262

            dio1 = Pin(b["dio1"], Pin.IN) if b.get("dio1") is not None else None
            return SX1262(spi, cs, busy=Pin(b["busy"], Pin.IN), dio1=dio1, dio3_tcxo_millivolts=b.get("tcxo_mv"),
                          reset=reset, lora_cfg=cfg)
        from lora import SX1276

        dio0 = Pin(b["dio0"], Pin.IN) if b.get("dio0") is not None else None
        dio1 = Pin(b["dio1"], Pin.IN) if b.get("dio1") is not None and dio0 is not None else None
        return SX1276(spi, cs, dio0=dio0, dio1=dio1, reset=reset, lora_cfg=cfg)

    def send(self, frame):
        if self.modem is None:
            self.modem = self._open()
        self.modem.send(frame)
        self.sent += 1

    def sleep(self):
        if self.modem is not None:
            try:
                self.modem.sleep()
            except Exception:  # noqa: BLE001 - a modem that cannot sleep still sent
                pass


class ConsoleSink:
    def __init__(self, out=None):
        self.out = out
        self.sent = 0

    def send(self, frame):
        from binascii import hexlify

        line = PREFIX + hexlify(frame).decode()
        if self.out is None:
            print(line)
        else:
            self.out.write(line + "\n")
        self.sent += 1

    def sleep(self):
        pass


def open_sinks(cfg, board):
    sinks = []
    for name in cfg["sinks"]:
        if name == "lora":
            sinks.append(LoraSink(board, cfg["radio"]))
        else:
            sinks.append(ConsoleSink())
    return sinks


def flush():
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - not every stdout can flush
        pass
