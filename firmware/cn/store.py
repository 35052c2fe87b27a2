"""The node's durable secrets and counters in NVS (flash key-value store), never in a file.

NVS namespace "citynode":
    key     blob 20  device id (4, big-endian) || secret S (16): one entry, so id and key
                     change together or not at all
    pkey    blob 20  a staged key waiting for a commit (see `commit_begin`)
    journal i32      0 nothing to apply; 1 apply staged changes keeping the counter;
                     2 apply them and restart the counter (a new key)
    hwm     i32      frame counter high-water mark (cn.counter), as unsigned 32 bits
    locked  i32      1: changing the key needs proof of the current one

A commit is a journal: stage everything (config file /config.new, NVS pkey), then one NVS
write of `journal` is the commit point, then the apply steps, which `recover` redoes at
boot if a power cut interrupted them. So a cable pulled half-way leaves the old state or
the new one, never a mix.
"""

import os

from micropython import const

NAMESPACE = "citynode"
KEY_LEN = const(20)
CONFIG = "/config.json"
CONFIG_NEW = "/config.new"

_J_NONE = const(0)
J_KEEP = const(1)
J_RESET = const(2)


def _u32(v):
    return v & 0xFFFFFFFF


def _i32(v):
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Store:
    def __init__(self, nvs=None):
        if nvs is None:
            import esp32

            nvs = esp32.NVS(NAMESPACE)
        self.nvs = nvs
        self._kbuf = bytearray(KEY_LEN)

    # ------------------------------------------------------------------ small values

    def get_int(self, name, default=0):
        try:
            return self.nvs.get_i32(name)
        except OSError:
            return default

    def set_int(self, name, value):
        self.nvs.set_i32(name, _i32(value))
        self.nvs.commit()

    def hwm(self):
        return _u32(self.get_int("hwm", 0))

    def set_hwm(self, value):
        self.set_int("hwm", value)

    def locked(self):
        return self.get_int("locked", 0) == 1

    # ------------------------------------------------------------------ key

    def _blob(self, name):
        try:
            n = self.nvs.get_blob(name, self._kbuf)
        except OSError:
            return None
        if n != KEY_LEN:
            return None
        return bytes(self._kbuf)

    def key(self):
        """(device_id, secret) or None when not provisioned."""
        b = self._blob("key")
        if b is None:
            return None
        dev = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        if dev == 0 or dev == 0xFFFFFFFF:
            return None
        return dev, b[4:]

    # ------------------------------------------------------------------ commit journal

    def commit_begin(self, config_bytes, device_id, secret):
        """Stage the new state durably, then write the commit point. Either part may be None."""
        self._erase("pkey")
        if _exists(CONFIG_NEW):
            os.remove(CONFIG_NEW)
        reset = False
        if config_bytes is not None:
            tmp = CONFIG_NEW + ".tmp"
            with open(tmp, "wb") as f:
                f.write(config_bytes)
            os.rename(tmp, CONFIG_NEW)
        if secret is not None:
            b = bytearray(KEY_LEN)
            b[0] = (device_id >> 24) & 0xFF
            b[1] = (device_id >> 16) & 0xFF
            b[2] = (device_id >> 8) & 0xFF
            b[3] = device_id & 0xFF
            b[4:] = secret
            cur = self._blob("key")
            # A new key restarts the counter (SPEC 6.1); re-sending the same key must not,
            # or counters already used under it would come back.
            reset = cur != bytes(b)
            self.nvs.set_blob("pkey", b)
        self.nvs.commit()
        self.set_int("journal", J_RESET if reset else J_KEEP)  # the commit point

    def recover(self):
        """Finish an interrupted commit (boot), or drop a staged one that never committed.

        Returns True when the counter must restart (a new key was applied)."""
        j = self.get_int("journal", _J_NONE)
        if j == _J_NONE:
            if _exists(CONFIG_NEW):
                os.remove(CONFIG_NEW)
            self._erase("pkey")
            return False
        if _exists(CONFIG_NEW):
            os.rename(CONFIG_NEW, CONFIG)
        p = self._blob("pkey")
        if p is not None:
            self.nvs.set_blob("key", p)
            self.nvs.commit()
        if j == J_RESET:
            self.set_int("hwm", 0)
        self._erase("pkey")
        self.set_int("journal", _J_NONE)
        return j == J_RESET

    def _erase(self, name):
        try:
            self.nvs.erase_key(name)
            self.nvs.commit()
        except OSError:
            pass

    def lock(self):
        self.set_int("locked", 1)

    def factory_reset(self):
        """Forget the key, the lock and any staged change; keep the counter high-water mark
        (a key set later starts at 0 anyway; keeping it costs nothing)."""
        for name in ("key", "pkey", "locked", "journal"):
            self._erase(name)
        for path in (CONFIG, CONFIG_NEW):
            if _exists(path):
                os.remove(path)
