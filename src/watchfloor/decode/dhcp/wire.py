"""DHCP / BOOTP messages (RFC 2131 §2, options RFC 2132): bytes → fixed fields and options.
Pure; raises only NeedMoreData / Malformed."""

from __future__ import annotations

import socket
from struct import Struct
from typing import NamedTuple

from .._contract import Malformed, NeedMoreData

_FIXED = Struct("!BBBBIHH4s4s4s4s16s64s128s")  # op .. file: 236 bytes
MAGIC = b"\x63\x82\x53\x63"
MESSAGE_TYPES = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak",
                 7: "release", 8: "inform", 9: "force_renew", 10: "lease_query",
                 11: "lease_unassigned", 12: "lease_unknown", 13: "lease_active"}  # fmt: skip


class Bootp(NamedTuple):
    op: int
    htype: int
    hlen: int
    xid: int
    ciaddr: str
    yiaddr: str
    siaddr: str
    giaddr: str
    chaddr: bytes
    options: dict[int, bytes]  # the first occurrence of each option (RFC 3396 joins are rare)


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def parse(buf: bytes) -> Bootp:
    if len(buf) < 240:
        raise NeedMoreData(240 - len(buf))
    op, htype, hlen, _hops, xid, _secs, _flags, ci, yi, si, gi, chaddr, _sname, _file = _FIXED.unpack_from(buf)
    if op not in (1, 2):
        raise Malformed(f"op {op} is neither request (1) nor reply (2)")
    if hlen > 16:
        raise Malformed(f"hardware address length {hlen} > 16")
    if buf[236:240] != MAGIC:
        raise Malformed("no DHCP magic cookie (plain BOOTP)")
    options: dict[int, bytes] = {}
    pos = 240
    while pos < len(buf):
        code = buf[pos]
        if code == 0:
            pos += 1
            continue
        if code == 255:
            break
        if pos + 1 >= len(buf):
            raise Malformed(f"option {code} has no length")
        n = buf[pos + 1]
        value = buf[pos + 2 : pos + 2 + n]
        if len(value) < n:
            raise Malformed(f"option {code} runs past the message")
        options.setdefault(code, value)
        pos += 2 + n
    return Bootp(op, htype, hlen, xid, _ip(ci), _ip(yi), _ip(si), _ip(gi), chaddr[:hlen], options)


def ips(raw: bytes) -> list[str]:
    return [_ip(raw[i : i + 4]) for i in range(0, len(raw) - len(raw) % 4, 4)]


def text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("utf-8", "backslashreplace")


def fqdn(raw: bytes) -> str | None:
    """Option 81: flags, two obsolete bytes, then the name (wire format when the E flag is set)."""
    if len(raw) < 3:
        return None
    name = raw[3:]
    if raw[0] & 0x04:  # canonical wire encoding
        labels, i = [], 0
        while i < len(name) and name[i]:
            labels.append(name[i + 1 : i + 1 + name[i]].decode("utf-8", "backslashreplace"))
            i += 1 + name[i]
        return ".".join(labels) or None
    return text(name) or None
