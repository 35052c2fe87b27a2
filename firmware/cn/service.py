"""Service mode: the line protocol over the USB serial console (protocol/SERVICE.md).

    CN <seq> <VERB> [args] *<crc16 hex>          host -> node
    CN <seq> OK [json] *<crc>  |  CN <seq> ERR <CODE> <message> *<crc>   node -> host

Every line is checked (CRC-16/CCITT-FALSE over the bytes before " *") and bounded
(MAX_LINE bytes: a longer line is dropped while it streams in, never stored). A bad line gets
an ERR reply and changes nothing. CONFIG and KEY only stage; COMMIT applies everything
staged through cn.store's journal, so a pulled cable leaves the old state or the new one.
The key is write-only: no verb returns it or anything derived from it but proofs.

The node object passed in (`ctx`, cn.node.Node on a board, a stand-in in tests) provides:
    store, state, counter, hw_id, board_name, fw, window_ms
    validate_config(dict) -> normalised dict (raises ValueError with the reason)
    config_status() -> (cfg or None, reason or None)
    sensors_detected() -> list of driver names    selftest() -> dict    diag() -> dict
    test_frame() -> (frame bytes, fcnt)             reset()  (does not return on a board)
"""

import sys

from micropython import const

from cn.crc16 import crc16

MAX_LINE = const(2048)
NONCE_LEN = const(16)
REKEY_LABEL = b"citynode/v1/rekey"
IDLE_MS = const(600000)  # a provisioned node leaves service mode after 10 idle minutes


def _nonce():
    try:
        import os

        return os.urandom(NONCE_LEN)
    except (ImportError, AttributeError):
        import random

        return bytes(random.getrandbits(8) for _ in range(NONCE_LEN))


def _unhex(s, n):
    from binascii import unhexlify

    if len(s) != 2 * n:
        raise ValueError("expected %d hex digits" % (2 * n))
    try:
        return unhexlify(s)
    except ValueError:
        raise ValueError("not hex")


def _eq(a, b):
    """Constant-time comparison (the proof must not leak through timing)."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


class LineIO:
    """Bounded line reading from the console with a timeout, and checked line writing."""

    def __init__(self, inp=None, out=None, poll=None):
        if inp is None:
            import select

            inp = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
            poll = select.poll()
            poll.register(sys.stdin, select.POLLIN)
        self.inp = inp
        self.out = out
        self.poll = poll
        self.buf = bytearray(MAX_LINE)
        self.mv = memoryview(self.buf)
        self.n = 0
        self.dropping = False
        self.eof = False  # a stream without poll ran dry (tests, files)

    def _ready(self, ms):
        if self.poll is None:
            return True
        return bool(self.poll.poll(ms))

    def readline(self, timeout_ms):
        """A complete line (bytes, no terminator), b"" on timeout, or None for a line that
        was too long (dropped). Partial input is kept for the next call."""
        import time

        t0 = time.ticks_ms()
        while True:
            left = timeout_ms - time.ticks_diff(time.ticks_ms(), t0)
            if left < 0 or not self._ready(max(left, 0)):
                return b""
            c = self.inp.read(1)
            if not c:
                if self.poll is None:
                    self.eof = True
                    return b""
                continue
            b = c[0]
            if b == 10:  # \n ends a line
                n = self.n
                self.n = 0
                if self.dropping:
                    self.dropping = False
                    return None
                if n and self.buf[n - 1] == 13:
                    n -= 1
                return bytes(self.mv[0:n])
            if self.dropping:
                continue
            if self.n >= MAX_LINE:
                self.dropping = True
                self.n = 0
                continue
            self.buf[self.n] = b
            self.n += 1

    def write(self, text):
        """Send one line with its checksum: text is everything before " *"."""
        b = text.encode()
        line = "%s *%04X\n" % (text, crc16(b))
        if self.out is None:
            sys.stdout.write(line)
            try:
                sys.stdout.flush()
            except Exception:  # noqa: BLE001
                pass
        else:
            self.out.write(line)


def parse(line):
    """(seq, verb, arg string) of a checked line; raises ValueError((code, message))."""
    try:
        text = line.decode()
    except UnicodeError:
        raise ValueError(("BAD_LINE", "line is not UTF-8"))
    star = text.rfind(" *")
    if not text.startswith("CN ") or star < 0:
        raise ValueError(("BAD_LINE", "expected: CN <seq> <verb> [args] *<crc16>"))
    parts = text[3:star].split(" ", 2)
    seq = parts[0]
    if not seq.isdigit() or len(seq) > 5 or int(seq) > 65535:
        raise ValueError(("BAD_LINE", "sequence must be 0..65535"))
    crc = text[star + 2:]
    try:
        want = int(crc, 16)
    except ValueError:
        want = -1
    if len(crc) != 4 or want != crc16(line, 0, star):
        raise ValueError(("BAD_CRC", "checksum mismatch: line ignored"), int(seq))
    if len(parts) < 2 or not parts[1]:
        raise ValueError(("BAD_LINE", "missing verb"), int(seq))
    return int(seq), parts[1].upper(), parts[2] if len(parts) > 2 else ""


class Service:
    def __init__(self, ctx, io=None):
        self.ctx = ctx
        self.io = io or LineIO()
        self.nonce = _nonce()
        self.staged_config = None  # validated JSON bytes
        self.staged_key = None  # (device_id, secret)
        self.done = False  # RUN or REBOOT asked to leave service mode
        self.reboot = False

    # ---------------------------------------------------------------- replies

    def ok(self, seq, payload=None):
        if payload is None:
            self.io.write("CN %d OK" % seq)
        else:
            import json

            self.io.write("CN %d OK %s" % (seq, json.dumps(payload)))

    def err(self, seq, code, message):
        self.io.write("CN %d ERR %s %s" % (seq, code, message))

    def announce(self, mode):
        """The marker line a host waits for after a reset."""
        import json

        self.io.write("CN 0 READY " + json.dumps({"fw": self.ctx.fw, "hw": self.ctx.hw_id, "mode": mode,
                                                  "window_ms": self.ctx.window_ms}))

    # ---------------------------------------------------------------- loop

    def wait_for_wakeup(self, window_ms):
        """During the window after reset: True if the host sent SERVICE (or any valid verb)."""
        import time

        t0 = time.ticks_ms()
        while True:
            left = window_ms - time.ticks_diff(time.ticks_ms(), t0)
            if left <= 0:
                return False
            line = self.io.readline(left)
            if not line:
                if self.io.eof:
                    return False
                continue
            try:
                seq, verb, _ = parse(line)
            except ValueError:
                continue  # noise on the line during boot: keep listening
            if verb in ("SERVICE", "HELLO"):
                self.handle(line)
                return True

    def run(self, feed=None, idle_ms=IDLE_MS):
        """Serve lines until RUN/REBOOT, or until idle too long on a provisioned node."""
        import time

        last = time.ticks_ms()
        while not self.done:
            if feed is not None:
                feed()
            line = self.io.readline(1000)
            if line == b"" and self.io.eof:
                return
            if line == b"":
                if idle_ms and time.ticks_diff(time.ticks_ms(), last) > idle_ms and self._provisioned():
                    return
                continue
            last = time.ticks_ms()
            self.handle(line)

    def _provisioned(self):
        cfg, _ = self.ctx.config_status()
        return cfg is not None and self.ctx.store.key() is not None

    def handle(self, line):
        if line is None:
            self.err(0, "TOO_LONG", "line longer than %d bytes dropped" % MAX_LINE)
            return
        try:
            seq, verb, arg = parse(line)
        except ValueError as e:
            code, msg = e.args[0]
            self.err(e.args[1] if len(e.args) > 1 else 0, code, msg)
            return
        fn = getattr(self, "do_" + verb.lower(), None) if verb.isalpha() else None
        if fn is None:
            self.err(seq, "UNKNOWN", "unknown verb %s" % verb)
            return
        try:
            fn(seq, arg)
        except ValueError as e:
            self.err(seq, "BAD_ARG", str(e.args[0]) if e.args else "bad argument")
        except Exception as e:  # noqa: BLE001 - a failing verb must not kill service mode
            self.err(seq, "FAILED", "%s: %s" % (type(e).__name__, e))

    # ---------------------------------------------------------------- verbs

    def do_service(self, seq, arg):
        self.ok(seq, {"mode": "service"})

    def do_hello(self, seq, arg):
        c = self.ctx
        key = c.store.key()
        cfg, reason = c.config_status()
        staged = []
        if self.staged_config is not None:
            staged.append("config")
        if self.staged_key is not None:
            staged.append("key")
        self.ok(seq, {
            "proto": 1,
            "device_id": ("%08x" % key[0]) if key else None,
            "hw_id": c.hw_id,
            "board": c.board_name,
            "fw": c.fw,
            "sensors": c.sensors_detected(),
            "provisioned": key is not None and cfg is not None,
            "has_key": key is not None,
            "config_ok": cfg is not None,
            "config_error": reason,
            "locked": c.store.locked(),
            "staged": staged,
            "nonce": "".join("%02x" % b for b in self.nonce),
        })

    def do_config(self, seq, arg):
        import json

        if len(arg) > MAX_LINE:
            raise ValueError("config too long")
        try:
            cfg = json.loads(arg)
        except ValueError:
            self.err(seq, "BAD_CONFIG", "not valid JSON")
            return
        try:
            norm = self.ctx.validate_config(cfg)
        except ValueError as e:
            self.err(seq, "BAD_CONFIG", str(e.args[0]) if e.args else "invalid")
            return
        self.staged_config = json.dumps(norm).encode()
        self.ok(seq, {"staged": "config"})

    def do_key(self, seq, arg):
        parts = arg.split()
        if len(parts) not in (2, 3):
            raise ValueError("usage: KEY <device id, 8 hex> <secret, 32 hex> [<proof, 64 hex>]")
        nonce = self.nonce
        self.nonce = _nonce()  # one attempt per nonce, whatever the outcome
        dev = _unhex(parts[0], 4)
        device_id = (dev[0] << 24) | (dev[1] << 16) | (dev[2] << 8) | dev[3]
        if device_id == 0 or device_id == 0xFFFFFFFF:
            raise ValueError("device id 00000000 and ffffffff are not valid")
        secret = _unhex(parts[1], 16)
        store = self.ctx.store
        if store.locked():
            cur = store.key()
            if len(parts) != 3:
                self.err(seq, "LOCKED", "node is locked: a new key needs a proof made with the current key")
                return
            proof = _unhex(parts[2], 32)
            from cn.frame import derive_keys
            from cn.hmac256 import Hmac256

            want = Hmac256(derive_keys(cur[1], cur[0])[2]).digest(REKEY_LABEL + nonce, dev + secret)
            if not _eq(proof, want):
                self.err(seq, "BAD_PROOF", "proof does not match the current key (ask HELLO for a new nonce)")
                return
        self.staged_key = (device_id, secret)
        self.ok(seq, {"staged": "key"})

    def do_prove(self, seq, arg):
        n = _unhex(arg.strip(), NONCE_LEN)
        key = self.ctx.store.key()
        if key is None:
            self.err(seq, "NO_KEY", "no key set")
            return
        from cn.frame import derive_keys
        from cn.hmac256 import Hmac256

        mac = Hmac256(derive_keys(key[1], key[0])[2]).digest(n)
        self.ok(seq, {"mac": "".join("%02x" % b for b in mac)})

    def do_selftest(self, seq, arg):
        self.ok(seq, self.ctx.selftest())

    def do_diag(self, seq, arg):
        self.ok(seq, self.ctx.diag())

    def do_frame(self, seq, arg):
        if self.ctx.store.key() is None:
            self.err(seq, "NOT_PROVISIONED", "set and commit a key first")
            return
        frame, fcnt = self.ctx.test_frame()
        self.ok(seq, {"frame": "".join("%02x" % b for b in frame), "fcnt": fcnt})

    def do_commit(self, seq, arg):
        if self.staged_config is None and self.staged_key is None:
            self.err(seq, "NOTHING_STAGED", "nothing to commit")
            return
        k = self.staged_key
        store = self.ctx.store
        store.commit_begin(self.staged_config, k[0] if k else 0, k[1] if k else None)
        applied = []
        if self.staged_config is not None:
            applied.append("config")
        if k is not None:
            applied.append("key")
        if store.recover():
            self.ctx.counter.restart()
        self.staged_config = None
        self.staged_key = None
        self.ctx.config_changed()
        self.ok(seq, {"applied": applied})

    def do_discard(self, seq, arg):
        self.staged_config = None
        self.staged_key = None
        self.ok(seq)

    def do_lock(self, seq, arg):
        if self.ctx.store.key() is None:
            self.err(seq, "NO_KEY", "set and commit a key before locking")
            return
        self.ctx.store.lock()
        self.ok(seq, {"locked": True})

    def do_run(self, seq, arg):
        if not self._provisioned():
            self.err(seq, "NOT_PROVISIONED", "needs a committed key and a valid config")
            return
        self.ok(seq)
        self.done = True

    def do_reboot(self, seq, arg):
        self.ok(seq)
        self.done = True
        self.reboot = True
