"""EtherNet/IP + CIP: wire layer on annotated bytes, session semantics on captures built with the kit."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from watchfloor.decode import Malformed, NeedMoreData
from watchfloor.decode.enip.probe import probe
from watchfloor.decode.enip.session import MAX_IO_CONNECTIONS, MAX_PENDING
from watchfloor.decode.enip.wire import (
    list_identity,
    parse_cip,
    parse_cpf,
    parse_encap,
    parse_path,
    service_info,
)
from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import enip as E
from watchfloor.testing.modbus import Endpoint

CAPTURES = Path(__file__).parent / "captures" / "enip"
IDENTITY = E.identity_attributes(1, 0x0E, 54, (20, 11), 0x006C061A, "1756-L61/B LOGIX5561")


# -- wire ---------------------------------------------------------------------------------------
def test_encapsulation_header_and_cpf() -> None:
    msg = bytes.fromhex(
        "6f00"  # command SendRRData
        "1a00"  # length 26
        "44332211"  # session handle 0x11223344
        "00000000"  # status success
        "0102030405060708"  # sender context
        "00000000"  # options
        "00000000" "0a00"  # interface handle, timeout 10
        "0200" "00000000"  # 2 items: null address, length 0
        "b2000a00"  # unconnected data, 10 bytes:
        "0e03" "20012401" "3007"  # Get_Attribute_Single, path of 3 words: class 1 inst 1 attr 7
        "0000"  # (2 bytes of request data)
    )
    (cmd, session, status, ctx, options, data), n = parse_encap(msg)
    assert (cmd, session, status, ctx.hex(), options, n) == (0x6F, 0x11223344, 0, "0102030405060708", 0, 50)
    items = parse_cpf(data, 6)
    assert [t for t, _ in items] == [0x0000, 0x00B2]
    cip = parse_cip(items[1][1])
    assert (cip["service"], cip["class_id"], cip["instance_id"], cip["attribute_id"]) == (0x0E, 1, 1, 7)
    assert cip["_response"] is False and cip["data"] == b"\0\0"


def test_need_more_data_and_malformed() -> None:
    msg = E.send_rr_data(E.cip_request(0x01, E.class_path(1, 1)))
    for cut in range(len(msg)):
        with pytest.raises(NeedMoreData):
            parse_encap(msg[:cut])
    with pytest.raises(Malformed, match="beyond"):
        parse_cpf(b"\x01\x00\xb2\x00\x10\x00abc")
    with pytest.raises(Malformed, match="after the last"):
        parse_cpf(b"\x00\x00x")
    with pytest.raises(Malformed):
        parse_cip(b"\x0e")


def test_response_status_and_extended_status() -> None:
    cip = parse_cip(E.cip_response(0x10, 0x0E, b"", [0x0107]))
    assert cip["_response"] and cip["service"] == 0x10
    assert (cip["status"], cip["extended_status"]) == (0x0E, [0x0107])


def test_symbolic_path_with_members_and_indices() -> None:
    fields: dict = {}
    parse_path(E.symbol_path("Program:Main.Recipe[2,3].Step"), fields)
    assert fields["symbol"] == "Program:Main.Recipe[2,3].Step"
    fields = {}
    parse_path(bytes.fromhex("91054d79546167002903" "0001"), fields)  # odd name padded; 16-bit index
    assert fields["symbol"] == "MyTag[256]"


def test_route_port_segments_and_16_bit_logical() -> None:
    fields: dict = {}
    parse_path(bytes.fromhex("0100" "120c" "3139322e3136382e312e3130"  # port 2, "192.168.1.10"
                             "21000001" "2401"), fields)  # 16-bit class 0x100, instance 1
    assert fields["route"] == ["1,0", "2,192.168.1.10"]
    assert (fields["class_id"], fields["instance_id"]) == (0x100, 1)


def test_object_specific_services_depend_on_the_class() -> None:
    assert service_info(0x52, 6, False) == ("unconnected_send", "other")
    assert service_info(0x52, None, True) == ("read_tag_fragmented", "read")
    assert service_info(0x4E, 6, False) == ("forward_close", "session")
    assert service_info(0x4E, None, True) == ("read_modify_write_tag", "write")
    assert service_info(0x4C, 0x37, False) == ("initiate_download", "program")
    assert service_info(0x05, 1, False) == ("reset", "control")
    assert service_info(0x60, 0x99, False) == ("unknown-96", "other")
    assert service_info(0x4D, 0xA1, False) == ("nvs_transfer", "firmware")  # Rockwell NVS
    assert service_info(0x51, 0xA1, False) == ("unknown-81", "firmware")


def test_multiple_service_packet_and_unconnected_send_nest() -> None:
    msp = parse_cip(E.multiple_service_packet([E.read_tag("A"), E.write_tag("B", 0xC3, [1, 2])]))
    assert [n["service"] for n in msp["_nested"]] == [0x4C, 0x4D]
    assert msp["_nested"][1]["values"] == [1, 2]
    us = parse_cip(E.unconnected_send(E.multiple_service_packet([E.read_tag("A")]), [(1, 3)]))
    inner = us["_nested"][0]
    assert inner["service"] == 0x0A and inner["_nested"][0]["symbol"] == "A"
    assert us["route"] == ["1,3"]
    bad = bytearray(E.multiple_service_packet([E.read_tag("A")]))
    bad[8] = 0xFF  # offset of the first service far beyond the packet
    assert "_malformed" in parse_cip(bytes(bad))


def test_execute_pccc_function_gives_the_operation(tmp_path: Path) -> None:
    requestor = bytes((7,)) + struct.pack("<HI", 0x4D, 0x3D2B31E0)
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    records = conv.handshake()
    for n, (cmd, fnc, op) in enumerate([(0x0F, 0x80, "control"), (0x0F, 0xAB, "write"),
                                        (0x06, 0x03, "diagnostic"), (0x0F, 0xA2, "read")]):
        req = E.cip_request(0x4B, E.class_path(0x67, 1), requestor + bytes((cmd, 0)) +
                            struct.pack("<H", n) + bytes((fnc, 1, 2)))  # fmt: skip
        rep = E.cip_response(0x4B, 0, requestor + bytes((cmd | 0x40, 0)) + struct.pack("<H", n))
        records += E.exchange(conv, E.send_rr_data(req, context=struct.pack("<Q", n)),
                              E.send_rr_data(rep, context=struct.pack("<Q", n)))  # fmt: skip
    write_pcap(tmp_path / "pccc.pcap", records)
    msgs = _messages(_events(tmp_path / "pccc.pcap"))
    got = [(e.ot.role, e.ot.cip.pccc_command, e.ot.cip.pccc_function, e.ot.action.operation)  # type: ignore[union-attr]
           for e in msgs]
    assert got[:2] == [("request", 0x0F, 0x80, "control"), ("response", 0x4F, 0x80, "control")]
    assert [g[3] for g in got[2::2]] == ["write", "diagnostic", "read"]
    assert msgs[0].ot.cip.pccc_function_name == "change_mode" and msgs[0].ot.cip.data == "0102"  # type: ignore[union-attr]
    assert msgs[1].ot.cip.pccc_status == 0 and not any(e.ot.anomalies for e in msgs)  # type: ignore[union-attr]


def test_repeated_pccc_polls_keep_their_own_transaction_numbers(tmp_path: Path) -> None:
    """The analysis cache masks the PCCC transaction number: each event still has its own, and
    a reply's function is its own request's, also when a second flow repeats the same bytes."""
    requestor = bytes((7,)) + struct.pack("<HI", 0x4D, 0x3D2B31E0)
    records = []
    for k, (port, fnc) in enumerate(((50001, 0xA2), (50002, 0xAA))):
        conv = TcpConversation(client=("192.0.2.1", port, "02:00:00:00:00:01"),
                               server=("192.0.2.2", 44818, "02:00:00:00:00:02"),
                               start_ns=1_700_000_000_000_000_000 + k * 10**9)  # fmt: skip
        records += conv.handshake()
        for tns in (0x1234, 0x1235, 0x0000, 0x1234):
            req = E.cip_request(0x4B, E.class_path(0x67, 1), requestor + bytes((0x0F, 0)) +
                                struct.pack("<H", tns) + bytes((fnc, 4, 7, 0)))  # fmt: skip
            rep = E.cip_response(0x4B, 0, requestor + bytes((0x4F, 0)) + struct.pack("<H", tns) +
                                 b"\x01\x00")  # fmt: skip
            records += E.exchange(conv, E.send_rr_data(req), E.send_rr_data(rep))
    write_pcap(tmp_path / "pccc.pcap", records)
    msgs = _messages(_events(tmp_path / "pccc.pcap"))
    got = [(e.ot.role, e.ot.cip.pccc_transaction, e.ot.cip.pccc_function, e.ot.action.operation)  # type: ignore[union-attr]
           for e in msgs]
    want = []
    for fnc, op in ((0xA2, "read"), (0xAA, "write")):
        for tns in (0x1234, 0x1235, 0x0000, 0x1234):
            want += [("request", tns, fnc, op), ("response", tns, fnc, op)]
    assert got == want
    assert {e.ot.cip.data for e in msgs} == {"040700", "0100"}  # type: ignore[union-attr]


def test_cpf_cut_inside_the_usual_layout_is_malformed_not_a_crash(tmp_path: Path) -> None:
    """A SendUnitData / SendRRData whose CPF starts like the usual layout but ends early goes
    to the general CPF parser (the fast path must not read past the message)."""
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    records = conv.handshake()
    records += E.exchange(conv, E.register_session(), E.register_session(1))
    head = struct.pack("<IH", 0, 0)
    for cmd, cpf in ((0x70, "0200a1000400" "0102"), (0x6F, "0200" "00000000" "b200"),
                     (0x70, "0200a1000400" "01020304" "b100")):
        records += conv.client_send(E.encap(cmd, head + bytes.fromhex(cpf), session=1))
    write_pcap(tmp_path / "cut.pcap", records)
    msgs = _messages(_events(tmp_path / "cut.pcap"))
    assert [(e.ot.enip.command, e.ot.anomalies) for e in msgs[2:]] == [  # type: ignore[union-attr]
        (0x70, ["malformed_cpf"]), (0x6F, ["malformed_cpf"]), (0x70, ["malformed_cpf"])]


def test_fragmented_tag_services() -> None:
    read = parse_cip(E.cip_request(0x52, E.symbol_path("Big[10]"), struct.pack("<HI", 100, 480)))
    assert (read["symbol"], read["elements"], read["offset"]) == ("Big[10]", 100, 480)
    write = parse_cip(E.cip_request(0x53, E.symbol_path("Big"),
                                    struct.pack("<HHI3h", 0xC3, 100, 200, 1, -2, 3)))  # fmt: skip
    assert (write["tag_type"], write["elements"], write["offset"], write["values"]) == (
        0xC3, 100, 200, [1, -2, 3])
    assert service_info(0x53, None, True) == ("write_tag_fragmented", "write")
    udt = parse_cip(E.cip_request(0x4D, E.symbol_path("Recipe"),
                                  struct.pack("<HHH", 0x02A0, 0x1234, 1) + b"\x01\x02"))  # fmt: skip
    assert (udt["tag_type"], udt["structure_handle"], udt["data"]) == (0x02A0, 0x1234, b"\x01\x02")


def test_forward_open_fields() -> None:
    cip = parse_cip(E.forward_open(0x80000001, 7, rpi_us=20_000))
    assert (cip["t_o_connection_id"], cip["connection_serial"], cip["o_t_rpi"]) == (0x80000001, 7, 20_000)
    assert cip["transport_class"] == 3 and cip["connection_path"] == "port 1,0 / class 2 / instance 1"


def test_list_identity_item() -> None:
    reply = E.list_identity_reply("10.1.1.164", IDENTITY)
    (_, _, _, _, _, data), _ = parse_encap(reply)
    (tid, item), = parse_cpf(data)
    ident = list_identity(item)
    assert tid == 0x0C
    assert ident == {"vendor_id": 1, "device_type": 14, "product_code": 54, "revision": "20.011",
                     "device_status": 0x30, "serial_number": "0x006c061a",
                     "product_name": "1756-L61/B LOGIX5561", "state": 3,
                     "encapsulation_version": 1, "socket_address": "10.1.1.164",
                     "socket_port": 44818}  # fmt: skip


def test_probe() -> None:
    assert probe(E.register_session(), False)
    assert probe(E.send_rr_data(E.cip_request(0x01, E.class_path(1, 1)))[:30], False)
    assert probe(E.io_datagram(5, 1, b"\0\0"), False)
    assert not probe(bytes(48), False)  # zero bytes look like two NOPs: no evidence off the port
    assert not probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True)
    assert not probe(E.encap(0x0001), False) and probe(E.encap(0x0001), True)  # legacy command


_SAMPLES = [
    E.send_rr_data(E.unconnected_send(E.multiple_service_packet([E.read_tag("T[1]"), E.read_tag("U")]))),
    E.send_rr_data(E.forward_open(1, 2)),
    E.send_unit_data(1, 2, E.write_tag("Speed", 0xC4, [5, 6])),
    E.send_unit_data(1, 2, E.multiple_service_reply([E.read_tag_reply(0xC3, [1]), E.cip_response(0x4C, 5)])),
    E.list_identity_reply("10.0.0.1", IDENTITY),
    E.send_rr_data(E.forward_close(9)),
]


def _decode(data: bytes) -> None:
    try:
        (cmd, _, _, _, _, body), _ = parse_encap(data)
        items = parse_cpf(body, 6 if cmd in (0x6F, 0x70) else 0)
        for tid, item in items:
            if tid == 0xB2:
                parse_cip(item)
            elif tid == 0x0C:
                list_identity(item)
    except (NeedMoreData, Malformed):
        pass


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_raise_only_the_two_failure_kinds(data: bytes, port: bool) -> None:
    _decode(data)
    probe(data, port)
    try:
        parse_cip(data)  # keeps the service, marks the rest malformed; never raises past that
    except Malformed:
        assert len(data) < 2


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(_SAMPLES), st.integers(0, 400), st.integers(0, 255), st.integers(0, 400))
def test_mutated_messages_raise_only_the_two_failure_kinds(msg: bytes, at: int, value: int, cut: int) -> None:
    b = bytearray(msg)
    b[at % len(b)] = value
    _decode(bytes(b)[: max(cut, 24)])
    probe(bytes(b), True)


# -- sessions, on captures ----------------------------------------------------------------------
def _events(path: Path) -> list[Event]:
    return [ev for batch in decode_file(path) for ev in batch]


def _ns(timestamp: str) -> int:
    from datetime import datetime

    dt = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def _messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ot is not None and e.ot.enip is not None and e.ot.enip.command is not None]


def test_session_capture_decodes_every_kind() -> None:
    events = _events(CAPTURES / "enip_session.pcap")
    msgs = _messages(events)
    assert not [e for e in msgs if e.ot.anomalies]  # type: ignore[union-attr]
    by = {(e.event.action, e.ot.role): e for e in msgs}  # type: ignore[union-attr]
    ops = {a: e.ot.action.operation for (a, r), e in by.items() if r == "request"}  # type: ignore[union-attr]
    assert ops["list_identity"] == "discovery" and ops["register_session"] == "session"
    assert ops["forward_open"] == "session" and ops["forward_close"] == "session"
    assert ops["reset"] == "control" and ops["set_attribute_single"] == "config"
    reset = by[("reset", "request")].ot.cip
    assert (reset.reset_type, reset.reset_type_name, reset.data) == (0, "power_cycle", None)  # type: ignore[union-attr]
    assert ops["write_tag"] == "write" and ops["initiate_download"] == "program"
    assert ops["unconnected_send"] == "read"  # the embedded Get_Attributes_All
    write = by[("write_tag", "request")].ot
    assert write.cip.symbol == "Setpoint" and write.action.values == [1500]  # type: ignore[union-attr]
    assert by[("write_tag", "request")].pcap.frame == 20  # split over 3 segments: the last one
    # a response borrows the request's path and is named in its context
    resp = by[("initiate_download", "response")]
    assert resp.ot.cip.class_id == 0x37 and resp.event.outcome == "success"  # type: ignore[union-attr]
    req = by[("initiate_download", "request")]
    assert resp.ot.enip.request_frame == req.pcap.frame == 28  # type: ignore[union-attr]
    assert resp.event.duration == _ns(resp.timestamp) - _ns(req.timestamp) > 0
    fo = by[("forward_open", "response")].ot.cip
    assert (fo.o_t_connection_id, fo.t_o_connection_id, fo.connection_serial) == (0x40000001, 0x80000001, 7)  # type: ignore[union-attr]
    msp = by[("multiple_service_packet", "response")].ot.cip
    assert msp.services == [0x4C] * 3  # type: ignore[union-attr]
    assert [n.symbol for n in msp.nested] == ["Temp[0]", "Program:Main.Count", "Recipe[2,3]"]  # type: ignore[union-attr]
    assert [n.values for n in msp.nested] == [None, [-7], [300]]  # type: ignore[union-attr]  # REAL stays raw
    err = by[("set_attribute_single", "response")]
    # two Set_Attribute_Single replies: the last one is the failure with extended status
    assert err.event.outcome == "failure" and err.ot.cip.status_name == "attribute_not_settable"  # type: ignore[union-attr]
    assert err.ot.cip.extended_status == [0x0107]  # type: ignore[union-attr]
    assert [e.event.action for e in msgs if e.pcap.frame in (22, 23)] == ["read_tag"] * 4  # type: ignore[union-attr]


def test_identity_becomes_asset_observation() -> None:
    events = _events(CAPTURES / "enip_session.pcap")
    assets = [e for e in events if e.event.kind == "asset"]
    assert [e.event.action for e in assets] == ["list_identity", "identity_attributes"]
    for e in assets:
        a = e.asset
        assert (a.vendor, a.product, a.product_code, a.revision, a.serial, a.device_type) == (  # type: ignore[union-attr]
            "Rockwell Automation/Allen-Bradley", "1756-L61/B LOGIX5561", "54", "20.011",
            "0x006c061a", "programmable_logic_controller")  # fmt: skip
        assert a.ip == "192.168.50.20"  # type: ignore[union-attr]


def test_non_standard_port_midstream_roles_from_the_cip_bit() -> None:
    msgs = _messages(_events(CAPTURES / "enip_port_44900.pcap"))
    assert len(msgs) == 8
    assert all((e.destination.port == 44900) == (e.ot.role == "request") for e in msgs)  # type: ignore[union-attr]
    assert all(e.ot.anomalies is None for e in msgs)  # type: ignore[union-attr]


def test_capture_starting_inside_a_message(tmp_path: Path) -> None:
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    first = E.send_rr_data(E.cip_request(0x0E, E.class_path(1, 1, 7)), context=b"A" * 8)
    records = conv.client_send(first, segment_sizes=[30], order=[1])  # its head is not captured
    records += conv.server_send(E.send_rr_data(E.cip_response(0x0E, 0, b"\x01"), context=b"A" * 8))
    for n in range(3):
        records += E.exchange(conv, E.send_rr_data(E.cip_request(0x0E, E.class_path(1, 1, n)),
                                                   context=bytes([n]) * 8),
                              E.send_rr_data(E.cip_response(0x0E, 0, b"\x02"), context=bytes([n]) * 8))  # fmt: skip
    write_pcap(tmp_path / "mid.pcap", records)
    msgs = _messages(_events(tmp_path / "mid.pcap"))
    assert [(e.ot.role, e.ot.cip.attribute_id) for e in msgs][-6:] == [  # type: ignore[union-attr]
        ("request", 0), ("response", 0), ("request", 1), ("response", 1), ("request", 2), ("response", 2)]


def test_gap_resynchronises_and_reports() -> None:
    events = _events(CAPTURES / "enip_gap.pcap")
    gaps = [e for e in events if e.ot and e.ot.anomalies == ["stream_gap"]]
    assert len(gaps) == 1
    after = [e for e in _messages(events) if e.pcap.frame >= gaps[0].pcap.frame]  # type: ignore[union-attr]
    assert len(after) == 6 and not any(e.ot.anomalies for e in after)  # type: ignore[union-attr]


def test_udp_discovery_and_io_summaries() -> None:
    events = _events(CAPTURES / "enip_udp.pcap")
    msgs = _messages(events)
    assert [(e.event.action, e.ot.role) for e in msgs] == [("list_identity", "request"),  # type: ignore[union-attr]
                                                           ("list_identity", "response")]
    assert msgs[1].ot.enip.identities[0].product_name == "1756-L61/B LOGIX5561"  # type: ignore[union-attr,index]
    io = {e.ot.enip.io.connection_id: e.ot.enip.io for e in events if e.ot and e.ot.enip and e.ot.enip.io}  # type: ignore[union-attr]
    a, b = io[0x00A1B2C3], io[0x00D4E5F6]
    assert (a.packets, a.first_sequence, a.last_sequence, a.out_of_order) == (12, 1001, 1012, 1)
    assert (a.sequence_gaps, a.sequence_lost) == (1, 1)  # 7 came before 6
    assert (b.packets, b.sequence_gaps, b.sequence_lost, b.out_of_order) == (11, 1, 1, 0)


def test_io_summary_is_periodic_and_connections_bounded(tmp_path: Path) -> None:
    o, t = Endpoint("10.0.0.1", 2222), Endpoint("10.0.0.2", 2222)
    records = [E.udp_record(i * 1_000_000_000, o, t, E.io_datagram(7, i, b"\0")) for i in range(150)]
    records += [E.udp_record(200 * 10**9 + i, o, t, E.io_datagram(1000 + i, 1, b"\0"))
                for i in range(MAX_IO_CONNECTIONS + 10)]  # fmt: skip
    write_pcap(tmp_path / "io.pcap", records)
    events = _events(tmp_path / "io.pcap")
    conn7 = [e.ot.enip.io for e in events if e.ot and e.ot.enip and e.ot.enip.io and e.ot.enip.io.connection_id == 7]  # type: ignore[union-attr]
    assert [s.packets for s in conn7] == [61, 61, 28]  # a summary a minute, the rest at the end
    assert sum(s.packets for s in conn7) == 150
    flooded = [e for e in events if e.ot and e.ot.anomalies == ["io_connections_flooded"]]
    assert len(flooded) == 1


def test_pending_requests_are_bounded(tmp_path: Path) -> None:
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    records = conv.handshake()
    for n in range(MAX_PENDING + 200):
        records += conv.client_send(E.send_rr_data(E.cip_request(0x0E, E.class_path(1, 1, 1)),
                                                   context=struct.pack("<Q", n)))  # fmt: skip
    write_pcap(tmp_path / "flood.pcap", records)
    events = _events(tmp_path / "flood.pcap")
    codes = [a for e in events if e.ot and e.ot.anomalies for a in e.ot.anomalies]
    assert codes.count("flooded") == 1
    unanswered = [e for e in events if e.ot and e.ot.anomalies == ["unanswered_request"]]
    assert f"{MAX_PENDING} request(s)" in unanswered[-1].message  # type: ignore[operator]


def test_garbage_mid_stream_resynchronises(tmp_path: Path) -> None:
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    records = conv.handshake() + conv.client_send(E.register_session())
    records += conv.client_send(b"\xff" * 40 + E.send_rr_data(E.cip_request(0x01, E.class_path(1, 1))))
    write_pcap(tmp_path / "junk.pcap", records)
    events = _events(tmp_path / "junk.pcap")
    codes = [a for e in events if e.event.action == "anomaly" for a in e.ot.anomalies]  # type: ignore[union-attr]
    assert codes.count("framing_lost") == 1
    assert [e.event.action for e in _messages(events)] == ["register_session", "get_attributes_all"]


def test_session_handle_other_than_the_registered_one(tmp_path: Path) -> None:
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    records = conv.handshake() + E.exchange(conv, E.register_session(), E.register_session(0x77))
    for session in (0x77, 0x78):
        records += conv.client_send(E.send_rr_data(E.cip_request(0x01, E.class_path(1, 1)),
                                                   session=session))  # fmt: skip
    write_pcap(tmp_path / "s.pcap", records)
    msgs = _messages(_events(tmp_path / "s.pcap"))
    assert [e.ot.anomalies for e in msgs[2:]] == [None, ["session_mismatch"]]  # type: ignore[union-attr]


def test_unknown_command_and_malformed_cip_are_anomalies(tmp_path: Path) -> None:
    conv = TcpConversation(server=("192.0.2.2", 44818, "02:00:00:00:00:02"))
    records = conv.handshake() + conv.client_send(E.register_session())
    records += conv.client_send(E.encap(0x0001))
    records += conv.client_send(E.send_rr_data(b"\x0a\x02\x20\x02\x24\x01\x09\x00"))  # MSP of 9, no offsets
    write_pcap(tmp_path / "odd.pcap", records)
    msgs = _messages(_events(tmp_path / "odd.pcap"))
    assert msgs[1].ot.enip.command_name == "unknown-1" and msgs[1].ot.anomalies == ["unknown_command"]  # type: ignore[union-attr]
    assert msgs[2].ot.cip.service == 0x0A and msgs[2].ot.anomalies == ["malformed_cip"]  # type: ignore[union-attr]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=80), min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_random_segments_never_escape_the_session(chunks: list[bytes], seed: int) -> None:
    import random

    from watchfloor.capture.flows import Flow
    from watchfloor.capture.tcp import Gap
    from watchfloor.decode.enip.session import EnipSession

    rng = random.Random(seed)
    flow = Flow(b"\x0a\0\0\1", 40000, b"\x0a\0\0\2", 44818, 6, (None, None), None, 0, (), [])
    out: list = []
    s = EnipSession(flow, out)
    good = rng.choice(_SAMPLES)
    for i, c in enumerate(chunks):
        d = rng.randrange(2)
        if rng.random() < 0.2:
            s.gap(d, Gap(rng.randrange(1, 100), rng.choice(("lost", "snaplen", "late"))), i, i)
        s.feed(d, c if rng.random() < 0.5 else good[: rng.randrange(len(good) + 1)] + c, i, i * 10**9)
    s.close(len(chunks), len(chunks) * 10**9, "end of capture")
    udp = Flow(b"\x0a\0\0\1", 2222, b"\x0a\0\0\2", 2222, 17, (None, None), None, 0, (), [])
    u = EnipSession(udp, out)
    for i, c in enumerate(chunks):
        u.feed(i % 2, c, i, i)
    u.close(0, 0, "evicted")


# -- the whole sensor on hostile EtherNet/IP-looking traffic ------------------------------------
_enip_like = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda m, cut, at, v: (m[:at % len(m)] + bytes([v]) + m[at % len(m) + 1:])[:cut],
              st.sampled_from(_SAMPLES + [E.io_datagram(3, 9, b"\1\2")]), st.integers(0, 300),
              st.integers(0, 300), st.integers(0, 255)),  # fmt: skip
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), _enip_like, st.integers(0, 10)), max_size=20),
       st.sampled_from([44818, 2222, 40404]))
def test_hostile_traffic_through_the_sensor_gives_valid_events(packets: list, port: int) -> None:
    import msgspec

    from watchfloor.sensor import Sensor
    from watchfloor.testing import frames

    records, seq = [], {True: 1000, False: 5000}
    for i, (udp, from_client, payload, jump) in enumerate(packets, start=1):
        src, dst, sport, dport = ("192.0.2.1", "192.0.2.2", 40000, port) if from_client else (
            "192.0.2.2", "192.0.2.1", port, 40000)
        if udp:
            l4 = frames.udp(src, dst, sport, dport, payload)
        else:
            l4 = frames.tcp(src, dst, sport, dport, seq=seq[from_client], flags="PA", payload=payload)
            seq[from_client] += len(payload) + jump  # a jump leaves a hole
        frame = frames.ethernet(frames.ipv4(src, dst, 17 if udp else 6, l4))
        records.append((i, i * 1_000_000, 1, frame, len(frame)))
    events = [e for b in Sensor().run(iter(records), source_id="t") for e in b]
    for e in events:
        assert msgspec.json.decode(msgspec.json.encode(e), type=Event) == e
