"""Link, IP and transport layers, fragment reassembly, and TCP stream reconstruction."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from watchfloor.capture import packets
from watchfloor.capture.packets import (
    Defragmenter,
    ip_datagram,
    link_frame,
    tcp_segment,
    udp_datagram,
)
from watchfloor.capture.tcp import LATE, Gap, TcpStream
from watchfloor.testing import frames

SRC, DST = "192.0.2.10", "198.51.100.20"
SEG = frames.tcp(SRC, DST, 40000, 502, seq=1000, ack=1, flags="PA", payload=b"modbus-bytes")


def _transport(linktype: int, frame: bytes, defrag: Defragmenter | None = None):
    lf = link_frame(linktype, frame)
    assert lf is not None
    dg = ip_datagram(lf.ethertype, lf.payload, 0, defrag or Defragmenter())
    return lf, dg


@pytest.mark.parametrize("vlans", [(), (7,), (100, 200)])
def test_ethernet_with_vlan_tags(vlans: tuple[int, ...]) -> None:
    frame = frames.ethernet(frames.ipv4(SRC, DST, 6, SEG), vlans=vlans, src="02:00:00:00:00:0a")
    lf, dg = _transport(1, frame)
    assert lf.vlan == (vlans[0] if vlans else None)
    assert lf.src_mac == bytes.fromhex("02000000000a")
    assert dg is not None and dg.proto == 6
    seg = tcp_segment(dg.payload)
    assert seg is not None and (seg.sport, seg.dport, seg.seq, seg.payload) == (40000, 502, 1000,
                                                                                 b"modbus-bytes")


def test_ethernet_padding_is_not_payload() -> None:
    short = frames.tcp(SRC, DST, 1, 2, seq=0, flags="A")
    frame = frames.ethernet(frames.ipv4(SRC, DST, 6, short)) + b"\x00" * 6  # pad to 60 bytes
    _, dg = _transport(1, frame)
    assert tcp_segment(dg.payload).payload == b""  # type: ignore[union-attr]


@pytest.mark.parametrize("linktype,wrap", [
    (113, lambda p: frames.sll(p)),
    (276, lambda p: frames.sll2(p)),
    (101, lambda p: p),
])
def test_cooked_and_raw_link_types(linktype: int, wrap) -> None:
    _, dg = _transport(linktype, wrap(frames.ipv4(SRC, DST, 6, SEG)))
    assert dg is not None and tcp_segment(dg.payload).payload == b"modbus-bytes"  # type: ignore[union-attr]


def test_ipv6_extension_headers_and_fragments() -> None:
    a, b = "2001:db8::1", "2001:db8::2"
    seg = frames.tcp(a, b, 40000, 502, seq=5, flags="PA", payload=b"x" * 3000)
    exts = [frames.hop_by_hop(), frames.destination_options(), frames.routing_header([b])]
    _, dg = _transport(101, frames.ipv6(a, b, 6, seg[:0] + seg, ext_headers=exts))
    assert dg is not None and dg.proto == 6 and tcp_segment(dg.payload).payload == b"x" * 3000  # type: ignore[union-attr]
    defrag = Defragmenter()
    parts = frames.ipv6_fragments(a, b, 6, seg, fragment_size=1000, ident=9)
    results = [_transport(101, p, defrag)[1] for p in reversed(parts)]  # last first
    assert results[:-1] == [None] * (len(parts) - 1)
    assert results[-1] is not None and results[-1].payload == seg


def test_ipv4_fragments_reassemble_in_any_order() -> None:
    payload = frames.udp(SRC, DST, 2000, 47808, bytes(range(256)) * 10)
    parts = frames.ipv4_fragments(SRC, DST, 17, payload, fragment_size=512, ident=77)
    random.Random(3).shuffle(parts)
    defrag = Defragmenter()
    done = [dg for p in parts if (dg := _transport(101, p, defrag)[1]) is not None]
    assert len(done) == 1 and udp_datagram(done[0].payload)[2] == bytes(range(256)) * 10  # type: ignore[index]
    assert not defrag.pending


def test_defragmenter_is_bounded() -> None:
    defrag = Defragmenter(max_pending=10)
    for ident in range(100):
        defrag.add((b"a", b"b", 17, ident), 0, 0, True, b"12345678")
    assert len(defrag.pending) <= 10 and defrag.evicted >= 90


@settings(max_examples=500, deadline=None)
@given(linktype=st.sampled_from([0, 1, 12, 101, 108, 113, 228, 229, 276, 999]),
       data=st.binary(max_size=120))
def test_random_frames_never_raise(linktype: int, data: bytes) -> None:
    lf = link_frame(linktype, data)
    if lf is not None:
        dg = ip_datagram(lf.ethertype, lf.payload, 0, Defragmenter())
        if dg is not None:
            tcp_segment(dg.payload)
            udp_datagram(dg.payload)


# -- TCP stream reconstruction ----------------------------------------------------------------
def test_stream_in_order_and_retransmission() -> None:
    s = TcpStream()
    s.syn(99)
    assert s.add(100, b"abc") == [b"abc"]
    assert s.add(100, b"abc") == []  # retransmission
    assert s.retransmitted == 1
    assert s.add(101, b"bcdef") == [b"def"]  # overlap carrying new bytes: only the new ones


def test_stream_gap_then_late_fill_is_fenced() -> None:
    s = TcpStream()
    assert s.add(0, b"aa") == [b"aa"]  # mid-stream start
    assert s.add(4, b"cc") == [Gap(2, "lost"), b"cc"]  # two bytes never seen
    assert s.add(2, b"bb") == [LATE, b"bb", LATE]  # they turn up late: delivered between fences
    assert s.add(2, b"bb") == []
    assert s.add(6, b"dd") == [b"dd"]


def test_snapped_segment_is_delivered_then_a_gap_a_retransmission_can_fill() -> None:
    s = TcpStream()
    s.syn(99)
    assert s.add(100, b"abc", missing=5) == [b"abc", Gap(5, "snaplen")]
    assert s.add(108, b"next") == [b"next"]
    assert s.add(100, b"abcdefgh") == [LATE, b"defgh", LATE]  # the full copy fills the hole


def test_snap_length_is_reported_as_missing_payload() -> None:
    from watchfloor.capture.packets import dissect

    seg = frames.tcp(SRC, DST, 40000, 502, seq=1, flags="PA", payload=bytes(200))
    frame = frames.ethernet(frames.ipv4(SRC, DST, 6, seg))
    t = dissect(1, frame[:96], 0, Defragmenter(), len(frame))
    assert t is not None and len(t[7]) == 96 - 54 and t[8] == 200 - (96 - 54)
    # the same bytes captured whole (wire length = captured): a header claiming more is no snap
    t = dissect(1, frame[:96], 0, Defragmenter(), 96)
    assert t is not None and t[8] == 0


def test_stream_sequence_wraparound() -> None:
    s = TcpStream()
    s.syn(0xFFFFFFFE)
    assert s.add(0xFFFFFFFF, b"ab") == [b"ab"]
    assert s.add(1, b"cd") == [b"cd"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), min_size=1, max_size=30))
def test_stream_delivers_each_byte_at_most_once(segments: list[tuple[int, int]]) -> None:
    stream = bytes(range(100))
    s = TcpStream()
    s.syn(-1 & 0xFFFFFFFF)
    got = bytearray()
    for off, n in segments:
        for chunk in s.add(off, stream[off : off + n]):
            if isinstance(chunk, bytes):
                got += chunk
    assert len(got) == len(set(got))  # every byte value is unique in `stream`


@settings(max_examples=300, deadline=None)
@given(sport=st.integers(0, 65535), dport=st.integers(0, 65535), seq=st.integers(0, 2**32 - 1),
       flags=st.sampled_from(["S", "SA", "A", "PA", "FA", "R"]), payload=st.binary(max_size=64),
       pad=st.binary(max_size=10))
def test_fast_path_agrees_with_the_layered_parsers(sport: int, dport: int, seq: int, flags: str,
                                                   payload: bytes, pad: bytes) -> None:
    from watchfloor.capture.packets import dissect

    seg = frames.tcp(SRC, DST, sport, dport, seq=seq, flags=flags, payload=payload)
    frame = frames.ethernet(frames.ipv4(SRC, DST, 6, seg)) + pad  # trailing Ethernet padding
    lf, dg = _transport(1, frame)
    s = tcp_segment(dg.payload)  # type: ignore[union-attr]
    layered = (6, dg.src, s.sport, dg.dst, s.dport, s.seq, s.flags, s.payload,  # type: ignore[union-attr]
               dg.missing, lf.src_mac, lf.dst_mac, lf.vlan)  # type: ignore[union-attr]
    assert dissect(1, frame, 0, Defragmenter()) == layered
    assert layered[7] == payload


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=64), pad=st.binary(max_size=10), udp_len=st.integers(0, 100) | st.none(),
       snap=st.integers(0, 40), vlan=st.integers(0, 4095) | st.none())
def test_udp_and_layer2_fast_paths_agree_with_the_layered_parsers(payload: bytes, pad: bytes,
                                                                 udp_len: int | None, snap: int,
                                                                 vlan: int | None) -> None:  # fmt: skip
    """Untagged UDP/IPv4 and layer-2 frames with at most one 802.1Q tag are dissected in one
    step; with a lying UDP length, padding or a snapped frame the result must be the layered one."""
    from watchfloor.capture.packets import ETHER, dissect, l2_tag

    dgram = bytearray(frames.udp(SRC, DST, 47808, 47809, payload))
    if udp_len is not None:
        dgram[4:6] = udp_len.to_bytes(2, "big")
    frame = frames.ethernet(frames.ipv4(SRC, DST, 17, bytes(dgram)), vlans=() if vlan is None else (vlan,)) + pad
    frame = frame[: max(14, len(frame) - snap)]
    lf, dg = _transport(1, frame)
    u = udp_datagram(dg.payload) if dg is not None else None
    layered = None if u is None else (17, dg.src, u[0], dg.dst, u[1], 0, 0, u[2],  # type: ignore[union-attr]
                                      min(dg.missing, snap), lf.src_mac, lf.dst_mac, lf.vlan)  # type: ignore[union-attr]
    assert dissect(1, frame, 0, Defragmenter(), len(frame) + snap) == layered
    l2 = frames.ethernet(payload + pad, ethertype=0x88BA, vlans=() if vlan is None else (vlan,))
    lf = link_frame(1, l2)
    tag = l2_tag(0x88BA, vlan)
    assert dissect(1, l2, 0, Defragmenter(), len(l2) + snap, frozenset((0x88BA,))) == (  # type: ignore[union-attr]
        ETHER, lf.src_mac, tag, lf.dst_mac, tag, 0, 0, lf.payload, snap, lf.src_mac, lf.dst_mac, vlan)


def test_community_id_matches_the_specification_vector() -> None:
    import socket

    from watchfloor.capture.flows import community_id

    a, b = socket.inet_aton("128.232.110.120"), socket.inet_aton("66.35.250.204")
    expected = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="  # Community ID spec, TCP example, seed 0
    assert community_id(a, 34855, b, 80, 6) == community_id(b, 80, a, 34855, 6) == expected


def test_segment_beyond_any_window_is_not_data() -> None:
    s = TcpStream()
    s.syn(0)
    assert s.add(1, b"ok") == [b"ok"]
    assert s.add(3 + (1 << 31) - 100, b"corrupt sequence number") == []
    assert s.out_of_window == 1 and s.add(3, b"go on") == [b"go on"]


def test_the_decoder_registered_for_the_port_is_asked_first() -> None:
    """Two probes that both accept the bytes: the port decides, whatever the registry order."""
    from watchfloor.capture.flows import Flow
    from watchfloor.decode import DecoderManifest

    chosen: list[str] = []

    def manifest(name: str, port: int) -> DecoderManifest:
        class Session:
            def __init__(self, flow, out) -> None:
                chosen.append(name)

            def feed(self, *args) -> None: ...

        return DecoderManifest(name=name, transports=("udp",), default_ports=frozenset({port}),
                               spec="", probe=lambda data, hint: True, session=Session)

    decoders = [manifest("first", 1000), manifest("second", 2000)]
    for port, want in ((2000, "second"), (1000, "first"), (3000, "first")):
        flow = Flow(b"\x0a\0\0\x01", 40000, b"\x0a\0\0\x02", port, 17, (None, None), None, 0, decoders, [])
        flow.udp(0, b"payload", 1, 0)
        assert chosen.pop() == want


_ETHERTYPES = frozenset((0x88B8, 0x88BA))  # GOOSE, SV


@settings(max_examples=600)
@given(st.binary(min_size=14, max_size=120), st.lists(st.tuples(st.integers(0, 119), st.integers(0, 255))),
       st.sampled_from(["ipv4-tcp", "ipv4-udp", "l2", "l2-vlan"]), st.integers(14, 120))  # fmt: skip
def test_frames_with_equal_flow_bytes_belong_to_one_flow(data: bytes, changes: list[tuple[int, int]],
                                                         kind: str, cut: int) -> None:  # fmt: skip
    """A sharded sensor passes over another shard's frames by their `flow_bytes`: two frames that
    share them must dissect to the same flow (or not at all), whatever their other bytes and
    their lengths (layer-2 frames have flow bytes from 14 octets on)."""
    heads = {"ipv4-tcp": {12: b"\x08\x00\x45", 20: b"\x00\x00", 23: b"\x06"},
             "ipv4-udp": {12: b"\x08\x00\x45", 20: b"\x40\x00", 23: b"\x11"},
             "l2": {12: b"\x88\xb8"}, "l2-vlan": {12: b"\x81\x00", 16: b"\x88\xba"}}[kind]  # fmt: skip
    a = bytearray(data)
    for at, value in heads.items():
        if at + len(value) > len(a):  # too short to be of this kind
            return
        a[at : at + len(value)] = value
    if kind.startswith("ipv4") and len(a) < 54:
        assert packets.flow_bytes(1, bytes(a), _ETHERTYPES) is None  # ports and flags not all there
        return
    b = bytearray(a)
    for at, value in changes:  # another frame: some octets differ, it may be shorter
        if at < len(b):
            b[at] = value
    del b[cut:]
    key = packets.flow_bytes(1, bytes(a), _ETHERTYPES)
    assert key is not None
    if packets.flow_bytes(1, bytes(b), _ETHERTYPES) != key:
        return
    flows = set()
    for frame in (bytes(a), bytes(b)):
        t = packets.dissect(1, frame, 0, Defragmenter(), len(frame), _ETHERTYPES)
        if t is not None:
            flows.add(t[:5])  # proto, src, sport, dst, dport
    assert len(flows) <= 1
