"""Host side of the citynode service protocol (protocol/SERVICE.md): talk to a node in
service mode over serial to read its identity, configure it, set and prove its key."""

from citynode.service.client import ServiceClient, ServiceError, probe
from citynode.service.lines import Reply, command, crc16, frame_line, parse_reply
from citynode.service.proofs import prove_mac, rekey_proof

__all__ = ["Reply", "ServiceClient", "ServiceError", "command", "crc16", "frame_line", "parse_reply", "probe",
           "prove_mac", "rekey_proof"]
