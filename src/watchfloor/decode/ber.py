"""A small reader for ASN.1 BER (ITU-T X.690), definite lengths only: what the OSI upper layers,
IEC 61850 MMS, GOOSE and Sampled Values put on the wire.

Pure functions over `bytes`; every one raises only Malformed (a TLV that runs past its container,
a length form BER forbids here). A TLV is addressed as (class and constructed bits, tag number,
value start, value end): the first identifier octet's top three bits (`UNIVERSAL`, `APPLICATION`,
`CONTEXT`, `PRIVATE`, plus `CONSTRUCTED`) and the tag number, which may take several octets
(X.690 §8.1.2.4: numbers above 30, e.g. MMS's `start` service [40]).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from time import gmtime
from typing import Final

from ._contract import Malformed
from ._octets import uint

UNIVERSAL: Final = 0x00
APPLICATION: Final = 0x40
CONTEXT: Final = 0x80
PRIVATE: Final = 0xC0
CONSTRUCTED: Final = 0x20
MAX_DEPTH: Final = 16  # nesting a decoder follows before it calls the value malformed

Tlv = tuple[int, int, int, int]  # class|constructed bits, tag number, value start, value end


def tlv(buf: bytes, pos: int, end: int, truncated_ok: bool = False) -> Tlv:
    """The TLV at `pos`, which must end by `end` (unless `truncated_ok`: then its value may
    run past `end`, and the caller reads what is there)."""
    if pos + 2 > end:
        raise Malformed("BER TLV truncated")
    b0 = buf[pos]
    num = b0 & 0x1F
    n = buf[pos + 1]
    if num != 0x1F and n < 0x80:  # the usual case: low tag number, short length
        stop = pos + 2 + n
        if stop > end and not truncated_ok:
            raise Malformed(f"BER value of {n} bytes runs past its container")
        return b0 & 0xE0, num, pos + 2, stop
    pos += 1
    if num == 0x1F:  # high tag number form
        num = 0
        while True:
            if pos >= end:
                raise Malformed("BER tag truncated")
            b = buf[pos]
            pos += 1
            num = (num << 7) | (b & 0x7F)
            if not b & 0x80:
                break
            if num > 0xFFFFFF:
                raise Malformed("BER tag number too large")
        if pos >= end:
            raise Malformed("BER length missing")
    n = buf[pos]
    pos += 1
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise Malformed("BER indefinite length")
        if k > 4 or pos + k > end:
            raise Malformed("BER long length truncated or too large")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    stop = pos + n
    if stop > end and not truncated_ok:
        raise Malformed(f"BER value of {n} bytes runs past its container")
    return b0 & 0xE0, num, pos, stop


def children(buf: bytes, pos: int, end: int) -> Iterator[Tlv]:
    """The TLVs that exactly fill buf[pos:end]."""
    while pos < end:
        t = tlv(buf, pos, end)
        yield t
        pos = t[3]


def child_map(buf: bytes, pos: int, end: int) -> dict[int, Tlv]:
    """The TLVs of buf[pos:end] by (class bits << 16 | number); the first of a repeated tag wins."""
    out: dict[int, Tlv] = {}
    for t in children(buf, pos, end):
        out.setdefault((t[0] << 16) | t[1], t)
    return out


def key(cls: int, num: int) -> int:
    """The `child_map` key of a tag."""
    return (cls << 16) | num


def integer(buf: bytes, start: int, end: int) -> int:
    """A two's-complement INTEGER (also ENUMERATED)."""
    if start >= end:
        raise Malformed("BER INTEGER without content")
    if end - start > 16:
        raise Malformed("BER INTEGER longer than 16 bytes")
    return int.from_bytes(buf[start:end], "big", signed=True)


def unsigned(buf: bytes, start: int, end: int) -> int:
    """An INTEGER whose type is non-negative (a leading 0x00 keeps the sign bit clear)."""
    if start >= end:
        raise Malformed("BER INTEGER without content")
    if end - start > 17:
        raise Malformed("BER INTEGER longer than 16 bytes")
    return uint(buf, start, end)


def boolean(buf: bytes, start: int, end: int) -> bool:
    if end - start != 1:
        raise Malformed("BER BOOLEAN not one byte")
    return buf[start] != 0


def text(buf: bytes, start: int, end: int) -> str:
    """VisibleString / IA5String / UTF8String content (bytes that are not UTF-8 as Latin-1)."""
    raw = buf[start:end]
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def oid(buf: bytes, start: int, end: int) -> str:
    """An OBJECT IDENTIFIER in dotted form."""
    if start >= end:
        raise Malformed("BER OID without content")
    arcs: list[int] = []
    v = 0
    for b in buf[start:end]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    if buf[end - 1] & 0x80:
        raise Malformed("BER OID ends inside an arc")
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(map(str, head + arcs[1:]))


def bits(buf: bytes, start: int, end: int) -> str:
    """A BIT STRING as '0'/'1' characters, first bit first (the unused trailing bits dropped)."""
    if start >= end:
        raise Malformed("BER BIT STRING without its unused-bits octet")
    unused = buf[start]
    if unused > 7 or (unused and end - start == 1):
        raise Malformed("BER BIT STRING unused-bits octet out of range")
    body = buf[start + 1 : end]
    s = bin(int.from_bytes(body, "big"))[2:].zfill(8 * len(body)) if body else ""
    return s[: len(s) - unused] if unused else s


def utc_time(buf: bytes, start: int, end: int) -> str:
    """IEC 61850-8-1 UtcTime (8 octets: seconds since 1970, a 24-bit binary fraction of a
    second, a time quality octet) → RFC 3339 with microseconds."""
    if end - start != 8:
        raise Malformed("UtcTime is not 8 bytes")
    secs, frac = unsigned(buf, start, start + 4), unsigned(buf, start + 4, start + 7)
    us = (frac * 1_000_000 + (1 << 23)) >> 24  # rounded to the nearest microsecond
    if us == 1_000_000:
        secs, us = secs + 1, 0
    return _DATE(secs) + "." + str(1_000_000 + us)[1:] + "Z"  # (padded by slicing: cheaper)


def _date(secs: int) -> str:
    """Seconds since 1970 (UTC) → YYYY-MM-DDTHH:MM:SS."""
    t = gmtime(secs)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


_DATE = date_text = lru_cache(maxsize=4096)(_date)  # report and GOOSE times repeat across messages
