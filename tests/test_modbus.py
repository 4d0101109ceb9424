"""Modbus/TCP: wire layer on annotated bytes, session semantics on captures built with the kit."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.modbus.constants import FUNCTIONS
from watchfloor.decode.modbus.probe import probe
from watchfloor.decode.modbus.wire import parse_adu, parse_pdu
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import TcpConversation, mbap, modbus as mb, write_pcap

CAPTURES = Path(__file__).parent / "captures"


# -- wire ---------------------------------------------------------------------------------------
def test_read_holding_registers_request_and_response() -> None:
    request = bytes.fromhex(
        "0001"  # transaction id
        "0000"  # protocol id
        "0006"  # length: unit + PDU
        "11"  # unit id 17
        "03"  # function: read holding registers
        "006b"  # starting address 107
        "0003"  # quantity 3
    )
    (tid, unit, fc, data), n = parse_adu(request)
    assert (tid, unit, fc, n) == (1, 17, 3, 12)
    assert parse_pdu(fc, data, True) == {"address": 107, "quantity": 3}
    response = bytes.fromhex("0001 0000 0009 11 03 06 022b 0000 0064".replace(" ", ""))
    (_, _, fc, data), _ = parse_adu(response)  # byte count 6, registers 555, 0, 100
    assert parse_pdu(fc, data, False) == {"values": [555, 0, 100]}


def test_exception_response_keeps_seven_bit_code_and_exception() -> None:
    (tid, unit, fc, data), _ = parse_adu(bytes.fromhex("000200000003" "01" "83" "02"))
    assert fc == 0x83 and parse_pdu(fc, data, False) == {"exception_code": 2}


def test_need_more_data_and_malformed() -> None:
    adu = mbap(7, 1, mb.read_request(3, 0, 10))
    for cut in range(len(adu)):
        with pytest.raises(NeedMoreData):
            parse_adu(adu[:cut])
    with pytest.raises(Malformed, match="protocol identifier"):
        parse_adu(b"\x00\x01\x12\x34\x00\x06\x01\x03\x00\x00\x00\x01")
    with pytest.raises(Malformed, match="MBAP length"):
        parse_adu(b"\x00\x01\x00\x00\x01\x06\x01\x03" + b"\x00" * 300)
    with pytest.raises(Malformed, match="byte count"):
        parse_pdu(3, b"\x06\x00\x01", False)  # says 6 bytes, carries 2


@pytest.mark.parametrize("exchange", mb.reference_exchanges(), ids=lambda e: e.request[:1].hex())
def test_every_reference_exchange_decodes_without_anomaly(exchange: mb.Exchange) -> None:
    fc = exchange.request[0]
    parse_pdu(fc, exchange.request[1:], True)
    if exchange.response is not None:
        parse_pdu(exchange.response[0], exchange.response[1:], False)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_raise_only_the_two_failure_kinds(data: bytes, is_request: bool) -> None:
    try:
        (_, _, fc, body), _ = parse_adu(data)
        parse_pdu(fc, body, is_request)
    except (NeedMoreData, Malformed):
        pass
    probe(data, False)
    probe(data, True)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(mb.reference_exchanges()), st.integers(0, 259), st.integers(0, 255),
       st.booleans())
def test_mutated_pdus_raise_only_the_two_failure_kinds(exchange: mb.Exchange, at: int,
                                                        value: int, response: bool) -> None:
    pdu = bytearray(exchange.response if response and exchange.response else exchange.request)
    pdu[at % len(pdu)] = value
    try:
        parse_pdu(pdu[0], bytes(pdu[1:]), not response)
    except Malformed:
        pass


# -- sessions, on captures ----------------------------------------------------------------------
def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ot is not None and e.ot.modbus is not None]


def test_all_functions_capture() -> None:
    events = _events(CAPTURES / "modbus_all_functions.pcap")
    msgs = _messages(events)
    requests = [e for e in msgs if e.ot.role == "request"]  # type: ignore[union-attr]
    assert {e.ot.modbus.function_code for e in requests} >= set(FUNCTIONS) | {90}  # type: ignore[union-attr]
    assert all(e.source.port != 502 for e in requests)  # type: ignore[union-attr]
    by_fc = {}
    for e in msgs:
        by_fc.setdefault((e.ot.modbus.function_code, e.ot.role), e)  # type: ignore[union-attr]
    # a read response gets its addresses from the paired request
    read = by_fc[(3, "response")].ot
    assert read.action.address.start == 0 and read.action.address.end == 4  # type: ignore[union-attr]
    assert read.action.values == [0x0102, 500, 1000, 0xFFFF, 0]  # type: ignore[union-attr]
    assert read.modbus.request_frame is not None  # type: ignore[union-attr]
    coils = by_fc[(1, "response")].ot.action
    assert coils.values == [1, 0, 1, 1, 0, 0, 1, 0, 1, 1]  # 10 coils, not 16 padded bits
    assert by_fc[(5, "request")].ot.action.values == [1]  # 0xFF00 is ON
    assert {by_fc[(fc, "request")].ot.action.operation for fc in (5, 6, 15, 16, 22, 23)} == {"write"}
    # FC 8 sub-functions 1 (restart) and 4 (listen only) are control; others diagnostic
    diag = [e.ot for e in msgs if e.ot.modbus.function_code == 8 and e.ot.role == "request"]  # type: ignore[union-attr]
    ops = {(o.modbus.subfunction, o.action.operation) for o in diag}  # type: ignore[union-attr]
    assert {(1, "control"), (4, "control"), (0, "diagnostic"), (10, "diagnostic")} <= ops
    vendor = by_fc[(90, "request")].ot
    assert vendor.modbus.function == "unknown-90" and vendor.modbus.data == "0002"  # type: ignore[union-attr]
    assert vendor.action.operation == "other" and "unknown_function" in vendor.anomalies  # type: ignore[union-attr]
    exc = [e for e in msgs if e.ot.modbus.exception_code is not None]  # type: ignore[union-attr]
    assert {e.ot.modbus.exception for e in exc} >= {"illegal_data_address", "illegal_data_value"}  # type: ignore[union-attr]
    assert all(e.event.outcome == "failure" for e in exc)
    # the two unanswered diagnostics are reported once the flow ends, at the time of the first
    # of them (when the device stopped answering: the traffic that triggers the finding)
    unanswered = [e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]
    assert len(unanswered) == 1 and "2 request(s)" in (unanswered[0].message or "")
    tid = int((unanswered[0].message or "").split("transaction ")[1].split()[0])
    (first,) = [e for e in msgs if e.ot.modbus.transaction_id == tid and e.ot.role == "request"]  # type: ignore[union-attr]
    assert unanswered[0].timestamp == first.timestamp < max(e.timestamp for e in msgs)


def test_device_identification_becomes_asset_observation() -> None:
    events = _events(CAPTURES / "modbus_all_functions.pcap")
    assets = [e.asset for e in events if e.asset]
    assert assets, "no asset observation"
    first = assets[0]
    assert (first.vendor, first.product_code, first.revision) == (
        "Watchfloor Test PLC Co", "WF-PLC-1", "v2.4.1")
    server = next(e.destination for e in _messages(events) if e.ot.role == "request")  # type: ignore[union-attr]
    assert (first.ip, first.mac) == (server.ip, server.mac)  # type: ignore[union-attr]
    assert any(a.model == "WF-PLC-1/16" for a in assets)


def test_non_standard_port_direction_from_handshake() -> None:
    msgs = _messages(_events(CAPTURES / "modbus_port_5020.pcapng"))
    assert msgs and all((e.destination.port == 5020) == (e.ot.role == "request") for e in msgs)  # type: ignore[union-attr]


def test_midstream_start_direction_from_message_layout(tmp_path: Path) -> None:
    # No handshake, server on a high port and the client on a lower one: only the layout of
    # the messages can tell who asks.
    conv = TcpConversation(("192.0.2.1", 1000, "02:00:00:00:00:01"),
                           ("192.0.2.2", 40000, "02:00:00:00:00:02"))
    records = []
    for tid in range(5):
        records += mb.exchange(conv, tid, mb.read_request(3, 10, 2),
                               mb.read_registers_response(3, [1, 2]))
    write_pcap(tmp_path / "m.pcap", records)
    msgs = _messages(_events(tmp_path / "m.pcap"))
    assert [e.ot.role for e in msgs] == ["request", "response"] * 5  # type: ignore[union-attr]
    assert msgs[0].source.port == 1000  # type: ignore[union-attr]


def test_gap_resynchronises_and_reports() -> None:
    events = _events(CAPTURES / "modbus_gap.pcap")
    gaps = [e for e in events if e.ot and e.ot.anomalies == ["stream_gap"]]
    assert gaps
    # traffic after the last gap decodes normally
    last_gap = max(e.pcap.frame for e in gaps)  # type: ignore[union-attr]
    after = [e for e in _messages(events) if e.pcap.frame > last_gap]  # type: ignore[union-attr]
    assert after and not any(e.ot.anomalies for e in after)  # type: ignore[union-attr]


def test_not_modbus_on_port_502_is_not_labelled() -> None:
    events = _events(CAPTURES / "modbus_not_modbus_502.pcap")
    msgs = _messages(events)
    assert msgs and len({e.network.community_id for e in msgs}) == 1  # type: ignore[union-attr]


def test_pending_requests_are_bounded(tmp_path: Path) -> None:
    conv = TcpConversation()
    records = conv.handshake()
    for tid in range(700):  # a flood of requests nobody answers
        records += conv.client_send(mbap(tid, 1, mb.read_request(3, 0, 1)))
    write_pcap(tmp_path / "flood.pcap", records)
    events = _events(tmp_path / "flood.pcap")
    codes = [a for e in events if e.ot and e.ot.anomalies for a in e.ot.anomalies]
    assert codes.count("flooded") == 1
    unanswered = [e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]
    assert "500 request(s)" in unanswered[-1].message  # type: ignore[operator]


def test_exception_storm_reported_once_per_window(tmp_path: Path) -> None:
    conv = TcpConversation()
    records = conv.handshake()
    for tid in range(45):
        records += mb.exchange(conv, tid, mb.read_request(3, 9000, 1), mb.exception(3, 2))
    write_pcap(tmp_path / "storm.pcap", records)
    events = _events(tmp_path / "storm.pcap")
    storms = [e for e in events if e.ot and e.ot.anomalies == ["exception_storm"]]
    assert len(storms) == 1


def test_response_without_request_and_length_mismatch(tmp_path: Path) -> None:
    conv = TcpConversation()
    records = conv.handshake()
    records += conv.server_send(mbap(9, 1, mb.read_registers_response(3, [1])))
    records += conv.client_send(mbap(10, 1, b"\x03\x00\x00\x00\x01\xff"))  # one byte too many
    write_pcap(tmp_path / "odd.pcap", records)
    msgs = _messages(_events(tmp_path / "odd.pcap"))
    assert msgs[0].ot.anomalies == ["response_without_request"]  # type: ignore[union-attr]
    assert msgs[1].ot.anomalies == ["length_mismatch"]  # type: ignore[union-attr]
    assert msgs[1].ot.modbus.data == "00000001ff"  # the PDU after its function code  # type: ignore[union-attr]


def test_event_ids_are_stable_and_unique() -> None:
    path = CAPTURES / "modbus_segmented.pcap"
    first, second = _events(path), _events(path)
    ids = [e.event.id for e in first]
    assert ids == [e.event.id for e in second] and len(set(ids)) == len(ids)


def test_flow_table_full_evicts_with_an_anomaly(tmp_path: Path) -> None:
    from watchfloor.capture.files import read_packets
    from watchfloor.sensor import Sensor

    records = []
    for i in range(30):  # 30 connections, each with a request still waiting for its answer
        conv = TcpConversation(("192.0.2.1", 40000 + i, "02:00:00:00:00:01"),
                               ("192.0.2.2", 502, "02:00:00:00:00:02"), start_ns=i * 10**6)
        records += conv.handshake() + conv.client_send(mbap(1, 1, mb.read_request(3, 0, 1)))
    write_pcap(tmp_path / "many.pcap", sorted(records, key=lambda r: r[0]))
    sensor = Sensor(max_flows=10)
    events = [e for b in sensor.run(read_packets(tmp_path / "many.pcap"), source_id="t") for e in b]
    evicted = [e for e in events if e.ot and e.ot.anomalies == ["flow_evicted"]]
    assert evicted and sensor.stats.flows == 30
    assert len([e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]) == 30
