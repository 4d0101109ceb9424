"""Packet builders: Ethernet (802.1Q/802.1ad), Linux cooked capture, IPv4, IPv6, TCP, UDP.

Every builder returns finished bytes with lengths and checksums filled in, i.e. what a
real stack would have put on the wire. Addresses may be strings or `ipaddress` objects;
parsed strings are cached, so hot loops can pass strings without paying for parsing.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from collections.abc import Sequence
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Address = str | IPAddress

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
TPID_8021Q = 0x8100  # customer VLAN tag (IEEE 802.1Q)
TPID_8021AD = 0x88A8  # service VLAN tag, the outer tag of QinQ (IEEE 802.1ad)

IPPROTO_HOPOPTS = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_DSTOPTS = 60

ARPHRD_ETHER = 1

_IPV4_HEADER = struct.Struct(">BBHHHBBH4s4s")
_IPV6_HEADER = struct.Struct(">IHBB16s16s")
_TCP_HEADER = struct.Struct(">HHIIHHHH")
_UDP_HEADER = struct.Struct(">HHHH")
_SLL_HEADER = struct.Struct(">HHH8sH")
_SLL2_HEADER = struct.Struct(">HHIHBB8s")

# RFC 9293 §3.1: control bits in the low byte of the offset/flags word.
_TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}


# --- helpers -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse_ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def ip_address(value: Address) -> IPAddress:
    """`value` as an `ipaddress` object (strings are parsed once and cached)."""
    if isinstance(value, str):
        return _parse_ip(value)
    return value


@functools.lru_cache(maxsize=1024)
def mac_bytes(mac: str) -> bytes:
    """'02:00:00:00:00:01' (or with '-' separators) → 6 bytes."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


def internet_checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 checksum of `data`, zero-padded to an even length.

    `initial` is added to the sum as a plain integer (pseudo-header words). The
    ones'-complement sum of 16-bit words is congruent to the big integer modulo 0xFFFF
    (2**16 ≡ 1), which lets Python's C big-int code do the per-word work. A buffer
    that checksums itself (checksum field filled in) yields 0.
    """
    if len(data) & 1:
        data += b"\x00"
    total = int.from_bytes(data, "big") + initial
    if total == 0:
        return 0xFFFF
    residue = total % 0xFFFF
    # A non-zero ones'-complement sum is never +0, so residue 0 means the sum is 0xFFFF.
    return 0xFFFF - residue if residue else 0


def _pseudo_header_sum(src: IPAddress, dst: IPAddress, proto: int, length: int) -> int:
    # RFC 9293 §3.1 (IPv4) / RFC 8200 §8.1 (IPv6) pseudo-header; each field's words sum
    # to the field's integer value modulo 0xFFFF, so no bytes need to be built.
    if src.version != dst.version:
        raise ValueError(f"address families differ: {src} / {dst}")
    return int(src) + int(dst) + proto + length


@functools.lru_cache(maxsize=256)
def tcp_flag_bits(flags: str) -> int:
    """'SA' → 0x12. Letters: F S R P A U E C (RFC 9293 §3.1, RFC 3168)."""
    bits = 0
    for letter in flags.upper():
        try:
            bits |= _TCP_FLAG_BITS[letter]
        except KeyError:
            raise ValueError(f"unknown TCP flag {letter!r} in {flags!r}") from None
    return bits


# --- link layers ---------------------------------------------------------------------


def ethernet(
    payload: bytes,
    *,
    src: str = "02:00:00:00:00:01",
    dst: str = "02:00:00:00:00:02",
    ethertype: int = ETHERTYPE_IPV4,
    vlans: Sequence[int] = (),
) -> bytes:
    """Ethernet II frame (no FCS). `vlans` lists VLAN ids outermost first; with two or
    more tags the outer one is an 802.1ad S-tag (TPID 0x88A8), the rest 802.1Q C-tags."""
    tags = b""
    for index, vid in enumerate(vlans):
        if not 0 <= vid <= 0x0FFF:
            raise ValueError(f"VLAN id out of range: {vid}")
        tpid = TPID_8021AD if index == 0 and len(vlans) >= 2 else TPID_8021Q
        tags += struct.pack(">HH", tpid, vid)  # TCI: PCP 0, DEI 0, VID
    return mac_bytes(dst) + mac_bytes(src) + tags + ethertype.to_bytes(2, "big") + payload


def sll(
    payload: bytes,
    *,
    protocol: int = ETHERTYPE_IPV4,
    packet_type: int = 0,
    addr: str = "02:00:00:00:00:01",
    arphrd: int = ARPHRD_ETHER,
) -> bytes:
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL = 113): packet type, ARPHRD type,
    address length, 8-byte address field, protocol. `packet_type` 0 = to us, 4 = outgoing."""
    raw = mac_bytes(addr)
    return _SLL_HEADER.pack(packet_type, arphrd, len(raw), raw, protocol) + payload


def sll2(
    payload: bytes,
    *,
    protocol: int = ETHERTYPE_IPV4,
    ifindex: int = 1,
    packet_type: int = 0,
    addr: str = "02:00:00:00:00:01",
    arphrd: int = ARPHRD_ETHER,
) -> bytes:
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2 = 276): protocol, reserved,
    interface index, ARPHRD type, packet type, address length, 8-byte address field."""
    raw = mac_bytes(addr)
    return _SLL2_HEADER.pack(protocol, 0, ifindex, arphrd, packet_type, len(raw), raw) + payload


# --- IPv4 ----------------------------------------------------------------------------


def ipv4(
    src: Address,
    dst: Address,
    proto: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
    flags_df: bool = False,
    more_fragments: bool = False,
    frag_offset: int = 0,
) -> bytes:
    """IPv4 packet without options (RFC 791 §3.1). `frag_offset` is in bytes."""
    if frag_offset % 8:
        raise ValueError(f"fragment offset must be a multiple of 8 bytes: {frag_offset}")
    source, destination = ip_address(src), ip_address(dst)
    flags_fragment = (0x4000 if flags_df else 0) | (0x2000 if more_fragments else 0) | (frag_offset >> 3)
    length, ident = 20 + len(payload), ident & 0xFFFF
    # Header checksum from the field values: each field's 16-bit words sum to its value
    # modulo 0xFFFF (version/IHL/TOS = 0x4500, TTL/protocol share a word).
    residue = (0x4500 + length + ident + flags_fragment + (ttl << 8 | proto)
               + int(source) + int(destination)) % 0xFFFF
    checksum = 0xFFFF - residue if residue else 0
    return _IPV4_HEADER.pack(0x45, 0, length, ident, flags_fragment, ttl, proto, checksum,
                             source.packed, destination.packed) + payload


def ipv4_fragments(
    src: Address, dst: Address, proto: int, payload: bytes, *, fragment_size: int, ident: int, ttl: int = 64
) -> list[bytes]:
    """Split a transport segment into IPv4 fragments of `fragment_size` payload bytes
    (a multiple of 8, RFC 791 §2.3), in offset order."""
    if fragment_size <= 0 or fragment_size % 8:
        raise ValueError(f"fragment size must be a positive multiple of 8: {fragment_size}")
    return [
        ipv4(src, dst, proto, payload[offset : offset + fragment_size], ident=ident, ttl=ttl,
             more_fragments=offset + fragment_size < len(payload), frag_offset=offset)
        for offset in range(0, len(payload), fragment_size)
    ]


# --- IPv6 and its extension headers --------------------------------------------------


class ExtHeader(NamedTuple):
    """An IPv6 extension header: `kind` is the Next Header value that names it, `body`
    everything after its own Next Header octet (ipv6() fills that octet when chaining)."""

    kind: int
    body: bytes


def _options_header(kind: int, options: bytes) -> ExtHeader:
    # RFC 8200 §4.2-4.3: the header is a multiple of 8 octets; pad with Pad1 / PadN options.
    pad = -(2 + len(options)) % 8
    if pad == 1:
        options += b"\x00"
    elif pad:
        options += bytes((1, pad - 2)) + bytes(pad - 2)
    return ExtHeader(kind, bytes(((2 + len(options)) // 8 - 1,)) + options)


def hop_by_hop(options: bytes = b"") -> ExtHeader:
    """Hop-by-Hop Options header (RFC 8200 §4.3); `options` are TLV-encoded, padding added."""
    return _options_header(IPPROTO_HOPOPTS, options)


def destination_options(options: bytes = b"") -> ExtHeader:
    """Destination Options header (RFC 8200 §4.6); `options` are TLV-encoded, padding added."""
    return _options_header(IPPROTO_DSTOPTS, options)


def routing_header(segments: Sequence[Address], *, segments_left: int = 0) -> ExtHeader:
    """Segment Routing Header, routing type 4 (RFC 8754 §2). `segments[0]` is the final
    destination; with `segments_left=0` the packet is already there, so the IPv6
    destination (and the upper-layer pseudo-header) is `segments[0]`."""
    if not segments:
        raise ValueError("a segment routing header needs at least one segment")
    packed = b"".join(ip_address(s).packed for s in segments)
    # Hdr Ext Len, Routing Type 4, Segments Left, Last Entry, Flags, Tag
    fixed = struct.pack(">BBBBBH", 2 * len(segments), 4, segments_left, len(segments) - 1, 0, 0)
    return ExtHeader(IPPROTO_ROUTING, fixed + packed)


def fragment_header(*, offset: int = 0, more: bool = False, ident: int = 0) -> ExtHeader:
    """Fragment header (RFC 8200 §4.5); `offset` in bytes (multiple of 8). offset 0 with
    more=False is an atomic fragment (RFC 6946)."""
    if offset % 8:
        raise ValueError(f"fragment offset must be a multiple of 8 bytes: {offset}")
    return ExtHeader(IPPROTO_FRAGMENT, struct.pack(">BHI", 0, offset | int(more), ident))


def ipv6(
    src: Address,
    dst: Address,
    next_header: int,
    payload: bytes,
    *,
    ext_headers: Sequence[ExtHeader] = (),
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """IPv6 packet (RFC 8200 §3) with `ext_headers` chained in order before `payload`,
    whose protocol is `next_header`."""
    chain = b"".join(
        bytes((ext_headers[i + 1].kind if i + 1 < len(ext_headers) else next_header,)) + header.body
        for i, header in enumerate(ext_headers)
    )
    first = ext_headers[0].kind if ext_headers else next_header
    version_class_flow = 6 << 28 | (traffic_class & 0xFF) << 20 | (flow_label & 0xFFFFF)
    header = _IPV6_HEADER.pack(version_class_flow, len(chain) + len(payload), first, hop_limit,
                               ip_address(src).packed, ip_address(dst).packed)
    return header + chain + payload


def ipv6_fragments(
    src: Address,
    dst: Address,
    next_header: int,
    payload: bytes,
    *,
    fragment_size: int,
    ident: int,
    ext_headers: Sequence[ExtHeader] = (),
    hop_limit: int = 64,
) -> list[bytes]:
    """Split `payload` into IPv6 fragments (RFC 8200 §4.5) of `fragment_size` bytes (a
    multiple of 8), in offset order. `ext_headers` form the unfragmentable part and are
    repeated in every fragment, before the Fragment header."""
    if fragment_size <= 0 or fragment_size % 8:
        raise ValueError(f"fragment size must be a positive multiple of 8: {fragment_size}")
    return [
        ipv6(src, dst, next_header, payload[offset : offset + fragment_size], hop_limit=hop_limit,
             ext_headers=[*ext_headers, fragment_header(offset=offset, more=offset + fragment_size < len(payload),
                                                        ident=ident)])
        for offset in range(0, len(payload), fragment_size)
    ]


def ip(src: Address, dst: Address, proto: int, payload: bytes, **options: object) -> bytes:
    """ipv4() or ipv6() according to the address family of `src`."""
    if ip_address(src).version == 4:
        return ipv4(src, dst, proto, payload, **options)  # type: ignore[arg-type]
    return ipv6(src, dst, proto, payload, **options)  # type: ignore[arg-type]


# --- transport -----------------------------------------------------------------------


def tcp(
    src_ip: Address,
    dst_ip: Address,
    sport: int,
    dport: int,
    *,
    seq: int,
    ack: int = 0,
    flags: str = "A",
    payload: bytes = b"",
    window: int = 65535,
    options: bytes = b"",
) -> bytes:
    """TCP segment (RFC 9293 §3.1) with its checksum over the IPv4 or IPv6 pseudo-header.
    `options` is raw option bytes, padded with End-of-Option-List to 32 bits."""
    if options:
        options += bytes(-len(options) % 4)
    offset_flags = (5 + len(options) // 4) << 12 | tcp_flag_bits(flags)
    header = _TCP_HEADER.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset_flags, window, 0, 0) + options
    length = len(header) + len(payload)
    pseudo = _pseudo_header_sum(ip_address(src_ip), ip_address(dst_ip), IPPROTO_TCP, length)
    checksum = internet_checksum(header + payload, pseudo)
    return header[:16] + checksum.to_bytes(2, "big") + header[18:] + payload


def udp(src_ip: Address, dst_ip: Address, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP datagram (RFC 768) with its checksum over the IPv4 or IPv6 pseudo-header."""
    length = 8 + len(payload)
    pseudo = _pseudo_header_sum(ip_address(src_ip), ip_address(dst_ip), IPPROTO_UDP, length)
    checksum = internet_checksum(_UDP_HEADER.pack(sport, dport, length, 0) + payload, pseudo)
    # A computed 0 is sent as 0xFFFF: 0 means "no checksum" in UDP (RFC 768, RFC 8200 §8.1).
    return _UDP_HEADER.pack(sport, dport, length, checksum or 0xFFFF) + payload
