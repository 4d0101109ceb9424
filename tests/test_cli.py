"""The `watchfloor` command as a user meets it: output, summaries, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from watchfloor.testing import write_pcap

CAPTURES = Path(__file__).parent / "captures"
ALL = CAPTURES / "modbus_all_functions.pcap"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True,
                          text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_help_documents_every_command() -> None:
    out = run("--help").stdout
    for command in ("decode", "ingest", "events", "talkers", "schema"):
        assert command in out


def test_decode_jsonl_is_one_event_per_line_in_both_worker_modes() -> None:
    one = run("decode", str(ALL), "--workers", "1").stdout.splitlines()
    two = run("decode", str(ALL), "--workers", "2").stdout.splitlines()
    assert sorted(one) == sorted(two)
    first = json.loads(one[0])
    assert first["ot"]["modbus"]["function_code"] == 1 and first["pcap"]["frame"] == 4
    frames = [json.loads(line)["pcap"]["frame"] for line in one]
    assert frames == sorted(frames)  # one worker: strict frame order


def test_decode_table() -> None:
    out = run("decode", "--format", "table", str(ALL)).stdout
    assert "read_holding_registers" in out and "vendor=" not in out  # messages only
    out = run("decode", "--format", "table", "--all", str(ALL)).stdout
    assert "vendor=Watchfloor Test PLC Co" in out and "unanswered_request" in out


def test_decode_messages_only_by_default_with_the_same_ids() -> None:
    messages = run("decode", str(ALL), "--workers", "1").stdout.splitlines()
    everything = run("decode", str(ALL), "--workers", "1", "--all").stdout.splitlines()
    assert all("modbus" in json.loads(line)["ot"] for line in messages)
    assert set(messages) < set(everything)  # identical lines, ids included


def test_ingest_events_talkers(tmp_path: Path) -> None:
    db = tmp_path / "site.duckdb"
    proc = run("ingest", str(ALL), str(CAPTURES / "modbus_port_5020.pcapng"), "--db", str(db))
    assert "packets" in proc.stdout and "events stored" in proc.stdout
    again = run("ingest", str(ALL), "--db", str(db))
    assert "already ingested" in again.stderr  # idempotent: nothing stored twice
    stored = run("ingest", str(ALL), "--db", str(db), "--force").stdout.splitlines()[-1]
    assert stored == proc.stdout.splitlines()[-1]  # --force replaces, it does not add
    lines = run("events", "--db", str(db), "--format", "jsonl", "--operation", "control").stdout
    docs = [json.loads(line) for line in lines.splitlines()]
    assert docs and {d["ot"]["modbus"]["subfunction"] for d in docs} == {1, 4}
    assert "192.168.10.10" in run("talkers", "--db", str(db)).stdout


def test_damaged_capture_exit_code_and_message(tmp_path: Path) -> None:
    raw = ALL.read_bytes()
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(raw[: len(raw) - 40])
    proc = run("decode", str(broken), check=False)
    assert proc.returncode == 1
    assert str(broken) in proc.stderr and "at byte" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stdout.splitlines()) > 50  # everything before the damage was decoded
    db = tmp_path / "d.duckdb"
    proc = run("ingest", str(broken), "--db", str(db), check=False)
    assert proc.returncode == 1 and "events stored" in proc.stdout


def test_usage_errors_are_precise(tmp_path: Path) -> None:
    proc = run("decode", str(tmp_path / "missing.pcap"), check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = run("events", "--db", str(tmp_path / "absent.duckdb"), check=False)
    assert proc.returncode != 0 and "no such store" in proc.stderr
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    proc = run("decode", str(text), check=False)
    assert proc.returncode == 1 and "not a pcap or pcapng file" in proc.stderr


def test_empty_capture(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    write_pcap(empty, [])
    assert run("decode", str(empty)).stdout == ""


def test_time_filters(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    run("ingest", str(ALL), "--db", str(db))
    bad = run("events", "--db", str(db), "--since", "yesterday-ish", check=False)
    assert bad.returncode == 2 and "not an ISO 8601 time" in bad.stderr
    every = run("events", "--db", str(db), "--format", "jsonl").stdout.splitlines()
    stamps = sorted(json.loads(line)["@timestamp"] for line in every)
    middle = stamps[len(stamps) // 2]
    later = run("events", "--db", str(db), "--format", "jsonl", "--since", middle).stdout
    assert 0 < len(later.splitlines()) < len(every)
    assert all(json.loads(line)["@timestamp"] >= middle for line in later.splitlines())


def test_worker_count_does_not_change_decoded_messages() -> None:
    from watchfloor.sensor import decode_jsonl

    plant = Path(__file__).parents[1] / "examples" / "plant.pcap.gz"  # four flows
    for capture in [*sorted(CAPTURES.glob("modbus_*.pcap*")), plant]:
        one = b"".join(decode_jsonl(capture, workers=1, messages_only=True)).splitlines()
        three = b"".join(decode_jsonl(capture, workers=3, messages_only=True)).splitlines()
        assert sorted(one) == sorted(three), capture.name
