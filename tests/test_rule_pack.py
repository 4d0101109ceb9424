"""The built-in rule pack (rules/): every rule loads, is fully tagged, and passes its own samples;
detection runs during ingest and `watchfloor alerts` prints the alert contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from watchfloor.detect.alerts import Detector
from watchfloor.detect.pack import pack_dir, pack_rules
from watchfloor.detect.pipelines import PIPELINES
from watchfloor.detect.rules import load

REPO = Path(__file__).resolve().parents[1]
PACK = pack_dir()
_PACK = load(pack_rules(), PIPELINES["windows"]())  # as ingest loads them
RULES, FAILURES = _PACK.rules, _PACK.failures
SAMPLES = REPO / "rules" / "samples"


def test_pack_is_found_and_every_rule_loads() -> None:
    assert PACK == REPO / "rules"
    assert not FAILURES, "\n".join(map(str, FAILURES))
    assert len(RULES) == sum(len(list(d.glob("*.yml"))) for d in pack_rules())
    assert {d.name for d in pack_rules()} == {"ot", "it"}
    assert len({r.id for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: Path(r.path).stem)
def test_rule_is_tagged_and_described(rule) -> None:
    assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in rule.tags), rule.tags
    for framework in ("caf.", "nis2.", "iec62443."):
        assert any(t.startswith(framework) for t in rule.tags), f"no {framework} tag"
    assert rule.level in ("informational", "low", "medium", "high", "critical")
    assert rule.description and len(rule.description) > 40


@pytest.mark.parametrize("rule", RULES, ids=lambda r: Path(r.path).stem)
def test_rule_samples(rule) -> None:
    samples = yaml.safe_load((SAMPLES / f"{Path(rule.path).stem}.yml").read_text())
    assert samples["match"] and samples["no_match"], "a rule needs positive and negative samples"
    detector = Detector([rule])
    for event in samples["match"]:
        assert [r.id for r in detector.match_dict(event)] == [rule.id], event
    for event in samples["no_match"]:
        assert detector.match_dict(event) == [], event


def run(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_ingest_raises_alerts_and_alerts_prints_the_contract(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    capture = REPO / "tests" / "captures" / "modbus_all_functions.pcap"
    summary = run("ingest", str(capture), "--db", str(db)).stdout
    assert re.search(r"[1-9]\d* alerts? in", summary), summary
    alerts = [json.loads(line) for line in run("alerts", "--db", str(db), "--format", "jsonl").stdout.splitlines()]
    by_rule = {a["rule"]["name"] for a in alerts}
    assert {"Modbus restart communications option", "Modbus force listen-only mode",
            "Modbus device identification read"} <= by_rule
    events = {e["event"]["id"]: e for e in map(json.loads, run("events", "--db", str(db), "--format", "jsonl",
                                                               "--kind", "event").stdout.splitlines())}
    for a in alerts:
        assert a["event"]["kind"] == "alert" and 1 <= a["event"]["severity"] <= 5
        assert a["rule"]["id"] and a["message"].startswith(a["rule"]["name"])
        assert a["threat"]["technique"]["id"] and all(re.fullmatch(r"T\d{4}", t) for t in a["threat"]["technique"]["id"])
        (cause,) = a["related"]["events"]
        source = events[cause]  # the triggering event is stored, and the alert carries its facts
        assert a["@timestamp"] == source["@timestamp"] and a["ot"]["protocol"] == source["ot"]["protocol"]
        assert a["source"]["ip"] == source["source"]["ip"] and a["destination"]["ip"] == source["destination"]["ip"]
        assert {t.split(".")[0] for t in a["tags"]} == {"caf", "nis2", "iec62443"}
    listen_only = [a for a in alerts if a["rule"]["name"] == "Modbus force listen-only mode"]
    assert all(a["ot"]["modbus"]["subfunction"] == 4 and a["ot"]["role"] == "request" for a in listen_only)
    one_rule = run("alerts", "--db", str(db), "--rule", listen_only[0]["rule"]["id"], "--format", "jsonl").stdout
    assert [json.loads(x)["event"]["id"] for x in one_rule.splitlines()] == [a["event"]["id"] for a in listen_only]
    critical = run("alerts", "--db", str(db), "--severity", "critical").stdout
    assert "Modbus force listen-only mode" in critical and "Modbus device identification read" not in critical
    quiet = run("ingest", str(capture), "--db", str(tmp_path / "b.duckdb"), "--no-detect").stdout
    assert not re.search(r"\d alerts? in", quiet) and "events stored" in quiet


SHARED = REPO.parent / "shared" / "corpus"
ITI = SHARED / "pcaps" / "ITI__ICS-Security-Tools" / "pcaps"

#: Real traffic (third-party captures and real-stack captures) and rules it must raise.
REAL_TRAFFIC = [
    (ITI / "EthernetIP" / "cip_stop_plc.pcap", {"CIP controller stopped or started"}),
    (ITI / "EthernetIP" / "cip_start_plc.pcap", {"CIP controller stopped or started"}),
    (SHARED / "generated" / "enip_cpppo_pycomm3.pcap", {"EtherNet/IP device discovery"}),
    (SHARED / "generated" / "iec104_c104.pcap", {"IEC 104 set-point command", "IEC 104 general interrogation"}),
    (ITI / "dnp3" / "cold_restart_and_response.pcap", {"DNP3 cold or warm restart"}),
    (ITI / "dnp3" / "disable_unsolcited_and_response.pcap", {"DNP3 unsolicited reporting disabled"}),
    (ITI / "dnp3" / "file_delete.pcap", {"DNP3 file deleted on an outstation"}),
    (ITI / "dnp3" / "assign_class.pcap", {"DNP3 event classes reassigned"}),
    (ITI / "dnp3" / "direct_operate_no_ack_crob.pcap", {"DNP3 direct operate without acknowledgement"}),
    (ITI / "dnp3" / "lan_time_sync.pcap", {"DNP3 outstation clock written"}),
    (ITI / "s7" / "snap7_s300_stop.pcapng", {"S7 PLC stop"}),
    (ITI / "s7" / "step7_s300_AuthPassword.pcapng", {"S7 PLC password sent"}),
    (ITI / "s7" / "step7_s300_copyRamToRom.pcapng", {"S7 memory compressed or copied to ROM"}),
    (ITI / "s7" / "tia_s300_downloadHwConfig.pcapng", {"S7 PLC stop", "S7 PLC started (hot or cold restart)",
                                                        "S7 program block deleted",
                                                        "Controller program transferred (upload or download)"}),
    (SHARED / "generated" / "s7comm_snap7.pcap", {"S7 system status list read (controller identification)",
                                                  "S7 program blocks listed"}),
    (ITI / "dnp3" / "dnp3_test_data_part1.pcap", {"DNP3 control or restart sent to a broadcast address",
                                                  "DNP3 application stopped or data reinitialised"}),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("capture", "expected"), REAL_TRAFFIC, ids=lambda x: x.name if isinstance(x, Path) else "")
def test_rules_fire_on_real_traffic(capture: Path, expected: set[str], tmp_path: Path) -> None:
    if not capture.is_file():
        pytest.skip(f"{capture} not found (../shared is absent)")
    db = tmp_path / "r.duckdb"
    run("ingest", str(capture), "--db", str(db))
    names = {json.loads(x)["rule"]["name"] for x in run("alerts", "--db", str(db), "--format", "jsonl").stdout.splitlines()}
    assert expected <= names, names
