"""OPC UA binary: wire layer on annotated bytes, session semantics on captures built with the kit,
robustness properties."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from watchfloor.capture.flows import Flow
from watchfloor.decode import DECODERS, Malformed, NeedMoreData
from watchfloor.decode.opcua import session as sess
from watchfloor.decode.opcua.probe import probe
from watchfloor.decode.opcua.session import OpcuaSession
from watchfloor.decode.opcua.wire import Reader, parse_chunk, secure_header, service_body, service_id
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import opcua as k, write_pcap

CAPTURES = Path(__file__).parent / "captures" / "opcua"


def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.event.kind == "event" and e.ot is not None and e.ot.opcua is not None]


def _anomalies(events: list[Event]) -> list[str]:
    return [a for e in events if e.event.action == "anomaly" for a in e.ot.anomalies or ()]  # type: ignore[union-attr]


# -- wire ---------------------------------------------------------------------------------------
def test_hello_and_message_header() -> None:
    hel = bytes.fromhex(
        "48454c"  # HEL
        "46"  # F
        "30000000"  # size 48
        "00000000"  # protocol version 0
        "00000100 00000100"  # receive / send buffer 65536
        "00000000 00000000"  # max message size, max chunk count: no limit
        "10000000") + b"opc.tcp://plc:48"  # endpoint URL, 16 bytes
    chunk, n = parse_chunk(hel)
    assert (chunk.message_type, chunk.chunk_type, n) == (b"HEL", b"F", 48)
    for cut in range(len(hel)):
        with pytest.raises(NeedMoreData):
            parse_chunk(hel[:cut])
    with pytest.raises(Malformed, match="message type"):
        parse_chunk(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(Malformed, match="chunk type"):
        parse_chunk(b"MSGX" + hel[4:])


def test_symmetric_header_and_service_id() -> None:
    msg = k.secure(b"MSG", 7, 1, 12, 34, k.read_request(5, [(1, 2, 13)]))
    chunk, _ = parse_chunk(msg)
    h = secure_header(chunk.message_type, chunk.body)
    assert (h.channel_id, h.token_id, h.sequence_number, h.request_id) == (7, 1, 12, 34)
    sid, at = service_id(chunk.body, h.body_offset)
    assert sid == 631  # 01 00 7702: four-byte NodeId ns 0, i=631
    f = service_body(sid, True, chunk.body, at)
    assert f["request_handle"] == 5
    assert f["nodes"] == [{"node_id": "ns=2;i=1", "attribute_id": 13, "attribute": "Value"}]


def test_node_id_forms() -> None:
    guid = bytes.fromhex("04 0300 78563412 3412 7856 0102030405060708".replace(" ", ""))
    assert Reader(guid).nodeid() == "ns=3;g=12345678-1234-5678-0102-030405060708"
    assert Reader(k.nodeid("Boiler.Temp", 2)).nodeid() == "ns=2;s=Boiler.Temp"
    assert Reader(k.nodeid(70000, 300)).nodeid() == "ns=300;i=70000"
    assert Reader(bytes.fromhex("05 0100 03000000 abcdef")).nodeid() == "ns=1;b=abcdef"
    with pytest.raises(Malformed):
        Reader(b"\x07\x00\x00").nodeid()


def test_probe() -> None:
    assert probe(k.hello("opc.tcp://plc:4840"))
    assert probe(k.secure(b"MSG", 1, 1, 1, 1, k.read_request(1, [(1, 2, 13)]))[:20])  # mid-stream
    assert not probe(k.hello("opc.tcp://plc:4840", buffer=100))  # below the 8192 minimum
    assert not probe(b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n")
    assert not probe(b"HELF\xff\xff\xff\xff")  # size beyond any chunk


@settings(deadline=None)
@given(st.binary(max_size=400), st.booleans(), st.integers(0, 900))
def test_random_bytes_raise_only_the_two_failure_kinds(data: bytes, is_request: bool, sid: int) -> None:
    for fn in (lambda: parse_chunk(data), lambda: secure_header(b"MSG", data),
               lambda: secure_header(b"OPN", data), lambda: service_id(data, 0),
               lambda: service_body(sid, is_request, data, 0)):  # fmt: skip
        try:
            fn()
        except (NeedMoreData, Malformed):
            pass
    probe(data)


_BODIES = [k.read_request(1, [(1, 2, 13), ("x", 3, 13)]), k.write_request(2, [(3, 2, k.INT32, 8)]),
           k.call_request(3, (1, 2), (6, 2), [k.variant(k.STRING, "a")]),
           k.activate_session_request(4, "username"), k.create_session_response(5, 9, b"c" * 40),
           k.read_response(6, [k.data_value(k.DOUBLE, 1.0)]), k.opn_request(7)]  # fmt: skip


@settings(deadline=None)
@given(st.sampled_from(_BODIES), st.integers(0, 400), st.integers(0, 255), st.integers(0, 50))
def test_mutated_bodies_raise_only_malformed(body: bytes, at: int, byte: int, cut: int) -> None:
    b = bytearray(body)
    b[at % len(b)] = byte
    b = b[: max(len(b) - cut, 0)]
    try:
        sid, pos = service_id(bytes(b), 0)
        if sid is not None:
            service_body(sid, sid % 2 == 1 or sid in (631, 673, 712, 467, 446), bytes(b), pos)
    except Malformed:
        pass


# -- sessions, on captures ----------------------------------------------------------------------
def test_session_capture() -> None:
    events = _events(CAPTURES / "opcua_session.pcap")
    msgs = _messages(events)
    by = {(e.event.action, e.ot.role): e for e in reversed(msgs)}  # first of each  # type: ignore[union-attr]
    assert not [e for e in msgs if e.ot.anomalies and e.event.action != "activate_session"]  # type: ignore[union-attr]
    act = by[("activate_session", "request")].ot
    assert act.opcua.identity_token == "username" and act.opcua.user_name == "operator"  # type: ignore[union-attr]
    assert act.anomalies == ["username_token_unencrypted_channel", "cleartext_password"]  # type: ignore[union-attr]
    write = by[("write", "request")]
    assert write.ot.action.operation == "write" and write.ot.action.values == [80, 0]  # type: ignore[union-attr]
    resp = by[("write", "response")].ot.opcua  # type: ignore[union-attr]
    assert [(n.node_id, n.status) for n in resp.nodes] == [("ns=2;i=3", "Good"), ("ns=2;i=4", "BadNotWritable")]
    assert resp.request_frame == write.pcap.frame  # type: ignore[union-attr]
    assert by[("write", "response")].event.duration > 0
    read = next(e for e in msgs if e.event.action == "read" and e.ot.role == "response").ot.opcua  # type: ignore[union-attr]
    assert [(n.node_id, n.value_type, n.value) for n in read.nodes[:2]] == [
        ("ns=2;i=1", "Double", "71.5"), ("ns=2;i=2", "Boolean", "true")]
    assert read.nodes[2].node_id == "ns=3;s=Boiler.Temp" and read.nodes[2].status == "BadNodeIdUnknown"
    call = by[("call", "request")]
    assert call.ot.action.operation == "control"  # type: ignore[union-attr]
    assert call.ot.opcua.calls[0].method_id == "ns=2;i=6"  # type: ignore[union-attr]
    assert call.ot.opcua.calls[0].arguments == ["Int64:3", "String:fast"]  # type: ignore[union-attr]
    for action in ("add_nodes", "delete_nodes"):
        assert by[(action, "request")].ot.action.operation == "config"  # type: ignore[union-attr]
    assert by[("add_nodes", "request")].ot.opcua.nodes[0].browse_name == "2:Backdoor"  # type: ignore[union-attr]
    fault = [e for e in msgs if e.ot.opcua.service == "service_fault"]  # type: ignore[union-attr]
    assert len(fault) == 1 and fault[0].event.outcome == "failure"
    assert fault[0].event.action == "read" and fault[0].ot.opcua.status == "BadSessionNotActivated"  # type: ignore[union-attr]
    assert {e.ot.opcua.message_type for e in msgs} == {"HEL", "ACK", "OPN", "MSG", "CLO"}  # type: ignore[union-attr]
    assets = [e for e in events if e.event.kind == "asset"]
    assert {a.event.action for a in assets} == {"get_endpoints_server", "create_session_server"}
    a = assets[0]
    assert (a.asset.ip, a.asset.name, a.asset.url, a.asset.product_code) == (  # type: ignore[union-attr]
        "192.168.20.20", "Line 1 PLC", "urn:plant:line1:plc", "urn:vendor:ua-sdk:plc")
    import hashlib
    want = hashlib.sha1(bytes(range(48)) * 4).hexdigest()
    assert a.ot.opcua.applications[0].certificate_sha1 == want  # type: ignore[union-attr]
    assert not _anomalies(events)


def test_chunks_segments_and_abort_on_a_non_standard_port() -> None:
    events = _events(CAPTURES / "opcua_port_48010_chunks.pcap")
    msgs = _messages(events)
    chunks = [e for e in msgs if e.event.action == "message_chunk"]
    assert chunks and all(e.ot.opcua.chunk_type == "C" for e in chunks)  # type: ignore[union-attr]
    reads = [e for e in msgs if e.event.action == "read"]
    big = [e for e in reads if e.ot.opcua.item_count == 79]  # type: ignore[union-attr]
    assert len(big) == 2 and all(e.ot.opcua.chunks and e.ot.opcua.chunks > 1 for e in big)  # type: ignore[union-attr]
    assert big[1].ot.opcua.nodes[78].node_id == "ns=2;i=79" and big[1].ot.opcua.nodes[78].value == "19.75"  # type: ignore[union-attr]
    assert all(e.destination.port == 48010 for e in reads if e.ot.role == "request")  # type: ignore[union-attr]
    assert len(reads) == 6 and not any(e.ot.anomalies for e in reads)  # type: ignore[union-attr]
    abort = [e for e in msgs if e.event.action == "message_abort"]
    assert len(abort) == 1 and abort[0].ot.opcua.status == "BadRequestTooLarge"  # type: ignore[union-attr]
    assert abort[0].ot.opcua.chunks == 2  # type: ignore[union-attr]


def test_gap_and_midstream() -> None:
    events = _events(CAPTURES / "opcua_gap.pcap")
    assert "stream_gap" in _anomalies(events)
    w = [e for e in _messages(events) if e.event.action == "write"]
    # the response comes before the client's next segment reveals the hole in its stream
    assert len(w) == 1 and w[0].ot.anomalies == ["response_without_request"]  # type: ignore[union-attr]
    later = [e for e in _messages(events) if e.event.action == "read"][-2:]
    assert [e.ot.role for e in later] == ["request", "response"] and not later[1].ot.anomalies  # type: ignore[union-attr]
    events = _events(CAPTURES / "opcua_midstream.pcap")
    msgs = _messages(events)
    assert [e.ot.role for e in msgs] == ["request", "response"] * 3  # type: ignore[union-attr]
    assert all(e.ot.opcua.request_frame for e in msgs if e.ot.role == "response")  # type: ignore[union-attr]


def test_sign_and_sign_and_encrypt() -> None:
    msgs = _messages(_events(CAPTURES / "opcua_sign.pcap"))
    opn = [e for e in msgs if e.ot.opcua.message_type == "OPN"]  # type: ignore[union-attr]
    assert all(e.ot.opcua.encrypted and e.ot.opcua.service_id is None for e in opn)  # type: ignore[union-attr]
    assert opn[0].ot.opcua.security_policy.endswith("#Basic256Sha256")  # type: ignore[union-attr]
    assert opn[0].ot.opcua.sender_certificate_sha1  # type: ignore[union-attr]
    act = [e for e in msgs if e.event.action == "activate_session" and e.ot.role == "request"][0]  # type: ignore[union-attr]
    assert act.ot.opcua.security_mode == "sign" and not act.ot.opcua.encrypted  # type: ignore[union-attr]
    assert act.ot.anomalies == ["username_token_unencrypted_channel"]  # encrypted password  # type: ignore[union-attr]
    assert [e.ot.opcua.nodes[0].node_id for e in msgs if e.event.action == "write"] == ["ns=2;i=3"] * 2  # type: ignore[union-attr]
    msgs = _messages(_events(CAPTURES / "opcua_encrypt.pcap"))
    enc = [e for e in msgs if e.ot.opcua.message_type == "MSG"]  # type: ignore[union-attr]
    assert len(enc) == 6
    for e in enc:
        o = e.ot.opcua  # type: ignore[union-attr]
        assert o.encrypted and o.security_mode == "sign_and_encrypt" and o.service_id is None
        assert e.event.action == "encrypted_message" and o.request_id is not None
    assert [e.ot.role for e in enc] == ["request", "response"] * 3  # type: ignore[union-attr]


def test_error_message() -> None:
    msgs = _messages(_events(CAPTURES / "opcua_error.pcap"))
    err = msgs[-1]
    assert err.event.action == "error" and err.event.outcome == "failure"
    assert err.ot.opcua.status == "BadTcpEndpointUrlInvalid" and err.ot.opcua.reason  # type: ignore[union-attr]


def _flow(out: list) -> Flow:
    return Flow(b"\x0a\0\0\x01", 50000, b"\x0a\0\0\x02", 4840, 6, (None, None), None, 0, DECODERS, out)


def _stream() -> list[tuple[bool, bytes]]:
    u = k.UaConversation()
    out = [(True, k.hello("opc.tcp://plc:4840")), (False, k.acknowledge())]
    for i in range(1, 6):
        out.append((True, u.encode(True, k.read_request(i, [(i, 2, 13)] * i), i, chunk_size=40)))
        out.append((False, u.encode(False, k.read_response(i, [k.data_value(k.INT32, i)] * i), i,
                                    chunk_size=40)))  # fmt: skip
    return out


def _feed(pieces: list[tuple[int, bytes]]) -> list:
    out: list = []
    s = OpcuaSession(_flow(out), out)
    for n, (d, data) in enumerate(pieces):
        s.feed(d, data, n + 1, n)
    s.close(len(pieces), len(pieces), "closed")
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_segmentation_does_not_change_the_messages(seed: int) -> None:
    rng = random.Random(seed)
    whole = [(0 if c else 1, data) for c, data in _stream()]
    pieces = []
    for d, data in whole:
        i = 0
        while i < len(data):
            n = rng.randint(1, 60)
            pieces.append((d, data[i : i + n]))
            i += n

    def key(evs: list) -> list:
        return [(e.event.action, e.ot.role, e.ot.opcua and e.ot.opcua.item_count) for e in evs]

    assert key(_feed(pieces)) == key(_feed(whole))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=120)), max_size=30),
       st.integers(0, 2**32))
def test_random_and_mutated_streams_never_raise(chunks: list, seed: int) -> None:
    _feed(chunks)
    rng = random.Random(seed)
    stream = [(0 if c else 1, bytearray(data)) for c, data in _stream()]
    for _ in range(5):
        d, data = rng.choice(stream)
        data[rng.randrange(len(data))] = rng.randrange(256)
    _feed([(d, bytes(data)) for d, data in stream])


def test_state_is_bounded(monkeypatch) -> None:
    out: list = []
    s = OpcuaSession(_flow(out), out)
    s.feed(0, k.hello("opc.tcp://plc"), 1, 0)
    for rid in range(200):  # intermediate chunks of 200 messages never finished
        s.feed(0, k.secure(b"MSG", 1, 1, rid, rid, b"\x00" * 16, b"C"), 2, rid)
    assert len(s.partial[0]) <= sess.MAX_PARTIAL
    for rid in range(sess.MAX_PENDING + 50):
        s.feed(0, k.secure(b"MSG", 1, 1, rid, 10_000 + rid, k.read_request(rid, [(1, 2, 13)])), 3, rid)
    assert len(s.pending) <= sess.MAX_PENDING
    codes = [a for e in out if e.event.action == "anomaly" for a in e.ot.anomalies]
    assert "chunk_limit" in codes and codes.count("flooded") == 1
    monkeypatch.setattr(sess, "MAX_CHUNKS", 3)
    for i in range(4):
        s.feed(0, k.secure(b"MSG", 1, 1, i, 99_999, b"\x00" * 16, b"C"), 4, i)
    assert 99_999 not in s.partial[0]


def test_unanswered_requests_but_not_publish(tmp_path: Path) -> None:
    u = k.UaConversation()
    r = u.open()
    h = u.next_handle()
    r += u.exchange(k.read_request(h, [(1, 2, 13)]), None)
    h = u.next_handle()
    r += u.exchange(k.service(k.PUBLISH_REQ, k.request_header(h) + k.array([])), None)
    r += u.conv.fin(True) + u.conv.fin(False)
    write_pcap(tmp_path / "u.pcap", r)
    events = _events(tmp_path / "u.pcap")
    un = [e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]
    assert len(un) == 1 and "1 request(s)" in (un[0].message or "") and "read" in (un[0].message or "")
