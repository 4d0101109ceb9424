"""SigmaHQ's network rules run unchanged on events read from Zeek and Suricata logs: Zeek rules
(`product: zeek`, Zeek's field names) and the taxonomy's `dns` and `proxy` categories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watchfloor.detect.alerts import Detector
from watchfloor.detect.pipelines import PIPELINES
from watchfloor.detect.rules import load
from watchfloor.telemetry.suricata import FORMAT as EVE
from watchfloor.telemetry.zeek import FORMAT as ZEEK

from ._telemetry import ID, read_all, zeek_tsv

SIGMA = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "sigma"

DNS = zeek_tsv("dns", ID + [("proto", "enum"), ("query", "string"), ("qtype_name", "string"),
                            ("rcode_name", "string"), ("answers", "vector[string]")],
               [["1714550400.0", "C1", "10.0.0.5", "5353", "10.0.0.53", "53", "udp", "pool.supportxmr.com",
                 "A", "NOERROR", "192.0.2.9"],
                ["1714550401.0", "C2", "10.0.0.5", "5354", "10.0.0.53", "53", "udp", "www.example.org",
                 "A", "NOERROR", "192.0.2.10"]])  # fmt: skip
HTTP = zeek_tsv("http", ID + [("method", "string"), ("host", "string"), ("uri", "string"),
                              ("user_agent", "string"), ("status_code", "count")],
                [["1714550400.0", "C3", "10.0.0.5", "50000", "198.51.100.9", "80", "PUT", "198.51.100.9",
                  "/share/x.txt", "Microsoft-WebDAV-MiniRedir/10.0.19041", "201"],
                 ["1714550401.0", "C4", "10.0.0.5", "50001", "198.51.100.9", "80", "GET", "evil.hopto.org",
                  "/payload.exe?x=1", "Mozilla/5.0", "200"],
                 ["1714550402.0", "C5", "10.0.0.5", "50002", "10.0.1.9", "80", "PUT", "10.0.1.9",
                  "/share/x.txt", "Microsoft-WebDAV-MiniRedir/10.0.19041", "201"]])  # fmt: skip

OWN_RULES = {
    "zeek_dns.yml": {"title": "Zeek DNS query for a mining pool", "id": "5c0f6f1e-1f8a-4b9e-9c3e-0d4b1a7e2f10",
                     "logsource": {"product": "zeek", "service": "dns"},
                     "detection": {"sel": {"query|endswith": "supportxmr.com", "id.orig_h|cidr": "10.0.0.0/8"},
                                   "condition": "sel"}, "level": "high"},
    "proxy.yml": {"title": "Executable from a dynamic DNS host", "id": "0e3a2f4c-8d1b-4c55-a1f0-6b7d9e2c3a41",
                  "logsource": {"category": "proxy"},
                  "detection": {"sel": {"c-uri-extension": "exe", "cs-host|endswith": ".hopto.org",
                                        "cs-method": "GET"}, "condition": "sel"}, "level": "high"},
    "dns_category.yml": {"title": "DNS answer", "id": "7d2e9b1a-3c4f-4e8a-9b0c-1f2e3d4c5b6a",
                         "logsource": {"category": "dns"},
                         "detection": {"sel": {"query": "www.example.org", "answer": "192.0.2.10"},
                                       "condition": "sel"}, "level": "low"},
}  # fmt: skip


def _detector(paths: list[Path]) -> Detector:
    ruleset = load(paths, PIPELINES["network"]())
    assert not ruleset.failures, ruleset.failures
    return Detector(ruleset.rules)


def test_own_rules_in_sigmahq_shapes(tmp_path: Path) -> None:
    for name, rule in OWN_RULES.items():
        (tmp_path / name).write_text(json.dumps(rule))
    detector = _detector([tmp_path])
    events = read_all(ZEEK, DNS, "d")[0] + read_all(ZEEK, HTTP, "h")[0]
    hits = {(a.rule.name, a.event.id.rsplit("-a", 1)[0]) for a in detector(events)}
    assert hits == {("Zeek DNS query for a mining pool", "d-9"), ("DNS answer", "d-10"),
                    ("Executable from a dynamic DNS host", "h-10")}  # fmt: skip
    # the same HTTP request seen by Suricata meets the proxy rule too (category, not product)
    eve = {"timestamp": "2024-05-01T08:00:00Z", "event_type": "http", "src_ip": "10.0.0.5", "src_port": 1,
           "dest_ip": "198.51.100.9", "dest_port": 80, "proto": "TCP",
           "http": {"hostname": "evil.hopto.org", "url": "/payload.exe", "http_method": "GET", "status": 200}}  # fmt: skip
    (ev,), _ = read_all(EVE, json.dumps(eve).encode())
    assert [a.rule.name for a in detector([ev])] == ["Executable from a dynamic DNS host"]


@pytest.mark.skipif(not SIGMA.is_dir(), reason="../shared/corpus/sigma is absent")
def test_sigmahq_rules_unchanged() -> None:
    rules = [SIGMA / "rules/network/zeek/zeek_dns_mining_pools.yml",
             SIGMA / "rules/network/zeek/zeek_http_webdav_put_request.yml",
             SIGMA / "rules/web/proxy_generic/proxy_download_susp_dyndns.yml"]  # fmt: skip
    detector = _detector(rules)
    events = read_all(ZEEK, DNS, "d")[0] + read_all(ZEEK, HTTP, "h")[0]
    hits = sorted((a.rule.ruleset.rsplit("/", 1)[-1], a.event.id.rsplit("-a", 1)[0]) for a in detector(events))
    assert hits == [("proxy_download_susp_dyndns.yml", "h-10"),
                    ("zeek_dns_mining_pools.yml", "d-9"),
                    ("zeek_http_webdav_put_request.yml", "h-9")]  # fmt: skip  (h-11: internal, filtered)


def test_threat_intel_meets_the_network_fields() -> None:
    """Domains, JA3 and user agents from intel match imported Zeek and EVE events (the ECS fields
    the intel table names are the ones the readers fill)."""
    from watchfloor.detect.intel import Indicator, IntelMatcher

    from .test_telemetry_suricata import DATA as EVE_DATA

    m = IntelMatcher([Indicator("domain", "supportxmr.com", "t", "i1"),
                      Indicator("ja3", "e7d705a3286e19ea42f587b344ee6865", "t", "i2"),
                      Indicator("user_agent", "Microsoft-WebDAV-MiniRedir/10.0.19041", "t", "i3")])  # fmt: skip
    events = read_all(ZEEK, DNS, "d")[0] + read_all(ZEEK, HTTP, "h")[0] + read_all(EVE, EVE_DATA, "e")[0]
    hits = sorted((a.threat.indicator.type, a.threat.indicator.matched_field) for a in m(events))
    assert hits == [("domain", "dns.question.name"), ("ja3", "tls.client.ja3"),
                    ("user_agent", "user_agent.original"), ("user_agent", "user_agent.original")]  # fmt: skip
