"""Integers from octets, shared by the decoders: compiled, a loop over a few octets costs less
than a slice and `int.from_bytes`."""

from __future__ import annotations


def uint(buf: bytes, start: int, end: int) -> int:
    """The big-endian unsigned integer in `buf[start:end]` (0 when that is empty)."""
    if end - start > 8:
        return int.from_bytes(buf[start:end], "big")
    v = 0
    for i in range(start, end):
        v = (v << 8) | buf[i]
    return v
