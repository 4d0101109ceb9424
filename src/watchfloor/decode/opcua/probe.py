"""Port-independent recognition of OPC UA binary (UA Connection Protocol over TCP)."""

from __future__ import annotations

from .._contract import Malformed, NeedMoreData
from .constants import DEFAULT_PORTS, HEADER, MIN_BUFFER
from .wire import _U32X5, header_ok, parse_chunk

__all__ = ["DEFAULT_PORTS", "probe"]


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """OPC UA when the bytes are a run of well-formed chunks (the last may continue later). A
    Hello must announce the protocol's minimum buffer sizes; a flow picked up mid-stream starts
    with an OPN/MSG/CLO chunk whose 4-byte tag (e.g. ``MSGF``) and size fit."""
    pos = 0
    while pos < len(data):
        if not header_ok(data, pos):
            return False
        if data[pos : pos + 3] in (b"HEL", b"ACK") and len(data) - pos >= HEADER + 20:
            _, rbs, sbs, _, _ = _U32X5.unpack_from(data, pos + HEADER)
            if rbs < MIN_BUFFER or sbs < MIN_BUFFER:
                return False
        try:
            _, n = parse_chunk(data, pos)
        except NeedMoreData:
            return True
        except Malformed:
            return False
        pos += n
    return True
