"""BACnet/IP: BVLL/NPDU/APDU wire layers and tagged values on annotated bytes, services, session
semantics (pairing, segmentation, broadcasts across shards) on captures built with the kit, and
property tests (only the two failure kinds out of the wire layers, nothing escapes the session)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._flows import ip_flow
from watchfloor.capture.files import read_packets
from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.bacnet.probe import probe
from watchfloor.decode.bacnet.services import parse_service
from watchfloor.decode.bacnet.session import MAX_PENDING, MAX_REASSEMBLIES, BacnetSession
from watchfloor.decode.bacnet.tags import MAX_VALUES, app_value, tag, values
from watchfloor.decode.bacnet.wire import parse_apdu, parse_bvlc, parse_npdu
from watchfloor.schema import Event
from watchfloor.schema.events import FLOW
from watchfloor.sensor import Sensor, decode_file
from watchfloor.testing import bacnet as b
from watchfloor.testing import write_pcap

CAPTURES = Path(__file__).parent / "captures" / "bacnet"
CLIENT, DEVICE, BCAST = b.BACNET_CLIENT, b.BACNET_DEVICE, b.BROADCAST


def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _decode(tmp_path: Path, datagrams: list[tuple], name: str = "t.pcap") -> list[Event]:
    records = [b.datagram(src, dst, payload, 1_700_000_000_000_000_000 + i * 1_000_000)
               for i, (src, dst, payload) in enumerate(datagrams)]  # fmt: skip
    write_pcap(tmp_path / name, records)
    return _events(tmp_path / name)


def _msgs(events: list[Event]) -> list:
    return [e.ot.bacnet for e in events if e.ot and e.ot.bacnet]


def _anomalies(events: list[Event]) -> list[str]:
    return [a for e in events if e.ot and e.ot.anomalies for a in e.ot.anomalies]


def _full(payload: bytes) -> dict:
    """Every layer of one BVLL message, as the session reads it."""
    fn, f, npdu, _ = parse_bvlc(payload)
    if npdu >= 0:
        apdu = parse_npdu(payload, npdu, len(payload), f)
        if apdu >= 0:
            start = parse_apdu(payload, apdu, len(payload), f)
            parse_service(payload, start, len(payload), f)
    return f


# -- wire -----------------------------------------------------------------------------------
def test_bvlc_npdu_apdu_read_property() -> None:
    pkt = bytes.fromhex(
        "81 0a 0011"  # BVLC: BACnet/IP, Original-Unicast-NPDU, length 17
        "01 04"  # NPDU version 1, expecting reply
        "02 45 07 0c"  # confirmed request, SA; max segs 16 (4), max APDU 1476 (5); invoke 7; ReadProperty
        "0c 00400004"  # [0] object identifier: analog-output (1), 4
        "19 55"  # [1] property: present-value (85)
        "29 03"  # [2] array index 3
        .replace(" ", ""))  # fmt: skip
    f = _full(pkt)
    assert (f["bvlc_function"], f["apdu_type"], f["service"], f["invoke_id"]) == (10, 0, 12, 7)
    assert (f["object_type"], f["object_instance"], f["property_id"], f["array_index"]) == (1, 4, 85, 3)
    assert f["max_apdu"] == 1476 and f["max_segments"] == 16 and f["expecting_reply"]


def test_npdu_routing_and_network_messages() -> None:
    f: dict = {}
    pkt = b.npdu(b"\x10\x08", dnet=0xFFFF, snet=5, sadr=b"\x11", hop_count=254)
    assert parse_npdu(pkt, 0, len(pkt), f) == len(pkt) - 2
    assert (f["destination_network"], f["destination_address"], f["source_network"], f["source_address"],
            f["hop_count"]) == (0xFFFF, "", 5, "11", 254)  # fmt: skip
    f = {}
    pkt = b.npdu(b"\x00\x05\x00\x06", network_message=1)
    assert parse_npdu(pkt, 0, len(pkt), f) == -1 and f["networks"] == [5, 6]
    with pytest.raises(Malformed, match="version"):
        parse_npdu(b"\x02\x00", 0, 2, {})
    with pytest.raises(Malformed, match="SLEN"):
        parse_npdu(b"\x01\x08\x00\x05\x00", 0, 5, {})


def test_bvll_functions() -> None:
    fn, f, npdu, _ = parse_bvlc(b.forwarded(b.bip("10.0.20.5", 47809), b.who_is()))
    assert (fn, npdu, f["forwarded_from"]) == (4, 10, "10.0.20.5:47809")
    assert parse_bvlc(b.bvll(0x05, b"\x00\x3c"))[1]["foreign_device_ttl"] == 60
    assert parse_bvlc(b.bvll(0x00, b"\x00\x30"))[1]["bvlc_result_code"] == 0x30
    fdt = parse_bvlc(b.bvll(0x07, b.bip("192.168.1.2") + b"\x00\x3c\x00\x10"))[1]
    assert fdt["table_entries"] == ["192.168.1.2:47808 ttl=60 remaining=16"]
    with pytest.raises(Malformed):
        parse_bvlc(b.bvll(0x03, b"\x00" * 7))  # not whole 10-octet entries
    with pytest.raises(Malformed, match="0x81"):
        parse_bvlc(b"\x82\x0a\x00\x04")
    with pytest.raises(NeedMoreData):
        parse_bvlc(b"\x81\x0a")


def test_tags_and_values() -> None:
    assert tag(b"\x91\x03", 0, 2) == (2, 9, 1, 2)  # application enumerated, 1 octet
    assert tag(b"\x3e", 0, 1)[0] == 0 and tag(b"\x3f", 0, 1)[0] == 1  # opening / closing [3]
    long = b"\x75\xfe\x01\x00" + b"\x00" + b"x" * 255  # extended length 256
    kind, number, start, stop = tag(long, 0, len(long))
    assert (number, stop - start) == (7, 256)
    with pytest.raises(Malformed):
        tag(b"\x75\x10abc", 0, 5)  # 16 octets announced, 3 there
    enc = b.app_real(21.5) + b.app_bool(True) + b.app_string("AHU") + b.app_oid(0, 3) + b.app_signed(-2) \
        + b.app_date(2024, 3, 1) + b.app_time(7, 5, 0, 25) + b"\x82\x04\x40" + b.closing(3)  # fmt: skip
    out: list[str] = []
    assert values(enc, 0, len(enc), 3, out) == len(enc)
    assert out == ["21.5", "true", "AHU", "analog_input,3", "-2", "2024-03-01", "07:05:00.25", "0100"]
    assert app_value(b"\x21\x05", 2, 1, 2, 0) == "5"


def test_services_decode() -> None:
    f = _full(b.unicast(b.confirmed(1, 20, b.reinitialize_params(1, "secret"))))
    assert f["reinitialize_state"] == 1 and f["password_present"] and "secret" not in repr(f)
    f = _full(b.unicast(b.confirmed(2, 17, b.dcc_params(1, 30))))
    assert (f["enable_disable"], f["duration_minutes"], f["password_present"]) == (1, 30, False)
    f = _full(b.unicast(b.confirmed(3, 6, b.atomic_read_file_params(2, 100, 512))))
    assert (f["object_type"], f["object_instance"], f["file_start"], f["file_count"]) == (10, 2, 100, 512)
    f = _full(b.unicast(b.complex_ack(3, 6, b.atomic_read_file_ack_params(False, 100, b"abc"))))
    assert (f["end_of_file"], f["data_length"], f["file_access"]) == (False, 3, "stream")
    f = _full(b.unicast(b.confirmed(4, 10, b.create_object_params(2, 9, [(77, b.app_string("sp"))]))))
    assert (f["object_type"], f["object_instance"], f["properties"][0]["values"]) == (2, 9, ["sp"])
    f = _full(b.unicast(b.confirmed(5, 5, b.subscribe_cov_params(7, 0, 3, None, None))))
    assert f["cancellation"] and f["subscriber_process_id"] == 7
    f = _full(b.unicast(b.complex_ack(6, 14, b.rpm_ack_params([(0, 1, [(85, b.app_real(1.0)), (9, (2, 32))])]))))
    assert f["properties"][0]["values"] == ["1.0"] and f["properties"][1]["error_code"] == 32
    f = _full(b.broadcast(b.i_am(1201, 260, 480, 3)))
    assert (f["object_instance"], f["vendor_id"], f["max_apdu_accepted"], f["segmentation_supported"]) \
        == (1201, 260, 480, 3)  # fmt: skip
    f = _full(b.unicast(b.error(8, 15, 2, 9)))
    assert (f["error_class"], f["error_code"]) == (2, 9)


def test_probe() -> None:
    assert probe(b.broadcast(b.who_is()))
    assert probe(b.bvll(0x05, b"\x00\x3c"))
    assert not probe(b.bvll(0x0A, b.npdu(b.who_is()), length=40))  # off the BACnet port: strict
    assert probe(b.bvll(0x0A, b.npdu(b.who_is()), length=40), True)
    assert not probe(b"\x81\x0a\x00\x06\x02\x00")  # NPDU version 2
    assert not probe(b"\x81\x0d\x00\x04")  # function 0x0D does not exist
    assert not probe(b"GET / HTTP/1.1\r\n")


# -- session --------------------------------------------------------------------------------
def test_pairing_and_outcomes(tmp_path: Path) -> None:
    u = b.unicast
    events = _decode(tmp_path, [
        (CLIENT, DEVICE, u(b.confirmed(1, 15, b.write_property_params(1, 1, 85, b.app_real(55.0), 8)))),
        (DEVICE, CLIENT, u(b.simple_ack(1, 15))),
        (CLIENT, DEVICE, u(b.confirmed(2, 12, b.property_ref(1, 99, 85)))),
        (DEVICE, CLIENT, u(b.error(2, 12, 1, 31))),
        (DEVICE, CLIENT, u(b.simple_ack(77, 15))),
    ])  # fmt: skip
    by_frame = {e.pcap.frame: e for e in events if e.ot and e.ot.bacnet}
    write, ack = by_frame[1], by_frame[2]
    assert write.ot.role == "request" and write.ot.action.operation == "write"
    assert write.ot.bacnet.values == ["55.0"] and write.ot.bacnet.priority == 8
    assert write.ot.action.target.object == "analog_output" and write.ot.action.address.start == 1
    assert ack.event.outcome == "success" and ack.ot.bacnet.request_frame == 1
    assert ack.ot.bacnet.object_instance == 1 and ack.event.duration == 1_000_000  # borrowed from the request
    err = by_frame[4].ot.bacnet
    assert (err.error_class_name, err.error_code_name) == ("object", "unknown_object")
    assert by_frame[4].event.outcome == "failure"
    assert by_frame[5].ot.anomalies == ["response_without_request"]


def test_segmented_ack_is_reassembled(tmp_path: Path) -> None:
    u = b.unicast
    body = b.read_property_ack_params(8, 5, 76, b"".join(b.app_oid(0, i) for i in range(40)))
    parts = [body[:50], body[50:100], body[100:]]
    rows = [(CLIENT, DEVICE, u(b.confirmed(9, 12, b.property_ref(8, 5, 76))))]
    for seq, part in enumerate(parts):
        rows.append((DEVICE, CLIENT, u(b.complex_ack(9, 12, part, seq=seq, more=seq < 2))))
        rows.append((CLIENT, DEVICE, u(b.segment_ack(9, seq))))
    ms = _msgs(_decode(tmp_path, rows))
    last = [m for m in ms if m.apdu_type == 3][-1]
    assert last.values == [f"analog_input,{i}" for i in range(40)] and last.request_frame == 1
    assert [m.sequence_number for m in ms if m.apdu_type == 3] == [0, 1, 2]


def test_lost_segment_is_reported(tmp_path: Path) -> None:
    u = b.unicast
    body = b.read_property_ack_params(8, 5, 76, b"".join(b.app_oid(0, i) for i in range(40)))
    events = _decode(tmp_path, [
        (CLIENT, DEVICE, u(b.confirmed(9, 12, b.property_ref(8, 5, 76)))),
        (DEVICE, CLIENT, u(b.complex_ack(9, 12, body[:50], seq=0, more=True))),
        (DEVICE, CLIENT, u(b.complex_ack(9, 12, body[100:], seq=2))),
    ])  # fmt: skip
    assert "segment_lost" in _anomalies(events)


def test_device_observations(tmp_path: Path) -> None:
    bbmd = b.BACNET_DEVICE._replace(ip="10.0.9.1")
    events = _decode(tmp_path, [
        (DEVICE, BCAST, b.broadcast(b.i_am(1201, 260, 1476, 0))),
        (bbmd, BCAST, b.forwarded(b.bip("10.0.20.5"), b.i_am(2001, 8, 480, 3))),
        (DEVICE, BCAST, b.broadcast(b.i_am(5001, 5, 206, 3), snet=5, sadr=b"\x11")),
    ])  # fmt: skip
    assets = [(e.asset.ip, e.asset.device_id, e.asset.vendor_id, e.asset.max_apdu)
              for e in events if e.event.kind == "asset"]  # fmt: skip
    assert assets == [("10.0.8.20", 1201, 260, 1476), ("10.0.20.5", 2001, 8, 480), (None, 5001, 5, 206)]


def test_protocol_violations(tmp_path: Path) -> None:
    events = _decode(tmp_path, [
        (CLIENT, BCAST, b.broadcast(b.confirmed(1, 12, b.property_ref(8, 1, 77)))),  # confirmed, broadcast
        (CLIENT, DEVICE, b.bvll(0x0A, b.npdu(b.who_is()), length=40)),  # BVLC length
        (CLIENT, DEVICE, b.unicast(b.confirmed(2, 12, b"\x0c\x00"))),  # object id cut short
        (CLIENT, DEVICE, b.unicast(b"\x90\x00")),  # PDU type 9
        (CLIENT, DEVICE, b.unicast(b.unconfirmed(40))),  # unknown unconfirmed service
    ])  # fmt: skip
    got = _anomalies(events)
    for code in ("confirmed_request_broadcast", "length_mismatch", "malformed_service",
                 "unknown_apdu_type", "unknown_service"):
        assert code in got, (code, got)


def test_broadcasts_across_shards(tmp_path: Path) -> None:
    """Who-Is broadcasts (global and subnet) and the I-Am answers are flows of their own; n
    sensors with shards 0..n-1 together decode exactly what one sensor decodes."""
    others = [b.BACNET_DEVICE._replace(ip=f"10.0.8.{30 + i}") for i in range(12)]
    glob = BCAST._replace(ip="255.255.255.255")
    rows = [(CLIENT, glob, b.broadcast(b.who_is())), (CLIENT, BCAST, b.broadcast(b.who_is(0, 99)))]
    rows += [(d, BCAST, b.broadcast(b.i_am(i, 7))) for i, d in enumerate(others)]
    rows += [(d, CLIENT, b.unicast(b.i_am(i, 7))) for i, d in enumerate(others)]
    records = [b.datagram(s, d, p, 1_700_000_000_000_000_000 + i * 1000) for i, (s, d, p) in enumerate(rows)]
    path = tmp_path / "bcast.pcap"
    write_pcap(path, records)

    def run(shard: tuple[int, int]) -> list[tuple]:
        sensor = Sensor()
        return [(e.pcap.frame, e.event.kind, e.event.action) for batch in
                sensor.run(read_packets(path), source_id="x", shard=shard) for e in batch
                if e.event.action != FLOW]  # flow records: tests/test_inventory.py  # fmt: skip

    whole = sorted(run((0, 1)))
    assert len([x for x in whole if x[1] == "event"]) == len(rows)
    assert len([x for x in whole if x[1] == "asset"]) == 2 * len(others)
    for n in (2, 3):
        parts = [run((k, n)) for k in range(n)]
        assert sorted(x for p in parts for x in p) == whole
        assert all(parts)  # the flows really are spread over the shards


def test_pending_and_reassembly_are_bounded() -> None:
    out: list[Event] = []
    s = BacnetSession(ip_flow("udp", 47808, client_port=47808, handshake=False), out)
    for i in range(MAX_PENDING + 20):
        s.feed(0, b.unicast(b.confirmed(i % 256, 12, b.property_ref(8, i, 77))), i, i)
    assert len(s.pending) <= MAX_PENDING
    for i in range(MAX_REASSEMBLIES + 10):
        s.feed(1, b.unicast(b.complex_ack(i, 12, b"\x0c", seq=0, more=True)), i, i)
    assert len(s.segments) <= MAX_REASSEMBLIES
    s.close(999, 10**12, "closed")
    assert "unanswered_request" in _anomalies(out)


def test_i_am_cut_short_is_a_message_not_a_device() -> None:
    whole = b.broadcast(b.i_am(1201, 260))
    cut = whole[:-3] + b"\x00" + whole[-2:]  # vendor id's tag damaged: three of four parameters
    out: list[Event] = []
    session = BacnetSession(ip_flow("udp", 47808, client_port=47808, handshake=False), out)
    session.feed(0, cut, 1, 0)
    assert [e.ot.anomalies for e in out] == [["malformed_service"]]  # type: ignore[union-attr]
    assert out[0].ot.bacnet.max_apdu_accepted is not None  # type: ignore[union-attr]


def test_values_are_bounded() -> None:
    many = b"".join(b.app_unsigned(i) for i in range(MAX_VALUES + 50))
    f = _full(b.unicast(b.complex_ack(1, 12, b.read_property_ack_params(8, 1, 76, many))))
    assert len(f["values"]) == MAX_VALUES


_SAMPLES = [
    b.unicast(b.confirmed(1, 15, b.write_property_params(1, 1, 85, b.app_real(5.0), 8)), expecting_reply=True),
    b.unicast(b.complex_ack(2, 14, b.rpm_ack_params([(0, 1, [(85, b.app_real(1.0)), (9, (2, 32))])]))),
    b.unicast(b.confirmed(3, 16, b.wpm_params([(4, 2, [(85, b.app_enum(1), 8)])]))),
    b.broadcast(b.i_am(1201, 260), snet=5, sadr=b"\x11"), b.forwarded(b.bip("10.1.1.1"), b.who_has_name("x")),
    b.unicast(b.confirmed(4, 1, b.cov_notification_params(7, 1, 0, 3, [(85, b.app_real(2.0))]))),
    b.unicast(b.confirmed(5, 7, b.atomic_write_file_params(1, 0, b"abc"))),
    b.unicast(b.complex_ack(5, 6, b.atomic_read_file_ack_params(True, 0, b"abc"))),
    b.unicast(b.confirmed(6, 10, b.create_object_params(0, None, [(77, b.app_string("n"))]))),
    b.unicast(b.error(7, 10, 2, 9)), b.bvll(0x03, b.bip("10.0.0.1") + b"\xff\xff\xff\x00"),
    b.broadcast(b"\x00\x05", network_message=3), b.unicast(b.confirmed(8, 12, b"", seq=1, more=True)),
]  # fmt: skip


@settings(max_examples=300)
@given(st.sampled_from(_SAMPLES), st.integers(0, 300), st.integers(0, 255), st.integers(0, 30))
def test_mutated_messages_give_only_the_two_failure_kinds(pkt: bytes, at: int, value: int, cut: int) -> None:
    mutated = bytearray(pkt)
    mutated[at % len(mutated)] = value
    data = bytes(mutated[: max(1, len(mutated) - cut)])
    try:
        _full(data)
    except (Malformed, NeedMoreData):
        pass
    probe(data, bool(cut % 2))


def _fed(datagrams: list[tuple[int, bytes]], reuse: bool) -> list[bytes]:
    out: list[Event] = []
    s = BacnetSession(ip_flow("udp", 47808, client_port=47808, handshake=False), out)
    for n, (d, data) in enumerate(datagrams):
        if not reuse:
            s.parsed.clear()  # every datagram parsed from scratch
        s.feed(d, data, n + 1, n * 10**9)
    s.close(len(datagrams) + 1, len(datagrams) * 10**9, "end of capture")
    return [msgspec.json.encode(e) for e in out]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from(_SAMPLES[:9]), st.integers(0, 300),
                          st.integers(0, 255), st.booleans()), max_size=16))
def test_reusing_a_parse_changes_no_event(picks: list[tuple[int, bytes, int, int, bool]]) -> None:
    """A datagram equal to an earlier one but for its invoke id reuses that parse: the events must
    be those of parsing every datagram (pairing by invoke id, anomalies, expiry included)."""
    datagrams = []
    for d, pkt, at, value, edit in picks:
        if edit:  # a new invoke id, or any other one-byte change
            data = bytearray(pkt)
            data[at % len(data)] = value
            pkt = bytes(data)
        datagrams.append((d, pkt))
    assert _fed(datagrams, reuse=True) == _fed(datagrams, reuse=False)


@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=80)), max_size=8))
def test_random_datagrams_never_escape_the_session(datagrams: list[tuple[int, bytes]]) -> None:
    out: list[Event] = []
    s = BacnetSession(ip_flow("udp", 47808, client_port=47808, handshake=False), out)
    for n, (d, data) in enumerate(datagrams):
        s.feed(d, data, n + 1, n * 1000)
        s.feed(d, b"\x81\x0a" + len(data + b"\0\0").to_bytes(2, "big") + data, n + 1, n * 1000)
    s.feed(0, b.broadcast(b.who_is()), 99, 99_000)
    s.close(100, 100_000, "evicted")
    assert any(e.ot and e.ot.bacnet and e.ot.bacnet.service == 8 for e in out)


@pytest.mark.parametrize("capture", sorted(CAPTURES.glob("*.pcap")), ids=lambda p: p.name)
def test_project_captures_decode(capture: Path) -> None:
    assert _msgs(_events(capture))
