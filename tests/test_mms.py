"""IEC 61850 MMS: BER reader, OSI upper layers and MMS wire layer on annotated bytes, session
semantics on captures built with the kit, and property tests (only the two failure kinds out
of the wire layer, never an exception out of the session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._flows import ip_flow
from watchfloor.capture.tcp import Gap
from watchfloor.decode import Malformed, NeedMoreData, ber
from watchfloor.decode.mms.osi import NO_SESSION, data_pdu, unwrap
from watchfloor.decode.mms.probe import probe
from watchfloor.decode.mms.session import MAX_PENDING, MmsSession
from watchfloor.decode.mms.wire import parse, render
from watchfloor.decode.s7comm.probe import probe as s7_probe
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import mms as m
from watchfloor.testing import s7comm as s7

CAPTURES = Path(__file__).parent / "captures" / "mms"
LD = "IED1PROT"


def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ot and e.ot.mms and e.event.kind == "event" and e.event.action != "anomaly"]


def _anomalies(events: list[Event]) -> list[str]:
    return [a for e in events if e.ot and e.ot.anomalies for a in e.ot.anomalies]


def _conv(port: int = 102) -> TcpConversation:
    return TcpConversation(m.MMS_CLIENT, m.MMS_SERVER._replace(port=port))


def _decode(tmp_path: Path, records: list, name: str = "t.pcap") -> list[Event]:
    write_pcap(tmp_path / name, records)
    return _events(tmp_path / name)


# -- BER ------------------------------------------------------------------------------------
def test_ber_tlv_forms() -> None:
    assert ber.tlv(b"\x02\x01\x05", 0, 3) == (0x00, 2, 2, 3)
    assert ber.tlv(b"\xbf\x28\x00", 0, 3) == (0xA0, 40, 3, 3)  # high tag number form: [40]
    long = b"\x30\x81\x80" + bytes(128)
    assert ber.tlv(long, 0, len(long)) == (0x20, 16, 3, 131)
    assert ber.integer(b"\xff\x7f", 0, 2) == -129 and ber.unsigned(b"\x00\xff", 0, 2) == 255
    assert ber.bits(b"\x06\x80", 0, 2) == "10" and ber.oid(b"\x28\xca\x22\x02\x01", 0, 5) == "1.0.9506.2.1"
    for bad in (b"\x30\x80\x00\x00", b"\x30\x05\x00", b"\x1f\x81", b"\x02"):
        with pytest.raises(Malformed):
            ber.tlv(bad, 0, len(bad))


def test_ber_utc_time() -> None:
    assert ber.utc_time(b"\x65\x53\xf1\x00\x80\x00\x00\x0a", 0, 8) == "2023-11-14T22:13:20.500000Z"


# -- OSI upper layers -------------------------------------------------------------------------
def test_connect_unwraps_to_aarq_and_initiate() -> None:
    up = unwrap(m.connect_request())
    assert (up.spdu, up.acse) == (0x0D, 0) and up.acse_fields is not None
    assert up.acse_fields["application_context"] == "1.0.9506.2.3"
    assert up.acse_fields["calling_ap_title"] == "1.1.1.999"
    assert [p[0] for p in up.mms] == [0xA8]  # initiate-RequestPDU
    acc = unwrap(m.connect_accept(result=1))
    assert (acc.acse, acc.acse_fields["acse_result"]) == (1, 1)  # type: ignore[index]


def test_data_transfer_and_bare_mms() -> None:
    pdu = m.confirmed_request(7, m.identify())
    assert unwrap(m.data_spdu(pdu)).mms == [pdu]
    bare = unwrap(pdu)
    assert (bare.spdu, bare.mms) == (NO_SESSION, [pdu])
    rel = unwrap(m.release_request())
    assert (rel.spdu, rel.acse, rel.mms) == (0x09, 2, [])
    with pytest.raises(Malformed):
        unwrap(b"\x32\x01\x00")  # S7comm, not ISO session


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 300), st.integers(0, 400), st.integers(0, 255))
def test_data_pdu_shortcut_agrees_with_unwrap(size: int, at: int, value: int) -> None:
    """data_pdu (a shortcut for short lengths, the BER walk for long ones) takes only what
    unwrap would take."""
    pdu = m.confirmed_request(7, m.identify()) + bytes(size)  # from ~110 bytes on: long lengths
    tsdu = bytearray(m.data_spdu(pdu))
    assert data_pdu(bytes(tsdu)) == pdu
    tsdu[at % len(tsdu)] = value
    got = data_pdu(bytes(tsdu))
    if got is not None:
        assert unwrap(bytes(tsdu)).mms == [got]


# -- MMS PDUs ---------------------------------------------------------------------------------
def test_read_request_and_response() -> None:
    req = parse(bytes.fromhex(
        "a0 2c"  # confirmed-RequestPDU
        "02 01 05"  # invokeID 5
        "a4 27 a1 25 a0 23"  # read, variableAccessSpecification, listOfVariable
        "30 21 a0 1f a1 1d"  # one variable: name [0], domain-specific [1]
        "1a 08 4945443150524f54"  # domainId "IED1PROT"
        "1a 11 4d4d585531 24 4d58 24 546f7457 24 6d6167"  # itemId "MMXU1$MX$TotW$mag"
        .replace(" ", "")))  # fmt: skip
    assert (req.type, req.invoke_id, req.service) == (0, 5, 4)
    assert req.fields["variables"] == [("domain", LD, "MMXU1$MX$TotW$mag")]
    resp = parse(m.confirmed_response(5, m.read_result([m.float32(1.5), m.failure(10), m.structure(
        m.boolean(True), m.bitstring("0100"))])))
    assert resp.fields["values"] == ["1.5", "failure:10", "{true,0b0100}"]
    assert resp.fields["failures"] == [10] and resp.complete


def test_write_of_oper_and_error_and_reject() -> None:
    w = parse(m.confirmed_request(9, m.write([m.domain_name(LD, "XCBR1$CO$Pos$Oper")], [m.oper(m.boolean(True))])))
    assert w.fields["variables"][0][2] == "XCBR1$CO$Pos$Oper" and w.fields["scalars"] == [1]
    err = parse(m.confirmed_error(9, 7, 2))
    assert (err.type, err.invoke_id, err.fields["error_class"], err.fields["error_code"]) == (2, 9, 7, 2)
    rej = parse(m.reject(9, 1, 4))
    assert (rej.type, rej.invoke_id, rej.fields["reject_type"], rej.fields["reject_code"]) == (4, 9, 1, 4)


def test_pdu_without_service_is_reported_incomplete() -> None:
    p = parse(bytes.fromhex("a1030201 00"))  # confirmed-ResponsePDU, invokeID 0, no service
    assert (p.type, p.invoke_id, p.service, p.complete) == (1, 0, None, False)


def test_services_with_names_and_files() -> None:
    gnl = parse(m.confirmed_request(1, m.get_name_list(0, LD)))
    assert (gnl.fields["object_class"], gnl.fields["scope"], gnl.fields["domain"]) == (0, "domain", LD)
    fo = parse(m.confirmed_request(2, m.file_open("COMTRADE/a.cfg")))
    assert (fo.service, fo.fields["file_name"]) == (72, "COMTRADE/a.cfg")
    start = parse(m.confirmed_request(4, m.ctx(40, m.ctx(0, b"Program_Application_1", False) + m.ctx(1, b"", False))))
    assert (start.service, start.fields["program_invocation"]) == (40, "Program_Application_1")
    ident = parse(m.confirmed_response(3, m.identify_result("V", "M", "1.0")))
    assert (ident.fields["vendor"], ident.fields["model"], ident.fields["revision"]) == ("V", "M", "1.0")


def test_render_data_forms() -> None:
    def r(b: bytes) -> str:
        return render(b, ber.tlv(b, 0, len(b)))

    assert r(m.int_data(-3)) == "-3" and r(m.unsigned_data(300)) == "300"
    assert r(m.visible("abc")) == '"abc"' and r(m.octets(b"\x01\x02")) == "0x0102"
    assert r(m.array(m.int_data(1), m.int_data(2))) == "[1,2]"
    assert r(m.utc_time(1_700_000_000)) == "2023-11-14T22:13:20.000000Z"


# -- probe ------------------------------------------------------------------------------------
def test_probe_tells_mms_from_s7() -> None:
    mms_data = m.cotp_cr() + m.cotp_cc() + m.tpkt_dt(m.connect_request())
    assert probe(mms_data) and not s7_probe(mms_data)
    assert probe(m.mms_dt(m.confirmed_request(1, m.identify())))
    assert probe(m.tpkt_dt(m.confirmed_request(1, m.identify())))  # MMS straight on COTP
    s7_data = s7.tpkt_dt(s7.setup_communication())
    assert s7_probe(s7_data) and not probe(s7_data)
    assert not probe(m.cotp_cr()) and not probe(b"GET / HTTP/1.1\r\n\r\n")


# -- sessions on captures ---------------------------------------------------------------------
def test_engineering_session_capture() -> None:
    events = _events(CAPTURES / "mms_session.pcap")
    msgs = _messages(events)
    by_frame = {e.pcap.frame: e for e in msgs}  # type: ignore[union-attr]
    write = by_frame[18]
    assert (write.event.action, write.ot.role, write.ot.action.operation) == ("write", "request", "control")  # type: ignore[union-attr]
    assert write.ot.action.target.station == LD and write.ot.action.values == [1]  # type: ignore[union-attr]
    answer = by_frame[19]
    assert (answer.ot.action.operation, answer.ot.mms.request_frame, answer.event.outcome) == ("control", 18, "success")  # type: ignore[union-attr]
    assert answer.event.duration and answer.event.duration > 0
    assert by_frame[20].ot.action.operation == "config"  # type: ignore[union-attr]  # a setting
    assert by_frame[21].ot.mms.failure_names == ["object_access_denied"]  # type: ignore[union-attr]
    assert by_frame[21].event.outcome == "failure"
    err = by_frame[23]
    assert (err.event.action, err.ot.anomalies, err.ot.mms.error_class_name) == (  # type: ignore[union-attr]
        "confirmed_error", ["error_response"], "definition")
    report = by_frame[24]
    assert (report.event.action, report.ot.role, report.ot.mms.values[-1]) == ("information_report", None, "1250.0")  # type: ignore[union-attr]
    assert by_frame[25].ot.action.operation == "config" and by_frame[25].ot.mms.file_name == "COMTRADE/fault1.cfg"  # type: ignore[union-attr]
    assert by_frame[30].ot.anomalies == ["reject"]  # type: ignore[union-attr]
    assert [by_frame[f].event.action for f in (33, 34)] == ["release_request", "release_response"]
    assets = [e.asset for e in events if e.event.kind == "asset"]
    assert [(a.vendor, a.model, a.revision, a.ip) for a in assets] == [  # type: ignore[union-attr]
        ("Acme Relays", "PR-7", "4.2.1", m.MMS_SERVER.ip)]
    assert "unanswered_request" not in _anomalies(events)  # every request was answered
    roles = {(e.source.port, e.ot.role) for e in msgs if e.ot.role}  # type: ignore[union-attr]
    assert roles == {(m.MMS_CLIENT.port, "request"), (102, "response")}


def test_segmentation_non_standard_port_gap_midstream() -> None:
    seg = _messages(_events(CAPTURES / "mms_segmented.pcap"))
    assert [(e.pcap.frame, e.ot.mms.invoke_id, e.ot.role) for e in seg[2:]] == [  # type: ignore[union-attr]
        (10, 1, "request"), (11, 1, "response"), (12, 2, "request"), (12, 3, "request"),
        (13, 2, "response"), (13, 3, "response")]
    assert len(seg[3].ot.mms.identifiers) == 40  # type: ignore[union-attr]
    port = _messages(_events(CAPTURES / "mms_port_10102.pcap"))
    assert [e.ot.mms.values for e in port if e.ot.role == "response"][1:] == [["1001.0"], ["1002.0"], ["1003.0"]]  # type: ignore[union-attr]
    gap = _events(CAPTURES / "mms_gap.pcap")
    assert "stream_gap" in _anomalies(gap)
    assert [e.ot.mms.invoke_id for e in _messages(gap) if e.ot.mms.invoke_id is not None] == [1, 2, 2]  # type: ignore[union-attr]
    mid = _messages(_events(CAPTURES / "mms_midstream.pcap"))
    assert [e.ot.action.operation for e in mid] == ["read", "control", "control"]  # type: ignore[union-attr]


def test_tsdu_over_several_dts_and_snaplen(tmp_path: Path) -> None:
    conv = _conv(10555)
    records = conv.handshake() + conv.client_send(m.cotp_cr()) + conv.server_send(m.cotp_cc())
    records += conv.client_send(m.mms_dt(m.confirmed_request(1, m.read([m.domain_name(LD, "A" * 300)])), segment=64))
    msgs = _messages(_decode(tmp_path, records))
    assert [(e.pcap.frame, e.ot.mms.variables[0].item) for e in msgs] == [(6, "A" * 300)]  # type: ignore[union-attr]


def test_pending_requests_are_bounded(tmp_path: Path) -> None:
    conv = _conv()
    records = conv.handshake()
    for i in range(MAX_PENDING + 50):
        records += conv.client_send(m.mms_dt(m.confirmed_request(i, m.identify())))
    events = _decode(tmp_path, records)
    assert _anomalies(events).count("flooded") == 1
    unanswered = [e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]
    assert f"{MAX_PENDING} request(s)" in unanswered[-1].message  # type: ignore[operator]


# -- properties --------------------------------------------------------------------------------
_PDUS = [m.confirmed_request(1, m.read([m.domain_name(LD, "X$ST$a")])),
         m.confirmed_response(1, m.read_result([m.structure(m.float32(1.0), m.bitstring("01"), m.utc_time(5))])),
         m.confirmed_request(2, m.write([m.domain_name(LD, "X$CO$Pos$Oper")], [m.oper(m.boolean(True))])),
         m.confirmed_response(2, m.write_result([None, 3])), m.confirmed_error(3, 2, 1),
         m.confirmed_response(4, m.name_list(["a", "b"], True)), m.information_report("RPT", [m.visible("x")]),
         m.confirmed_request(5, m.file_open("f")), m.reject(6, 1, 1), m.initiate_request(),
         m.conclude_request(), m.confirmed_response(7, m.identify_result("a", "b", "c"))]  # fmt: skip
_SAMPLES = [m.data_spdu(p) for p in _PDUS] + _PDUS + [m.connect_request(), m.connect_accept(),
                                                      m.release_request(), m.release_response()]  # fmt: skip
DOCUMENTED = {"malformed_service", "missing_service", "malformed_pdu", "malformed_upper_layers",
              "error_response", "reject", "response_without_request", "request_not_captured",
              "unanswered_request", "service_mismatch", "framing_lost", "stream_gap",
              "reassembly_overflow", "malformed_cotp", "flooded", "truncated", "flow_evicted"}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=6), st.lists(st.integers(0, 1), min_size=6, max_size=6))
def test_random_bytes_never_escape_the_session(chunks: list[bytes], dirs: list[int]) -> None:
    out: list[Event] = []
    session = MmsSession(ip_flow("tcp", 102), out)
    for n, chunk in enumerate(chunks):
        session.feed(dirs[n], m.tpkt_dt(chunk) if n % 2 else chunk, n + 1, n * 1000)
    session.gap(0, Gap(10, "lost"), 9, 9000)
    session.feed(0, m.mms_dt(m.confirmed_request(77, m.identify())), 10, 10000)
    session.close(11, 11000, "closed")
    assert any(e.ot and e.ot.mms and e.ot.mms.invoke_id == 77 for e in out)
    for e in out:
        assert set(e.ot.anomalies or ()) <= DOCUMENTED  # type: ignore[union-attr]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_SAMPLES), st.integers(0, 400), st.integers(0, 255), st.integers(0, 40))
def test_mutated_pdus_give_only_documented_outcomes(sample: bytes, at: int, value: int, cut: int) -> None:
    mutated = bytearray(sample)
    mutated[at % len(mutated)] = value
    data = bytes(mutated[: max(1, len(mutated) - cut % 12)])
    for wire in (unwrap, parse):
        try:
            wire(data)
        except (Malformed, NeedMoreData):
            pass
    out: list[Event] = []
    session = MmsSession(ip_flow("tcp", 102), out)
    session.feed(0, m.tpkt_dt(data), 1, 0)
    session.feed(1, m.tpkt_dt(data), 2, 1)
    session.close(3, 2, "closed")
    for e in out:
        assert set(e.ot.anomalies or ()) <= DOCUMENTED  # type: ignore[union-attr]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=100))
def test_wire_functions_raise_only_the_two_failure_kinds(data: bytes) -> None:
    for wire in (unwrap, parse, probe):
        try:
            wire(data)  # type: ignore[operator]
        except (Malformed, NeedMoreData):
            pass
    if data:
        try:
            render(data, ber.tlv(data, 0, len(data)))
        except Malformed:
            pass
