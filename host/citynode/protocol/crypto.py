"""Key derivation, frame tags and body encryption (SPEC.md sections 1.4, 2 and 4).

Host side uses the standard library's HMAC (OpenSSL) and `cryptography`'s AES; the
firmware re-implements the same on MicroPython (cn/hmac256.py, cn/aesctr.py) and
vectors.json keeps the two in step.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

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
