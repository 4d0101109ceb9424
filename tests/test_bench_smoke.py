"""The benchmark is not a test, but it must keep running as the code changes: a tiny run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "decode.py"


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (Debian 'tshark')")
def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--packets", "4000", "--repeat", "1",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "Throughput ratio" in out and "identical multisets of PDUs" in out
    assert "events/s" in out


PROTOCOLS_BENCH = BENCH.with_name("protocols.py")


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (Debian 'tshark')")
def test_protocol_benchmark_runs_and_both_tools_see_the_same_messages(tmp_path: Path) -> None:
    source = Path(__file__).parent / "captures" / "modbus_all_functions.pcap"
    proc = subprocess.run([sys.executable, str(PROTOCOLS_BENCH), "--protocol", "modbus", "--packets", "3000",
                           "--repeat", "1", "--source", f"modbus={source}", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("modbus "))
    ours, theirs = row.split()[2].split("/")
    assert int(ours.replace(",", "")) > 0 and ours == theirs, row


def test_rules_benchmark_runs_and_both_engines_agree(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH.with_name("rules.py")), "--packets", "2000", "--repeat", "1",
                           "--naive-events", "500", "--sigma", str(tmp_path / "none"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]  # exits non-zero if the engines disagree
    assert "OT pack" in proc.stdout and "ev/s" in proc.stdout
