"""HMAC-SHA256 on MicroPython (the ESP32 port has hashlib.sha256 but no hmac module).

    mac = Hmac256(key)             # pads computed once
    d = mac.digest(part1, part2)   # HMAC of part1 || part2 (part2 optional), 32 bytes

Per call it allocates only what hashlib itself creates: two sha256 objects and two
32-byte digests. Parts may be bytes, bytearray or memoryview.
"""

import hashlib

BLOCK = 64


class Hmac256:
    def __init__(self, key):
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        self.ipad = bytearray(BLOCK)
        self.opad = bytearray(BLOCK)
        for i in range(BLOCK):
            k = key[i] if i < len(key) else 0
            self.ipad[i] = k ^ 0x36
            self.opad[i] = k ^ 0x5C

    def digest(self, part1, part2=None):
        h = hashlib.sha256(self.ipad)
        h.update(part1)
        if part2 is not None:
            h.update(part2)
        inner = h.digest()
        h = hashlib.sha256(self.opad)
        h.update(inner)
        return h.digest()

    def wipe(self):
        """Overwrite the pads (they are key material) when the key is retired."""
        for i in range(BLOCK):
            self.ipad[i] = 0
            self.opad[i] = 0
