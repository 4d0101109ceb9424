"""Port-independent recognition of BACnet/IP (one BVLL message per UDP datagram)."""

from __future__ import annotations

from .constants import BVLC_FUNCTIONS, BVLC_TYPE, DEFAULT_PORT, FORWARDED_NPDU, NPDU_FUNCTIONS

DEFAULT_PORTS = frozenset({DEFAULT_PORT})


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """BACnet/IP when the datagram is one BVLL message: type 0x81, a known function, a length equal
    to the datagram's (on 47808 any: a damaged length does not hide the NPDU), and an NPDU of
    version 1 where the function carries one."""
    if len(data) < 4 or data[0] != BVLC_TYPE or data[1] not in BVLC_FUNCTIONS:
        return False
    length = (data[2] << 8) | data[3]
    if length != len(data) and not (on_default_port and length >= 4):
        return False
    if data[1] in NPDU_FUNCTIONS:
        start = 10 if data[1] == FORWARDED_NPDU else 4
        return len(data) >= start + 2 and data[start] == 1
    return True
