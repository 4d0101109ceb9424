"""The network log readers through the CLI: `ingest` detects Zeek, EVE and syslog files in a folder,
stores their events and the rule pack's alerts; `rules test` runs a rule over a Zeek log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ._telemetry import zeek_tsv
from .test_telemetry_suricata import DATA as EVE
from .test_telemetry_zeek import CONN, ID

REPO = Path(__file__).resolve().parents[1]
WATCHFLOOR = [sys.executable, "-m", "watchfloor"]
DNP3 = zeek_tsv("dnp3", ID + [("fc_request", "string"), ("fc_reply", "string"), ("iin", "count")],
                [["1714550400.0", "C9", "10.0.0.5", "50003", "10.0.1.40", "20000", "WARM_RESTART", "RESPONSE", "0"],
                 ["1714550401.0", "C9", "10.0.0.5", "50003", "10.0.1.40", "20000", "READ", "RESPONSE", "0"]])  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WATCHFLOOR, *args], capture_output=True, text=True, timeout=300, check=False)


def test_ingest_a_folder_of_network_logs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "conn.log").write_bytes(CONN)
    (logs / "dnp3.log").write_bytes(DNP3)
    (logs / "eve.json").write_bytes(EVE)
    (logs / "messages").write_bytes(b"<134>1 2024-05-01T08:00:00Z h a - - - hello\n"
                                    b"<13>May  1 08:00:00 fw01 CEF:0|V|P|1|100|blocked|10|src=10.0.0.1\n")  # fmt: skip
    db = tmp_path / "site.duckdb"
    r = _run("ingest", str(logs), "--db", str(db))
    assert r.returncode == 0, r.stderr
    for name, fmt in (("conn.log", "zeek"), ("dnp3.log", "zeek"), ("eve.json", "suricata-eve"), ("messages", "syslog")):
        assert f"{name}: {fmt}" in r.stdout, r.stdout
    alerts = [json.loads(x) for x in _run("alerts", "--db", str(db), "--format", "jsonl").stdout.splitlines()]
    names = {a["rule"]["name"] for a in alerts}
    assert "DNP3 cold or warm restart" in names  # the rule pack on the imported dnp3.log
    assert "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad" in names  # Suricata's own alert
    events = [json.loads(x) for x in _run("events", "--db", str(db), "--format", "jsonl").stdout.splitlines()]
    datasets = {e["event"]["dataset"] for e in events}
    assert {"zeek.conn", "zeek.dnp3", "suricata.flow", "syslog", "syslog.cef"} <= datasets


def test_rules_test_over_a_zeek_log(tmp_path: Path) -> None:
    log = tmp_path / "dnp3.log"
    log.write_bytes(DNP3)
    r = _run("rules", "test", str(REPO / "rules" / "ot" / "dnp3_restart.yml"), str(log), "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    (alert,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert alert["ot"]["dnp3"]["function_code"] == 14 and alert["source"]["ip"] == "10.0.0.5"
