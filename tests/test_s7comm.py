"""S7comm / S7comm-plus: TPKT/COTP and S7 wire layers on annotated bytes, session semantics on
captures built with the kit, and property tests (only the two failure kinds, never an escape)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._flows import ip_flow
from watchfloor.capture.tcp import Gap
from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.cotp import CR, Reassembler, parse_connection, parse_tpkt, tpdu_size
from watchfloor.decode.s7comm.probe import probe
from watchfloor.decode.s7comm.session import MAX_PENDING, S7Session
from watchfloor.decode.s7comm.wire import (
    clock,
    parse_header,
    parse_job,
    parse_plus,
    parse_userdata,
    szl_response,
)
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import s7comm as s7

CAPTURES = Path(__file__).parent / "captures" / "s7comm"


def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ot and (e.ot.s7comm or e.ot.s7comm_plus)]


def _conv(port: int = 102) -> TcpConversation:
    return TcpConversation(s7.S7_CLIENT, s7.S7_SERVER._replace(port=port))


def _decode(tmp_path: Path, records: list, name: str = "t.pcap") -> list[Event]:
    write_pcap(tmp_path / name, records)
    return _events(tmp_path / name)


# -- TPKT / COTP ----------------------------------------------------------------------------
def test_tpkt_and_connection_request() -> None:
    cr = bytes.fromhex(
        "0300 0016"  # TPKT version 3, length 22
        "11 e0"  # LI 17, CR
        "0000 0001 00"  # dst ref 0, src ref 1, class 0
        "c0 01 0a"  # TPDU size 2^10
        "c1 02 0100"  # calling TSAP
        "c2 02 0102"  # called TSAP: PG, rack 0 slot 2
        .replace(" ", ""))  # fmt: skip
    start, end = parse_tpkt(cr)
    c = parse_connection(cr[start:end])
    assert (c.code, c.src_ref, c.params[0xC2], tpdu_size(c.params)) == (CR, 1, b"\x01\x02", 1024)
    for cut in range(len(cr)):
        with pytest.raises(NeedMoreData):
            parse_tpkt(cr[:cut])
    with pytest.raises(Malformed, match="version"):
        parse_tpkt(b"\x04\x00\x00\x07\x02\xf0\x80")
    with pytest.raises(Malformed, match="length"):
        parse_tpkt(b"\x03\x00\x00\x05\x02")


def test_reassembler_joins_segments_and_bounds_them() -> None:
    r = Reassembler(limit=10)
    assert r.add(b"abc", False, 1) is None and r.add(b"def", True, 2) == b"abcdef"
    assert r.add(b"whole", True, 3) == b"whole"
    with pytest.raises(Malformed):
        r.add(b"x" * 8, False, 4), r.add(b"y" * 8, False, 5)
    assert r.add(b"rest", True, 6) is None  # the rest of the dropped TSDU
    assert r.add(b"next", True, 7) == b"next"


# -- S7 wire --------------------------------------------------------------------------------
def test_read_var_request_items() -> None:
    pdu = bytes.fromhex(
        "32 01 0000 0005 000e 0000"  # job, PDU ref 5, param 14, data 0
        "04 01"  # read var, 1 item
        "12 0a 10"  # var spec, 10 bytes, S7ANY
        "04 0002 0001 84"  # WORD x 2, DB 1, area DB
        "000050"  # bit address 80 = byte 10 bit 0
        .replace(" ", ""))  # fmt: skip
    h = parse_header(pdu)
    assert (h.rosctr, h.pdu_reference, h.complete) == (1, 5, True)
    assert parse_job(h) == {"item_count": 1, "items": [{
        "syntax_id": 0x10, "transport_size": 4, "count": 2, "db_number": 1, "area": 0x84,
        "byte_address": 10, "bit_address": 0}]}  # fmt: skip


def test_read_var_response_items_with_fill_byte_and_error() -> None:
    pdu = s7.read_var_response(3, [b"\x07", b"\x00\x2a", 0x0A])
    items = parse_job(parse_header(pdu))["items"]
    assert [i["return_code"] for i in items] == [0xFF, 0xFF, 0x0A]
    assert [i.get("data") for i in items] == [b"\x07", b"\x00\x2a", None]
    assert items[0]["length"] == 8  # bits for transport size 4


def test_header_with_short_data_is_reported_incomplete() -> None:
    pdu = s7.read_var_response(3, [b"\x00\x2a"])
    h = parse_header(pdu[:-1])
    assert h.complete is False and h.rosctr == 3
    with pytest.raises(Malformed):
        parse_job(h)
    with pytest.raises(Malformed, match="ROSCTR"):
        parse_header(b"\x32\x09" + bytes(8))


def test_plc_control_stop_and_transfers() -> None:
    h = parse_header(s7.plc_control(1, "_DELE", s7.blocks_argument(["0A00001P", "0800001P"])))
    assert parse_job(h) == {"pi_service": "_DELE", "blocks": ["0A00001P", "0800001P"]}
    assert parse_job(parse_header(s7.plc_control(1, "P_PROGRAM", b"C "))) == {
        "pi_service": "P_PROGRAM", "pi_arguments": "C"}  # fmt: skip
    assert parse_job(parse_header(s7.plc_stop(2))) == {"pi_service": "P_PROGRAM"}
    f = parse_job(parse_header(s7.transfer(0x1D, 3, s7.filename("0B", 0, "A"), upload_id=7)))
    assert (f["block_type"], f["block_number"], f["filesystem"], f["upload_id"]) == (
        "SDB", 0, "active", 7)


def test_userdata_szl_and_clock() -> None:
    ud = parse_userdata(parse_header(s7.szl_response(1, 0x11, 0, [
        s7.module_record(1, "6ES7 315-2EH14-0AB0"), s7.module_record(7, "", (3, 2, 6))])))  # fmt: skip
    assert (ud.type, ud.group, ud.subfunction, ud.return_code) == (8, 4, 1, 0xFF)
    szl_id, index, size, records = szl_response(ud.payload)
    assert (szl_id, index, size, len(records)) == (0x11, 0, 28, 2)
    assert clock(s7.bcd_clock(2024, 5, 17, 8, 30, 1, 250)) == "2024-05-17T08:30:01.250"
    with pytest.raises(Malformed):
        clock(b"\x00\x20\x24\x13" + bytes(6))  # month 13


def test_s7comm_plus_versions() -> None:
    p = parse_plus(s7.plus(1, 0x31, 0x04CA, 1))
    assert (p.version, p.opcode, p.function_code, p.sequence_number, p.integrity, p.last) == (
        1, 0x31, 0x04CA, 1, False, True)  # fmt: skip
    p = parse_plus(s7.plus(3, 0x32, 0x054C, 9))
    assert (p.opcode, p.function_code, p.sequence_number, p.integrity) == (0x32, 0x054C, 9, True)
    assert parse_plus(b"\x72\xfe\x00\x00").opcode is None
    assert parse_plus(s7.plus(2, 0x31, 0x04F2, 3)[:-4]).last is False  # no trailer: more follows


# -- probe -----------------------------------------------------------------------------------
def test_probe_claims_s7_data_only() -> None:
    assert probe(s7.tpkt_dt(s7.setup_communication()))
    assert probe(s7.tpkt_dt(s7.plus(3, 0x31, 0x04CA, 1)))
    assert not probe(s7.cotp_cr())  # a connection request alone does not say what follows
    assert not probe(s7.tpkt_dt(bytes.fromhex("0100010061")))  # ISO session: MMS
    assert not probe(b"GET / HTTP/1.1\r\n\r\n")


# -- sessions on captures --------------------------------------------------------------------
def test_engineering_session(tmp_path: Path) -> None:
    conv = _conv()
    events = _decode(tmp_path, conv.handshake() + s7.engineering_session(conv, rack=0, slot=3))
    msgs = _messages(events)
    assert all(m.ot.s7comm.rack == 0 and m.ot.s7comm.slot == 3 for m in msgs)  # type: ignore[union-attr]
    actions = [(m.event.action, m.ot.role, m.ot.action.operation) for m in msgs]  # type: ignore[union-attr]
    assert actions[::2] == [
        ("setup_communication", "request", "session"), ("read_szl", "request", "discovery"),
        ("read_szl", "request", "discovery"), ("read_var", "request", "read"),
        ("write_var", "request", "write"), ("read_var", "request", "read"),
        ("request_download", "request", "program"), ("delete_block", "request", "program"),
        ("plc_stop", "request", "control"), ("plc_cold_start", "request", "control"),
        ("read_clock", "request", "read")]  # fmt: skip
    assert all(r == "response" for _, r, _ in actions[1::2])
    assert [a for a, _, _ in actions[1::2]] == [a for a, _, _ in actions[::2]]  # named alike
    responses = msgs[1::2]
    assert all(r.event.duration and r.ot.s7comm.request_frame for r in responses)  # type: ignore[union-attr]
    read = responses[3].ot.s7comm  # type: ignore[union-attr]
    assert [(i.area_name, i.db_number, i.byte_address, i.data) for i in read.items] == [  # type: ignore[union-attr]
        ("data_block", 1, 10, "002a0100"), ("flags", 0, 0, "07")]
    write = msgs[8]
    assert write.ot.action.address.start == 4 and write.ot.action.address.end == 5  # type: ignore[union-attr]
    assert write.ot.action.values == write.ot.s7comm.items[0].values == [100]  # type: ignore[union-attr]
    assert read.items[0].values == [42, 256] and read.items[1].values == [7]  # type: ignore[union-attr]
    assert write.ot.action.target.unit == 1 and write.ot.action.target.object == "data_block"  # type: ignore[union-attr]
    missing = responses[5]
    assert missing.event.outcome == "failure"
    assert missing.ot.s7comm.items[0].return_code_name == "object_does_not_exist"  # type: ignore[union-attr]
    assert msgs[14].ot.s7comm.blocks == msgs[15].ot.s7comm.blocks == ["0A00001P"]  # type: ignore[union-attr]
    assert responses[-1].ot.s7comm.clock == "2024-05-17T08:30:00.000"  # type: ignore[union-attr]
    assets = [e.asset for e in events if e.event.kind == "asset"]
    assert [(a.product_code, a.revision) for a in assets if a.product_code] == [  # type: ignore[union-attr]
        ("6ES7 315-2EH14-0AB0", "V3.2.6")]
    assert [(a.name, a.product, a.serial) for a in assets if a.name] == [  # type: ignore[union-attr]
        ("WF-TEST-PLC", "CPU 315-2 PN/DP", "S C-TEST0001")]


def test_segmentation_tcp_and_cotp(tmp_path: Path) -> None:
    conv = _conv()
    records = conv.handshake() + conv.client_send(s7.tpkt_dt(s7.setup_communication()))
    pdu = s7.read_var(1, [s7.Item("DB", i, "BYTE", 1, db=2) for i in range(10)])
    two = s7.tpkt_dt(pdu, segment=60)  # one S7 PDU in two COTP DTs ...
    records += conv.client_send(two, segment_sizes=[5, 70])  # ... over three TCP segments
    both = s7.tpkt_dt(s7.read_var(2, [s7.Item("M", 0)])) + s7.tpkt_dt(s7.read_var(3, [s7.Item("M", 1)]))
    records += conv.client_send(both)  # two PDUs in one segment
    msgs = _messages(_decode(tmp_path, records))
    frames = [(m.pcap.frame, m.ot.s7comm.pdu_reference) for m in msgs]  # type: ignore[union-attr]
    assert frames == [(4, 0), (7, 1), (8, 2), (8, 3)]
    assert len(msgs[1].ot.s7comm.items) == 10  # type: ignore[union-attr]


def test_non_standard_port_and_midstream_start(tmp_path: Path) -> None:
    conv = _conv(port=10102)  # no handshake: roles come from the PDUs themselves
    records = conv.client_send(s7.tpkt_dt(s7.read_var(1, [s7.Item("M", 0)])))
    records += conv.server_send(s7.tpkt_dt(s7.read_var_response(1, [b"\x01"])))
    msgs = _messages(_decode(tmp_path, records))
    assert [m.ot.role for m in msgs] == ["request", "response"]  # type: ignore[union-attr]
    assert msgs[0].destination.port == 10102 and msgs[1].event.outcome == "success"  # type: ignore[union-attr]


def test_gap_resynchronises(tmp_path: Path) -> None:
    conv = _conv()
    records = conv.handshake() + conv.client_send(s7.tpkt_dt(s7.setup_communication()))
    records += conv.skip_bytes(s7.tpkt_dt(s7.read_var(1, [s7.Item("M", 0)]))[:9])
    records += conv.client_send(s7.tpkt_dt(s7.read_var(1, [s7.Item("M", 0)]))[9:])  # tail
    records += conv.client_send(s7.tpkt_dt(s7.read_var(2, [s7.Item("M", 2)])))
    events = _decode(tmp_path, records)
    assert any(e.ot and e.ot.anomalies == ["stream_gap"] for e in events)  # type: ignore[union-attr]
    refs = [m.ot.s7comm.pdu_reference for m in _messages(events)]  # type: ignore[union-attr]
    assert refs == [0, 2]


def test_mms_on_port_102_is_not_s7(tmp_path: Path) -> None:
    conv = _conv()
    records = conv.handshake() + conv.client_send(s7.cotp_cr()) + conv.server_send(s7.cotp_cc())
    records += conv.client_send(s7.tpkt_dt(bytes.fromhex("0d bb 0506 1301 0016 0102 1402 0002".replace(" ", ""))))
    events = _decode(tmp_path, records)
    assert not any(e.ot and e.ot.protocol in ("s7comm", "s7comm_plus") for e in events)


def test_s7comm_plus_fragmented_message_at_last_frame(tmp_path: Path) -> None:
    conv = _conv()
    whole = s7.plus(2, 0x31, 0x04CA, 5, body=bytes(300))
    first = b"\x72\x02" + (200).to_bytes(2, "big") + whole[4:204]
    rest = whole[204:-4]
    second = b"\x72\x02" + len(rest).to_bytes(2, "big") + rest + whole[-4:]
    records = conv.handshake() + conv.client_send(s7.tpkt_dt(first)) + conv.client_send(s7.tpkt_dt(second))
    records += conv.server_send(s7.tpkt_dt(s7.plus(2, 0x32, 0x04CA, 5)))
    msgs = _messages(_decode(tmp_path, records))
    assert [(m.pcap.frame, m.ot.s7comm_plus.function, m.ot.role) for m in msgs] == [  # type: ignore[union-attr]
        (5, "create_object", "request"), (6, "create_object", "response")]
    assert msgs[0].ot.s7comm_plus.data_length == len(whole) - 8  # type: ignore[union-attr]
    assert msgs[1].ot.s7comm_plus.request_frame == 5  # type: ignore[union-attr]


def test_pending_requests_are_bounded(tmp_path: Path) -> None:
    conv = _conv()
    records = conv.handshake()
    for ref in range(MAX_PENDING + 100):
        records += conv.client_send(s7.tpkt_dt(s7.read_var(ref, [s7.Item("M", 0)])))
    events = _decode(tmp_path, records)
    codes = [a for e in events if e.ot and e.ot.anomalies for a in e.ot.anomalies]
    assert codes.count("flooded") == 1
    unanswered = [e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]
    assert f"{MAX_PENDING} request(s)" in unanswered[-1].message  # type: ignore[operator]


# -- properties --------------------------------------------------------------------------------
_SAMPLES = [s7.setup_communication(), s7.read_var(1, [s7.Item("DB", 0, "WORD", 3, db=4)]),
            s7.read_var_response(1, [b"\x00\x01", 5]), s7.write_var(2, [(s7.Item("M", 1, "BIT"), b"\x01")]),
            s7.plc_control(3, "_INSE", s7.blocks_argument(["0800001P"])), s7.plc_stop(4),
            s7.szl_response(5, 0x1C, 0, [s7.component_record(1, "x")]),
            s7.userdata(6, 8, 7, 1, payload=s7.bcd_clock(2020, 1, 1, 0, 0, 0)),
            s7.plus(3, 0x31, 0x054C, 7)]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=6), st.lists(st.integers(0, 1), min_size=6,
                                                                max_size=6))  # fmt: skip
def test_random_bytes_never_escape_the_session(chunks: list[bytes], dirs: list[int]) -> None:
    out: list[Event] = []
    session = S7Session(ip_flow("tcp", 102), out)
    for n, chunk in enumerate(chunks):
        session.feed(dirs[n], s7.tpkt(s7.dt(chunk)) if n % 2 else chunk, n + 1, n * 1000)
    session.gap(0, Gap(10, "lost"), 9, 9000)
    session.feed(0, s7.tpkt_dt(s7.setup_communication()), 10, 10000)
    session.close(11, 11000, "closed")
    assert any(e.ot and e.ot.s7comm and e.ot.s7comm.function == "setup_communication" for e in out)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_SAMPLES), st.integers(0, 200), st.integers(0, 255), st.integers(0, 200))
def test_mutated_pdus_give_only_documented_outcomes(pdu: bytes, at: int, value: int, cut: int) -> None:
    mutated = bytearray(pdu)
    if mutated:
        mutated[at % len(mutated)] = value
    mutated = mutated[: max(1, len(mutated) - cut % 8)]
    for wire in (parse_header, parse_plus):
        try:
            h = wire(bytes(mutated))
            if wire is parse_header:
                parse_job(h) if h.param else None  # type: ignore[arg-type]
        except (Malformed, NeedMoreData):
            pass
    out: list[Event] = []
    session = S7Session(ip_flow("tcp", 102), out)
    session.feed(0, s7.tpkt_dt(bytes(mutated)), 1, 0)
    session.close(2, 1, "closed")
    documented = {"length_mismatch", "malformed_parameter", "malformed_header", "error_response",
                  "unknown_payload", "response_without_request", "unanswered_request",
                  "function_mismatch"}  # fmt: skip
    for e in out:
        assert set(e.ot.anomalies or ()) <= documented  # type: ignore[union-attr]


def test_first_pdu_in_tiny_segments_is_recognised(tmp_path: Path) -> None:
    """The first TPKT split before its S7 header: the flow keeps the rejected bytes and probes
    them again with the next segment (DecoderManifest.preamble)."""
    conv = _conv(port=2102)
    records = conv.handshake()
    records += conv.client_send(s7.tpkt_dt(s7.setup_communication(0)), segment_sizes=[2, 3, 4])
    records += conv.server_send(s7.tpkt_dt(s7.setup_communication(0, response=True)))
    msgs = _messages(_decode(tmp_path, records))
    assert [(m.pcap.frame, m.ot.role) for m in msgs] == [(7, "request"), (8, "response")]  # type: ignore[union-attr]


def test_block_functions() -> None:
    from watchfloor.decode.s7comm.wire import block_function

    counts = bytes.fromhex("3038 0001 3041 0003 3042 000c".replace(" ", ""))  # OB 1, DB 3, SDB 12
    assert block_function(1, False, counts) == {"block_counts": ["OB=1", "DB=3", "SDB=12"]}
    assert block_function(2, True, b"0A") == {"block_type": "DB"}
    assert block_function(2, False, bytes.fromhex("00012205" "00022205")) == {"blocks": ["1", "2"]}
    assert block_function(3, True, b"0E00042A") == {
        "block_type": "FB", "block_number": 42, "filesystem": "active"}  # fmt: skip
    with pytest.raises(Malformed):
        block_function(1, False, b"\x30\x38\x00")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 15), st.booleans(),
       st.sampled_from([0x00, 0x04, 0x05, 0xF0, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x28, 0x29]))
def test_wire_functions_raise_only_the_two_failure_kinds(data: bytes, sub: int, req: bool,
                                                          fc: int) -> None:
    from watchfloor.decode.s7comm.wire import Header, block_function, szl_request

    calls = [lambda: parse_tpkt(data), lambda: parse_connection(data), lambda: parse_header(data),
             lambda: parse_plus(data), lambda: szl_request(data), lambda: szl_response(data),
             lambda: clock(data), lambda: block_function(sub, req, data),
             lambda: parse_userdata(Header(7, 0, data, data, None, None, True)),
             lambda: parse_job(Header(1 if req else 3, 0, bytes((fc,)) + data, data, None, None,
                                      True))]  # fmt: skip
    for call in calls:
        try:
            call()
        except (Malformed, NeedMoreData):
            pass
