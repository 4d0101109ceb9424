"""Port-independent recognition of S7comm / S7comm-plus on ISO transport (TPKT + COTP).

TCP 102 also carries IEC 61850 MMS and other ISO applications: a flow is S7 only when a COTP data
TPDU's user data starts with an S7comm (0x32, ROSCTR 1-7) or S7comm-plus (0x72, known version)
header. Connection TPDUs (CR/CC) alone never claim a flow.
"""

from __future__ import annotations

from ..cotp import DT, TPKT_VERSION
from .constants import PLUS_PROTOCOL_ID, PROTOCOL_ID

DEFAULT_PORTS = frozenset({102})  # configuration: a prior for recognition and direction, no more
PLUS_VERSIONS = frozenset((1, 2, 3, 0xFE))


def s7_payload(data: bytes, at: int) -> bool | None:
    """Whether DT user data at `at` starts an S7 PDU (None: not enough bytes to tell)."""
    if len(data) - at < 2:
        return None
    first = data[at]
    if first == PROTOCOL_ID:
        return 1 <= data[at + 1] <= 7
    if first == PLUS_PROTOCOL_ID:
        return data[at + 1] in PLUS_VERSIONS
    return False


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """S7 when the bytes are TPKTs and the first data TPDU among them carries an S7 header."""
    pos, end = 0, len(data)
    while pos + 7 <= end:
        if data[pos] != TPKT_VERSION or data[pos + 1]:
            return False
        length, li, code = (data[pos + 2] << 8) | data[pos + 3], data[pos + 4], data[pos + 5]
        if length < 7 or li + 5 > length:
            return False
        if code == DT and li == 2:
            return bool(s7_payload(data, pos + 7))
        pos += length  # CR, CC, DR, ...: look at what follows
    return False
