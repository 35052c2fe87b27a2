"""Turn what gateways and network servers send into frame bytes plus reception metadata.

Formats (all JSON, one object per message or line):
- Semtech UDP packet forwarder `rxpk` objects (PROTOCOL.TXT v2): base64 `data`, `stat`
  (1 CRC ok, -1 CRC failed, 0 no CRC), `rssi`, `lsnr`, `freq` (MHz), `datr`, `tmst`, `time`.
- ChirpStack v4 uplink event (topic application/{app}/device/{devEui}/event/up): base64
  `data`, `deduplicationId`, `time`, `rxInfo[]` (gatewayId, rssi, snr, gwTime/nsTime),
  `txInfo` (frequency in Hz, modulation.lora).
- The Things Stack v3 uplink message (topic v3/{app}/devices/{dev}/up):
  `uplink_message.frm_payload` base64, `rx_metadata[]` (gateway_ids, rssi, snr, time),
  `settings` (frequency in Hz as a string, data_rate.lora), `received_at`.
- citynode JSON lines: {"frame": HEX} or {"b64": BASE64}, optional gateway, rssi, snr,
  freq_mhz, datr, time, rx_id.

Only the network server's own fields are read; the frame itself is verified later.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, TypeVar

from citynode import inputs
from citynode.backend.model import Reception, Uplink
from citynode.backend.timeutil import parse_time

_T = TypeVar("_T")


class FormatError(ValueError):
    """A message that is not one of the known formats (or is broken)."""


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{what} is not a base64 string")
    # The packet forwarder's own PROTOCOL.TXT example is unpadded: restore the padding first.
    if len(text) % 4 in (2, 3) and not text.endswith("="):
        text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise FormatError(f"{what} is not valid base64: {err}") from None


def _num(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _time(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _lora_datr(lora: object) -> str | None:
    if not isinstance(lora, dict):
        return None
    sf = lora.get("spreadingFactor", lora.get("spreading_factor"))
    bw = lora.get("bandwidth")
    if sf is None or bw is None:
        return None
    bw_khz = _num(bw)
    if bw_khz is None:
        return None
    return f"SF{sf}BW{int(bw_khz) // 1000 if bw_khz >= 1000 else int(bw_khz)}"


# ------------------------------------------------------------------ Semtech rxpk


def _shape_safe(parse: Callable[..., _T], *args: Any) -> _T:
    """Run a parser so that a message of an unexpected shape (a number where an object belongs,
    a list for a string...) raises FormatError, the one error every source counts as a reject."""
    try:
        return parse(*args)
    except FormatError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError) as err:
        raise FormatError(f"message of an unexpected shape ({type(err).__name__.lower()}: {err})") from None


def parse_rxpk(rxpk: dict[str, Any], gateway: str) -> Uplink:
    """One rxpk object from a PUSH_DATA packet of gateway `gateway` (EUI, lowercase hex); FormatError only."""
    return _shape_safe(_parse_rxpk, rxpk, gateway)


def _parse_rxpk(rxpk: dict[str, Any], gateway: str) -> Uplink:
    if not isinstance(rxpk, dict):
        raise FormatError("rxpk entry is not an object")
    stat = rxpk.get("stat", 1)
    rec = Reception(
        source="udp",
        gateway=gateway,
        rssi=_num(rxpk.get("rssic", rxpk.get("rssi"))),
        snr=_num(rxpk.get("lsnr")),
        freq_mhz=_num(rxpk.get("freq")),
        datr=_str(rxpk.get("datr")) or None,
        gw_time=_str(rxpk.get("time")) or None,
        rx_id=_str(rxpk.get("tmst")),
    )
    data = rxpk.get("data", "")
    try:
        frame = _b64(data, "rxpk data")
    except FormatError as err:
        return Uplink(b"", (rec,), problem="bad_encoding", detail=str(err))
    if stat == -1:
        return Uplink(frame, (rec,), problem="crc_failed", detail="the gateway reported a CRC error")
    return Uplink(frame, (rec,))


# ------------------------------------------------------------------ ChirpStack v4


def parse_chirpstack(event: dict[str, Any]) -> Uplink | None:
    """A ChirpStack v4 uplink event (JSON marshaler); None for an uplink without payload."""
    data = event.get("data")
    if data in (None, ""):
        return None
    frame = _b64(data, "ChirpStack data")
    dedup = _str(event.get("deduplicationId"))
    ns_time = _time(event.get("time"))
    tx = event.get("txInfo") or {}
    freq = _num(tx.get("frequency")) if isinstance(tx, dict) else None
    modulation = tx.get("modulation") if isinstance(tx, dict) else None
    datr = _lora_datr(modulation.get("lora")) if isinstance(modulation, dict) else None
    recs = []
    for rx in event.get("rxInfo") or []:
        if not isinstance(rx, dict):
            continue
        recs.append(Reception(
            source="chirpstack",
            gateway=_str(rx.get("gatewayId")).lower(),
            rssi=_num(rx.get("rssi")),
            snr=_num(rx.get("snr")),
            freq_mhz=None if freq is None else freq / 1e6,
            datr=datr,
            gw_time=_str(rx.get("gwTime") or rx.get("time")) or None,
            rx_id=dedup,
            time=ns_time,
        ))
    if not recs:
        recs.append(Reception(source="chirpstack", rx_id=dedup, time=ns_time,
                              freq_mhz=None if freq is None else freq / 1e6, datr=datr))
    return Uplink(frame, tuple(recs))


# ------------------------------------------------------------------ The Things Stack v3


def parse_tts(message: dict[str, Any]) -> Uplink | None:
    """A TTS v3 uplink message; None for an uplink without frm_payload (MAC-only)."""
    up = message.get("uplink_message")
    if not isinstance(up, dict):
        raise FormatError("not a TTS uplink message (no uplink_message)")
    payload = up.get("frm_payload")
    if payload in (None, ""):
        return None
    frame = _b64(payload, "TTS frm_payload")
    ns_time = _time(up.get("received_at")) or _time(message.get("received_at"))
    corr = [c for c in message.get("correlation_ids") or [] if isinstance(c, str)]
    rx_id = next((c for c in corr if c.startswith("as:up:")), corr[0] if corr else _str(up.get("received_at")))
    settings = up.get("settings") or {}
    freq = _num(settings.get("frequency")) if isinstance(settings, dict) else None
    rate = settings.get("data_rate") if isinstance(settings, dict) else None
    datr = _lora_datr(rate.get("lora")) if isinstance(rate, dict) else None
    recs = []
    for rx in up.get("rx_metadata") or []:
        if not isinstance(rx, dict):
            continue
        ids = rx.get("gateway_ids") or {}
        gateway = _str(ids.get("eui") or ids.get("gateway_id")).lower() if isinstance(ids, dict) else ""
        recs.append(Reception(
            source="tts",
            gateway=gateway,
            rssi=_num(rx.get("rssi", rx.get("channel_rssi"))),
            snr=_num(rx.get("snr")),
            freq_mhz=None if freq is None else freq / 1e6,
            datr=datr,
            gw_time=_str(rx.get("time")) or None,
            rx_id=rx_id,
            time=ns_time,
        ))
    if not recs:
        recs.append(Reception(source="tts", rx_id=rx_id, time=ns_time))
    return Uplink(frame, tuple(recs))


# ------------------------------------------------------------------ citynode JSON lines


def parse_citynode_json(obj: dict[str, Any], source: str = "jsonl") -> Uplink:
    """{"frame": HEX} or {"b64": BASE64} plus optional reception fields."""
    if isinstance(obj.get("frame"), str):
        try:
            frame = bytes.fromhex(obj["frame"])
        except ValueError:
            raise FormatError("'frame' is not hex") from None
    elif "b64" in obj:
        frame = _b64(obj["b64"], "'b64'")
    else:
        raise FormatError("a citynode JSON line needs 'frame' (hex) or 'b64' (base64)")
    t = _time(obj.get("time"))
    rec = Reception(
        source=_str(obj.get("source")) or source,
        gateway=_str(obj.get("gateway")).lower(),
        rssi=_num(obj.get("rssi")),
        snr=_num(obj.get("snr")),
        freq_mhz=_num(obj.get("freq_mhz")),
        datr=_str(obj.get("datr")) or None,
        gw_time=_str(obj.get("gw_time")) or None,
        rx_id=_str(obj.get("rx_id")) or ("" if t is None else repr(t)),
        time=t,
    )
    return Uplink(frame, (rec,))


# ------------------------------------------------------------------ dispatch


def detect(obj: dict[str, Any]) -> str:
    """Which JSON format an object is: chirpstack, tts, rxpk, push_data or citynode."""
    if "uplink_message" in obj:
        return "tts"
    if "deviceInfo" in obj or "rxInfo" in obj or "deduplicationId" in obj:
        return "chirpstack"
    if "rxpk" in obj:
        return "push_data"
    if "modu" in obj or "tmst" in obj or "stat" in obj:
        return "rxpk"
    if "frame" in obj or "b64" in obj:
        return "citynode"
    raise FormatError("unknown JSON message: expected a ChirpStack, TTS, rxpk or citynode object")


def parse_json(obj: object, fmt: str = "auto", source: str = "jsonl") -> list[Uplink]:
    """Uplinks in one JSON message. fmt: auto, chirpstack, tts, rxpk, citynode.

    Whatever the message's shape (a number where an object belongs, a list for a string...),
    the only error raised is FormatError: a source counts it as a reject and carries on.
    """
    return _shape_safe(_parse_json, obj, fmt, source)


def _parse_json(obj: object, fmt: str, source: str) -> list[Uplink]:
    if not isinstance(obj, dict):
        raise FormatError("expected a JSON object")
    kind = detect(obj) if fmt == "auto" else fmt
    if kind == "tts":
        up = parse_tts(obj)
        return [] if up is None else [up]
    if kind == "chirpstack":
        up = parse_chirpstack(obj)
        return [] if up is None else [up]
    if kind in ("rxpk", "push_data"):
        gateway = _str(obj.get("gateway")).lower()
        entries = obj.get("rxpk") if kind == "push_data" else [obj]
        if not isinstance(entries, list):
            raise FormatError("'rxpk' is not a list")
        return [_parse_rxpk(e, gateway) for e in entries]
    if kind == "citynode":
        return [parse_citynode_json(obj, source)]
    raise FormatError(f"unknown format {fmt!r}")


LINE_FORMATS = ("auto", "hex", "base64", "json", "chirpstack", "tts", "rxpk")


def parse_line(line: str, fmt: str = "auto", source: str = "stdin") -> list[Uplink]:
    """Uplinks on one text line: hex, base64 or any JSON format above. Blank and # lines: none."""
    text = line.strip()
    if not text or text.startswith("#"):
        return []
    if fmt in ("json", "chirpstack", "tts", "rxpk") or (fmt == "auto" and text.startswith("{")):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise FormatError(f"not valid JSON: {err.msg}") from None
        return parse_json(obj, "auto" if fmt == "json" else fmt, source)
    if fmt not in ("auto", "hex", "base64"):
        raise FormatError(f"unknown format {fmt!r}; known: {', '.join(LINE_FORMATS)}")
    frame = inputs.parse_line(text, fmt)  # the same hex/base64 rules as `citynode decode`
    if frame is None:
        raise FormatError("not " + ("hex or base64" if fmt == "auto" else fmt))
    return [Uplink(frame, (Reception(source=source),))]


def input_frames(text: str, number: int, fmt: str = "auto") -> list[inputs.InputFrame]:
    """One line as `citynode.inputs.InputFrame`s, metadata filled from the reception (for `citynode decode`)."""
    try:
        uplinks = parse_line(text, fmt, source="file")
    except FormatError as err:
        return [inputs.InputFrame(None, f"line {number}: {err}", number)]
    out = []
    for up in uplinks:
        meta = {k: v for k, v in asdict(up.receptions[0]).items() if v not in (None, "")} if up.receptions else {}
        if up.problem:
            out.append(inputs.InputFrame(None, f"line {number}: {up.problem} {up.detail}".strip(), number, meta))
        else:
            out.append(inputs.InputFrame(up.frame, None, number, meta))
    return out


def iter_lines(lines: Iterator[str] | list[str], fmt: str = "auto",
               source: str = "stdin") -> Iterator[tuple[int, list[Uplink] | FormatError]]:
    """(line number, uplinks or the FormatError) for each line; never stops on a bad line."""
    for n, line in enumerate(lines, 1):
        try:
            yield n, parse_line(line, fmt, source)
        except FormatError as err:
            yield n, err
