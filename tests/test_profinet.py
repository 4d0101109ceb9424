"""PROFINET decoder: DCP services and identities, RT summaries, alarms, IO-CM calls, robustness."""

from __future__ import annotations

import uuid

import msgspec

from watchfloor.schema.events import FLOW
from hypothesis import HealthCheck, given, settings, strategies as st

from watchfloor.schema import Event
from watchfloor.sensor import Sensor
from watchfloor.testing import frames, profinet as pn

CTRL, DEV, DEV2 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
MS = 10**6


def _frames(items: list[tuple[str, str, bytes]], *, vlans: tuple[int, ...] = (),
            step: int = MS) -> list[tuple[int, int, int, bytes, int]]:  # fmt: skip
    out = []
    for i, (src, dst, payload) in enumerate(items, start=1):
        data = frames.ethernet(payload, src=src, dst=dst, ethertype=pn.ETHERTYPE, vlans=vlans)
        out.append((i, i * step, 1, data, len(data)))
    return out


def _run(packets: list, messages_only: bool = False) -> list[Event]:
    sensor = Sensor(messages_only=messages_only)
    events = [e for b in sensor.run(iter(packets), source_id="t") for e in b]
    for line in msgspec.json.Encoder().encode_lines(events).splitlines():
        msgspec.json.decode(line, type=Event)  # every event reads back as a schema event
    return [e for e in events if e.event.action != FLOW]  # flow records: tests/test_inventory.py


def _dcp(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ot is not None and e.ot.profinet_dcp is not None]


def test_identify_all_and_responses_with_identity() -> None:
    events = _run(_frames([
        (CTRL, pn.DCP_MULTICAST, pn.dcp(5, 0, 0x10, [pn.block(255, 255)], delay=1)),
        (DEV, CTRL, pn.identify_response(0x10, "plc-1", 0x002A, 0x0A01, role=2, ip="10.0.0.5",
                                         vendor_value="S7-1500")),
        (DEV2, CTRL, pn.identify_response(0x10, "io-7", 0x00B0, 0x0102, role=1)),
    ]))
    req, r1, r2 = _dcp(events)
    assert (req.event.action, req.ot.role, req.ot.action.operation) == ("dcp_identify", "request", "discovery")
    d = req.ot.profinet_dcp
    assert (d.frame_id, d.service_id, d.service_type, d.xid, d.response_delay, d.options) == (
        0xFEFE, 5, 0, 0x10, 1, ["all/all"])
    assert req.destination.mac == pn.DCP_MULTICAST and req.network.transport == "ether"
    d1 = r1.ot.profinet_dcp
    assert (d1.name_of_station, d1.vendor_id, d1.device_id, d1.device_roles, d1.ip, d1.vendor_value) == (
        "plc-1", 0x2A, 0x0A01, ["io_controller"], "10.0.0.5", "S7-1500")
    assert r1.ot.role == "response" and r1.event.outcome == "success"
    assert r1.ot.action.target.station == "plc-1"
    # responses arrive on their own (unicast) streams: no pairing with the multicast request
    assert d1.request_frame is None
    assets = [e.asset for e in events if e.event.kind == "asset"]
    assert [(a.mac, a.name, a.vendor, a.product_code, a.model, a.device_type, a.ip) for a in assets] == [
        (DEV, "plc-1", "Siemens", "0x002a:0x0a01", "S7-1500", "io_controller", "10.0.0.5"),
        (DEV2, "io-7", "vendor-0x00b0", "0x00b0:0x0102", None, "io_device", None)]


def test_get_set_pairing_and_operations() -> None:
    events = _run(_frames([
        (CTRL, DEV, pn.dcp(3, 0, 1, [b"\x02\x02", b"\x01\x02"])),
        (DEV, CTRL, pn.dcp(3, 1, 1, [pn.name_block("io-1", info=0)])),
        (CTRL, DEV, pn.dcp(4, 0, 2, [pn.block(5, 1, info=1), pn.name_block("new-name", info=1),
                                     pn.block(5, 2, info=0)])),
        (DEV, CTRL, pn.set_response(2, 2, 2)),
        (CTRL, DEV, pn.dcp(4, 0, 3, [pn.ip_block("10.0.0.9", "255.0.0.0", "10.0.0.1", info=0)])),
        (DEV, CTRL, pn.set_response(3, 1, 2, error=5)),
        (CTRL, DEV, pn.dcp(4, 0, 4, [pn.block(5, 6, info=2 << 1)])),
        (CTRL, DEV, pn.dcp(4, 0, 5, [pn.block(5, 3, b"\x01\x00", info=0)])),
    ]), messages_only=True)
    get, get_r, set_n, set_n_r, set_ip, set_ip_r, reset, signal = events
    assert get.ot.profinet_dcp.options == ["device/name_of_station", "ip/ip_parameter"]
    assert get.ot.action.operation == "read" and get.ot.profinet_dcp.name_of_station is None
    assert get_r.ot.profinet_dcp.request_frame == 1 and get_r.event.duration == MS
    n = set_n.ot.profinet_dcp
    assert (n.name_of_station, n.control, n.block_qualifier, set_n.ot.action.operation) == (
        "new-name", ["start", "stop"], 1, "config")
    assert set_n.ot.action.target is None  # the name being set is not the device's name yet
    r = set_n_r.ot.profinet_dcp
    assert (r.response_option, r.block_error, r.request_frame, set_n_r.event.outcome) == (
        "device/name_of_station", 0, 3, "success")
    assert (set_ip.ot.profinet_dcp.ip, set_ip.ot.profinet_dcp.block_qualifier) == ("10.0.0.9", 0)
    assert (set_ip_r.event.outcome, set_ip_r.ot.profinet_dcp.block_error_name) == (
        "failure", "set_not_possible_local_reasons")
    assert (reset.ot.action.operation, reset.ot.profinet_dcp.control, reset.ot.profinet_dcp.reset_mode) == (
        "control", ["reset_to_factory"], 2)
    assert (signal.ot.action.operation, signal.ot.profinet_dcp.signal_value) == ("diagnostic", 0x0100)


def test_hello_priority_tagged_and_unknown_codes() -> None:
    events = _run(_frames([
        (DEV, pn.DCP_MULTICAST, pn.dcp(6, 0, 9, [pn.name_block("io-9", info=0)])),
        (CTRL, DEV, pn.dcp(9, 0, 10, [pn.block(200, 3, b"xy", info=0), pn.block(2, 42, b"", info=0)])),
    ], vlans=(0,)))
    hello, odd = _dcp(events)
    assert (hello.event.action, hello.ot.role, hello.ot.action.operation) == ("dcp_hello", None, "discovery")
    assert hello.network.vlan_id == 0  # priority-tagged frames: VLAN 0, as on the wire
    assert [e.asset.name for e in events if e.event.kind == "asset"] == ["io-9"]
    assert (odd.event.action, odd.ot.profinet_dcp.options, odd.ot.anomalies) == (
        "dcp_unknown-9", ["manufacturer-200/3", "device/unknown-42"], ["unknown_service"])


def test_malformed_dcp_is_an_anomaly() -> None:
    too_long = pn.dcp(5, 1, 1, [pn.name_block("x", info=0)], data_length=200)
    cut_block = pn.dcp(5, 1, 2, [b"\x02\x03\x00\x02\x00\x00"], pad_to=0)  # device id with no ids
    events = _run(_frames([(DEV, CTRL, too_long), (DEV, CTRL, cut_block)]))
    assert [e.ot.anomalies for e in events] == [["malformed"], ["block_malformed"]]
    assert events[1].ot.profinet_dcp.options == ["device/device_id"]


def test_rt_cyclic_frames_are_summarised_per_stream() -> None:
    items = [(DEV, CTRL, pn.rt_frame(0x8001, c * 32)) for c in range(10)]
    items += [(DEV, CTRL, pn.rt_frame(0x8001, 9 * 32)),  # repeated cycle
              (DEV, CTRL, pn.rt_frame(0x8001, 5 * 32, data_status=0x21)),  # back, invalid, stop
              (CTRL, DEV, pn.rt_frame(0xC000, 7)),
              (DEV, CTRL, pn.alarm(0xFC01, alarm_type=1, slot=3, subslot=2))]
    events = _run(_frames(items))
    rts = sorted((e for e in events if e.ot.profinet_rt is not None), key=lambda e: e.ot.profinet_rt.frame_id)
    assert [e.event.action for e in rts] == ["rt_cyclic_summary"] * 2
    a, b = (e.ot.profinet_rt for e in rts)
    assert (a.rt_class, a.packets, a.first_frame, a.last_frame, a.first_cycle, a.last_cycle) == (
        "rt_class_2", 12, 1, 12, 0, 160)
    assert (a.cycle_repeats, a.cycle_backwards, a.invalid, a.stopped, a.problem, a.data_status_changes) == (
        1, 1, 1, 1, 0, 1)
    assert rts[0].ot.anomalies == ["rt_data_invalid", "rt_provider_stopped", "rt_cycle_counter_backwards"]
    assert (b.rt_class, b.packets, rts[1].source.mac) == ("rt_class_1", 1, CTRL)
    alarm = next(e for e in events if e.ot.profinet_alarm is not None)
    al = alarm.ot.profinet_alarm
    assert (alarm.event.action, al.priority, al.alarm_type_name, al.slot, al.subslot, al.alarm_specifier) == (
        "alarm", "high", "diagnosis", 3, 2, 0x8001)


def test_rt_summary_once_a_minute_and_bounded() -> None:
    items = [(DEV, CTRL, pn.rt_frame(0x8001, c)) for c in range(5)]
    events = _run(_frames(items, step=30 * 10**9))
    assert [e.ot.profinet_rt.packets for e in events] == [3, 2]  # at 60 s, then at the end
    flood = [(DEV, CTRL, pn.rt_frame(0xC000 + i, 0)) for i in range(80)]
    events = _run(_frames(flood))
    assert sum(e.ot.profinet_rt is not None for e in events) == 64
    assert [e.ot.anomalies for e in events if e.event.action == "anomaly"] == [["rt_streams_flooded"]]


A, B = "10.0.0.1", "10.0.0.2"


def _udp(items: list[tuple[bool, bytes]], port: int = 34964) -> list:
    out = []
    for i, (to_dev, payload) in enumerate(items, start=1):
        src, dst, sp, dp = (A, B, 49152, port) if to_dev else (B, A, port, 49152)
        data = frames.ethernet(frames.ipv4(src, dst, 17, frames.udp(src, dst, sp, dp, payload)))
        out.append((i, i * MS, 1, data, len(data)))
    return out


def test_io_cm_calls_paired_with_control_and_records() -> None:
    ar, act = uuid.uuid4(), uuid.uuid4()
    items = [
        (True, pn.rpc(0, 0, pn.ndr(pn.ar_block(ar, "plc-controller")), activity=act, seq=1)),
        (False, pn.rpc(2, 0, pn.ndr(b"", status=0), activity=act, seq=1, little=False)),
        (True, pn.rpc(0, 3, pn.ndr(pn.record_header(ar, 0x8071, 12, write=True)), activity=act, seq=2)),
        (False, pn.rpc(2, 3, pn.ndr(pn.record_header(ar, 0x8071, 12, write=True, response=True),
                                    status=0xDE80B000), activity=act, seq=2)),
        (True, pn.rpc(0, 4, pn.ndr(pn.control_block(ar, 0x0001)), activity=act, seq=3)),
        (False, pn.rpc(2, 4, pn.ndr(pn.control_block(ar, 0x0008, response=True), status=0),
                       activity=act, seq=3)),
    ]
    events = _run(_udp(items, port=40000), messages_only=True)  # non-standard port
    conn, conn_r, write, write_r, ctrl, ctrl_r = events
    c = conn.ot.profinet_io
    assert (conn.event.action, conn.ot.action.operation, c.station_name, c.ar_uuid, c.interface) == (
        "io_connect", "session", "plc-controller", str(ar), "device")
    assert (conn_r.ot.role, conn_r.ot.profinet_io.request_frame, conn_r.event.outcome) == ("response", 1, "success")
    w = write.ot.profinet_io
    assert (write.ot.action.operation, w.index, w.slot, w.subslot, w.record_length) == ("write", 0x8071, 0, 1, 12)
    assert write.ot.action.target.object == "api 0 slot 0 subslot 0x0001 index 0x8071"
    assert (write_r.event.outcome, write_r.ot.profinet_io.status) == ("failure", 0xDE80B000)
    assert (ctrl.ot.action.operation, ctrl.ot.profinet_io.control, ctrl.ot.profinet_io.block_names) == (
        "control", ["prm_end"], ["iod_control_req"])
    assert ctrl_r.ot.profinet_io.control == ["done"]


def test_io_cm_fragments_are_reassembled() -> None:
    ar, act = uuid.uuid4(), uuid.uuid4()
    body = pn.ndr(pn.record_header(ar, 0x802B, 600, write=True) + b"\x00" * 600)
    parts = [body[:300], body[300:600], body[600:]]
    items = [(True, pn.rpc(0, 3, p, activity=act, seq=7, frag=i,
                           flags1=0x24 | (0x02 if i == 2 else 0))) for i, p in enumerate(parts)]
    events = _run(_udp(items), messages_only=True)
    assert [(e.pcap.frame, e.ot.profinet_io.index) for e in events] == [(3, 0x802B)]
    lost = _run(_udp([items[0], items[2]]))
    assert [e.ot.anomalies for e in lost] == [["fragment_missing"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.binary(max_size=90),
    st.builds(lambda fid, body: fid + body, st.sampled_from(
        [b"\xfe\xfc", b"\xfe\xfd", b"\xfe\xfe", b"\xfe\xff", b"\xfc\x01", b"\x80\x01"]),
        st.binary(max_size=80)),
    st.builds(lambda b, n: b[:n], st.sampled_from([
        pn.identify_response(1, "a", 1, 2), pn.set_response(1, 2, 2), pn.alarm(),
        pn.dcp(4, 0, 1, [pn.block(5, 3, b"\x01\x00", info=0)]), pn.rt_frame(0x8000, 1)]),
        st.integers(0, 80)),
), max_size=20))
def test_random_layer2_frames_never_crash(payloads: list[bytes]) -> None:
    _run(_frames([(DEV if i % 2 else CTRL, CTRL if i % 2 else DEV, p) for i, p in enumerate(payloads)]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=40), st.integers(0, 200),
                          st.sampled_from([0, 1, 2, 3, 4]), st.sampled_from([0, 2, 3])), max_size=12))
def test_random_io_cm_datagrams_never_crash(items: list) -> None:
    act, ar = uuid.UUID(int=1), uuid.UUID(int=2)
    good = pn.rpc(0, 4, pn.ndr(pn.control_block(ar, 1)), activity=act)
    packets = [(to_dev, (good[:80] + junk)[:cut] if cut > 80 else good[:cut] + junk)
               for to_dev, junk, cut, _, _ in items]
    packets += [(True, pn.rpc(ptype, op, junk, activity=act, flags1=0x24 if ptype else 0x20))
                for _, junk, _, op, ptype in items]
    _run(_udp(packets))


def test_identity_observed_on_change_and_multicast_requests_never_flood() -> None:
    rsp = pn.identify_response(1, "io-1", 0x2A, 0x313)
    items = [(CTRL, pn.DCP_MULTICAST, pn.dcp(5, 0, x, [pn.block(255, 255)])) for x in range(300)]
    items += [(DEV, CTRL, rsp)] * 3 + [(DEV, CTRL, pn.identify_response(2, "io-renamed", 0x2A, 0x313))]
    events = _run(_frames(items))
    assert not [e for e in events if e.event.action == "anomaly"]  # 300 multicast requests
    assert [e.asset.name for e in events if e.event.kind == "asset"] == ["io-1", "io-renamed"]
    later = _run(_frames([(DEV, CTRL, rsp)] * 2, step=700 * 10**9))
    assert [e.asset.name for e in later if e.event.kind == "asset"] == ["io-1", "io-1"]


def test_identity_from_alternating_services_is_observed_once_each() -> None:
    """A controller polling Identify and Get (name of station) hears the device's full facts and
    part of them in turn: each is compared with its own service's last, so neither repeats."""
    full = pn.identify_response(1, "io-1", 0x2A, 0x313)
    part = pn.dcp(3, 1, 2, [pn.name_block("io-1", info=0)])  # Get response: the name only
    events = _run(_frames([(DEV, CTRL, full), (DEV, CTRL, part)] * 4
                          + [(DEV, CTRL, pn.identify_response(3, "io-2", 0x2A, 0x313))]))
    seen = [(e.asset.name, e.asset.product_code) for e in events if e.event.kind == "asset"]
    assert seen == [("io-1", "0x002a:0x0313"), ("io-1", None), ("io-2", "0x002a:0x0313")]


def test_unanswered_unicast_requests_age_out_before_flooding() -> None:
    get = [(CTRL, DEV, pn.dcp(3, 0, x, [b"\x02\x02"])) for x in range(300)]
    assert not [e for e in _run(_frames(get, step=200 * MS)) if e.event.action == "anomaly"]
    assert [e.ot.anomalies for e in _run(_frames(get)) if e.event.action == "anomaly"] == [["flooded"]]
