"""Baseline with real protocol stacks on loopback (../shared/tools/traffic; root, tcpdump): the
pyModbusTCP session (a poller reading FC 1-4, an engineering client writing FC 5/6/15/16) is
learned as normal; the pymodbus session against the same address then reads device
identification, mask-writes and read/writes registers — each new function must be named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conformance import corpus as C
from .test_baseline import alerts, ingest, run

STACKS = {"normal": ("modbus_pymodbustcp.py", 15031), "abnormal": ("modbus_pymodbus.py", 15032)}


@pytest.mark.stack
@pytest.mark.tshark
def test_real_stack_session_learned_then_deviations_explained(tmp_path: Path) -> None:
    reason = C.stack_skip_reason("pymodbus, pyModbusTCP")
    if reason:
        pytest.skip(reason)
    got = C.run_stacks(STACKS, tmp_path, 4)
    normal, _, info = got["normal"]
    abnormal, _, info2 = got["abnormal"]
    assert normal is not None, info
    assert abnormal is not None, info2
    db = tmp_path / "live.duckdb"
    ingest(db, normal)
    shown = run("baseline", "learn", "--db", str(db))
    assert "1 edges" in shown  # 127.0.0.1 → 127.0.0.1 over modbus
    learned = json.loads(run("baseline", "show", "--db", str(db), "--format", "jsonl"))
    functions = set(learned["edges"][0]["functions"])
    assert {"read_coils", "read_holding_registers"} <= functions
    ingest(db, abnormal)
    found = alerts(db)
    new = {a["message"].split(" with ")[1].split(" ")[0] for a in found
           if a["rule"]["id"] == "baseline.new_function"}  # fmt: skip
    assert new and not new & functions
    assert {"read_write_multiple_registers", "mask_write_register"} & new, new
    for a in found:
        assert a["source"]["ip"] == "127.0.0.1" and a["ot"]["protocol"] == "modbus"
        assert "during" in a["message"] and a["related"]["events"]
