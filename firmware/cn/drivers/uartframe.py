"""Fixed-length UART frames with a two-byte header (SDS011, PMS5003): bounded reads into
preallocated buffers, resynchronisation on garbage, checksum failures counted by the driver."""

from cn.drivers import base

_CHUNK = 16


class FrameReader:
    def __init__(self, uart, h0, h1, length):
        self.uart = uart
        self.h0 = h0
        self.h1 = h1
        self.frame = bytearray(length)
        self.n = 0
        self.chunk = bytearray(_CHUNK)
        self.skipped = 0  # garbage bytes dropped while looking for a header

    def reset(self):
        self.n = 0

    def flush(self, limit=256):
        """Drop stale bytes already received (at most `limit`: never an unbounded read)."""
        self.n = 0
        u = self.uart
        while limit > 0:
            a = u.any()
            if not a:
                return
            k = u.readinto(self.chunk, min(a, _CHUNK, limit))
            if not k:
                return
            limit -= k

    def _feed(self, b):
        f = self.frame
        n = self.n
        if n == 0:
            if b == self.h0:
                f[0] = b
                self.n = 1
            else:
                self.skipped += 1
            return False
        if n == 1:
            if b == self.h1:
                f[1] = b
                self.n = 2
            elif b == self.h0:
                self.skipped += 1  # the previous h0 was garbage, this one may start a frame
            else:
                self.skipped += 2
                self.n = 0
            return False
        f[n] = b
        n += 1
        self.n = n
        return n == len(f)

    def reject(self):
        """The candidate frame was invalid: restart the search one byte after its header,
        so a real header hidden inside the bad frame is not lost (bounded: frame length)."""
        f = self.frame
        ln = len(f)
        for i in range(1, ln):
            if f[i] == self.h0 and (i == ln - 1 or f[i + 1] == self.h1):
                k = ln - i
                for j in range(k):
                    f[j] = f[i + j]
                self.n = k
                self.skipped += i
                return
        self.n = 0
        self.skipped += ln

    def next_frame(self, deadline, valid):
        """Read until `valid(frame)` accepts a complete candidate or the deadline passes.
        Returns True with the frame in self.frame; False on timeout. Rejected candidates
        are passed to reject() and counted by `valid` itself."""
        u = self.uart
        c = self.chunk
        while base.remaining(deadline) > 0:
            a = u.any()
            if not a:
                base.sleep_ms(10)
                continue
            k = u.readinto(c, min(a, _CHUNK)) or 0
            for i in range(k):
                if self._feed(c[i]):
                    if valid(self.frame):
                        self.n = 0  # the rest of this chunk is a newer partial frame: dropped
                        return True
                    self.reject()
        return False
