"""Port-independent recognition of Modbus/TCP."""

from __future__ import annotations

from .._contract import Malformed, NeedMoreData
from .constants import FUNCTIONS, USER_DEFINED
from .wire import parse_adu

DEFAULT_PORTS = frozenset({502})  # configuration: a prior for recognition and direction, no more


def header_plausible(buf: bytes, pos: int, any_function: bool = False) -> bool:
    """A look at one MBAP header: protocol id 0, sane length, a known function code
    (any function code when `any_function`, e.g. on the Modbus port, where fuzzers live too)."""
    if len(buf) - pos < 8 or buf[pos + 2] or buf[pos + 3] or buf[pos + 4]:
        return False  # protocol id 0, and length < 256
    fc = buf[pos + 7] & 0x7F
    return 2 <= buf[pos + 5] <= 254 and (any_function or fc in FUNCTIONS or fc in USER_DEFINED)


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """Modbus when the bytes are a run of well-formed ADUs (the last may continue later)."""
    pos = 0
    while pos < len(data):
        if not header_plausible(data, pos, on_default_port):
            return False
        try:
            _, n = parse_adu(data, pos)
        except NeedMoreData:
            return True  # a PDU split across segments: its header already passed
        except Malformed:
            return False
        pos += n
    return True
