"""Key derivation, frame tags and body encryption (SPEC.md sections 1.4, 2 and 4).

Host side uses the standard library's HMAC (OpenSSL) and `cryptography`'s AES; the
firmware re-implements the same on MicroPython (cn/hmac256.py, cn/aesctr.py) and
vectors.json keeps the two in step.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECRET_LEN = 16
LABEL_AUTH = b"citynode/v1/auth"
LABEL_ENC = b"citynode/v1/enc"
LABEL_PROVE = b"citynode/v1/prove"


@dataclass(frozen=True)
class DeviceKeys:
    """The three keys derived from a device secret S; never S itself."""

    auth: bytes  # 32 bytes, frame tags
    enc: bytes  # 16 bytes, AES-128 body encryption
    prove: bytes  # 32 bytes, service-mode key proof

    def fingerprint(self) -> str:
        """8 hex digits that identify a key without revealing it (SHA-256 of K_auth)."""
        return hashlib.sha256(self.auth).hexdigest()[:8]


def check_device_id(device_id: int) -> None:
    if not 0 < device_id < 0xFFFFFFFF:
        raise ValueError(f"device id {device_id:#x} is not valid (1..0xFFFFFFFE)")


@lru_cache(maxsize=4096)
def derive_keys(secret: bytes, device_id: int) -> DeviceKeys:
    """K_auth, K_enc, K_prove = HMAC-SHA256(S, label || D_be32) (SPEC.md section 2)."""
    if len(secret) != SECRET_LEN:
        raise ValueError(f"a device secret is {SECRET_LEN} bytes, not {len(secret)}")
    d = device_id.to_bytes(4, "big")
    return DeviceKeys(
        auth=hmac.digest(secret, LABEL_AUTH + d, "sha256"),
        enc=hmac.digest(secret, LABEL_ENC + d, "sha256")[:16],
        prove=hmac.digest(secret, LABEL_PROVE + d, "sha256"),
    )


def frame_tag(k_auth: bytes, fcnt: int, frame_without_tag: bytes, tag_len: int) -> bytes:
    """HMAC-SHA256(K_auth, FCNT_be32 || frame_without_tag)[:tag_len]."""
    return hmac.digest(k_auth, fcnt.to_bytes(4, "big") + frame_without_tag, "sha256")[:tag_len]


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
SHA256_BLOCK = 64


class TagKey:
    """HMAC-SHA256 under one key with the key schedule done once (RFC 2104 inner and outer pads).

    hmac.digest hashes both padded keys again on every call; a decoder checks every frame of
    a device under the same K_auth, so it keeps the two padded-key states and copies them.
    """

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(SHA256_BLOCK, b"\0")
        self.inner = hashlib.sha256(key.translate(_IPAD))
        self.outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, fcnt_be32: bytes, msg: bytes) -> bytes:
        """HMAC-SHA256(key, fcnt_be32 || msg): the full 32 bytes."""
        inner = self.inner.copy()
        inner.update(fcnt_be32)
        inner.update(msg)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_ECB_LOCK = threading.Lock()
_BLOCK_INDEX = tuple(i.to_bytes(4, "big") for i in range(16))  # a body (< 255 bytes) has at most 16 blocks


class DeviceCrypto:
    """What the decoder keeps per device: the secret it was derived from, its keys, its TagKey,
    and (once it has sent an encrypted frame) an AES-128-ECB encryptor under K_enc.

    The ECB encryptor turns SPEC.md section 4's counter blocks into keystream directly, so a
    frame costs one AES call instead of a new CTR cipher context (about 6 us in `cryptography`).
    """

    __slots__ = ("_ecb", "device_be32", "keys", "secret", "tag_key")

    def __init__(self, secret: bytes, device_id: int) -> None:
        self.secret = secret
        self.keys = derive_keys(secret, device_id)
        self.tag_key = TagKey(self.keys.auth)
        self.device_be32 = device_id.to_bytes(4, "big")
        self._ecb: Any = None

    def ctr_xor(self, fcnt: int, data: bytes) -> bytes:
        """The same as ctr_xor(keys.enc, device_id, fcnt, data), from cached ECB blocks."""
        n = len(data)
        if not n:
            return data
        if self._ecb is None:
            self._ecb = Cipher(algorithms.AES(self.keys.enc), modes.ECB()).encryptor()
        prefix = self.device_be32 + fcnt.to_bytes(4, "big") + b"\0\0\0\0"
        blocks = b"".join([prefix + index for index in _BLOCK_INDEX[:(n + 15) >> 4]])
        with _ECB_LOCK:  # one context shared by the decoding threads
            stream = self._ecb.update(blocks)
        return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


MAX_DEVICES = 1 << 16
_devices: dict[int, DeviceCrypto] = {}


def device_crypto(secret: bytes, device_id: int) -> DeviceCrypto:
    """The DeviceCrypto of (secret, device id), cached per device id (a new secret replaces it)."""
    dc = _devices.get(device_id)
    if dc is None or dc.secret != secret:
        dc = DeviceCrypto(bytes(secret), device_id)
        if len(_devices) >= MAX_DEVICES:
            _devices.clear()  # a re-derivation costs a few microseconds
        _devices[device_id] = dc
    return dc


def ctr_block0(device_id: int, fcnt: int) -> bytes:
    """Counter block 0: D || FCNT || 00000000 || i=0 (all big-endian)."""
    return device_id.to_bytes(4, "big") + fcnt.to_bytes(4, "big") + bytes(8)


def ctr_xor(k_enc: bytes, device_id: int, fcnt: int, data: bytes) -> bytes:
    """AES-128-CTR keystream XOR; encrypts and decrypts.

    The spec builds the keystream from ECB blocks with a 32-bit block index in the last
    four bytes; a standard 128-bit CTR increment from block 0 is the same sequence for any
    body under 2^32 blocks, so the library's CTR mode is used.
    """
    enc = Cipher(algorithms.AES(k_enc), modes.CTR(ctr_block0(device_id, fcnt))).encryptor()
    return enc.update(data) + enc.finalize()
