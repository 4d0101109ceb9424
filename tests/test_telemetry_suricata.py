"""Suricata EVE JSON → ECS events: alerts, flows, anomalies, dns, http, tls, fileinfo, and the
modbus/dnp3/enip records as our ot.* events (on which the OT rule pack runs)."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.detect.alerts import Detector
from watchfloor.detect.pack import pack_rules
from watchfloor.detect.rules import load
from watchfloor.telemetry import FORMATS
from watchfloor.telemetry.suricata import FORMAT as EVE
from watchfloor.telemetry.zeek import FORMAT as ZEEK

from ._telemetry import read_all

TUPLE = {"src_ip": "10.0.0.5", "src_port": 50100, "dest_ip": "10.0.1.20", "proto": "TCP",
         "flow_id": 1234567890, "community_id": "1:xyz="}  # fmt: skip
RECORDS = [
    {"timestamp": "2024-05-01T08:00:00.250000+0000", "event_type": "alert", **TUPLE, "dest_port": 80,
     "tx_id": 0, "app_proto": "http",
     "alert": {"action": "allowed", "gid": 1, "signature_id": 2018358, "rev": 10,
               "signature": "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad", "severity": 2,
               "category": "Potentially Bad Traffic",
               "metadata": {"mitre_technique_id": ["T1071"], "created_at": ["2014_01_01"]}},
     "http": {"hostname": "198.51.100.9", "url": "/gate.php", "http_method": "POST",
              "http_user_agent": "Mozilla/4.0", "protocol": "HTTP/1.1", "status": 200, "length": 12}},
    {"timestamp": "2024-05-01T09:00:01.000000+0100", "event_type": "flow", **TUPLE, "dest_port": 502,
     "app_proto": "modbus",
     "flow": {"pkts_toserver": 10, "pkts_toclient": 8, "bytes_toserver": 700, "bytes_toclient": 900,
              "start": "2024-05-01T08:59:59.500000+0100", "end": "2024-05-01T09:00:01.000000+0100",
              "age": 2, "state": "closed", "reason": "shutdown", "alerted": False}},
    {"timestamp": "2024-05-01T08:00:02Z", "event_type": "anomaly", **TUPLE, "dest_port": 502,
     "anomaly": {"type": "applayer", "event": "INVALID_PROTOCOL_ID", "layer": "proto_parser"}},
    {"timestamp": "2024-05-01T08:00:03.000000+0000", "event_type": "dns", **TUPLE, "proto": "UDP",
     "dest_port": 53, "dns": {"version": 2, "type": "answer", "id": 4242, "rrname": "evil.example",
                              "rrtype": "A", "rcode": "NOERROR",
                              "answers": [{"rrname": "evil.example", "rrtype": "A", "ttl": 60,
                                           "rdata": "192.0.2.7"}]}},
    {"timestamp": "2024-05-01T08:00:04.000000+0000", "event_type": "dns", **TUPLE, "proto": "UDP",
     "dest_port": 53, "dns": {"version": 3, "id": 7, "rcode": "NXDOMAIN",
                              "queries": [{"rrname": "nope.example", "rrtype": "AAAA"}]}},
    {"timestamp": "2024-05-01T08:00:05.000000+0000", "event_type": "tls", **TUPLE, "dest_port": 443,
     "tls": {"subject": "CN=vpn.example", "issuerdn": "CN=Some CA", "sni": "vpn.example",
             "version": "TLS 1.2", "notbefore": "2024-01-01T00:00:00", "notafter": "2025-01-01T00:00:00",
             "ja3": {"hash": "e7d705a3286e19ea42f587b344ee6865"}, "ja3s": {"hash": "abc"}}},
    {"timestamp": "2024-05-01T08:00:06.000000+0000", "event_type": "fileinfo", **TUPLE, "dest_port": 80,
     "fileinfo": {"filename": "/a.exe", "magic": "PE32 executable", "state": "CLOSED",
                  "md5": "d41d8cd98f00b204e9800998ecf8427e", "size": 4096, "stored": False}},
    {"timestamp": "2024-05-01T08:00:07.000000+0000", "event_type": "modbus", **TUPLE, "dest_port": 502,
     "modbus": {"id": 10, "request": {"transaction_id": 3, "protocol_id": 0, "unit_id": 1,
                                      "function_raw": 8, "function_code": "Diagnostic",
                                      "subfunction": 4, "access_type": "", "category": "PUBLIC_ASSIGNED"},
                "response": {"transaction_id": 3, "unit_id": 1, "function_raw": 8,
                             "function_code": "Diagnostic"}}},
    {"timestamp": "2024-05-01T08:00:08.000000+0000", "event_type": "dnp3", **TUPLE, "dest_port": 20000,
     "dnp3": {"type": "request", "control": {"dir": True, "pri": True, "fcb": False, "fcv": False,
                                             "function_code": 4},
              "src": 3, "dst": 4,
              "application": {"control": {"fir": True, "fin": True, "con": False, "uns": False,
                                          "sequence": 5}, "function_code": 13, "objects": [],
                              "complete": True}}},
    {"timestamp": "2024-05-01T08:00:09.000000+0000", "event_type": "enip", **TUPLE, "dest_port": 44818,
     "enip": {"request": {"command": "list_identity", "status": "success"}}},
    {"timestamp": "2024-05-01T08:00:10.000000+0000", "event_type": "stats", "stats": {"uptime": 5}},
    {"timestamp": "2024-05-01T08:00:11.000000+0000", "event_type": "smb", **TUPLE, "smb": {"id": 1}},
]  # fmt: skip
DATA = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()


def _events():  # type: ignore[no-untyped-def]
    events, bad = read_all(EVE, DATA, "eve")
    return {e.suricata.eve.event_type + ("" if e.suricata.eve.event_type != "dns" else str(i)): e
            for i, e in enumerate(events)}, bad  # fmt: skip


def test_sniff() -> None:
    assert EVE in FORMATS and FORMATS.index(EVE) < FORMATS.index(ZEEK)
    assert EVE.sniff(DATA[:65536], "eve.json")
    assert not EVE.sniff(b'{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1"}\n', "conn.log")


def test_records_map_to_ecs() -> None:
    ev, bad = _events()
    assert not bad and len(ev) == len(RECORDS) - 2  # stats and smb records are not imported
    a = ev["alert"]
    assert a.event.kind == "alert" and a.event.severity == 3 and a.rule.id == "2018358"
    assert a.rule.ruleset == "suricata" and a.threat.technique.id == ["T1071"]
    assert a.http.request.method == "POST" and a.user_agent.original == "Mozilla/4.0"
    assert a.timestamp == "2024-05-01T08:00:00.250000Z" and a.suricata.eve.flow_id == 1234567890
    assert a.network.transport == "tcp" and a.network.community_id == "1:xyz="
    assert json.loads(a.event.original) == RECORDS[0] and a.event.module == "suricata"
    f = ev["flow"]
    assert f.timestamp == "2024-05-01T08:00:01.000000Z" and f.event.duration == 1_500_000_000
    assert (f.source.bytes, f.destination.bytes, f.source.packets) == (700, 900, 10)
    assert ev["anomaly"].event.action == "invalid_protocol_id"
    d2, d3 = ev["dns3"].dns, ev["dns4"].dns
    assert d2.question.name == "evil.example" and d2.resolved_ip == ["192.0.2.7"] and d2.answers[0].ttl == 60
    assert d3.question.type == "AAAA" and d3.response_code == "NXDOMAIN" and ev["dns4"].event.outcome == "failure"
    t = ev["tls"].tls
    assert (t.version, t.client.server_name, t.server.issuer) == ("1.2", "vpn.example", "CN=Some CA")
    assert t.client.ja3 == "e7d705a3286e19ea42f587b344ee6865"
    assert "a.exe" in ev["fileinfo"].message and ev["fileinfo"].file.name == "a.exe"
    assert ev["fileinfo"].file.hash.md5 == "d41d8cd98f00b204e9800998ecf8427e"
    assert a.url.full == "http://198.51.100.9/gate.php"
    m = ev["modbus"]
    assert m.ot.protocol == "modbus" and m.ot.role == "request" and m.ot.modbus.function_code == 8
    assert m.ot.modbus.subfunction == 4 and m.event.outcome == "success"
    d = ev["dnp3"].ot
    assert (d.dnp3.function_code, d.dnp3.source, d.dnp3.destination, d.action.target.unit) == (13, 3, 4, 4)
    e = ev["enip"].ot
    assert e.enip.command == 0x63 and e.action.operation == "discovery"


def test_ot_rule_pack_runs_on_eve_records() -> None:
    ev, _ = _events()
    fired = {a.rule.name for a in Detector(load(pack_rules()).rules)(list(ev.values()))}
    assert {"Modbus force listen-only mode", "DNP3 cold or warm restart"} <= fired


def test_corrupt_lines_are_counted_and_the_rest_read() -> None:
    lines = DATA.split(b"\n")
    lines[2] = lines[2][:40]  # cut mid-record
    lines[4] = b'{"timestamp": "yesterday", "event_type": "dns"}'
    events, bad = read_all(EVE, b"\n".join(lines))
    assert len(events) == len(RECORDS) - 4
    assert [b.position for b in bad] == ["line 3", "line 5"]
    rng = random.Random(3)
    for _ in range(50):
        broken = bytearray(DATA)
        for _ in range(10):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        read_all(EVE, bytes(broken))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    EVE.sniff(data, "eve.json")
    read_all(EVE, data)
    read_all(EVE, DATA[:300] + data)
