"""Port-independent recognition of IEC 60870-5-104."""

from __future__ import annotations

from .constants import MAX_LENGTH, MIN_LENGTH, START, TYPES, U_FUNCTIONS

DEFAULT_PORTS = frozenset({2404})  # configuration: a prior for recognition and direction, no more


def header_plausible(buf: bytes, pos: int, any_type: bool = False) -> bool:
    """A strict look at one APCI (and the ASDU's type, when the frame carries one): start octet,
    sane length, a well-formed control field of the length its format needs, a known type
    (any type when `any_type`: private types live on the 104 port too)."""
    if len(buf) - pos < 6 or buf[pos] != START:
        return False
    length, c1 = buf[pos + 1], buf[pos + 2]
    if length < MIN_LENGTH or length > MAX_LENGTH:
        return False
    if not c1 & 1:  # I format: an ASDU header follows, N(R)'s low bit is 0
        if buf[pos + 4] & 1 or length < 10:
            return False
        return any_type or len(buf) - pos < 7 or buf[pos + 6] in TYPES
    rest = buf[pos + 3] if c1 == 1 else buf[pos + 3] | buf[pos + 4] | buf[pos + 5]
    if c1 == 1:  # S format: N(R) in octets 3-4
        return length == 4 and not rest and not buf[pos + 4] & 1
    return length == 4 and c1 in U_FUNCTIONS and not rest


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """IEC 104 when the bytes are a run of plausible APDUs (the last may continue later). On the
    104 port one plausible APDU at the start is enough, whatever its type."""
    pos, n = 0, len(data)
    while pos < n:
        if n - pos < 6:  # a header cut by the segment: what is there must fit
            return pos > 0 and data[pos] == START
        if not header_plausible(data, pos, on_default_port):
            return False
        if on_default_port:
            return True
        pos += 2 + data[pos + 1]
    return pos > 0
