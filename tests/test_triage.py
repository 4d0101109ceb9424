"""Triage (impact, priority, suppression, duplicates), entity resolution, incidents and the
kill chain: on the project's plant capture ingested for real, with the scenario site model."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from watchfloor.correlate import run
from watchfloor.correlate.entities import Entities, direct, ident
from watchfloor.schema import Endpoint, Event, EventMeta, Related, RuleRef, Technique, Threat
from watchfloor.schema.events import Host, Tactic, User
from watchfloor.site import load_site, parse_site
from watchfloor.store import EventFilter, open_store
from watchfloor.testing.scenarios import build, load
from watchfloor.triage import Dedup, triage
from watchfloor.triage.killchain import ICS, place

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "scenarios" / "site.yml"
PLANT = ROOT / "examples" / "plant.pcap.gz"
CLI = [sys.executable, "-m", "watchfloor"]


def ingest(pcap: Path, db: Path) -> None:
    subprocess.run([*CLI, "ingest", str(pcap), "--db", str(db), "--workers", "1"], check=True,
                   capture_output=True)  # fmt: skip


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plant capture as recorded: HMI 10.20.1.10 polls three PLCs; 10.20.1.30 reads the
    device identity of SIS-12, restarts its communications and forces it listen-only."""
    db = tmp_path_factory.mktemp("plant") / "plant.duckdb"
    ingest(ROOT / "examples" / "plant.pcap.gz", db)
    return db


def composite(spec_text: str, tmp: Path) -> Path:
    """A scenario built by the scenario builder from the plant capture and ingested."""
    spec = tmp / "scenario.yml"  # its paths are absolute: tests run side by side
    spec.write_text(spec_text)
    build(load(spec), tmp / "built")
    db = tmp / "store.duckdb"
    ingest(tmp / "built" / "ot.pcap", db)
    return db


def by_rule(items):  # type: ignore[no-untyped-def]
    return {t.alert["rule"]["name"]: t for t in items}


def test_impact_and_priority_follow_the_plant(plant: Path) -> None:
    store = open_store(plant)
    try:
        site = load_site(SITE)
        conv = by_rule(run(store, site, persist=False).items)
        free = by_rule(run(store, site, mode="context-free", persist=False).items)
    finally:
        store.close()
    listen = conv["Modbus force listen-only mode"].triage
    assert listen.asset == "SIS-12" and listen.leg == "ot" and listen.sans_stage == 2
    assert listen.impact == 5 and listen.priority == "P1"
    assert any("safety function (SIS)" in r for r in listen.reasons)
    assert any("declared criticality 5" in r for r in listen.reasons)
    # reading the identity of the same safety controller observes, it does not command
    ident_read = conv["Modbus device identification read"].triage
    assert ident_read.impact < listen.impact and ident_read.priority in ("P3", "P4")
    assert any("observes" in r for r in ident_read.reasons)
    # an undeclared host commanding devices in a declared zone is a rogue master: high confidence
    assert listen.confidence == "high"
    # context-free: security severity alone, no site reasons
    for name, t in free.items():
        assert t.triage.priority == ("P1", "P2", "P3", "P4")[max(0, min(3, 5 - t.triage.severity))]
        assert not any("criticality" in r for r in t.triage.reasons)


SUNDAY_HMI = """
name: t
label: negative
start: {start}
site: {site}
ot:
  - file: {plant}
    addresses: {{10.20.1.30: {client}}}
"""


@pytest.mark.parametrize(("start", "client", "suppressed"), [
    ("2026-03-01T08:00:00Z", "10.20.1.10", True),    # Sunday shutdown, from the HMI
    ("2026-03-02T08:00:00Z", "10.20.1.10", False),   # Monday: no window
    ("2026-03-01T08:00:00Z", "10.20.1.99", False),   # in the window, but from an undeclared host
])  # fmt: skip
def test_maintenance_window_suppresses_only_declared_engineering_hosts(
        tmp_path: Path, start: str, client: str, suppressed: bool) -> None:  # fmt: skip
    db = composite(SUNDAY_HMI.format(start=start, client=client, site=SITE, plant=PLANT), tmp_path)
    store = open_store(db)
    try:
        res = run(store, load_site(SITE))
        kept = len(list(store.triage()))
    finally:
        store.close()
    assert res.items and kept == len(res.items)  # suppressed alerts are kept, never deleted
    for t in res.items:
        if t.alert["source"]["ip"] in (client,) or t.alert["destination"]["ip"] in (client,):
            assert (t.triage.suppressed_by is not None) == suppressed, t.triage
            if suppressed:
                assert "Sunday shutdown" in t.triage.suppressed_by and "HMI-1" in t.triage.suppressed_by
    if suppressed:
        assert not res.incidents  # explained, not an incident


def alert(second: float, rule: str = "r1", *, src: str | None = None, dst: str | None = None,
          host: str | None = None, host_ip: str | None = None, user: str | None = None,
          severity: int = 4, techniques: tuple[str, ...] = (), tactics: tuple[str, ...] = (),
          ot: bool = False) -> dict:  # fmt: skip
    ev = Event(
        timestamp=f"2026-03-02T09:{int(second) // 60:02d}:{second % 60:09.6f}Z",
        event=EventMeta(id=f"a-{rule}-{second}", kind="alert", category=["intrusion_detection"],
                        severity=severity),
        source=Endpoint(ip=src) if src else None, destination=Endpoint(ip=dst) if dst else None,
        rule=RuleRef(id=rule, name=rule),
        threat=Threat(technique=Technique(id=list(techniques)) if techniques else None,
                      tactic=Tactic(name=list(tactics)) if tactics else None),
        related=Related(events=[]),
    )  # fmt: skip
    doc = msgspec.to_builtins(ev)
    if host or host_ip:
        doc["host"] = msgspec.to_builtins(Host(name=host, ip=[host_ip] if host_ip else None))
    if user:
        doc["user"] = msgspec.to_builtins(User(name=user))
    if ot:
        doc["ot"] = {"protocol": "s7comm", "role": "request", "action": {"operation": "control"}}
    return doc


def test_duplicates_merge_within_the_interval_and_reopen_after() -> None:
    alerts = [alert(s, src="10.0.0.1", dst="10.0.0.2") for s in (0, 60, 120, 1500, 1560)]
    alerts.append(alert(30, src="10.0.0.9", dst="10.0.0.2"))  # another identity
    items = triage(alerts, None, dedup=Dedup(interval_s=600))
    opened = [t for t in items if t.open]
    assert [t.alert["@timestamp"][14:16] for t in opened] == ["00", "00", "25"]
    first = next(t for t in opened if t.alert["source"]["ip"] == "10.0.0.1")
    assert first.triage.occurrences == 3
    merged = [t for t in items if t.triage.duplicate_of == first.id]
    assert len(merged) == 2


def test_kill_chain_placement() -> None:
    assert place(alert(0, techniques=("T1003.001",), tactics=("credential-access",))).label == \
        "it:credential-access"  # fmt: skip
    # an ICS technique puts it on the OT leg at the technique's first ICS tactic
    p = place(alert(0, techniques=("T0816",)))
    assert (p.leg, p.tactic, p.sans_stage) == ("ot", "inhibit-response-function", 2)
    assert p.order > place(alert(0, tactics=("impact",))).order  # every OT stage follows IT ones
    assert all(t in ICS for techs in __import__("watchfloor.triage.killchain", fromlist=["x"])
               .ICS_TECHNIQUES.values() for t in techs)  # fmt: skip


def test_entities_hold_only_while_observed_and_skip_hubs() -> None:
    ents = Entities(margin_s=60)
    ents.add_observations([("ip", "10.0.0.5", "host", "EWS-7", 1000.0, 2000.0, "logon")])
    assert "host:ews-7" in ents.expand({"ip:10.0.0.5"}, 1500)
    assert "host:ews-7" not in ents.expand({"ip:10.0.0.5"}, 5000)  # the lease moved on
    rows = [("ip", f"10.1.0.{i}", "mac", "00:00:5e:00:01:01", 0.0, 9e9, "traffic") for i in range(40)]
    ents.add_observations(rows)  # a router's MAC: bound to every routed address
    assert ents.expand({"ip:10.1.0.1"}, 100) == {"ip:10.1.0.1"}
    assert ident("user", "CORP\\SYSTEM") is None and ident("user", "FS03$") is None
    assert ident("host", "FS03.offsec.lan") == "host:fs03"


SITE_TEXT = """
version: 1
sites:
  - id: s
    zones:
      - {id: it, name: Corporate, purdue_level: 4, subnets: [10.40.0.0/16]}
      - {id: cell, name: Cell, purdue_level: 1, subnets: [10.10.1.0/24]}
    assets:
      - {name: FS03, ips: [10.40.0.23], role: it_host, criticality: 2}
      - {name: PLC-S7, ips: [10.10.1.10], role: controller, criticality: 5}
"""


def test_incident_crosses_from_it_into_ot_through_a_logon(tmp_path: Path) -> None:
    """Credential theft on FS03; a user logs from FS03 into EWS-9; EWS-9 stops the PLC. A third,
    unrelated IT alert on another host stays out."""
    site = parse_site(SITE_TEXT)
    alerts = [
        alert(0, "dump", host="FS03", host_ip="10.40.0.23", user="alice", techniques=("T1003",),
              tactics=("credential-access",)),
        alert(100, "stop", src="10.40.0.77", dst="10.10.1.10", techniques=("T0816",), ot=True,
              severity=5),
        alert(50, "other", host="WS-12", user="bob", tactics=("execution",)),
    ]  # fmt: skip
    items = triage(alerts, site)
    ents = Entities()
    ents.add_site(site)
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp()
    ents.add_observations([("ip", "10.40.0.77", "host", "EWS-9", t0 + 40, t0 + 60, "logon"),
                           ("user", "alice", "host", "EWS-9", t0 + 40, t0 + 60, "logon")])
    from watchfloor.correlate.incidents import build as incidents

    found = incidents(items, ents, site=site)
    crossing = [i for i in found if i.crosses_it_ot]
    assert len(crossing) == 1
    inc = crossing[0]
    assert set(inc.alerts) == {"a-dump-0", "a-stop-100"}
    assert inc.priority == "P1" and inc.stages[0] == "it:credential-access"
    assert inc.stages[-1].startswith("ot:")
    assert any("crosses from IT into OT" in r for r in inc.reasons)
    assert inc.path and inc.path[0].startswith("FS03") and "PLC-S7 (L1 Cell)" in inc.path
    # without the logon binding the legs are not linked
    plain = incidents(triage(alerts, site), Entities(), site=site)
    assert not any(i.crosses_it_ot for i in plain)


def test_cli_triage_incidents_and_story(plant: Path, tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "triage", "--db", str(plant), "--site", str(SITE)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert "4 alerts" in out and "incidents" in out
    lines = subprocess.run([*CLI, "incidents", "--db", str(plant), "--format", "jsonl"],
                           check=True, capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    docs = [json.loads(x) for x in lines]
    assert docs
    for d in docs:
        assert {"incident", "priority", "stages", "first_seen", "last_seen", "entities", "alerts",
                "crosses_it_ot", "summary"} <= d.keys()  # fmt: skip
        assert d["incident"]["id"].startswith("INC-")
    story = subprocess.run([*CLI, "incident", "show", docs[0]["incident"]["id"], "--db", str(plant)],
                           check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert "timeline:" in story and "SIS-12" in story and "safety function" in story
    bad = subprocess.run([*CLI, "incident", "show", "INC-nope", "--db", str(plant)],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "no such incident" in bad.stderr
    alerts = subprocess.run([*CLI, "alerts", "--db", str(plant), "--format", "jsonl"],
                            check=True, capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    assert all("triage" in json.loads(x) for x in alerts)


def test_rewritten_capture_reads_back_with_the_new_addresses(tmp_path: Path) -> None:
    db = composite(SUNDAY_HMI.format(start="2026-03-01T08:00:00Z", client="10.77.0.1", site=SITE, plant=PLANT), tmp_path)
    store = open_store(db)
    try:
        talkers = {(t.initiator, t.responder) for t in store.talkers()}
    finally:
        store.close()
    assert ("10.77.0.1", "10.20.2.12") in talkers and not any("10.20.1.30" in p for p in talkers)
    meta = json.loads((tmp_path / "built" / "scenario.json").read_text())
    assert meta["ot_packets"] == 3398 and meta["malicious_start"] is None


SHARED = ROOT.parent / "shared" / "corpus"


@pytest.mark.skipif(not (SHARED / "pcaps").is_dir(), reason="../shared/corpus is absent")
def test_scenario_suite_links_the_legs_and_spares_the_negatives(tmp_path: Path) -> None:
    """Two scenarios of the suite, with the project's Windows rules (SigmaHQ's 2,400 are the
    full benchmark's, bench/triage.py): the positive links its IT and OT legs and reaches P1,
    the negative (the same S7 STOP from the engineering workstation inside the maintenance
    window) raises no P1/P2 when converged but does when context-free."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "triage.py"), "--it-rules", str(ROOT / "rules" / "it"),
                    "--only", "s1-lsass-dump-then-s7-stop,n1-ews-s7-stop-in-maintenance",
                    "--json", str(out)], check=True, capture_output=True)  # fmt: skip
    res = json.loads(out.read_text())
    pos, neg = res["s1-lsass-dump-then-s7-stop"], res["n1-ews-s7-stop-in-maintenance"]
    assert pos["converged"]["linked"] and pos["converged"]["p12"] >= 1
    assert pos["converged"]["ttd_ot_s"] is not None and pos["converged"]["ttd_ot_s"] < 5
    assert not pos["it-only"]["ot_seen"] and not pos["it-only"]["linked"]
    assert neg["converged"]["p12"] == 0 and neg["context-free"]["p12"] >= 1


def test_declared_exceptions_suppress_until_they_expire(plant: Path) -> None:
    base = SITE.read_text()
    store = open_store(plant)
    try:
        rule = next(a for a in store.events(EventFilter(kind="alert"))
                    if a["rule"]["name"] == "Modbus device identification read")["rule"]["id"]  # fmt: skip
        for until, suppressed in (("2026-06-01T00:00:00Z", True), ("2025-12-31T00:00:00Z", False)):
            text = base.replace("    schedules:", f"""    exceptions:
      - {{name: vendor audit, rules: [{rule}], destination: SIS-12, until: "{until}",
         reason: the integrator inventories the SIS}}
    schedules:""")
            site = parse_site(text)
            items = by_rule(run(store, site, persist=False).items)
            got = items["Modbus device identification read"].triage.suppressed_by
            assert (got is not None) == suppressed, got
            if suppressed:
                assert got == "exception 'vendor audit': the integrator inventories the SIS"
            # other rules on the same asset are not covered
            assert items["Modbus force listen-only mode"].triage.suppressed_by is None
    finally:
        store.close()


def test_exception_errors_name_the_line() -> None:
    from watchfloor.site import SiteError

    text = SITE.read_text().replace("    schedules:", """    exceptions:
      - {name: bad, destination: PLC-404, until: tomorrow}
    schedules:""")
    with pytest.raises(SiteError) as err:
        parse_site(text)
    msgs = [p.message for p in err.value.problems]
    assert any("not a time: 'tomorrow'" in m for m in msgs)
    assert any("'PLC-404' is not an asset name" in m for m in msgs)
    assert all(p.line > 0 for p in err.value.problems)
