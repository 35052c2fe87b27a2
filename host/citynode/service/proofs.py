"""Key proofs of the service protocol (protocol/SERVICE.md section 5), host side.

Both use K_prove (SPEC.md section 2), never the secret itself, and differ in length, so
one can never stand in for the other: PROVE answers over exactly 16 host bytes; a rekey
proof covers a 17-byte label, the node's 16-byte nonce and the new 20 bytes of key material.
"""

from __future__ import annotations

import hmac

from citynode.protocol.crypto import derive_keys

REKEY_LABEL = b"citynode/v1/rekey"
NONCE_LEN = 16


def prove_mac(secret: bytes, device_id: int, nonce: bytes) -> bytes:
    """What a node holding (secret, device_id) answers to `PROVE <nonce>`."""
    if len(nonce) != NONCE_LEN:
        raise ValueError(f"the nonce is {NONCE_LEN} bytes")
    return hmac.digest(derive_keys(secret, device_id).prove, nonce, "sha256")


def rekey_proof(current_secret: bytes, current_id: int, node_nonce: bytes, new_id: int, new_secret: bytes) -> bytes:
    """Proof that the sender knows the current key, bound to the new key and the node's nonce."""
    msg = REKEY_LABEL + node_nonce + new_id.to_bytes(4, "big") + new_secret
    return hmac.digest(derive_keys(current_secret, current_id).prove, msg, "sha256")
