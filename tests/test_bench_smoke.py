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
