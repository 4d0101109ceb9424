"""MQTT: wire layer on annotated bytes, session semantics on captures built with the kit, and
property tests (only the two failure kinds out of wire.py, nothing escapes the session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._flows import ip_flow
from watchfloor.capture.tcp import Gap
from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.mqtt.probe import probe
from watchfloor.decode.mqtt.session import MAX_ALIASES, MAX_PENDING, MqttSession
from watchfloor.decode.mqtt.wire import parse_header, parse_packet, properties
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import mqtt as m

CAPTURES = Path(__file__).parent / "captures" / "mqtt"


def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _decode(tmp_path: Path, records: list) -> list[Event]:
    write_pcap(tmp_path / "t.pcap", records)
    return _events(tmp_path / "t.pcap")


def _msgs(events: list[Event]) -> list:
    return [e.ot.mqtt for e in events if e.ot and e.ot.mqtt]


def _anomalies(events: list[Event]) -> list[str]:
    return [a for e in events if e.ot and e.ot.anomalies for a in e.ot.anomalies]


def _conv(port: int = 1883) -> TcpConversation:
    return TcpConversation(m.MQTT_CLIENT, m.MQTT_BROKER._replace(port=port))


def _parse(pkt: bytes, v5: bool = False) -> dict:
    first, start, end = parse_header(pkt)
    assert end == len(pkt)
    return parse_packet(first, pkt, start, end, v5)


# -- wire -----------------------------------------------------------------------------------
def test_fixed_header_remaining_length() -> None:
    assert parse_header(bytes.fromhex("c000")) == (0xC0, 2, 2)
    # 321 = 0xC1 0x02 (65 + 2*128): the header is 3 bytes
    pkt = b"\x30\xc1\x02" + bytes(321)
    assert parse_header(pkt) == (0x30, 3, 324)
    for cut in range(len(pkt)):
        with pytest.raises(NeedMoreData):
            parse_header(pkt[:cut])
    with pytest.raises(Malformed, match="four bytes"):
        parse_header(b"\x30\xff\xff\xff\xff\x01")


def test_connect_3_1_1_keeps_no_password() -> None:
    pkt = bytes.fromhex(
        "10 26"  # CONNECT, remaining length 38
        "0004 4d515454 04"  # "MQTT", level 4
        "ee"  # user, password, will retain, will QoS 1, will, clean session
        "003c"  # keep alive 60
        "0003 726475"  # client id "rdu"
        "0003 612f62 0002 6f6b"  # will topic "a/b", will payload "ok"
        "0004 75736572"  # user name "user"
        "0006 736563726574"  # password "secret"
        .replace(" ", ""))  # fmt: skip
    f = _parse(pkt)
    assert f["protocol_name"] == "MQTT" and f["protocol_level"] == 4 and f["keep_alive"] == 60
    assert f["client_id"] == "rdu" and f["username"] == "user" and f["password_present"]
    assert (f["will_topic"], f["will_qos"], f["will_retain"], f["will_payload_length"]) == ("a/b", 1, True, 2)
    assert "secret" not in repr(f)


def test_connect_5_properties_and_user_properties() -> None:
    pkt = m.connect("c5", version=5, properties=m.props(m.prop(0x11, 30, 4), m.prop(0x26, ("site", "north"))),
                    will=("w", b"x", 0, False), will_properties=m.props(m.prop(0x18, 5, 4)))
    f = _parse(pkt)
    assert f["properties"] == ["session_expiry_interval", "user_property"]
    assert f["user_properties"] == ["site=north"] and f["client_id"] == "c5" and f["will_topic"] == "w"


def test_publish_v5_topic_alias_and_v3_payload() -> None:
    v5 = m.publish("", b"42", qos=1, packet_id=7, properties=m.props(m.prop(0x23, 3, 2)))
    f = _parse(v5, True)
    assert (f["topic"], f["topic_alias"], f["packet_id"], f["payload_length"]) == ("", 3, 7, 2)
    f = _parse(m.publish("plant/a", b"hello", retain=True))
    assert (f["topic"], f["qos"], f["retain"], f["payload_length"]) == ("plant/a", 0, True, 5)


def test_acks_and_subscriptions() -> None:
    assert _parse(m.ack(4, 9)) == {"packet_id": 9}
    with pytest.raises(Malformed):  # a reason code is 5.0 only
        _parse(m.ack(4, 9, 0x10))
    assert _parse(m.ack(4, 9, 0x10), True) == {"packet_id": 9, "reason_code": 0x10}
    f = _parse(m.subscribe(3, [("plant/#", 1), ("alarms/+", 2)]))
    assert f["topic_filters"] == ["plant/#", "alarms/+"] and f["requested_qos"] == [1, 2]
    assert _parse(m.suback(3, [1, 0x80]))["reason_codes"] == [1, 0x80]
    assert _parse(m.unsubscribe(4, ["plant/#"]))["topic_filters"] == ["plant/#"]
    with pytest.raises(Malformed):
        _parse(m.packet(8, 2, b"\x00\x03\x00\x01x"))  # a filter without its options byte


def test_properties_bounds() -> None:
    out: dict = {}
    with pytest.raises(Malformed, match="unknown property"):
        properties(b"\x02\x7f\x00", 0, 3, out)
    with pytest.raises(Malformed):
        properties(b"\x05\x23\x00", 0, 3, out)  # length beyond the packet
    with pytest.raises(Malformed):
        properties(b"\x02\x02\x00", 0, 3, out)  # u32 cut short inside the properties


def test_probe() -> None:
    c = m.connect("x")
    assert probe(c) and probe(c[:9])  # a CONNECT names the protocol in its first bytes
    assert probe(m.PINGREQ) and probe(m.PINGRESP)
    assert probe(m.publish("plant/t", b"1"))
    assert not probe(m.ack(4, 1))  # an ack alone is no evidence off the MQTT port ...
    assert probe(m.ack(4, 1), True)  # ... on it, any well-formed packet run is
    assert not probe(b"GET / HTTP/1.1\r\n\r\n", True)  # 0x47: PUBACK with flags 7
    assert not probe(bytes.fromhex("160301002e"), True)  # TLS: CONNECT with flags 6
    assert not probe(m.publish("plant/#", b"1"))  # a wildcard is not a topic name


# -- session --------------------------------------------------------------------------------
def _session_v5(conv: TcpConversation) -> list:
    return [
        *conv.handshake(),
        *conv.client_send(m.connect("hmi", version=5, username="op", password=b"pw")),
        *conv.server_send(m.connack(0, properties=m.props(m.prop(0x22, 10, 2)))),
        *conv.client_send(m.subscribe(1, [("plant/#", 1)], properties=b"\x00")),
        *conv.server_send(m.suback(1, [1], properties=b"\x00")),
        *conv.client_send(m.publish("plant/pump", b"on", qos=1, packet_id=2,
                                    properties=m.props(m.prop(0x23, 4, 2)))),
        *conv.server_send(m.ack(4, 2, 0x10, b"\x00")),
        *conv.client_send(m.publish("", b"off", qos=2, packet_id=3, properties=m.props(m.prop(0x23, 4, 2)))),
        *conv.server_send(m.ack(5, 3)),
        *conv.client_send(m.ack(6, 3)),
        *conv.server_send(m.ack(7, 3)),
        *conv.client_send(m.PINGREQ),
        *conv.server_send(m.PINGRESP),
        *conv.client_send(m.disconnect(0)),
    ]


def test_v5_session_pairs_and_resolves_aliases(tmp_path: Path) -> None:
    events = _decode(tmp_path, _session_v5(_conv(18830)))
    ms = _msgs(events)
    assert [x.message_type_name for x in ms] == [
        "connect", "connack", "subscribe", "suback", "publish", "puback", "publish", "pubrec",
        "pubrel", "pubcomp", "pingreq", "pingresp", "disconnect"]  # fmt: skip
    assert all(x.client_id == "hmi" for x in ms)
    assert ms[0].username == "op" and ms[0].password_present and ms[0].protocol_version == "5.0"
    assert ms[3].topic_filters == ["plant/#"] and ms[3].request_frame is not None
    assert ms[5].topic == "plant/pump" and ms[5].reason == "no_matching_subscribers"
    assert ms[6].topic == "plant/pump" and ms[6].topic_alias == 4  # resolved from the alias
    by_action = {e.event.action: e for e in events if e.ot and e.ot.mqtt}
    assert by_action["pubcomp"].event.duration is not None
    assert by_action["publish"].ot.role == "request" and by_action["puback"].ot.role == "response"
    assert by_action["publish"].ot.action.operation == "write"
    assert not _anomalies(events)
    assert "pw" not in repr(events)


def test_v3_refusal_and_suback_failure(tmp_path: Path) -> None:
    conv = _conv()
    events = _decode(tmp_path, [
        *conv.handshake(),
        *conv.client_send(m.connect("x", username="u", password=b"bad")),
        *conv.server_send(m.connack(4)),
        *conv.client_send(m.subscribe(5, [("a", 0), ("b", 3)])),
        *conv.server_send(m.suback(5, [0, 0x80])),
    ])  # fmt: skip
    by = {e.event.action: e for e in events if e.ot and e.ot.mqtt}
    assert by["connack"].event.outcome == "failure"
    assert by["connack"].ot.mqtt.reason == "bad_user_name_or_password"
    assert by["suback"].event.outcome == "failure" and by["suback"].ot.mqtt.reasons == ["granted_qos_0", "failure"]


def test_protocol_violations(tmp_path: Path) -> None:
    conv = _conv()
    events = _decode(tmp_path, [
        *conv.handshake(),
        *conv.client_send(m.publish("early", b"1")),  # before CONNECT
        *conv.client_send(m.connect("x", password=b"p", reserved=True)),
        *conv.client_send(m.connect("x")),
        *conv.client_send(m.subscribe(1, [("a", 0)], flags=0)),  # SUBSCRIBE flags must be 0010
        *conv.client_send(bytes((0x36, 3)) + b"\x00\x01a"),  # PUBLISH QoS 3
        *conv.server_send(m.ack(4, 99)),  # nothing to acknowledge
    ])  # fmt: skip
    got = _anomalies(events)
    for code in ("missing_connect", "password_without_username", "reserved_flag_set",
                 "double_connect", "invalid_flags", "invalid_qos", "response_without_request"):
        assert code in got, (code, got)


def test_segmentation_and_several_packets_per_segment(tmp_path: Path) -> None:
    conv = _conv()
    big = m.publish("plant/blob", bytes(3000), qos=1, packet_id=11)
    events = _decode(tmp_path, [
        *conv.handshake(),
        *conv.client_send(m.connect("seg") + m.publish("a", b"1") + m.publish("b", b"2")),
        *conv.client_send(big, segment_sizes=[1, 2, 1000, 1000, 1000]),
        *conv.server_send(m.connack(0) + m.ack(4, 11)),
    ])  # fmt: skip
    ms = _msgs(events)
    assert [x.message_type for x in ms] == [1, 3, 3, 3, 2, 4]
    assert ms[3].payload_length == 3000 and ms[5].topic == "plant/blob"
    frames = [e.pcap.frame for e in events if e.ot and e.ot.mqtt]
    assert frames[0] == frames[1] == frames[2] and frames[3] > frames[2]


def test_gap_resynchronises(tmp_path: Path) -> None:
    conv = _conv()
    events = _decode(tmp_path, [
        *conv.handshake(),
        *conv.client_send(m.connect("g")),
        *conv.skip_bytes(m.publish("lost", b"x" * 50)),
        *conv.client_send(m.publish("after", b"y")),
    ])  # fmt: skip
    assert "stream_gap" in _anomalies(events)
    assert [x.topic for x in _msgs(events) if x.message_type == 3] == ["after"]


def test_midstream_start_on_a_non_standard_port(tmp_path: Path) -> None:
    conv = _conv(17501)
    events = _decode(tmp_path, [*conv.client_send(m.PINGREQ), *conv.server_send(m.PINGRESP),
                                *conv.server_send(m.publish("bus/17", b"{}", qos=1, packet_id=4)),
                                *conv.client_send(m.ack(4, 4))])  # fmt: skip
    ms = _msgs(events)
    assert [x.message_type for x in ms] == [12, 13, 3, 4]
    assert events[0].destination.port == 17501  # the client is whoever sent PINGREQ
    assert "missing_connect" not in _anomalies(events)  # no handshake seen: no expectation


def test_topic_aliases_are_bounded() -> None:
    out: list[Event] = []
    s = MqttSession(ip_flow("tcp", 1883), out)
    s.feed(0, m.connect("a", version=5), 1, 1)
    for i in range(MAX_ALIASES + 50):
        s.feed(0, m.publish(f"t/{i}", b"", properties=m.props(m.prop(0x23, i + 1, 2))), 2, 2)
    assert len(s.aliases[0]) == MAX_ALIASES


def test_pending_is_bounded_and_flood_reported() -> None:
    out: list[Event] = []
    s = MqttSession(ip_flow("tcp", 1883), out)
    for i in range(MAX_PENDING + 10):
        s.feed(0, m.publish("t", b"", qos=1, packet_id=i + 1), i, i)
    assert len(s.pending) == MAX_PENDING and "flooded" in _anomalies(out)
    s.close(999, 10**12, "closed")
    assert "unanswered_request" in _anomalies(out)


_SAMPLES = [m.connect("c", version=5, username="u", password=b"p", will=("w", b"x", 1, True)),
            m.connect("c3", version=3), m.connack(0, properties=b"\x00"), m.publish("a/b", b"12", qos=2),
            m.ack(6, 3, 0x92, m.props(m.prop(0x1F, "why"))), m.subscribe(1, [("x/#", 0x2D)], properties=b"\x00"),
            m.suback(1, [0, 0x8F]), m.unsubscribe(2, ["x"]), m.unsuback(2, [0x11], properties=b"\x00"),
            m.disconnect(0x8E, m.props(m.prop(0x26, ("k", "v")))), m.auth(0x18, m.props(m.prop(0x15, "SCRAM")))]  # fmt: skip


@settings(max_examples=300)
@given(st.sampled_from(_SAMPLES), st.integers(0, 300), st.integers(0, 255), st.integers(0, 20),
       st.booleans())  # fmt: skip
def test_mutated_packets_give_only_the_two_failure_kinds(pkt: bytes, at: int, value: int, cut: int,
                                                         v5: bool) -> None:  # fmt: skip
    mutated = bytearray(pkt)
    mutated[at % len(mutated)] = value
    data = bytes(mutated[: max(1, len(mutated) - cut)])
    try:
        first, start, end = parse_header(data)
        parse_packet(first, data, start, end, v5)
    except (Malformed, NeedMoreData):
        pass
    probe(data, v5)


@given(st.lists(st.binary(max_size=100), max_size=6), st.lists(st.integers(0, 1), min_size=6, max_size=6))
def test_random_bytes_never_escape_the_session(chunks: list[bytes], dirs: list[int]) -> None:
    out: list[Event] = []
    s = MqttSession(ip_flow("tcp", 1883), out)
    for n, chunk in enumerate(chunks):
        s.feed(dirs[n], chunk, n + 1, n * 1000)
    s.gap(0, Gap(10, "lost"), 9, 9000)
    s.feed(0, m.PINGREQ, 10, 10000)
    s.gap(1, Gap(5, "snaplen"), 11, 11000)
    s.close(12, 12000, "evicted")
    assert any(e.ot and e.ot.mqtt and e.ot.mqtt.message_type == 12 for e in out)


@pytest.mark.parametrize("capture", sorted(CAPTURES.glob("*.pcap")), ids=lambda p: p.name)
def test_project_captures_decode_without_decoder_errors(capture: Path) -> None:
    assert _msgs(_events(capture))


def test_unknown_protocol_level() -> None:
    out: list[Event] = []
    s = MqttSession(ip_flow("tcp", 1883), out)
    s.feed(0, m.connect("x", version=6), 1, 1)
    got = [e.ot.anomalies for e in out if e.ot and e.ot.mqtt]
    assert "unsupported_protocol" in got[0]
