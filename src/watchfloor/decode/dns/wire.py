"""DNS messages (RFC 1035 §4; the same format carries mDNS, RFC 6762, and LLMNR, RFC 4795):
bytes → header, questions, resource records. Pure; raises only NeedMoreData / Malformed."""

from __future__ import annotations

import socket
from struct import Struct
from typing import NamedTuple

from .._contract import Malformed, NeedMoreData

_HEADER = Struct("!HHHHHH")
_QTAIL = Struct("!HH")
_RRTAIL = Struct("!HHIH")
MAX_POINTERS = 64  # compression pointers followed for one name (loops are malformed)
MAX_RECORDS = 256  # records decoded per section; more are counted, not kept

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
         28: "AAAA", 33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC",
         48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 251: "IXFR", 252: "AXFR", 255: "ANY"}  # fmt: skip
CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}  # fmt: skip
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}


class Header(NamedTuple):
    id: int
    flags: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int

    @property
    def response(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    def flag_names(self) -> list[str]:
        f = self.flags
        return [n for bit, n in ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"),
                                 (0x0020, "AD"), (0x0010, "CD")) if f & bit]  # fmt: skip


class Question(NamedTuple):
    name: str
    type: int
    klass: int  # the top bit is mDNS's unicast-response flag


class Record(NamedTuple):
    name: str
    type: int
    klass: int  # the top bit is mDNS's cache-flush flag
    ttl: int
    data: str | None  # decoded for A, AAAA, PTR, CNAME, NS, TXT, SRV target; else None


class Message(NamedTuple):
    header: Header
    questions: list[Question]
    answers: list[Record]
    additional: list[Record]  # authority and additional sections


def name_at(buf: bytes, pos: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at `pos`: (text, position after it in place)."""
    labels: list[str] = []
    end = -1
    jumps = 0
    total = 0
    while True:
        if pos >= len(buf):
            raise Malformed("name runs past the message")
        n = buf[pos]
        if n == 0:
            pos += 1
            break
        kind = n & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(buf):
                raise Malformed("truncated compression pointer")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise Malformed("compression pointer loop")
            if end < 0:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | buf[pos + 1]
            continue
        if kind:
            raise Malformed(f"unsupported label type {kind:#x}")
        label = buf[pos + 1 : pos + 1 + n]
        if len(label) < n:
            raise Malformed("label runs past the message")
        total += n + 1
        if total > 255:
            raise Malformed("name longer than 255 bytes")
        labels.append(label.decode("utf-8", "backslashreplace").replace(".", "\\."))
        pos += 1 + n
    return ".".join(labels) or "<Root>", end if end >= 0 else pos


def _rdata(buf: bytes, pos: int, rtype: int, n: int) -> str | None:
    raw = buf[pos : pos + n]
    if rtype == 1 and n == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if rtype == 28 and n == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if rtype in (2, 5, 12):
        return name_at(buf, pos)[0]
    if rtype == 32 and n >= 6:  # NetBIOS NB: flags, then the name's (first) IPv4 address
        return socket.inet_ntop(socket.AF_INET, raw[2:6])
    if rtype == 33 and n >= 7:
        return name_at(buf, pos + 6)[0]
    if rtype == 16:
        out, i = [], 0
        while i < n:
            ln = raw[i]
            out.append(raw[i + 1 : i + 1 + ln].decode("utf-8", "backslashreplace"))
            i += 1 + ln
        return " ".join(out)
    return None


def netbios_name(encoded: str) -> tuple[str, int] | None:
    """A NetBIOS name's first-level encoding (RFC 1001 §14.1; "EEEFFDEF..." 32 letters A–P) →
    (name without padding, suffix byte: 0x00 workstation, 0x20 file server, ...); None if not."""
    first = encoded.split(".", 1)[0]
    if len(first) != 32 or not all("A" <= c <= "P" for c in first.upper()):
        return None
    raw = bytes(((ord(a) - 65) << 4) | (ord(b) - 65) for a, b in zip(first.upper()[::2], first.upper()[1::2]))
    return raw[:15].decode("latin-1").rstrip(" \x00"), raw[15]


def parse(buf: bytes) -> Message:
    """One DNS message (a UDP payload)."""
    if len(buf) < 12:
        raise NeedMoreData(12 - len(buf))
    h = Header(*_HEADER.unpack_from(buf))
    pos = 12
    questions: list[Question] = []
    for _ in range(h.qdcount):
        name, pos = name_at(buf, pos)
        if pos + 4 > len(buf):
            raise Malformed("question runs past the message")
        qtype, qclass = _QTAIL.unpack_from(buf, pos)
        pos += 4
        if len(questions) < MAX_RECORDS:
            questions.append(Question(name, qtype, qclass))
    sections: list[list[Record]] = [[], []]
    for i, count in enumerate((h.ancount, h.nscount + h.arcount)):
        out = sections[min(i, 1)]
        for _ in range(count):
            name, pos = name_at(buf, pos)
            if pos + 10 > len(buf):
                raise Malformed("resource record runs past the message")
            rtype, rclass, ttl, rdlen = _RRTAIL.unpack_from(buf, pos)
            pos += 10
            if pos + rdlen > len(buf):
                raise Malformed("record data runs past the message")
            if len(out) < MAX_RECORDS:
                try:
                    data = _rdata(buf, pos, rtype, rdlen)
                except IndexError:
                    raise Malformed("record data cut short") from None
                out.append(Record(name, rtype, rclass, ttl, data))
            pos += rdlen
    return Message(h, questions, sections[0], sections[1])
