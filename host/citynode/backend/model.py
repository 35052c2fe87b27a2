"""What the sources hand to the ingest pipeline: frame bytes plus how they were received."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reception:
    """One gateway's (or one file line's) reception of a frame. Nothing here is authenticated.

    `rx_id` identifies this reception at its source (a gateway's tmst, a network server's
    deduplication id), so a redelivered message is recognised and stored once.
    `time` is a trusted reception time (network server, file); None means "when we got it".
    """

    source: str = "api"
    gateway: str = ""
    rssi: float | None = None
    snr: float | None = None
    freq_mhz: float | None = None
    datr: str | None = None
    gw_time: str | None = None
    rx_id: str = ""
    time: float | None = None


@dataclass(frozen=True)
class Uplink:
    """Frame bytes and every reception of them that arrived together.

    `problem` is set when the source already knows the frame is unusable (a gateway
    reported a CRC failure, the payload was not valid base64): the pipeline records a
    reject with that reason and never decodes it.
    """

    frame: bytes
    receptions: tuple[Reception, ...] = field(default_factory=lambda: (Reception(),))
    problem: str | None = None
    detail: str = ""
