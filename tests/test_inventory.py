"""The asset inventory built from stored traffic: identities with their sources, roles with reasons,
zones and Purdue levels from the site model, and the changes ingest records as events."""

from __future__ import annotations

import heapq
import json
import subprocess
import sys
from pathlib import Path

import pytest

from watchfloor.inventory import assemble, build, mac_vendor
from watchfloor.site import SiteModel, parse_site
from watchfloor.store import EventFilter, open_store
from watchfloor.store.base import Conversation
from watchfloor.testing import TcpConversation, write_pcap
from watchfloor.testing import modbus as mb
from watchfloor.testing.modbus import Endpoint, poll_session

START = 1_767_250_800_000_000_000
SCADA = ("10.20.1.10", "00:1b:1b:00:00:0a")  # a Siemens OUI
EWS = ("10.20.1.30", "00:1d:9c:00:00:1e")  # a Rockwell OUI
PLCS = [("10.20.2.11", "02:00:00:20:02:0b"), ("10.20.2.12", "02:00:00:20:02:0c"),
        ("10.20.2.13", "02:00:00:20:02:0d")]  # fmt: skip


def identify(ews: tuple[str, str], plc: tuple[str, str], start: int, firmware: str) -> list:
    conv = TcpConversation(Endpoint(ews[0], 51000, ews[1]), Endpoint(plc[0], 502, plc[1]),
                           start_ns=start, step_ns=2_000_000)  # fmt: skip
    out = list(conv.handshake())
    out += mb.exchange(conv, 1, mb.read_device_id_request(1, 0), mb.read_device_id_response(
        1, [(0, "Acme Automation"), (1, "AC-500"), (2, firmware)]))
    out += mb.exchange(conv, 2, mb.diagnostics(1, 0xFF00), mb.diagnostics(1, 0xFF00))
    out += conv.fin()
    return out


def plant(path: Path, start: int, plcs: list[tuple[str, str]], firmware: str) -> Path:
    polls = [poll_session(cycles=12, seed=i, start_ns=start + i * 37_000_000,
                          client=Endpoint(SCADA[0], 49152 + i, SCADA[1]),
                          server=Endpoint(ip, 502, mac)) for i, (ip, mac) in enumerate(plcs)]  # fmt: skip
    records = heapq.merge(*polls, identify(EWS, plcs[1], start + 2 * 10**9, firmware),
                          key=lambda r: r[0])  # fmt: skip
    write_pcap(path, records)
    return path


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Day 1: the plant as designed. Day 2: PLC-2 has new firmware, PLC-3 has a new address
    (same MAC) and a new PLC appeared."""
    tmp = tmp_path_factory.mktemp("inventory")
    day1 = plant(tmp / "day1.pcap", START, PLCS, "v3.1.7")
    day2 = plant(tmp / "day2.pcap", START + 86_400 * 10**9,
                 [PLCS[0], PLCS[1], ("10.20.2.23", PLCS[2][1]), ("10.20.2.14", "02:00:00:20:02:0e")],
                 "v3.2.0")  # fmt: skip
    db = tmp / "plant.duckdb"
    first = run("ingest", str(day1), "--db", str(db), "--workers", "1")
    assert "inventory: new 5" in first.stdout
    second = run("ingest", str(day2), "--db", str(db), "--workers", "2")
    assert "inventory:" in second.stdout
    again = run("ingest", str(day2), "--db", str(db), "--force", "--workers", "1")  # replaces, never doubles
    assert again.stdout.split("inventory:")[1] == second.stdout.split("inventory:")[1]
    return db


def changes(db: Path) -> list[dict]:
    store = open_store(db, read_only=True)
    try:
        return [d for d in store.events(EventFilter(kind="event")) if d["event"].get("dataset") == "inventory"]
    finally:
        store.close()


def test_change_events(store_path: Path) -> None:
    found = changes(store_path)
    by_action: dict[str, list[dict]] = {}
    for d in found:
        by_action.setdefault(d["event"]["action"], []).append(d)
    assert sorted(d["source"]["ip"] for d in by_action["asset_new"]) == sorted(
        [SCADA[0], EWS[0], *(ip for ip, _ in PLCS), "10.20.2.23", "10.20.2.14"])
    [fw] = by_action["asset_firmware_changed"]
    assert fw["source"]["ip"] == PLCS[1][0] and fw["change"] == {
        "field": "asset.revision", "previous": "v3.1.7", "current": "v3.2.0"}
    assert fw["@timestamp"].startswith("2026-01-02T07:00:02")  # when the new firmware was first reported
    [moved] = by_action["asset_ip_changed"]
    assert moved["source"]["mac"] == PLCS[2][1]
    assert moved["change"] == {"field": "asset.ip", "previous": PLCS[2][0], "current": "10.20.2.23"}
    ids = [d["event"]["id"] for d in found]
    assert len(ids) == len(set(ids))


def test_assets_records(store_path: Path) -> None:
    rows = [json.loads(line) for line in run("assets", "--db", str(store_path), "--format", "jsonl").stdout.splitlines()]
    by_ip = {r["ip"]: r for r in rows}
    assert set(by_ip) == {SCADA[0], EWS[0], *(ip for ip, _ in PLCS), "10.20.2.23", "10.20.2.14"}
    plc = by_ip[PLCS[1][0]]
    assert (plc["vendor"], plc["product"], plc["firmware"]) == ("Acme Automation", "AC-500", "v3.2.0")
    assert [f["value"] for f in plc["identity"]["revision"]] == ["v3.1.7", "v3.2.0"]
    assert {f["source"] for f in plc["identity"]["revision"]} == {"modbus/device_identification"}
    assert plc["role"] == "controller" and plc["role_confidence"] >= 0.7 and plc["role_reasons"]
    assert by_ip[SCADA[0]]["role"] == "scada_server" and "polls 5 controllers" in by_ip[SCADA[0]]["role_reasons"][0]
    assert by_ip[EWS[0]]["role"] == "engineering_workstation"
    assert by_ip[SCADA[0]]["mac_vendor"] == mac_vendor(SCADA[1]) and "Siemens" in by_ip[SCADA[0]]["vendor"]
    assert by_ip[EWS[0]]["identity"]["vendor"][0]["source"] == "mac-oui"
    for r in rows:
        assert r["zone_source"] == "inferred" and r["purdue_source"] == "inferred"
        assert r["first_seen"] <= r["last_seen"] and r["protocols"] == ["modbus"]
    assert by_ip[PLCS[0][0]]["purdue_level"] == 1 and by_ip[SCADA[0]]["purdue_level"] == 2
    csv = run("assets", "--db", str(store_path), "--format", "csv").stdout.splitlines()
    assert csv[0].split(",")[:3] == ["ip", "mac", "name"] and len(csv) == len(rows) + 1
    table = run("assets", "--db", str(store_path), "--role", "controller").stdout
    assert PLCS[0][0] in table and SCADA[0] not in table


def test_declared_site_wins(store_path: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"""sites:
  - id: works
    zones:
      - {{id: control, purdue_level: 2, subnets: [10.20.1.0/24]}}
      - {{id: cell, purdue_level: 1, subnets: [10.20.2.0/24]}}
    assets:
      - {{name: SIS-1, ips: [{PLCS[0][0]}], role: safety_controller, criticality: 5, safety_function: SIS}}
      - {{name: HMI-1, ips: [{SCADA[0]}], role: hmi}}
    conduits:
      - {{from: control, to: cell, protocols: [modbus]}}
""")
    rows = {r["ip"]: r for r in map(json.loads, run("assets", "--db", str(store_path), "--site", str(site),
                                                     "--format", "jsonl").stdout.splitlines())}  # fmt: skip
    sis = rows[PLCS[0][0]]
    assert (sis["name"], sis["role"], sis["role_source"], sis["role_confidence"]) == ("SIS-1", "safety_controller", "declared", 1.0)
    assert sis["safety_function"] == "SIS" and sis["criticality"] == 5
    assert (sis["zone"], sis["zone_source"], sis["purdue_level"], sis["purdue_source"]) == ("cell", "declared", 1, "declared")
    hmi = rows[SCADA[0]]
    assert hmi["role"] == "hmi" and "scada_server" in hmi["role_reasons"][0]  # traffic disagreed: said, not obeyed
    shown = run("asset", "show", "SIS-1", "--db", str(store_path), "--site", str(site)).stdout
    assert "safety_controller (declared" in shown and "history:" in shown and "asset_new" in shown
    assert "NOT ALLOWED" not in shown
    shown = run("asset", "show", PLCS[1][0], "--db", str(store_path)).stdout
    assert "asset_firmware_changed" in shown and "v3.1.7 → v3.2.0" in shown
    missing = run("asset", "show", "10.9.9.9", "--db", str(store_path), check=False)
    assert missing.returncode != 0 and "no asset" in missing.stderr


def conv(a: str, b: str, amac: str | None, bmac: str | None, proto: str | None = "modbus",
         op: str | None = "read", role: str | None = "request", first: int = 0, last: int = 10,
         port: int = 502, flow: bool = False) -> Conversation:  # fmt: skip
    return Conversation(a, amac, b, bmac, proto, proto, "tcp", port, role, op, flow, 5, first, last,
                        0, 0, 0, 0)  # fmt: skip


def test_routed_addresses_do_not_take_the_routers_mac() -> None:
    router = "00:00:0c:00:00:01"  # frames from other subnets carry the router's MAC
    convs = [conv(f"10.9.0.{i}", "10.20.2.11", router, "02:00:00:00:00:01") for i in range(1, 5)]
    convs.append(conv("10.20.2.50", "10.20.2.11", "02:00:00:00:00:50", "02:00:00:00:00:01"))
    inv = assemble(convs, [], SiteModel())
    assert all(inv.assets[f"10.9.0.{i}"].mac is None for i in range(1, 5))
    assert inv.assets["10.20.2.50"].mac == "02:00:00:00:00:50"
    r = inv.assets[f"mac:{router}"]
    assert r.role == "network_device" and r.ips == [f"10.9.0.{i}" for i in range(1, 5)]
    assert "Cisco" in (r.mac_vendor or "")
    # one MAC with addresses one after the other (a new DHCP lease) is a host, not a router
    seq = [conv(f"10.20.3.{i}", "10.20.2.11", "02:00:00:00:00:77", "02:00:00:00:00:01",
                first=i * 100, last=i * 100 + 10) for i in range(1, 5)]  # fmt: skip
    inv = assemble(seq, [], SiteModel())
    assert not inv.routers and inv.assets["10.20.3.4"].mac == "02:00:00:00:00:77"


def test_it_hosts_broadcasts_and_conduits() -> None:
    site = parse_site("""sites:
  - zones: [{id: it, subnets: [10.1.0.0/16]}, {id: cell, subnets: [10.20.2.0/24]}]
    conduits: []
""")
    convs = [conv("10.1.0.5", "10.1.0.9", None, None, proto=None, op=None, role=None, port=443, flow=True),
             conv("10.1.0.5", "255.255.255.255", None, None, proto=None, op=None, role=None, port=137, flow=True),
             conv("10.1.0.5", "10.20.2.11", None, None)]  # fmt: skip
    inv = assemble(convs, [], site)
    assert "255.255.255.255" not in inv.assets
    assert inv.assets["10.1.0.9"].role == "it_host" and "tcp/443" in inv.assets["10.1.0.9"].role_reasons[0]
    [bad] = [e for e in inv.edges if e.responder == "10.20.2.11"]
    assert bad.allowed is False and "it to cell" in (bad.reason or "")
    [ok] = [e for e in inv.edges if e.responder == "10.1.0.9"]
    assert ok.allowed is None and ok.protocol == "tcp/443"


def test_build_without_any_site(tmp_path: Path) -> None:
    store = open_store(tmp_path / "empty.duckdb")
    inv = build(store)
    assert inv.assets == {} and inv.edges == []
    store.close()
