"""Port-independent recognition of DNP3 (over TCP or UDP)."""

from __future__ import annotations

from .wire import header_ok

DEFAULT_PORTS = frozenset({20000})  # configuration: a prior for recognition, no more


def header_at(data: bytes, pos: int) -> bool:
    """A link header at `pos`: start octets, LEN >= 5 and a matching header CRC (16 bits of
    evidence on top of the start octets, so recognition needs no port)."""
    if len(data) - pos < 10 or data[pos] != 0x05 or data[pos + 1] != 0x64:
        return False
    return header_ok(data, pos)


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """DNP3 when the bytes hold a valid link header: at the start, or (a capture that begins
    mid-stream) within the first 292 octets, the longest link frame."""
    if header_at(data, 0):
        return True
    if on_default_port and len(data) < 10 and data[:2] == b"\x05\x64"[: len(data)]:
        return True  # a header still arriving on the DNP3 port
    pos = data.find(b"\x05\x64", 1, 292)
    while pos >= 0:
        if header_at(data, pos):
            return True
        pos = data.find(b"\x05\x64", pos + 1, 292)
    return False
