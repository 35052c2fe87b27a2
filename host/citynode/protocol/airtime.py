"""LoRa time on air (Semtech AN1200.13), for airtime budgets and benches."""

from __future__ import annotations

import math


def airtime_ms(
    payload_len: int,
    sf: int,
    bw_khz: float = 125,
    cr: int = 5,
    preamble: int = 8,
    explicit_header: bool = True,
    crc: bool = True,
) -> float:
    """Time on air in ms of a LoRa packet with `payload_len` PHY payload bytes.

    cr is the coding rate denominator (5 for 4/5 .. 8 for 4/8). Low data rate optimisation
    is on when a symbol lasts 16 ms or more (SF11 and SF12 at 125 kHz), as LoRaWAN does.
    """
    if not 6 <= sf <= 12 or not 5 <= cr <= 8 or payload_len < 0:
        raise ValueError("sf must be 6..12, cr 5..8 and payload_len >= 0")
    t_sym = (2**sf) / bw_khz
    de = 1 if t_sym >= 16 else 0
    ih = 0 if explicit_header else 1
    num = 8 * payload_len - 4 * sf + 28 + 16 * int(crc) - 20 * ih
    n_payload = 8 + max(math.ceil(num / (4 * (sf - 2 * de))) * cr, 0)
    return (preamble + 4.25) * t_sym + n_payload * t_sym
