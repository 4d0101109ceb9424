"""Raw frames → IP datagrams → TCP/UDP segments, or layer-2 frames of the EtherTypes asked for.

Link types: Ethernet (802.1Q / QinQ tags), Linux cooked v1 and v2, raw IPv4/IPv6, BSD loopback.
IPv4 fragments are reassembled (bounded); IPv6 extension headers are walked, fragments included.
Everything here is a pure function of the bytes except `Defragmenter`, which is bounded state.
"""

from __future__ import annotations

from struct import Struct
from typing import Final, NamedTuple

ETH_IPV4: Final = 0x0800
ETH_IPV6: Final = 0x86DD
VLAN_TPIDS: Final = frozenset((0x8100, 0x88A8, 0x9100))
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17
# The "protocol" of a layer-2 stream (a frame whose EtherType a decoder declared): not an IP
# protocol number, so it never meets a TCP/UDP flow's key.
ETHER: Final = 0x100
IPV6_EXT: Final = frozenset((0, 43, 60, 51, 135, 139, 140))  # hop-by-hop, routing, dst-opts, AH, ...

_u16: Final = Struct("!H").unpack_from
_ETH: Final = Struct("!6s6sH")
_IPV4: Final = Struct("!BBHHHBBH4s4s")
_TCP: Final = Struct("!HHIIBB")
_UDP: Final = Struct("!HHH")


class LinkFrame(NamedTuple):
    """The network-layer payload of a frame, with what the link layer said about it."""

    ethertype: int
    payload: bytes
    src_mac: bytes | None
    dst_mac: bytes | None
    vlan: int | None


def link_frame(linktype: int, data: bytes) -> LinkFrame | None:
    """Strip the link layer. None for link types we do not read or frames too short to hold it."""
    if linktype == 1:  # Ethernet
        if len(data) < 14:
            return None
        dst, src, etype = _ETH.unpack_from(data)
        return _untagged(etype, data, 14, src, dst)
    if linktype == 113:  # Linux cooked v1: protocol is the last field of a 16-byte header
        if len(data) < 16:
            return None
        return _untagged(_u16(data, 14)[0], data, 16, _sll_addr(data[4:6], data[6:14]), None)
    if linktype == 276:  # Linux cooked v2: protocol first, 20-byte header
        if len(data) < 20:
            return None
        return _untagged(_u16(data, 0)[0], data, 20, _sll_addr(data[11:12], data[12:20]), None)
    if linktype in (101, 12, 14, 228, 229):  # raw IP: the version nibble decides
        if not data:
            return None
        return LinkFrame(ETH_IPV6 if data[0] >> 4 == 6 else ETH_IPV4, data, None, None, None)
    if linktype in (0, 108):  # BSD loopback: 4-byte address family (host order for 0)
        if len(data) < 4:
            return None
        family = int.from_bytes(data[:4], "big" if linktype == 108 else "little")
        if family > 0xFFFF:
            family = int.from_bytes(data[:4], "big")
        return LinkFrame(ETH_IPV4 if family == 2 else ETH_IPV6, data[4:], None, None, None)
    return None


def _untagged(etype: int, data: bytes, off: int, src: bytes | None,
              dst: bytes | None) -> LinkFrame:  # fmt: skip
    """The frame after its VLAN tags (a cooked capture keeps them when the kernel did not strip
    them); the outermost tag names the VLAN."""
    vlan = None
    while etype in VLAN_TPIDS and len(data) >= off + 4:
        if vlan is None:
            vlan = _u16(data, off)[0] & 0x0FFF
        etype = _u16(data, off + 2)[0]
        off += 4
    return LinkFrame(etype, data[off:], src, dst, vlan)


def _sll_addr(alen: bytes, addr: bytes) -> bytes | None:
    n = alen[0] if len(alen) == 1 else int.from_bytes(alen, "big")
    return addr[:6] if n == 6 else None


class Datagram(NamedTuple):
    """An IP datagram's transport payload (reassembled if it was fragmented)."""

    src: bytes  # 4 or 16 address bytes
    dst: bytes
    proto: int
    payload: bytes
    missing: int = 0  # payload bytes on the wire but cut off by the capture's snap length


class Defragmenter:
    """IPv4/IPv6 fragment reassembly with a cap on datagrams in progress and an age limit.

    `evicted` counts datagrams given up (too many in progress, too old, or inconsistent).
    """

    def __init__(self, max_pending: int = 4096, timeout_ns: int = 30_000_000_000) -> None:
        self.max_pending, self.timeout_ns = max_pending, timeout_ns
        self.pending: dict[tuple, tuple[int, dict[int, bytes], int | None]] = {}
        self.evicted = 0

    def add(self, key: tuple, ts_ns: int, offset: int, more: bool, data: bytes) -> bytes | None:
        first_ts, parts, total = self.pending.get(key) or (ts_ns, {}, None)
        if ts_ns - first_ts > self.timeout_ns:
            self.evicted += 1
            first_ts, parts, total = ts_ns, {}, None
        parts.setdefault(offset, data)  # first copy wins, as the receiving host would keep it
        if not more:
            total = offset + len(data)
        if total is not None:
            whole, at = [], 0
            for off in sorted(parts):
                if off > at:
                    break
                whole.append(parts[off][at - off :])
                at = max(at, off + len(parts[off]))
            if at >= total:
                self.pending.pop(key, None)
                return b"".join(whole)[:total]
        if key not in self.pending and len(self.pending) >= self.max_pending:
            self._evict(ts_ns)
        self.pending[key] = (first_ts, parts, total)
        return None

    def _evict(self, now: int) -> None:
        old = [k for k, v in self.pending.items() if now - v[0] > self.timeout_ns]
        for k in old or list(self.pending)[: max(1, len(self.pending) // 8)]:
            del self.pending[k]
            self.evicted += 1


def ip_datagram(etype: int, pkt: bytes, ts_ns: int, defrag: Defragmenter) -> Datagram | None:
    """Parse an IPv4/IPv6 packet; None if it is not IP, is malformed, or is an incomplete fragment."""
    if etype == ETH_IPV4:
        if len(pkt) < 20:
            return None
        vihl, _, total, ident, frag, _, proto, _, src, dst = _IPV4.unpack_from(pkt)
        hlen = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or hlen < 20 or total < hlen:
            return None
        payload = pkt[hlen:total]  # drops Ethernet padding; a snapped packet keeps what it has
        if frag & 0x3FFF:  # MF set or offset non-zero
            whole = defrag.add((src, dst, proto, ident), ts_ns, (frag & 0x1FFF) * 8,
                               bool(frag & 0x2000), payload)  # fmt: skip
            return None if whole is None else Datagram(src, dst, proto, whole)
        return Datagram(src, dst, proto, payload, total - hlen - len(payload))
    if etype == ETH_IPV6:
        if len(pkt) < 40 or pkt[0] >> 4 != 6:
            return None
        nh, src, dst, length = pkt[6], pkt[8:24], pkt[24:40], _u16(pkt, 4)[0]
        payload = pkt[40 : 40 + length]
        missing = length - len(payload)
        frag_info = None
        while nh in IPV6_EXT or nh == 44:
            if len(payload) < 8:
                return None
            if nh == 44:  # fragment header: offset in 8-byte units, M flag, 32-bit id
                word = _u16(payload, 2)[0]
                frag_info = (word & 0xFFF8, bool(word & 1), payload[4:8])
                nh, payload = payload[0], payload[8:]
                continue
            size = (payload[1] + 2) * 4 if nh == 51 else (payload[1] + 1) * 8
            nh, payload = payload[0], payload[size:]
        if frag_info is not None:
            offset, more, ident = frag_info
            whole = defrag.add((src, dst, nh, ident), ts_ns, offset, more, payload)
            return None if whole is None else Datagram(src, dst, nh, whole)
        return Datagram(src, dst, nh, payload, missing)
    return None


class Segment(NamedTuple):
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int  # FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10
    payload: bytes


FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10


def tcp_segment(payload: bytes) -> Segment | None:
    if len(payload) < 20:
        return None
    sport, dport, seq, ack, off, flags = _TCP.unpack_from(payload)
    hlen = (off >> 4) * 4
    if hlen < 20 or hlen > len(payload):
        return None
    return Segment(sport, dport, seq, ack, flags, payload[hlen:])


def udp_datagram(payload: bytes) -> tuple[int, int, bytes] | None:
    if len(payload) < 8:
        return None
    sport, dport, length = _UDP.unpack_from(payload)
    return sport, dport, payload[8 : length if length >= 8 else None]


# (proto, src, sport, dst, dport, seq, flags, payload, missing, src_mac, dst_mac, vlan); seq and
# flags are 0 for UDP; `missing` counts payload bytes the snap length cut off. A plain tuple: one
# is made per packet. A layer-2 frame (proto ETHER) has its MACs (b"" where the link layer does
# not say) as src/dst and `l2_tag(ethertype, vlan)` as both ports, so that the flow table keys
# it by (MACs, EtherType, VLAN) like any flow and both directions meet in one flow.
Transport = tuple[int, bytes, int, bytes, int, int, int, bytes, int, bytes | None, bytes | None,
                  int | None]  # fmt: skip


def _snapped(missing: int, data: bytes, wire_len: int | None) -> int:
    """Payload bytes the headers announce but the frame lacks, counted only as far as the
    capture snapped the frame (a header may simply lie); without a wire length, trust it."""
    if missing <= 0:
        return 0
    return missing if wire_len is None else max(min(missing, wire_len - len(data)), 0)


# Ethernet II + IPv4 without options + TCP or UDP header, each in one unpack.
_ETH_IPV4_TCP: Final = Struct("!6s6s4xH2xHxB2x4s4sHHI4xBB")
_ETH_IPV4_UDP: Final = Struct("!6s6s4xH2xH4x4s4sHHH")


def l2_tag(ethertype: int, vlan: int | None) -> int:
    """The port number of a layer-2 stream: its EtherType and VLAN (none and 0 differ)."""
    return (0 if vlan is None else vlan + 1) << 16 | ethertype


def l2_ethertype(tag: int) -> int:
    return tag & 0xFFFF


_NO_ETHERTYPES: frozenset[int] = frozenset()


def flow_bytes(linktype: int, data: bytes, ethertypes: frozenset[int], start: int = 0,
               end: int = -1) -> bytes | None:  # fmt: skip
    """The bytes that alone decide which flow an Ethernet frame of a common kind belongs to —
    IPv4 without options or fragmentation carrying TCP or UDP (protocol, addresses, ports), or a
    frame of one of the `ethertypes` (its header: MACs, any VLAN tag, EtherType) — or None.
    Frames with equal such bytes dissect to the same flow, so a sensor that decodes only some
    flows can pass over another's frames without dissecting them. The frame is
    `data[start:end]` (to its end when `end` is -1): a reader need not copy it out first."""
    if end < 0:
        end = len(data)
    size = end - start
    if linktype != 1 or size < 14:
        return None
    etype = data[start + 12] << 8 | data[start + 13]
    if etype == ETH_IPV4:
        if size < 54 or data[start + 14] != 0x45 or data[start + 20] & 0x3F or data[start + 21]:
            return None
        proto = data[start + 23]
        if proto != 6 and proto != 17:
            return None
        return data[start + 23 : start + 24] + data[start + 26 : start + 38]
    if etype == 0x8100:  # (layer-2 frames may be short: DCP and GOOSE are often unpadded)
        tagged = size >= 18 and (data[start + 16] << 8 | data[start + 17]) in ethertypes
        return data[start : start + 18] if tagged else None
    return data[start : start + 14] if etype in ethertypes else None


class Passover:
    """The frames a sharded sensor passes over: those of flows another shard decodes, known by
    their `flow_bytes` (at most `limit` flows; forgotten all at once beyond). The capture reader
    asks `skip` before it copies a frame out of its buffer, and counts what it skipped here."""

    def __init__(self, ethertypes: frozenset[int], limit: int) -> None:
        self.keys: set[bytes] = set()
        self.ethertypes, self.limit = ethertypes, limit
        self.last_frame = self.last_ts = self.bytes = 0  # of the frames skipped

    def add(self, key: bytes) -> None:
        if len(self.keys) >= self.limit:
            self.keys.clear()
        self.keys.add(key)

    def skip(self, frame: int, ts_ns: int, linktype: int, buf: bytes, start: int, end: int) -> bool:
        """Whether frame `frame`, `buf[start:end]`, belongs to another shard's flow."""
        if not self.keys:
            return False
        key = flow_bytes(linktype, buf, self.ethertypes, start, end)
        if key is None or key not in self.keys:
            return False
        self.last_frame, self.last_ts = frame, ts_ns
        self.bytes += end - start
        return True


def dissect(linktype: int, data: bytes, ts_ns: int, defrag: Defragmenter,
            wire_len: int | None = None,
            ethertypes: frozenset[int] = _NO_ETHERTYPES) -> Transport | None:  # fmt: skip
    """A frame's TCP or UDP payload with its addressing, or for a frame of one of `ethertypes`
    (after any VLAN tags) its layer-2 payload (Ethernet padding included); None for anything
    else. `wire_len` is the frame's length on the wire: payload counts as cut off only where the
    capture snapped the frame, not where a header merely claims more than there is."""
    if linktype == 1 and len(data) >= 42 and data[12:15] == b"\x08\x00\x45":
        # the common cases by far, each in one unpack; anything unusual takes the general path
        if data[23] == IPPROTO_TCP and len(data) >= 54:
            dst_mac, src_mac, total, frag, proto, src, dst, sport, dport, seq, off, flags = \
                _ETH_IPV4_TCP.unpack_from(data)  # fmt: skip
            thl = (off >> 4) * 4
            if not frag & 0x3FFF and thl >= 20 and total >= 20 + thl:
                payload = data[34 + thl : 14 + total]
                missing = total - 20 - thl - len(payload)
                if missing:
                    missing = _snapped(missing, data, wire_len)
                return (IPPROTO_TCP, src, sport, dst, dport, seq, flags, payload, missing, src_mac,
                        dst_mac, None)  # fmt: skip
        elif data[23] == IPPROTO_UDP:
            dst_mac, src_mac, total, frag, src, dst, sport, dport, length = \
                _ETH_IPV4_UDP.unpack_from(data)  # fmt: skip
            if not frag & 0x3FFF and total >= 28:
                # as ip_datagram + udp_datagram: the UDP length bounds the payload when it is sane
                payload = data[42 : 14 + (total if length < 8 else min(total, 20 + length))]
                missing = 14 + total - len(data)
                return (IPPROTO_UDP, src, sport, dst, dport, 0, 0, payload,
                        _snapped(missing, data, wire_len) if missing > 0 else 0, src_mac, dst_mac,
                        None)  # fmt: skip
    if ethertypes and linktype == 1 and len(data) >= 14:  # a layer-2 frame asked for
        etype, off, vlan = data[12] << 8 | data[13], 14, None
        if etype == 0x8100 and len(data) >= 18:  # one 802.1Q tag (process bus VLANs)
            etype, off, vlan = data[16] << 8 | data[17], 18, (data[14] << 8 | data[15]) & 0x0FFF
        if etype in ethertypes:
            tag = (0 if vlan is None else vlan + 1) << 16 | etype  # l2_tag, inline
            src_mac, dst_mac = data[6:12], data[:6]
            return (ETHER, src_mac, tag, dst_mac, tag, 0, 0, data[off:],
                    0 if wire_len is None else max(wire_len - len(data), 0), src_mac, dst_mac,
                    vlan)  # fmt: skip
    lf = link_frame(linktype, data)
    if lf is None:
        return None
    if lf.ethertype in ethertypes:
        tag = l2_tag(lf.ethertype, lf.vlan)
        missing = 0 if wire_len is None else max(wire_len - len(data), 0)
        return (ETHER, lf.src_mac or b"", tag, lf.dst_mac or b"", tag, 0, 0, lf.payload, missing,
                lf.src_mac, lf.dst_mac, lf.vlan)  # fmt: skip
    dg = ip_datagram(lf.ethertype, lf.payload, ts_ns, defrag)
    if dg is None:
        return None
    if dg.proto == IPPROTO_TCP:
        seg = tcp_segment(dg.payload)
        if seg is not None:
            return (IPPROTO_TCP, dg.src, seg.sport, dg.dst, seg.dport, seg.seq, seg.flags,
                    seg.payload, _snapped(dg.missing, data, wire_len), lf.src_mac, lf.dst_mac,
                    lf.vlan)  # fmt: skip
    elif dg.proto == IPPROTO_UDP:
        u = udp_datagram(dg.payload)
        if u is not None:
            return (IPPROTO_UDP, dg.src, u[0], dg.dst, u[1], 0, 0, u[2],
                    _snapped(dg.missing, data, wire_len), lf.src_mac, lf.dst_mac, lf.vlan)  # fmt: skip
    return None
