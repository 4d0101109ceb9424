"""Zeek logs (TSV and JSON) → ECS events; ICSNPP OT logs → our ot.* events, checked against our
decoders on the corpus captures that ship them; corrupt and random input never raises."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.detect.alerts import Detector
from watchfloor.detect.pack import pack_rules
from watchfloor.detect.rules import load
from watchfloor.telemetry import FORMATS
from watchfloor.telemetry.zeek import FORMAT as ZEEK

from ._telemetry import ID, read_all, zeek_tsv

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pcaps"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")

CONN = zeek_tsv("conn", ID + [("proto", "enum"), ("service", "string"), ("duration", "interval"),
                              ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"),
                              ("history", "string"), ("orig_pkts", "count"), ("resp_pkts", "count"),
                              ("tunnel_parents", "set[string]"), ("community_id", "string")],
                [["1714550400.123456", "C1", "10.0.0.5", "49152", "10.0.1.20", "502", "tcp", "modbus",
                  "1.500000", "120", "240", "SF", "ShADadFf", "10", "8", "(empty)", "1:abc="],
                 ["1714550401.000000", "C2", "10.0.0.5", "49153", "10.0.1.21", "3389", "tcp", "-", "-",
                  "-", "-", "REJ", "Sr", "1", "1", "(empty)", "-"]])  # fmt: skip


def test_sniff_is_in_formats_and_tells_zeek_from_other_json() -> None:
    assert ZEEK in FORMATS
    assert ZEEK.sniff(CONN[:65536], "conn.log")
    assert ZEEK.sniff(b'{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1"}\n', "x.json")
    assert not ZEEK.sniff(b'{"timestamp":"2024-01-01T00:00:00Z","event_type":"alert"}\n', "eve.json")
    assert not ZEEK.sniff(b"<134>Jan  1 00:00:00 host app: hi\n", "syslog")


def test_conn_log() -> None:
    events, corrupt = read_all(ZEEK, CONN, "abc")
    assert not corrupt
    ok, rej = events
    assert ok.timestamp == "2024-05-01T08:00:00.123456Z"
    assert ok.event.id == "abc-9" and ok.event.dataset == "zeek.conn"
    assert ok.event.category == ["network"] and ok.event.type == ["connection"]
    assert ok.event.duration == 1_500_000_000 and ok.event.outcome == "success"
    assert (ok.source.ip, ok.source.port, ok.source.bytes, ok.source.packets) == ("10.0.0.5", 49152, 120, 10)
    assert (ok.destination.port, ok.destination.bytes) == (502, 240)
    assert ok.network.transport == "tcp" and ok.network.protocol == "modbus"
    assert ok.network.community_id == "1:abc="
    assert ok.zeek.uid == "C1" and ok.zeek.conn_state == "SF" and ok.observer.product == "zeek"
    assert ok.event.original.startswith("1714550400.123456\tC1\t") and ok.event.module == "zeek"
    assert rej.event.outcome == "failure" and rej.network.protocol is None and rej.event.duration is None


def test_json_form_gives_the_same_events() -> None:
    tsv_events, _ = read_all(ZEEK, CONN, "abc")
    rows = [{"ts": 1714550400.123456, "uid": "C1", "id.orig_h": "10.0.0.5", "id.orig_p": 49152,
             "id.resp_h": "10.0.1.20", "id.resp_p": 502, "proto": "tcp", "service": "modbus",
             "duration": 1.5, "orig_bytes": 120, "resp_bytes": 240, "conn_state": "SF",
             "history": "ShADadFf", "orig_pkts": 10, "resp_pkts": 8, "community_id": "1:abc="},
            # nested id and ISO 8601 time, as Zeek writes with JSON::TS_ISO8601
            {"_path": "conn", "ts": "2024-05-01T08:00:01.000000Z", "uid": "C2",
             "id": {"orig_h": "10.0.0.5", "orig_p": 49153, "resp_h": "10.0.1.21", "resp_p": 3389},
             "proto": "tcp", "conn_state": "REJ", "history": "Sr", "orig_pkts": 1, "resp_pkts": 1}]  # fmt: skip
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    assert ZEEK.sniff(data, "conn.log")
    json_events, corrupt = read_all(ZEEK, data, "conn.log")
    assert not corrupt
    for a, b in zip(tsv_events, json_events):
        assert b.event.original.startswith("{") and a.event.original.count("\t") == 16
        a.event.id = b.event.id = a.event.original = b.event.original = ""
        assert a == b


def test_dns_http_ssl_notice_weird_dhcp_files() -> None:
    dns = zeek_tsv("dns", ID + [("proto", "enum"), ("trans_id", "count"), ("query", "string"),
                                ("qclass_name", "string"), ("qtype_name", "string"), ("rcode_name", "string"),
                                ("AA", "bool"), ("RD", "bool"), ("RA", "bool"),
                                ("answers", "vector[string]"), ("TTLs", "vector[interval]")],
                   [["1714550400.0", "C3", "10.0.0.5", "5353", "10.0.0.53", "53", "udp", "4242",
                     "evil.example", "C_INTERNET", "A", "NOERROR", "F", "T", "T",
                     "evil-cdn.example,192.0.2.7", "60.000000,300.000000"]])  # fmt: skip
    (ev,), bad = read_all(ZEEK, dns)
    assert not bad
    d = ev.dns
    assert (d.id, d.question.name, d.question.type, d.response_code) == (4242, "evil.example", "A", "NOERROR")
    assert [a.data for a in d.answers] == ["evil-cdn.example", "192.0.2.7"] and d.answers[1].ttl == 300
    assert d.resolved_ip == ["192.0.2.7"] and d.header_flags == ["RD", "RA"] and d.type == "answer"

    http = zeek_tsv("http", ID + [("method", "string"), ("host", "string"), ("uri", "string"),
                                  ("referrer", "string"), ("version", "string"), ("user_agent", "string"),
                                  ("request_body_len", "count"), ("response_body_len", "count"),
                                  ("status_code", "count"), ("resp_mime_types", "vector[string]")],
                    [["1714550400.0", "C4", "10.0.0.5", "50000", "198.51.100.9", "80", "POST", "upd.example",
                      "/a.php?x=1", "-", "1.1", "curl/8.0", "12", "3400", "404", "text/html"]])  # fmt: skip
    (ev,), _ = read_all(ZEEK, http)
    assert ev.http.request.method == "POST" and ev.http.response.status_code == 404
    assert ev.http.response.body.bytes == 3400 and ev.http.response.mime_type == "text/html"
    assert ev.user_agent.original == "curl/8.0" and ev.destination.domain == "upd.example"
    assert ev.event.outcome == "failure" and "upd.example/a.php?x=1" in ev.message
    assert (ev.url.full, ev.url.domain, ev.url.path, ev.url.query) == (
        "http://upd.example/a.php?x=1", "upd.example", "/a.php", "x=1")

    ssl = zeek_tsv("ssl", ID + [("version", "string"), ("cipher", "string"), ("server_name", "string"),
                                ("resumed", "bool"), ("established", "bool"), ("ja3", "string")],
                   [["1714550400.0", "C5", "10.0.0.5", "50001", "203.0.113.4", "443", "TLSv12",
                     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "vpn.example", "F", "T", "abc123"]])  # fmt: skip
    (ev,), _ = read_all(ZEEK, ssl)
    assert (ev.tls.version, ev.tls.version_protocol, ev.tls.client.server_name) == ("1.2", "tls", "vpn.example")
    assert ev.tls.established is True and ev.tls.resumed is False and ev.tls.client.ja3 == "abc123"

    notice = zeek_tsv("notice", ID + [("note", "string"), ("msg", "string"), ("src", "addr")],
                      [["1714550400.0", "-", "-", "-", "-", "-", "Scan::Port_Scan",
                        "10.0.0.66 scanned at least 15 unique ports", "10.0.0.66"]])  # fmt: skip
    (ev,), _ = read_all(ZEEK, notice)
    assert ev.event.kind == "alert" and ev.rule.id == "Scan::Port_Scan" and ev.source.ip == "10.0.0.66"

    weird = zeek_tsv("weird", ID + [("name", "string"), ("addl", "string")],
                     [["1714550400.0", "C6", "10.0.0.5", "1", "10.0.0.6", "2", "bad_TCP_checksum", "-"]])
    (ev,), _ = read_all(ZEEK, weird)
    assert ev.event.action == "bad_TCP_checksum" and "error" in ev.event.type

    dhcp = zeek_tsv("dhcp", [("ts", "time"), ("uids", "set[string]"), ("client_addr", "addr"),
                             ("server_addr", "addr"), ("mac", "string"), ("host_name", "string"),
                             ("assigned_addr", "addr"), ("msg_types", "vector[string]")],
                    [["1714550400.0", "C7", "10.0.0.77", "10.0.0.1", "00:11:22:33:44:55", "eng-ws-01",
                      "10.0.0.77", "REQUEST,ACK"]])  # fmt: skip
    (ev,), _ = read_all(ZEEK, dhcp)
    assert (ev.source.ip, ev.source.mac, ev.source.domain) == ("10.0.0.77", "00:11:22:33:44:55", "eng-ws-01")
    assert ev.event.action == "dhcp_ack" and ev.destination.ip == "10.0.0.1"

    files = zeek_tsv("files", [("ts", "time"), ("fuid", "string"), ("tx_hosts", "set[addr]"),
                               ("rx_hosts", "set[addr]"), ("source", "string"), ("mime_type", "string"),
                               ("filename", "string"), ("total_bytes", "count"), ("md5", "string")],
                     [["1714550400.0", "F1", "198.51.100.9", "10.0.0.5", "HTTP", "application/x-dosexec",
                       "a.exe", "4096", "d41d8cd98f00b204e9800998ecf8427e"]])  # fmt: skip
    (ev,), _ = read_all(ZEEK, files)
    assert ev.zeek.fuid == "F1" and ev.source.ip == "198.51.100.9" and "a.exe" in ev.message
    assert (ev.file.name, ev.file.extension, ev.file.size) == ("a.exe", "exe", 4096)
    assert ev.file.hash.md5 == "d41d8cd98f00b204e9800998ecf8427e"


def test_ot_rules_run_on_imported_icsnpp_logs() -> None:
    """A PLC stop in s7comm.log and a cold restart in dnp3.log raise the same rule-pack alerts as
    our decoders' events would."""
    s7 = zeek_tsv("s7comm", ID + [("is_orig", "bool"), ("source_h", "addr"), ("source_p", "port"),
                                  ("destination_h", "addr"), ("destination_p", "port"),
                                  ("rosctr_code", "count"), ("rosctr_name", "string"),
                                  ("pdu_reference", "count"), ("function_code", "string"),
                                  ("function_name", "string"), ("subfunction_code", "string"),
                                  ("subfunction_name", "string"), ("error_class", "string"),
                                  ("error_code", "string")],
                  [["1714550400.0", "C8", "10.0.0.5", "50002", "10.0.1.30", "102", "T", "10.0.0.5", "50002",
                    "10.0.1.30", "102", "1", "Job-Request", "7", "0x29", "PLC Stop", "-", "-", "-", "-"]])  # fmt: skip
    dnp3 = zeek_tsv("dnp3", ID + [("fc_request", "string"), ("fc_reply", "string"), ("iin", "count")],
                    [["1714550400.0", "C9", "10.0.0.5", "50003", "10.0.1.40", "20000", "COLD_RESTART",
                      "RESPONSE", "0"]])  # fmt: skip
    detector = Detector(load(pack_rules()).rules)
    fired = set()
    for data in (s7, dnp3):
        events, bad = read_all(ZEEK, data)
        assert not bad
        fired |= {a.rule.name for a in detector(events)}
    assert {"S7 PLC stop", "DNP3 cold or warm restart"} <= fired


def test_headerless_baseline_uses_a_known_layout_and_unknown_logs_say_so() -> None:
    data = (b"### BTest baseline data\n"
            b"1600000000.0\tC1\t127.0.0.1\t47785\t127.0.0.1\t502\tREAD_COILS\t-\n")  # fmt: skip
    assert ZEEK.sniff(data, "x/modbus.log")
    (ev,), bad = read_all(ZEEK, data, "x/modbus.log")
    assert not bad and ev.ot.modbus.function_code == 1 and ev.ot.role == "request"
    assert read_all(ZEEK, zeek_tsv("smb_files", [("ts", "time")], [["1.0"], ["2.0"]])) == ([], [])
    assert read_all(ZEEK, zeek_tsv("modbus_detailed", [("ts", "time")], [["1.0"]])) == ([], [])


def test_corrupt_rows_are_reported_and_the_rest_is_read() -> None:
    lines = CONN.decode().split("\n")
    lines.insert(9, "XXXXXXXXXX.XXXXXX\tC9\t10.0.0.5")  # too few columns
    lines.insert(9, "not-a-time\tC9\t10.0.0.5\t1\t10.0.0.6\t2\ttcp\t-\t-\t-\t-\tSF\t-\t1\t1\t(empty)\t-")
    events, bad = read_all(ZEEK, "\n".join(lines).encode())
    assert len(events) == 2 and len(bad) == 2
    assert {b.position for b in bad} == {"line 10", "line 11"}
    assert "columns" in bad[1].reason and "not a time" in bad[0].reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    ZEEK.sniff(data, "conn.log")
    read_all(ZEEK, data, "conn.log")
    read_all(ZEEK, CONN[:200] + data, "conn.log")


# -- real logs ------------------------------------------------------------------------------------
@needs_corpus
def test_corpus_ot_logs_import_and_corrupted_copies_survive() -> None:
    logs = sorted(p for p in CORPUS.rglob("*.log")
                  if p.stem in ("modbus", "dnp3", "s7comm", "s7comm_plus", "enip", "cip", "conn", "weird", "bacnet"))  # fmt: skip
    assert len(logs) >= 20
    rng = random.Random(7)
    for p in logs:
        data = p.read_bytes().replace(b"XXXXXXXXXX.XXXXXX", b"1600000000.000000")
        if not ZEEK.sniff(data[:65536], str(p)):  # header stripped upstream, layout unknown here
            continue
        events, bad = read_all(ZEEK, data, str(p))
        assert events and not bad, (p, bad[:2])
        broken = bytearray(data)
        for _ in range(20):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        read_all(ZEEK, bytes(broken[: rng.randrange(len(broken))]), str(p))


@needs_corpus
def test_peer_agreement_with_our_decoders() -> None:
    from watchfloor.testing.zeek_peer import compare, corpus_pairs

    rows = [r for cap, logs in corpus_pairs(CORPUS) for r in compare(cap, logs)]
    assert len(rows) >= 20 and not any(r.corrupt for r in rows)
    logged = sum(r.logged for r in rows)
    matched = sum(r.matched for r in rows)
    assert matched / logged >= 0.95  # the log's messages that our decoders also see
    clean = [r for r in rows if "fuzz" not in r.capture]
    assert all(r.ratio >= 0.75 for r in clean), [(r.capture, r.log, r.ratio) for r in clean if r.ratio < 0.75]


OTRF_ZEEK = (CORPUS.parent / "labeled" / "otrf_security_datasets" / "datasets" / "compound" / "LSASS_campaign_01"
             / "metasploit_logonpasswords_lsass_memory_dump_zeek_logs.zip")  # fmt: skip


@pytest.mark.skipif(not OTRF_ZEEK.is_file(), reason="../shared/corpus/labeled (OTRF Zeek logs) is absent")
def test_real_it_logs_of_an_attack_dataset() -> None:
    """OTRF's LSASS campaign: Zeek IT logs of a real lab network import whole; damaged copies survive."""
    import zipfile

    rng = random.Random(11)
    counts = {}
    with zipfile.ZipFile(OTRF_ZEEK) as z:
        for name in z.namelist():
            data = z.read(name)
            assert ZEEK.sniff(data[:65536], name)
            events, bad = read_all(ZEEK, data, name)
            assert not bad, (name, bad[:2])
            counts[name.rsplit("/", 1)[-1]] = len(events)
            broken = bytearray(data)
            for _ in range(30):
                broken[rng.randrange(len(broken))] = rng.randrange(256)
            read_all(ZEEK, bytes(broken[: rng.randrange(1, len(broken))]), name)
    assert all(counts[f"{log}.log"] > 0 for log in ("conn", "dns", "http", "ssl", "files", "weird")), counts
    dns, _ = read_all(ZEEK, zipfile.ZipFile(OTRF_ZEEK).read("dns.log"), "dns.log")
    assert any(e.dns.question.name and e.dns.response_code for e in dns)
