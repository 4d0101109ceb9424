"""Threat intelligence: STIX 2.1 bundles, a TAXII 2.1 collection served over real HTTP, MISP events;
matching with validity windows; intel alerts end to end through `watchfloor ingest`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from watchfloor.detect.intel import IntelError, IntelMatcher, load, stix_observables

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "tests" / "captures" / "modbus_all_functions.pcap"  # 192.168.10.10 -> .20:502


def indicator(ident: str, pattern: str, **extra) -> dict:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{ident}", "pattern": pattern,
            "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z", **extra}


def bundle(*objects: dict) -> dict:
    return {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": list(objects)}


def test_stix_patterns_we_evaluate_and_those_we_refuse() -> None:
    assert stix_observables("[ipv4-addr:value = '10.0.0.1']") == [("ip", "10.0.0.1")]
    assert stix_observables("[ipv4-addr:value = '10.0.0.0/8'] OR [domain-name:value = 'evil.example']") == [
        ("ip", "10.0.0.0/8"), ("domain", "evil.example")]
    assert stix_observables("[file:hashes.'SHA-256' = 'AB' OR file:hashes.MD5 = 'cd']") == [
        ("sha256", "AB"), ("md5", "cd")]
    for refused in ("[ipv4-addr:value = '1.1.1.1' AND domain-name:value = 'x']",
                    "[ipv4-addr:value = '1.1.1.1'] FOLLOWEDBY [ipv4-addr:value = '2.2.2.2']",
                    "[url:value LIKE '%evil%']", "[process:name = 'x']", "not a pattern"):
        assert stix_observables(refused) is None, refused


def _events() -> list[dict]:
    return [
        {"@timestamp": "2024-06-01T00:00:00Z", "source": {"ip": "192.168.10.10"}, "destination": {"ip": "10.9.9.9"}},
        {"@timestamp": "2024-06-01T00:00:00Z", "dns": {"question": {"name": "c2.evil.example"}},
         "file": {"hash": {"sha256": "ABCDEF"}}},
        {"@timestamp": "2019-06-01T00:00:00Z", "source": {"ip": "203.0.113.7"}},
    ]


def test_matching_kinds_cidr_subdomains_hash_case_and_validity(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(
        indicator("1", "[ipv4-addr:value = '192.168.10.10']", confidence=90, name="PLC attacker"),
        indicator("2", "[ipv4-addr:value = '10.0.0.0/8']"),
        indicator("3", "[domain-name:value = 'evil.example']"),
        indicator("4", "[file:hashes.'SHA-256' = 'abcdef']"),
        indicator("5", "[ipv4-addr:value = '203.0.113.7']", valid_from="2020-01-01T00:00:00Z"),
        indicator("6", "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']"),
        indicator("7", "[ipv4-addr:value = '192.168.10.10']", revoked=True),
        {"type": "malware", "id": "malware--1", "name": "x"},
    )))
    loaded = load([path])
    assert len(loaded.indicators) == 5 and len(loaded.skipped) == 1 and "indicator--6" in loaded.skipped[0]
    m = IntelMatcher(loaded.indicators)
    hits = [[(i.id, f) for i, f, _ in m.match(e)] for e in _events()]
    assert hits[0] == [("indicator--1", "source.ip"), ("indicator--2", "destination.ip")]
    assert sorted(hits[1]) == [("indicator--3", "dns.question.name"), ("indicator--4", "file.hash.sha256")]
    assert hits[2] == []  # seen in 2019, before the indicator became valid


def test_misp_event_and_feed_folder(tmp_path: Path) -> None:
    event = {"Event": {"info": "OT intrusion set", "threat_level_id": "1", "uuid": "e1", "Attribute": [
        {"uuid": "a1", "type": "ip-dst|port", "value": "192.168.10.20|502", "to_ids": True},
        {"uuid": "a2", "type": "ip-src", "value": "192.168.10.10", "to_ids": False},  # not for detection
        {"uuid": "a3", "type": "comment", "value": "note", "to_ids": True}],
        "Object": [{"Attribute": [{"uuid": "a4", "type": "filename|md5", "value": "x.exe|AA11", "to_ids": True}]}]}}
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "e1.json").write_text(json.dumps(event))
    (feed / "manifest.json").write_text(json.dumps({"e1": {"info": "OT intrusion set"}}))
    loaded = load([feed])
    assert sorted((i.kind, i.value) for i in loaded.indicators) == [("ip", "192.168.10.20"), ("md5", "AA11")]
    assert all(i.confidence == 90 and i.name == "OT intrusion set" for i in loaded.indicators)
    assert len(loaded.skipped) == 1 and "comment" in loaded.skipped[0]


def test_unreadable_sources_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IntelError, match="bad.json"):
        load([bad])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(IntelError, match="neither a STIX 2.1 bundle nor a MISP event"):
        load([other])


class _Taxii(BaseHTTPRequestHandler):
    pages: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        url = urlparse(self.path)
        if not url.path.endswith("/collections/c1/objects/"):
            self.send_error(404)
            return
        page = int(parse_qs(url.query).get("next", ["0"])[0])
        body = dict(self.pages[page])
        if page + 1 < len(self.pages):
            body.update(more=True, next=str(page + 1))
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/taxii+json;version=2.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def test_taxii_collection_over_http_with_pagination() -> None:
    _Taxii.pages = [{"objects": [indicator("p1", "[ipv4-addr:value = '192.168.10.20']")]},
                    {"objects": [indicator("p2", "[domain-name:value = 'evil.example']")]}]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Taxii)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/collections/c1/"
        loaded = load([url])
        assert [i.id for i in loaded.indicators] == ["indicator--p1", "indicator--p2"]
        with pytest.raises(IntelError):
            load([f"http://127.0.0.1:{server.server_port}/api/collections/missing/"])
    finally:
        server.shutdown()


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True, text=True, timeout=300)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def test_ingest_with_intel_raises_alerts_naming_source_and_indicator(tmp_path: Path) -> None:
    intel = tmp_path / "intel.json"
    intel.write_text(json.dumps(bundle(indicator("plc", "[ipv4-addr:value = '192.168.10.0/24']", confidence=95,
                                                 name="Compromised PLC subnet"))))
    checked = run("intel", "check", str(intel))
    assert checked.stdout.split() == ["ip", "1"]
    db = tmp_path / "i.duckdb"
    run("ingest", str(CAPTURE), "--db", str(db), "--intel", str(intel), "--no-detect")
    assert run("alerts", "--db", str(db), "--format", "jsonl", check=False).stdout == ""  # --no-detect: none
    run("ingest", str(CAPTURE), "--db", str(db), "--intel", str(intel), "--force")
    alerts = [json.loads(x) for x in run("alerts", "--db", str(db), "--format", "jsonl").stdout.splitlines()]
    intel_alerts = [a for a in alerts if a["event"]["dataset"] == "watchfloor.intel"]
    stored = [json.loads(x) for x in run("events", "--db", str(db), "--format", "jsonl").stdout.splitlines()]
    # one hit per address field in the subnet: both ends of every message, the ip of asset facts
    expected = sum(1 for e in stored if e["event"]["kind"] != "alert" for side in ("source", "destination", "asset")
                   if (e.get(side) or {}).get("ip", "").startswith("192.168.10."))
    assert expected > 100 and len(intel_alerts) == expected
    a = intel_alerts[0]
    assert a["threat"]["indicator"] == {"type": "ip", "value": "192.168.10.0/24", "provider": str(intel),
                                        "confidence": 95, "matched_field": "source.ip"}
    assert a["rule"]["id"] == "intel:indicator--plc" and "Compromised PLC subnet" in a["message"]
    assert a["event"]["severity"] == 4
