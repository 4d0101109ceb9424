"""Port-independent recognition of MMS on ISO transport (TPKT + COTP, TCP 102).

TCP 102 also carries S7comm (COTP data starting 0x32 / 0x72): a flow is MMS only when a COTP data
TPDU's user data starts with an ISO session SPDU that carries presentation data (CONNECT /
ACCEPT, or GIVE TOKENS + DATA TRANSFER followed by a presentation PPDU), or with a whole,
well-formed MMS PDU (stacks that omit session and presentation). Connection TPDUs (CR/CC)
alone never claim a flow.
"""

from __future__ import annotations

from .._contract import Malformed
from ..ber import tlv
from ..cotp import DT, TPKT_VERSION
from .constants import SPDU_AC, SPDU_CN, SPDU_DT
from .osi import is_mms_tag

DEFAULT_PORTS = frozenset({102})  # configuration: a prior for recognition and direction, no more
_PPDU_FIRST = frozenset((0x61, 0x31, 0x30, 0xA0))  # fully-encoded data, CP/CPA, CPR, ARU


def mms_payload(data: bytes, at: int, stop: int, eot: bool) -> bool | None:
    """Whether DT user data at data[at:stop] starts an MMS message (None: too short to tell)."""
    if stop - at < 2:
        return None
    first = data[at]
    if first == SPDU_DT:  # GIVE TOKENS (empty) + DATA TRANSFER (empty) + a PPDU
        if stop - at < 5:
            return None
        return data[at + 1] == 0 and data[at + 2] == SPDU_DT and data[at + 3] == 0 and \
            data[at + 4] in _PPDU_FIRST  # fmt: skip
    if first == SPDU_CN or first == SPDU_AC:
        li = data[at + 1]
        if li == 0xFF:
            if stop - at < 4:
                return None
            li = (data[at + 2] << 8) | data[at + 3]
            return at + 4 + li <= stop or not eot
        return 2 < li and (at + 2 + li <= stop or not eot)
    if is_mms_tag(first) and eot:
        try:
            return tlv(data, at, stop)[3] == stop
        except Malformed:
            return False
    return False


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """MMS when the bytes are TPKTs and the first data TPDU among them carries MMS."""
    pos, end = 0, len(data)
    while pos + 7 <= end:
        if data[pos] != TPKT_VERSION or data[pos + 1]:
            return False
        length, li, code = (data[pos + 2] << 8) | data[pos + 3], data[pos + 4], data[pos + 5]
        if length < 7 or li + 5 > length:
            return False
        if code == DT and li == 2:
            return bool(mms_payload(data, pos + 7, min(pos + length, end), bool(data[pos + 6] & 0x80)))
        pos += length  # CR, CC, DR, ...: look at what follows
    return False
