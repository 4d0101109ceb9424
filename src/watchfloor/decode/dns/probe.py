"""Port-independent recognition of DNS-format messages (DNS, NetBIOS-NS, mDNS, LLMNR)."""

from __future__ import annotations

from .._contract import WireError
from .wire import OPCODES, parse

DEFAULT_PORTS = frozenset({53, 137, 5353, 5355})  # DNS, NetBIOS-NS, mDNS, LLMNR


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """DNS when the datagram parses whole as one message with a known opcode and, off the DNS
    ports, asks one to a few questions (a random datagram rarely does both)."""
    if len(data) < 12:
        return False
    flags = int.from_bytes(data[2:4], "big")
    if (flags >> 11) & 0xF not in OPCODES or flags & 0x0040:  # Z bit must be 0
        return False
    qd = int.from_bytes(data[4:6], "big")
    if not on_default_port and not 1 <= qd <= 4:
        return False
    try:
        msg = parse(data)
    except WireError:
        return False
    return on_default_port or bool(msg.questions or msg.answers)
