"""LoRa time on air (Semtech AN1200.13) and the rolling-hour duty-cycle budget.

The budget counts airtime in 13 five-minute buckets kept in RTC memory (cn.state), so it
survives deep sleep. Summing all 13 covers between 60 and 65 minutes: never less than the
rolling hour the regulation speaks of, so the node can only be stricter than the rule.
A power cut loses the history; the node then starts the hour with one full-length frame
already charged (cn.node does it), which bounds what a power-cycling node can overspend.
"""

from micropython import const

from cn.state import N_BUCKETS

SLOT_S = const(300)


def airtime_us(n, sf, bw_khz=125, cr=5, preamble=8, crc=True, explicit=True):
    """Time on air in microseconds of an n-byte LoRa payload (integers only).

    cr is the coding-rate denominator (5 = 4/5). Low data rate optimisation is on when a
    symbol lasts 16 ms or more (SF11/12 at 125 kHz), as LoRaWAN and the radios do."""
    tsym = (1 << sf) * 1000 // bw_khz  # exact for 125/250/500 kHz
    de = 1 if tsym >= 16000 else 0
    num = 8 * n - 4 * sf + 28 + (16 if crc else 0) - (0 if explicit else 20)
    den = 4 * (sf - 2 * de)
    nsym = 8
    if num > 0:
        nsym += ((num + den - 1) // den) * cr
    return (preamble * 4 + 17) * tsym // 4 + nsym * tsym


def airtime_ms(n, sf, bw_khz=125, cr=5, preamble=8):
    """Time on air in whole milliseconds, rounded up (what the budget is charged)."""
    return (airtime_us(n, sf, bw_khz, cr, preamble) + 999) // 1000


class Budget:
    def __init__(self, state, ms_per_hour):
        self.state = state
        self.limit = ms_per_hour  # 0: no duty-cycle rule (US915)

    def _roll(self, now_s):
        st = self.state
        slot = now_s // SLOT_S
        b = st.buckets
        shift = slot - st.duty_slot
        if shift < 0 or shift >= N_BUCKETS:
            # clock went backwards (cold boot) or a long sleep: everything is old
            for i in range(N_BUCKETS):
                b[i] = 0
        else:
            for _ in range(shift):
                for i in range(N_BUCKETS - 1, 0, -1):
                    b[i] = b[i - 1]
                b[0] = 0
        st.duty_slot = slot

    def used_ms(self, now_s):
        self._roll(now_s)
        t = 0
        for v in self.state.buckets:
            t += v
        return t

    def allows(self, now_s, ms):
        return self.limit == 0 or self.used_ms(now_s) + ms <= self.limit

    def charge(self, now_s, ms):
        self._roll(now_s)
        b = self.state.buckets
        b[0] = min(b[0] + ms, 0xFFFF)
