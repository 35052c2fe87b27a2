"""The virtual board's `lora` module (MicroPython source the sim core installs in the VM).

It offers the surface of micropython-lib's lora-sync drivers (lora + lora-sync + lora-sx126x /
lora-sx127x) so the firmware runs unchanged: `from lora import SX1276` / `SX1262`, the same
constructor arguments, configure(lora_cfg), send(), recv(), standby(), sleep(),
get_time_on_air_us(). Packets go to the JS radio model (hw/radio.mjs) through the bridge module
named by BRIDGE (the core's `_cnsim`); buffers cross as (address, length) in the VM's memory:
  radio_send(addr, n, cfg_json) -> time on air in us; the bridge lets that time pass
  radio_recv(addr, max, timeout_ms, cfg_json) -> n, -1 (nothing came) or -2 (Ctrl-C); the bridge
      lets the receive time pass
  radio_rx_meta() -> [rssi_dbm, snr_db] of the last packet received (optional)
Not provided: the Async* classes; the low-level API is approximated (a send completes inside
start_send(), poll_recv() blocks for the rest of the receive window).
"""

import json
import time

import uctypes

from micropython import const

BRIDGE = "_cnsim"
_hw = __import__(BRIDGE)

_sleep_ms = time.sleep_ms  # type: ignore[attr-defined]
_ticks_ms = time.ticks_ms  # type: ignore[attr-defined]
_ticks_add = time.ticks_add  # type: ignore[attr-defined]
_ticks_diff = time.ticks_diff  # type: ignore[attr-defined]

_MAX_PAYLOAD = const(255)
_FOREVER_CHUNK_MS = const(1000)

# One buffer for every packet in and out: nothing allocates per packet but the RxPacket.
_buf = bytearray(_MAX_PAYLOAD)
_buf_addr = uctypes.addressof(_buf)

# Bandwidth strings accepted by lora_cfg["bw"], in Hz (the driver's table).
_BW_HZ = {
    "7.8": 7800,
    "10.4": 10400,
    "15.6": 15600,
    "20.8": 20800,
    "31.25": 31250,
    "41.7": 41700,
    "62.5": 62500,
    "125": 125000,
    "250": 250000,
    "500": 500000,
}


def _bridge_send(packet: bytes, cfg_json: str) -> None:
    n = len(packet)
    _buf[:n] = packet
    _hw.radio_send(_buf_addr, n, cfg_json)


def _bridge_recv(timeout_ms: int, cfg_json: str) -> bytes | None:
    n = _hw.radio_recv(_buf_addr, _MAX_PAYLOAD, timeout_ms, cfg_json)
    if n == -2:
        raise KeyboardInterrupt
    if n < 0:
        return None
    return bytes(_buf[:n])


def _rx_meta() -> tuple[int | None, int | None]:
    """RSSI (dBm) and SNR (micropython-lib's unit: dB * 4) of the last packet, when the bridge tells."""
    meta = getattr(_hw, "radio_rx_meta", None)
    if meta is None:
        return None, None
    m = meta()
    if m is None:
        return None, None
    return int(m[0]), int(m[1] * 4)


class ConfigError(ValueError):
    """A lora_cfg value the modem cannot take (same message as the driver's)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"Invalid lora_cfg {field}")


class RxPacket(bytearray):
    """A received packet: the payload bytes plus ticks_ms, snr (dB * 4), rssi (dBm), valid_crc."""

    def __init__(
        self,
        payload: bytes,
        ticks_ms: int | None = None,
        snr: int | None = None,
        rssi: int | None = None,
        valid_crc: bool = True,
    ) -> None:
        super().__init__(payload)
        self.ticks_ms = ticks_ms
        self.snr = snr
        self.rssi = rssi
        self.valid_crc = valid_crc

    def __repr__(self) -> str:
        return f"RxPacket({repr(bytes(self))}, {self.ticks_ms}, {self.snr}, {self.rssi}, {self.valid_crc})"


class _SimModem:
    """What every simulated chip shares: the configuration, time on air, send and receive."""

    _CHIP = "sx1276"
    _SF_MIN = 6
    _POWER = (-4, 20)

    def _setup(self, lora_cfg: dict | None, ant_sw: object) -> None:
        self._ant_sw = ant_sw
        self._cfg: dict = {
            "chip": self._CHIP,
            "freq_khz": None,
            "sf": 7,
            "bw": "125",
            "coding_rate": 5,
            "preamble_len": 12,
            "crc_en": True,
            "implicit_header": False,
            "syncword": 0x12,
            "output_power": 14,
            "invert_iq_tx": False,
            "invert_iq_rx": False,
        }
        self._cfg_json = ""
        self._rx_deadline: int | None = None
        self._rx = False
        self._tx_packet: bytes | None = None
        self._tx_done: int | None = None
        self._last_irq: int | None = None
        self._irq_callback: object = None
        self._rx_continuous = False
        self._asleep = False
        self.crc_errors = 0
        self.rx_crc_error = False
        self._encode_cfg()
        if lora_cfg:
            self.configure(lora_cfg)

    def _encode_cfg(self) -> None:
        self._cfg_json = json.dumps(self._cfg)

    def configure(self, lora_cfg: dict) -> None:
        """Apply the given lora_cfg keys; keys left out keep their value (as the driver)."""
        if self._rx:
            raise RuntimeError("Receiving")
        cfg = self._cfg
        if "freq_khz" in lora_cfg:
            f = lora_cfg["freq_khz"]
            if not f or f <= 0:
                raise ConfigError("freq_khz")
            cfg["freq_khz"] = f
        if "sf" in lora_cfg:
            sf = lora_cfg["sf"]
            if sf < self._SF_MIN or sf > 12:
                raise ConfigError("sf")
            cfg["sf"] = sf
        if "bw" in lora_cfg:
            bw = str(lora_cfg["bw"])
            if bw not in _BW_HZ:
                raise ConfigError("bw")
            cfg["bw"] = bw
        if "coding_rate" in lora_cfg:
            cr = int(lora_cfg["coding_rate"])
            if cr < 5 or cr > 8:
                raise ConfigError("coding_rate")
            cfg["coding_rate"] = cr
        if "output_power" in lora_cfg:
            lo, hi = self._POWER
            cfg["output_power"] = min(max(int(lora_cfg["output_power"]), lo), hi)
        for key in ("preamble_len", "syncword", "pa_ramp_us", "tx_ant", "lna_gain"):
            if key in lora_cfg:
                cfg[key] = lora_cfg[key]
        for key in ("crc_en", "implicit_header", "invert_iq_tx", "invert_iq_rx", "rx_boost", "auto_image_cal"):
            if key in lora_cfg:
                cfg[key] = bool(lora_cfg[key])
        self._encode_cfg()

    def get_time_on_air_us(self, payload_len: int) -> int:
        """Time on air (us) per the SX1276 / SX1261 datasheets (AN1200.13), integer maths."""
        cfg = self._cfg
        sf = cfg["sf"]
        t_sym_us = 1000000 * (1 << sf) // _BW_HZ[cfg["bw"]]
        ldr = 1 if t_sym_us >= 16000 else 0
        low_sf = self._CHIP.startswith("sx126") and sf <= 6
        bits = 8 * payload_len - 4 * sf + 28
        if cfg["crc_en"]:
            bits += 16
        if cfg["implicit_header"]:
            bits -= 20
        if low_sf:
            bits -= 8
        per_sym = 4 * (sf - 2 * ldr)
        payload_sym = 8 + max((bits + per_sym - 1) // per_sym, 0) * cfg["coding_rate"]
        n_sym_x4 = 4 * cfg["preamble_len"] + 17 + 4 * payload_sym + (8 if low_sf else 0)
        return t_sym_us * n_sym_x4 // 4

    def _irq(self) -> None:
        self._last_irq = _ticks_ms()
        callback = self._irq_callback
        if callback:
            callback()  # type: ignore[operator]

    # Simple (synchronous) API

    def send(self, packet: bytes, tx_at_ms: int | None = None) -> int:
        """Transmit and return once done: the time.ticks_ms() at the end of the transmission."""
        self.prepare_send(packet)
        if tx_at_ms is not None:
            _sleep_ms(max(0, _ticks_diff(tx_at_ms, _ticks_ms())))
        self.start_send()
        done = self.poll_send()
        return done if isinstance(done, int) and not isinstance(done, bool) else _ticks_ms()

    def recv(
        self, timeout_ms: int | None = None, rx_length: int = 0xFF, rx_packet: RxPacket | None = None
    ) -> RxPacket | None:
        """Receive one packet: an RxPacket, or None when the window closes with nothing."""
        self._asleep = False
        if timeout_ms is None:
            while True:
                pkt = self._listen(_FOREVER_CHUNK_MS, rx_packet)
                if pkt is not None:
                    return pkt
        return self._listen(timeout_ms, rx_packet)

    def _listen(self, timeout_ms: int, rx_packet: RxPacket | None) -> RxPacket | None:
        if self._ant_sw:
            self._ant_sw.rx()  # type: ignore[attr-defined]
        payload = _bridge_recv(timeout_ms, self._cfg_json)
        self._irq()
        if payload is None:
            return None
        rssi, snr = _rx_meta()
        if rx_packet is not None and len(rx_packet) == len(payload):
            rx_packet[:] = payload
            rx_packet.ticks_ms = self._last_irq
            rx_packet.snr = snr
            rx_packet.rssi = rssi
            rx_packet.valid_crc = True
            return rx_packet
        return RxPacket(payload, self._last_irq, snr, rssi, True)

    # Low-level API (approximated: a send completes at once in virtual time)

    def prepare_send(self, packet: bytes) -> None:
        if len(packet) > _MAX_PAYLOAD:
            raise ValueError("LoRa payload longer than 255 bytes")
        if not self._cfg["freq_khz"]:
            raise ConfigError("freq_khz")
        self._tx_packet = bytes(packet)

    def start_send(self) -> bool:
        if self._tx_packet is None:
            raise RuntimeError("prepare_send() first")
        self._asleep = False
        if self._ant_sw:
            self._ant_sw.tx(self._CHIP == "sx1262")  # type: ignore[attr-defined]
        _bridge_send(self._tx_packet, self._cfg_json)  # returns once the packet is on air
        self._tx_packet = None
        self._irq()
        self._tx_done = self._last_irq
        if self._ant_sw:
            self._ant_sw.idle()  # type: ignore[attr-defined]
        return False

    def poll_send(self) -> int | bool:
        done = self._tx_done
        self._tx_done = None
        return False if done is None else done

    def start_recv(self, timeout_ms: int | None = None, continuous: bool = False, rx_length: int = 0xFF) -> bool:
        if continuous and timeout_ms is not None:
            raise ValueError
        self._rx = True
        self._rx_deadline = None if timeout_ms is None else _ticks_add(_ticks_ms(), timeout_ms)
        self._rx_continuous = continuous
        return False

    def poll_recv(self, rx_packet: RxPacket | None = None) -> RxPacket | bool:
        if not self._rx:
            return False
        if self._rx_deadline is None:
            pkt = self._listen(_FOREVER_CHUNK_MS, rx_packet)
            return pkt if pkt is not None else True
        left = _ticks_diff(self._rx_deadline, _ticks_ms())
        pkt = self._listen(max(0, left), rx_packet) if left > 0 else None
        if not self._rx_continuous:
            self._rx = False
        return pkt if pkt is not None else False

    def standby(self) -> None:
        self._rx = False
        self._tx_packet = None
        self._asleep = False
        if self._ant_sw:
            self._ant_sw.idle()  # type: ignore[attr-defined]

    def sleep(self, warm_start: bool = True) -> None:
        self.standby()
        self._asleep = True

    def is_idle(self) -> bool:
        return not self._rx

    def irq_triggered(self) -> bool:
        return self._last_irq is not None

    def set_irq_callback(self, callback: object) -> None:
        self._irq_callback = callback


class SX1276(_SimModem):
    """SX1276 as micropython-lib's lora-sx127x sync modem (SX1277-9 share it)."""

    _CHIP = "sx1276"

    def __init__(
        self,
        spi: object,
        cs: object,
        dio0: object = None,
        dio1: object = None,
        reset: object = None,
        lora_cfg: dict | None = None,
        ant_sw: object = None,
    ) -> None:
        self._setup(lora_cfg, ant_sw)


class SX1277(SX1276):
    _CHIP = "sx1277"


class SX1278(SX1276):
    _CHIP = "sx1278"


class SX1279(SX1276):
    _CHIP = "sx1279"


class SX1262(_SimModem):
    """SX1262 as micropython-lib's lora-sx126x sync modem."""

    _CHIP = "sx1262"
    _SF_MIN = 5
    _POWER = (-9, 22)

    def __init__(
        self,
        spi: object,
        cs: object,
        busy: object,
        dio1: object = None,
        dio2_rf_sw: bool = True,
        dio3_tcxo_millivolts: int | None = None,
        dio3_tcxo_start_time_us: int = 1000,
        reset: object = None,
        lora_cfg: dict | None = None,
        ant_sw: object = None,
    ) -> None:
        if dio3_tcxo_millivolts and (dio3_tcxo_millivolts < 1600 or dio3_tcxo_millivolts > 3300):
            raise ValueError("dio3_tcxo_millivolts out of range")
        self._setup(lora_cfg, ant_sw)


class SX1261(SX1262):
    _CHIP = "sx1261"
    _POWER = (-17, 15)
