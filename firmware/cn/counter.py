"""The frame counter FCNT: never reused under a key, with one flash write per 64 frames.

protocol/SPEC.md 6.1. The next value lives in RTC memory (cn.state, checked by a CRC); a
high-water mark lives in NVS. Before a frame whose counter c has c % 64 == 0 goes out (or
whenever c reaches the mark, which only a damaged state could cause), c + 64 is committed to
NVS; if that write fails the frame is not sent. RTC memory is written with c + 1 before
the radio is touched, so any reset after that point skips c instead of repeating it.
A cold boot (RTC invalid, or a power-on/brownout reset) resumes at the NVS mark, which
is above every counter used, and flags COUNTER_JUMP and LONGCTR for the next frame.
"""

from micropython import const

from cn.state import F_JUMP, F_LONGCTR

BLOCK = const(64)


class Counter:
    def __init__(self, state, store):
        self.state = state
        self.store = store
        self.nvs_writes = 0

    def boot(self, cold):
        """Pick the next counter at boot. `cold`: RTC memory is not to be trusted."""
        st = self.state
        hwm = self.store.hwm()
        if cold or not st.valid:
            st.fcnt = hwm
            st.hwm = hwm
            st.flags |= F_JUMP | F_LONGCTR
        else:
            # The RTC copy is authoritative between commits. If it is at or above the NVS
            # mark (a key change interrupted half-way), next() commits before using it.
            st.hwm = hwm

    def restart(self):
        """A new key: counting starts again at 0 (store.recover reset the NVS mark)."""
        st = self.state
        st.fcnt = 0
        st.hwm = self.store.hwm()
        st.flags = (st.flags | F_LONGCTR) & ~F_JUMP
        st.save()

    def next(self):
        """Reserve the next counter value and return it; raises OSError if NVS fails.

        After this returns, the value is never handed out again, whatever happens."""
        st = self.state
        c = st.fcnt
        if c >= 0xFFFFFFFF:
            raise OSError("counter exhausted: provision a new key")
        if c % BLOCK == 0 or c >= st.hwm:
            mark = c + BLOCK
            self.store.set_hwm(mark)
            self.nvs_writes += 1
            st.hwm = mark
        st.fcnt = c + 1
        st.save()
        return c

    def long_needed(self, c):
        """Whether frame c carries the full 32-bit counter (SPEC 6.1)."""
        return bool(self.state.flags & F_LONGCTR) or c % 256 == 0

    def sent(self):
        """The frame went out: the one-shot flags it carried are done."""
        self.state.flags &= ~(F_LONGCTR | F_JUMP)
