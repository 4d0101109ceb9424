"""CloudTrail (real OTRF sample), Azure Activity / Entra ID (fixtures written here), ECS JSON and
declarative mappings; `watchfloor ingest` and `rules test` over log inputs."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import msgspec
import pytest

from watchfloor.schema import Event
from watchfloor.telemetry import FORMATS, Corrupt, azure, cloudtrail, ecs
from watchfloor.telemetry.mapping import MappingError
from watchfloor.telemetry.mapping import load as load_mapping
from watchfloor.telemetry.sources import ReadStats, expand, identify, read_events

FIXTURES = Path(__file__).parent / "telemetry"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CLOUDTRAIL_ZIP = SHARED / "labeled/otrf_security_datasets/datasets/atomic/aws/collection/ec2_proxy_s3_exfiltration.zip"
REGRESSION = SHARED / "labeled/sigma_regression/regression_data"


def _split(items) -> tuple[list[Event], list[Corrupt]]:  # type: ignore[no-untyped-def]
    items = list(items)
    return [i for i in items if isinstance(i, Event)], [i for i in items if isinstance(i, Corrupt)]


def _sniffed(data: bytes) -> list[str]:
    return [f.name for f in FORMATS if f.sniff(data[:65536], "x")]


def _cloudtrail_lines() -> bytes:
    if not CLOUDTRAIL_ZIP.exists():
        pytest.skip(f"{CLOUDTRAIL_ZIP} not in the corpus")
    with zipfile.ZipFile(CLOUDTRAIL_ZIP) as zf:
        return zf.read(zf.namelist()[0])


@pytest.mark.corpus
def test_cloudtrail_json_lines_and_s3_delivery_form(tmp_path: Path) -> None:
    lines = _cloudtrail_lines()
    records = [json.loads(x) for x in lines.splitlines() if x.strip()]
    assert _sniffed(lines) == ["cloudtrail"]
    events, corrupt = _split(cloudtrail.read(io.BytesIO(lines), "ct"))
    assert not corrupt and len(events) == len(records)
    e, r = events[0], records[0]
    assert e.event.action == r["eventName"] and e.event.provider == r["eventSource"]
    assert e.cloud.provider == "aws" and e.cloud.region == r["awsRegion"]
    assert e.cloud.account.id == r["recipientAccountId"] and e.user.name == r["userIdentity"]["userName"]
    assert json.loads(e.event.original) == r
    failed = [(e, r) for e, r in zip(events, records) if r.get("errorCode")]
    assert all(e.event.outcome == "failure" for e, _ in failed)
    # the S3 delivery form: one {"Records": [...]} document, gzip-compressed
    s3 = tmp_path / "123456789123_CloudTrail_us-east-1_20200914T0045Z_x.json.gz"
    s3.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    inputs = expand([s3], lambda *a: None)
    inp = next(inputs)
    fmt = identify(inp)
    assert fmt.name == "cloudtrail"
    rs = ReadStats()
    again = [e for b in read_events(inp, fmt, rs) for e in b]
    assert rs.corrupt == 0 and [e.event.action for e in again] == [e.event.action for e in events]


@pytest.mark.corpus
def test_damaged_cloudtrail_document_keeps_every_whole_record() -> None:
    records = [json.loads(x) for x in _cloudtrail_lines().splitlines() if x.strip()]
    doc = json.dumps({"Records": records}, indent=1).encode()
    cut = doc[: len(doc) * 2 // 3]
    events, corrupt = _split(cloudtrail.read(io.BytesIO(cut), "ct"))
    assert 0 < len(events) < len(records) and len(corrupt) == 1
    assert "cut short" in corrupt[0].reason and corrupt[0].position.startswith("record ")


def test_entra_signins_audit_and_azure_activity() -> None:
    for name in ("entra_signin.json", "entra_audit_graph.json", "azure_activity.jsonl"):
        assert _sniffed((FIXTURES / name).read_bytes()) == ["azure"], name
    signin, corrupt = _split(azure.read(open(FIXTURES / "entra_signin.json", "rb"), "s"))
    assert not corrupt and [e.event.outcome for e in signin] == ["failure", "success"]
    f = signin[0]
    assert f.event.category == ["authentication"] and f.event.code == "50126"
    assert f.user.name == "dana.operator@plant.example" and f.source.ip == "198.51.100.23"
    assert f.source.geo.country_iso_code == "NL" and f.timestamp == "2024-05-02T07:41:12.345678Z"
    assert f.cloud.provider == "azure" and f.cloud.service.name == "Azure Portal"
    (audit,) = _split(azure.read(open(FIXTURES / "entra_audit_graph.json", "rb"), "a"))[0]
    assert audit.event.action == "Add member to role" and audit.event.category == ["iam"]
    assert audit.user.name == "dana.operator@plant.example"
    assert audit.user.target.name == "svc-historian@plant.example"
    activity, _ = _split(azure.read(open(FIXTURES / "azure_activity.jsonl", "rb"), "z"))
    assert [e.event.outcome for e in activity] == ["success", "failure"]
    assert activity[1].event.type == ["deletion"] and activity[0].user.name == "dana.operator@plant.example"
    assert activity[0].cloud.account.id == "7C1D2E3F-AAAA-4BBB-8CCC-DDDDEEEEFFFF"
    assert activity[0].cloud.service.name == "MICROSOFT.NETWORK"


def test_ecs_json_nested_and_dotted() -> None:
    data = (FIXTURES / "edr_ecs.jsonl").read_bytes()
    assert _sniffed(data) == ["ecs-json"]
    (proc, conn), corrupt = _split(ecs.read(io.BytesIO(data), "e"))
    assert not corrupt
    assert proc.process.parent.name == "WINWORD.EXE" and proc.process.args[-1] == "SQBFAFgA"
    assert proc.host.ip == ["10.20.0.15"] and proc.host.os.family == "windows"
    assert conn.event.category == ["network"] and conn.destination.port == 502
    assert conn.source.ip == "10.20.0.15" and conn.process.pid == 6721
    assert json.loads(proc.event.original)["agent"]["type"] == "endpoint"  # dropped fields kept here


def test_declarative_mapping(tmp_path: Path) -> None:
    fmt = load_mapping(FIXTURES / "acme_edr.yml")
    data = (FIXTURES / "acme_edr.jsonl").read_bytes()
    assert fmt.sniff(data, "x") and not any(f.sniff(data, "x") for f in FORMATS)
    (e, late), corrupt = _split(fmt.read(io.BytesIO(data), "m"))
    assert not corrupt
    assert e.timestamp == "2024-05-02T10:00:00.123000Z" and e.event.module == "acme-edr"
    assert e.process.pid == 812 and e.process.executable == "C:\\Tools\\psexec.exe"
    assert e.process.parent.executable == "C:\\Windows\\explorer.exe" and e.host.name == "hmi-02"
    assert e.event.category == ["process"] and e.event.action == "allowed"
    assert late.timestamp == "1970-01-01T00:00:00.000000Z"  # an unreadable time does not drop the record
    bad = tmp_path / "bad.yml"
    bad.write_text("fields:\n  a: process.no_such_field\n")
    with pytest.raises(MappingError, match="not a field of the event schema"):
        load_mapping(bad)


def _watchfloor(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("watchfloor")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.corpus
def test_cli_ingest_folder_of_mixed_logs_and_rules_test(tmp_path: Path) -> None:
    sample = REGRESSION / "rules/windows/process_creation/proc_creation_win_cmdkey_recon"
    rule = SHARED / "sigma/rules/windows/process_creation/proc_creation_win_cmdkey_recon.yml"
    if not sample.exists() or not rule.exists():
        pytest.skip("regression sample or SigmaHQ rule not in the corpus")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(next(sample.glob("*.evtx")), inputs / "host.evtx")
    with zipfile.ZipFile(inputs / "cloud.zip", "w") as zf:
        zf.write(FIXTURES / "entra_signin.json", "signin.json")
    (inputs / "notes.txt").write_text("shift handover: nothing to report\n")
    db = tmp_path / "s.duckdb"
    proc = _watchfloor("ingest", str(inputs), "--db", str(db), "--rules", str(rule))
    assert proc.returncode == 1, proc.stderr  # notes.txt cannot be read as any format
    assert "notes.txt: cannot tell the format (text of no known format)" in proc.stderr
    assert "host.evtx: evtx," in proc.stdout and "1 alert" in proc.stdout
    assert "cloud.zip!signin.json: azure, 2 events" in proc.stdout
    alerts = _watchfloor("alerts", "--db", str(db), "--format", "jsonl")
    (alert,) = [json.loads(x) for x in alerts.stdout.splitlines()]
    assert alert["rule"]["id"] == "07f8bdc2-c9b3-472a-9817-5a670b872f53"
    assert alert["process"]["name"].lower() == "cmdkey.exe" and alert["winlog"]["event_id"] == 1
    events = _watchfloor("events", "--db", str(db), "--format", "jsonl")
    docs = [json.loads(x) for x in events.stdout.splitlines()]
    assert any(d.get("winlog", {}).get("event_data", {}).get("Image", "").endswith("cmdkey.exe") for d in docs)
    assert any(d.get("cloud", {}).get("provider") == "azure" for d in docs)
    again = _watchfloor("ingest", str(inputs / "host.evtx"), "--db", str(db), "--no-detect")
    assert "already ingested" in again.stderr
    test = _watchfloor("rules", "test", str(rule), str(inputs / "host.evtx"), "--format", "jsonl")
    assert test.returncode == 0, test.stderr
    (hit,) = [json.loads(x) for x in test.stdout.splitlines()]
    assert msgspec.convert(hit, Event).rule.id == alert["rule"]["id"]


def test_cli_ingest_reports_corrupt_records_with_position(tmp_path: Path) -> None:
    log = tmp_path / "edr.jsonl"
    lines = (FIXTURES / "edr_ecs.jsonl").read_bytes().splitlines()
    log.write_bytes(b"\n".join([lines[0], b'{"@timestamp": "2024-05-02T10:00:01Z", "event": {', lines[1]]) + b"\n")
    proc = _watchfloor("ingest", str(log), "--db", str(tmp_path / "s.duckdb"), "--no-detect")
    assert proc.returncode == 1
    assert "ecs-json, 2 events, 1 corrupt record(s) skipped" in proc.stdout
    assert "corrupt at line 2: not JSON" in proc.stderr
