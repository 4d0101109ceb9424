"""DNP3: wire layer on annotated bytes, session semantics on captures built with the kit."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.dnp3.probe import probe
from watchfloor.decode.dnp3.wire import crc, expand, parse_apdu, parse_link, parse_objects
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import TcpConversation, dnp3 as k, udp, write_pcap
from watchfloor.testing.frames import ethernet, ipv4

START_MS = 1_700_000_000_123  # 2023-11-14T22:13:20.123Z


# -- wire ---------------------------------------------------------------------------------------
def test_crc_of_a_real_header() -> None:
    # Reset Link States 1 -> 1024 as opendnp3 sends it: CRC d7 f7 (little-endian) on the wire
    assert crc(bytes.fromhex("056405c000040100")) == 0xF7D7
    for n in range(40):
        data = bytes(range(n))
        assert crc(data) == k.crc(data)


def test_link_frame_layout_and_blocks() -> None:
    user = bytes(range(40))  # three blocks: 16 + 16 + 8 octets, each followed by its CRC
    frame = k.link_frame(10, 1, user)
    assert len(frame) == 10 + 40 + 3 * 2
    (control, dst, src, data, ok), n = parse_link(frame + b"\x05\x64")
    assert (control, dst, src, data, ok, n) == (0xC4, 10, 1, user, True, len(frame))


def test_bad_data_crc_is_reported_not_raised() -> None:
    (_, _, _, _, ok), _ = parse_link(k.link_frame(10, 1, b"\xc0\xc0\x01\x3c\x02\x06", bad_crc=True))
    assert ok is False
    with pytest.raises(Malformed, match="header CRC"):
        parse_link(k.link_frame(10, 1, bad_crc=True))


def test_need_more_data_then_malformed() -> None:
    frame = k.link_frame(10, 1, bytes(30))
    for cut in range(len(frame)):
        with pytest.raises(NeedMoreData):
            parse_link(frame[:cut])
    with pytest.raises(Malformed, match="start octets"):
        parse_link(b"\x05\x65" + frame[2:])
    with pytest.raises(Malformed, match="LEN"):
        parse_link(b"\x05\x64\x04" + bytes(7))


def test_application_header_and_iin() -> None:
    ac, fc, iin, body = parse_apdu(k.apdu(129, b"", sequence=3, con=True, iin=0x8206))
    assert (ac & 0x0F, ac & 0x20, fc, iin, body) == (3, 0x20, 129, 0x8206, b"")
    ac, fc, iin, body = parse_apdu(k.apdu(1, k.class_poll(1, 2, 3, 0)))
    assert fc == 1 and iin is None and len(body) == 12


def test_object_headers_every_qualifier_form() -> None:
    body = (k.all_objects(1)  # 0x06
            + k.ranged(30, 1, 5, 6, k.analog_input32(-7) + k.analog_input32(70000))  # 0x00
            + k.ranged(1, 1, 0, 9, k.packed_bits([1, 0, 1, 1, 0, 0, 0, 0, 0, 1]), width=2)  # 0x01
            + k.counted(50, 1, 1, k.time48(START_MS))  # 0x07
            + k.indexed(12, 1, [(3, k.crob(0x41)), (7, k.crob(0x81))])  # 0x28
            + k.indexed(41, 2, [(2, k.analog_output(-300))], width=1)  # 0x17
            + k.ranged(20, 1, 0, 0, k.counter32(4_000_000_000), width=4)  # 0x02
            + k.counted(30, 5, 1, k.float_input(1.5), width=2))  # 0x08  # fmt: skip
    objs, err = parse_objects(129, body)
    assert err is None
    assert [(o["group"], o["variation"], o["qualifier"]) for o in objs] == [
        (1, 0, 0x06), (30, 1, 0x00), (1, 1, 0x01), (50, 1, 0x07), (12, 1, 0x28), (41, 2, 0x17),
        (20, 1, 0x02), (30, 5, 0x08)]  # fmt: skip
    assert "points" not in objs[0] and "values" not in objs[0]
    assert expand(objs[1]) == [{"index": 5, "flags": 1, "value": -7},
                                 {"index": 6, "flags": 1, "value": 70000}]  # fmt: skip
    assert [p["value"] for p in expand(objs[2])] == [1, 0, 1, 1, 0, 0, 0, 0, 0, 1]
    assert expand(objs[2])[9]["index"] == 9
    assert expand(objs[3]) == [{"time_ms": START_MS, "time": "2023-11-14T22:13:20.123Z"}]
    assert [(p["index"], p["control_code"], p["on_time_ms"]) for p in objs[4]["points"]] == [
        (3, 0x41, 100), (7, 0x81, 100)]  # fmt: skip
    assert objs[5]["points"] == [{"index": 2, "value": -300, "status": 0}]
    assert expand(objs[6])[0]["value"] == 4_000_000_000
    assert expand(objs[7]) == [{"flags": 1, "float_value": 1.5}]


def test_read_requests_carry_headers_only() -> None:
    objs, err = parse_objects(1, k.ranged(30, 0, 0, 99) + k.indexed(1, 2, [(4, b""), (9, b"")]))
    assert err is None and objs[0]["range_stop"] == 99 and "indexes" not in objs[0]
    assert objs[1]["indexes"] == [4, 9] and "points" not in objs[1]


def test_object_faults_keep_what_came_before() -> None:
    good = k.ranged(30, 2, 0, 0, struct.pack("<Bh", 1, 5))
    objs, err = parse_objects(129, good + k.ranged(30, 1, 0, 3, bytes(6)))  # 4 objects, 6 octets
    assert len(objs) == 2 and expand(objs[0])[0]["value"] == 5 and "need" in (err or "")
    _, err = parse_objects(129, bytes([30, 1, 0x8F]))
    assert err is not None and "qualifier" in err
    _, err = parse_objects(129, k.ranged(1, 2, 9, 3))
    assert err is not None and "before start" in err


# -- properties ---------------------------------------------------------------------------------
@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_the_two_failure_kinds(data: bytes) -> None:
    try:
        (_, _, _, user, _), _ = parse_link(data)
        if len(user) > 1:
            _, fc, _, body = parse_apdu(user[1:])
            parse_objects(fc, body)
    except (NeedMoreData, Malformed):
        pass
    parse_objects(data[0] if data else 1, data[1:])  # never raises: faults come back as text
    probe(data, False)
    probe(data, True)


def _reference_fragments() -> list[bytes]:
    return [
        k.apdu(1, k.class_poll(1, 2, 3, 0)),
        k.apdu(129, k.ranged(30, 1, 0, 1, k.analog_input32(1) + k.analog_input32(2)), iin=0x0100),
        k.apdu(3, k.indexed(12, 1, [(0, k.crob(0x03))])),
        k.apdu(2, k.counted(50, 1, 1, k.time48(START_MS))),
        k.apdu(129, k.device_attributes([(252, k.attribute_string("ACME")),
                                          (240, k.attribute_uint(2048))])),  # fmt: skip
        k.apdu(25, k.free_format(70, 3, [bytes(26) + b"fw.bin"])),
    ]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(_reference_fragments()), st.integers(0, 300), st.integers(0, 255))
def test_mutated_fragments_raise_only_the_two_failure_kinds(fragment: bytes, at: int,
                                                            value: int) -> None:  # fmt: skip
    mutated = bytearray(fragment)
    if at < len(mutated):
        mutated[at] = value
    else:
        mutated = mutated[: at % (len(mutated) + 1)]
    try:
        _, fc, _, body = parse_apdu(bytes(mutated))
    except Malformed:
        return
    parse_objects(fc, body)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=120), min_size=1, max_size=8),
       st.sampled_from(_reference_fragments()), st.integers(0, 80), st.integers(0, 255))
def test_sessions_survive_random_and_mutated_streams(tmp_path_factory, chunks: list[bytes],
                                                     fragment: bytes, at: int,
                                                     value: int) -> None:  # fmt: skip
    """Garbage, mutated fragments with valid CRCs and truncated frames on the DNP3 port: only
    events come out (anomalies included), never an exception."""
    frames = bytearray(b"".join(k.segments(fragment, 10, 1, size=30)))
    if at < len(frames):
        frames[at] ^= value
    conv = TcpConversation(k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION)
    records = conv.handshake() + conv.client_send(k.link_frame(10, 1) + bytes(frames))
    for c in chunks:
        records += conv.server_send(k.link_frame(1, 10, c[:250]) + c)
    path = tmp_path_factory.mktemp("prop") / "p.pcap"
    write_pcap(path, records)
    _events(path)


# -- sessions, on captures ----------------------------------------------------------------------
def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ot is not None and e.ot.dnp3 is not None
            and e.ot.dnp3.function_code is not None]  # fmt: skip


def _anomalies(events: list[Event]) -> list[str]:
    return [a for e in events if e.ot is not None for a in (e.ot.anomalies or ())]


def _write(tmp_path: Path, records: list, name: str = "c.pcap") -> Path:
    path = tmp_path / name
    write_pcap(path, records)
    return path


def test_poll_control_and_pairing(tmp_path: Path) -> None:
    link = k.Dnp3Link()
    conv = link.conv
    records = conv.handshake()
    records += conv.client_send(k.link_frame(10, 1, control=k.RESET_LINK))
    records += conv.server_send(k.link_frame(1, 10, control=k.LINK_ACK))
    records += link.exchange(1, k.class_poll(1, 2, 3, 0),
                             k.ranged(30, 1, 0, 1, k.analog_input32(5) + k.analog_input32(-5)),
                             iin=0x9000)  # fmt: skip
    records += link.exchange(3, k.indexed(12, 1, [(4, k.crob(0x81, on_ms=250))]),
                             k.indexed(12, 1, [(4, k.crob(0x81, on_ms=250, status=4))]))  # fmt: skip
    records += link.exchange(2, k.counted(50, 1, 1, k.time48(START_MS)))
    records += link.exchange(13)
    events = _events(_write(tmp_path, records))
    links = [e for e in events if e.event.action.startswith("link_")]
    assert [e.event.action for e in links] == ["link_reset_link_states", "link_ack"]
    msgs = _messages(events)
    assert [e.event.action for e in msgs] == ["read", "response", "select", "response", "write",
                                              "response", "cold_restart", "response"]  # fmt: skip
    read, resp = msgs[0], msgs[1]
    assert read.ot.role == "request" and read.ot.action.operation == "read"
    assert read.destination.port == 20000 and read.ot.dnp3.destination == 10
    assert [o.name for o in read.ot.dnp3.objects] == ["class_1", "class_2", "class_3", "class_0"]
    assert resp.ot.dnp3.request_frame == read.pcap.frame and resp.event.duration > 0
    assert resp.ot.dnp3.iin_flags == ["need_time", "device_restart"]
    assert resp.ot.action.values == [5, -5] and resp.ot.action.address.end == 1
    select, sel_resp = msgs[2], msgs[3]
    point = select.ot.dnp3.objects[0].points[0]
    assert (point.index, point.operation, point.on_time_ms) == (4, "trip_pulse_on", 250)
    assert select.ot.action.operation == "control" and select.ot.action.target.unit == 10
    assert sel_resp.event.outcome == "failure"
    assert sel_resp.ot.dnp3.objects[0].points[0].status_name == "not_supported"
    assert msgs[4].ot.action.operation == "config"  # writing the clock
    assert msgs[4].ot.dnp3.objects[0].points[0].time == "2023-11-14T22:13:20.123Z"
    assert msgs[6].ot.action.operation == "control"
    assert not _anomalies(events)


def test_multi_frame_fragment_reassembled_at_the_completing_frame(tmp_path: Path) -> None:
    values = b"".join(k.analog_input32(i) for i in range(120))  # 600 octets: three link frames
    link = k.Dnp3Link()
    records = link.conv.handshake() + link.request(1, k.all_objects(30, 1))
    frames = k.segments(k.apdu(129, k.ranged(30, 1, 0, 119, values)), 1, 10,
                        k.OUTSTATION_UNCONFIRMED, first_sequence=62)  # wraps 63 -> 0  # fmt: skip
    assert len(frames) == 3
    records += link.conv.server_send(frames[0][:100], segment_sizes=[60])
    records += link.conv.server_send(frames[0][100:] + frames[1])
    last = link.conv.server_send(frames[2])
    records += last
    events = _events(_write(tmp_path, records))
    resp = _messages(events)[1]
    assert resp.ot.dnp3.transport_segments == 3
    assert resp.pcap.frame == len(records)  # the frame of the last segment
    obj = resp.ot.dnp3.objects[0]
    assert obj.values == list(range(120)) and obj.indexes == list(range(120))
    assert obj.flags == [1] * 120 and obj.points is None
    assert not _anomalies(events)


def test_device_attributes_become_an_asset_observation(tmp_path: Path) -> None:
    link = k.Dnp3Link()
    reply = k.device_attributes([(252, k.attribute_string("ACME Grid")),
                                 (250, k.attribute_string("RTU-5000")),
                                 (242, k.attribute_string("4.2.1")),
                                 (248, k.attribute_string("SN123")),
                                 (240, k.attribute_uint(2048))])  # fmt: skip
    records = link.conv.handshake() + link.exchange(1, k.all_objects(0, 254), reply)
    events = _events(_write(tmp_path, records))
    assets = [e for e in events if e.event.kind == "asset"]
    assert len(assets) == 1
    a = assets[0].asset
    assert (a.vendor, a.product, a.revision, a.serial, a.ip) == (
        "ACME Grid", "RTU-5000", "4.2.1", "SN123", "192.168.20.20")  # fmt: skip
    resp = _messages(events)[1]
    assert resp.ot.action.operation == "discovery"
    assert resp.ot.dnp3.objects[4].points[0].value == 2048


def test_gap_midstream_and_bad_crc(tmp_path: Path) -> None:
    conv = TcpConversation(k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION)
    link = k.Dnp3Link(conv)
    read = b"".join(k.segments(k.apdu(1, k.class_poll(0)), 10, 1))
    records = conv.client_send(read[7:])  # a capture that starts inside a frame
    records += link.request(1, k.class_poll(0))
    records += conv.skip_bytes(5)  # lost by the capture
    records += conv.client_send(read[3:] + read)
    records += conv.client_send(k.link_frame(10, 1, b"\xc0\xc1\x01\x3c\x02\x06", bad_crc=True))
    events = _events(_write(tmp_path, records))
    assert len(_messages(events)) == 2
    codes = _anomalies(events)
    assert "stream_gap" in codes and "bad_crc" in codes


def test_transport_sequence_faults(tmp_path: Path) -> None:
    link = k.Dnp3Link()
    frames = k.segments(k.apdu(129, k.ranged(30, 1, 0, 99, bytes(500))), 1, 10,
                        k.OUTSTATION_UNCONFIRMED)  # fmt: skip
    records = link.conv.handshake() + link.conv.server_send(frames[0] + frames[2])
    records += link.conv.server_send(frames[1])  # no FIR before it now
    events = _events(_write(tmp_path, records))
    assert not _messages(events)
    assert _anomalies(events).count("transport_sequence") == 2


def test_udp_and_unsolicited_with_confirm(tmp_path: Path) -> None:
    m, o = k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION
    unsol = k.segments(k.apdu(130, k.counted(2, 1, 1, b"\x81"), con=True, uns=True, sequence=5),
                       1, 10, k.OUTSTATION_UNCONFIRMED)[0]  # fmt: skip
    confirm = k.segments(k.apdu(0, uns=True, sequence=5), 10, 1)[0]

    def pkt(src, dst, sport, dport, payload):
        return ethernet(ipv4(src.ip, dst.ip, 17, udp(src.ip, dst.ip, sport, dport, payload)),
                        src=src.mac, dst=dst.mac)

    path = _write(tmp_path, [(10**18, pkt(o, m, 20000, 20000, unsol)),
                             (10**18 + 10**6, pkt(m, o, 20000, 20000, confirm))])  # fmt: skip
    msgs = _messages(_events(path))
    assert [(e.event.action, e.network.transport) for e in msgs] == [
        ("unsolicited_response", "udp"), ("confirm", "udp")]  # fmt: skip
    assert msgs[0].ot.dnp3.unsolicited and msgs[0].ot.dnp3.confirm
    assert msgs[0].ot.dnp3.objects[0].values == [1]  # state: bit 7 of the flags 0x81
    assert msgs[0].ot.dnp3.objects[0].flags == [0x81]


def test_non_standard_port_is_recognised(tmp_path: Path) -> None:
    link = k.Dnp3Link(TcpConversation(k.DEFAULT_MASTER, ("192.168.20.20", 4000)))
    records = link.conv.handshake() + link.exchange(1, k.class_poll(0))
    msgs = _messages(_events(_write(tmp_path, records)))
    assert [e.ot.role for e in msgs] == ["request", "response"]
    assert msgs[0].destination.port == 4000


def test_pending_requests_are_bounded(tmp_path: Path) -> None:
    conv = TcpConversation(k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION)
    records = conv.handshake()
    for n in range(300):  # distinct (master, outstation, sequence) keys, never answered
        frame = k.segments(k.apdu(1, k.class_poll(0), sequence=n % 16), 10, 1 + n // 16)[0]
        records += conv.client_send(frame)
    codes = _anomalies(_events(_write(tmp_path, records)))
    assert "flooded" in codes and "unanswered_request" in codes


def test_project_edge_capture_anomalies() -> None:
    """tests/captures/dnp3/dnp3_edges.pcap (see its SOURCE.md): each fault gives its code."""
    events = _events(Path(__file__).parent / "captures" / "dnp3" / "dnp3_edges.pcap")
    msgs = _messages(events)
    assert [e.event.action for e in msgs] == ["unknown-80", "response", "read", "response",
                                              "write", "read"]  # fmt: skip
    assert msgs[1].ot.dnp3.request_frame == msgs[0].pcap.frame  # an unknown function pairs too
    assert msgs[2].ot.anomalies == ["malformed_objects"] and msgs[2].ot.dnp3.data == "1e010005"
    assert msgs[3].event.outcome == "failure" and "object_unknown" in msgs[3].ot.dnp3.iin_flags
    assert msgs[4].ot.anomalies == ["user_data_in_link_function"]
    assert msgs[4].ot.dnp3.link_function == "unknown-5"
    assert msgs[5].ot.dnp3.destination == 0xFFFF
    codes = _anomalies(events)
    for code in ("bad_crc", "unknown_function", "transport_sequence", "unanswered_request"):
        assert code in codes


def test_read_without_objects_is_flagged(tmp_path: Path) -> None:
    link = k.Dnp3Link()
    records = link.conv.handshake() + link.exchange(1, b"", iin=0x0002)
    msgs = _messages(_events(_write(tmp_path, records)))
    assert msgs[0].ot.anomalies == ["missing_objects"] and msgs[1].event.outcome == "failure"


def test_reassembly_is_bounded(tmp_path: Path, monkeypatch) -> None:
    """A fragment that never ends is dropped past the size limit; concurrent fragments (one per
    address pair) are capped, the oldest dropped."""
    from watchfloor.decode.dnp3 import session

    monkeypatch.setattr(session, "MAX_REASSEMBLY", 2000)
    conv = TcpConversation(k.DEFAULT_MASTER, k.DEFAULT_OUTSTATION)
    records = conv.handshake()
    endless = k.segments(bytes(4000), 1, 10, k.OUTSTATION_UNCONFIRMED)[:-1]  # no FIN
    records += conv.server_send(b"".join(endless))
    for src in range(100):  # 100 address pairs, each with a first segment only
        records += conv.server_send(k.segments(bytes(300), 1, 100 + src,
                                               k.OUTSTATION_UNCONFIRMED)[0])  # fmt: skip
    events = _events(_write(tmp_path, records))
    codes = _anomalies(events)
    assert codes.count("reassembly_too_long") == 1
    assert codes.count("incomplete_fragment") == session.MAX_ASSEMBLIES  # left at the end
    assert not _messages(events)
