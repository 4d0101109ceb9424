"""Sigma correlation rules: window semantics per type, group-by, bounded state, and end to end
through `watchfloor ingest` (base matches kept as signals, correlation alerts listed)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from watchfloor.detect.correlate import Correlation, Correlator
from watchfloor.detect.rules import load

REPO = Path(__file__).resolve().parents[1]


def corr(kind: str, rules=("a",), group_by=("source.ip",), span_s=10, op="gte", count=3, field=None) -> Correlation:
    return Correlation(id="c1", title="t", level="high", tags=("attack.t0806",), description=None, path="x",
                       type=kind, rules=tuple(rules), group_by=tuple(group_by), aliases={},
                       timespan_ns=span_s * 10**9, op=op, count=count, field=field)


def match(rule: str, second: float, ip: str = "10.0.0.1", n: int = 0, **extra) -> dict:
    return {"@timestamp": f"2024-01-01T00:00:{second:09.6f}Z", "rule": {"id": rule, "name": rule},
            "event": {"id": f"src-{n}-0-a0", "kind": "signal", "category": ["network"]},
            "related": {"events": [f"src-{n}-0"]}, "source": {"ip": ip}, **extra}


def fired(c: Correlation, matches: list[dict]) -> list[list[str]]:
    cor = Correlator([c])
    return [a.related.events for m in matches for a in cor.feed(m)]


def test_event_count_window_and_groups() -> None:
    c = corr("event_count", count=3)
    ms = [match("a", 0, n=1), match("a", 5, n=2), match("a", 11, n=3), match("a", 12, n=4),  # 0 s falls out at 11
          match("a", 12.5, ip="10.0.0.2", n=5), match("a", 13, n=6)]
    assert fired(c, ms) == [["src-2-0", "src-3-0", "src-4-0"]]  # 10.0.0.2 counts apart; window restarts after firing
    assert fired(corr("event_count", op="gt", count=3), ms[:4]) == []


def test_value_count_distinct_values() -> None:
    c = corr("value_count", count=3, field="destination.ip")
    ms = [match("a", i, n=i, destination={"ip": f"10.1.0.{i % 2 if i < 4 else i}"}) for i in range(1, 7)]
    out = fired(c, ms)
    assert len(out) == 1 and out[0][-1] == "src-4-0"  # .1 .0 .1 then .4: the third distinct value


def test_temporal_and_ordered() -> None:
    t = corr("temporal", rules=("a", "b"))
    assert fired(t, [match("b", 0, n=1), match("a", 3, n=2)]) == [["src-2-0", "src-1-0"]]
    assert fired(t, [match("b", 0, n=1), match("a", 30, n=2)]) == []  # too far apart
    o = corr("temporal_ordered", rules=("a", "b"))
    assert fired(o, [match("b", 0, n=1), match("a", 1, n=2)]) == []  # wrong order
    assert fired(o, [match("a", 0, n=1), match("a", 5, n=2), match("b", 14, n=3)]) == [["src-2-0", "src-3-0"]]


def test_groups_are_bounded(monkeypatch) -> None:
    import watchfloor.detect.correlate as mod

    monkeypatch.setattr(mod, "MAX_GROUPS", 5)
    cor = Correlator([corr("event_count", count=2)])
    for i in range(50):
        list(cor.feed(match("a", 0, ip=f"10.0.{i}.1", n=i)))
    assert len(cor.groups[0]) == 5


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text))


def test_loading_resolves_references_and_refuses_what_it_cannot_judge(tmp_path: Path) -> None:
    _write(tmp_path, "base.yml", """\
        title: Modbus write request
        id: 8f3c1c55-0d6c-4f57-9d59-5b1a4c0d0001
        name: modbus_write
        logsource: {product: ot, service: modbus}
        detection:
          sel: {ot.role: request, ot.action.operation: write}
          condition: sel
        level: low
        """)
    _write(tmp_path, "burst.yml", """\
        title: Burst of Modbus writes from one host
        id: 8f3c1c55-0d6c-4f57-9d59-5b1a4c0d0002
        correlation:
          type: event_count
          rules: [modbus_write]
          group-by: [source.ip]
          timespan: 1m
          condition: {gte: 3}
        tags: [attack.ics, attack.t0806, caf.c1.c]
        level: high
        """)
    _write(tmp_path, "quiet.yml", """\
        title: Too few writes
        id: 8f3c1c55-0d6c-4f57-9d59-5b1a4c0d0003
        correlation:
          type: event_count
          rules: [modbus_write]
          timespan: 1m
          condition: {lt: 3}
        """)
    _write(tmp_path, "dangling.yml", """\
        title: Refers to nothing
        id: 8f3c1c55-0d6c-4f57-9d59-5b1a4c0d0004
        correlation:
          type: temporal
          rules: [no_such_rule, modbus_write]
          timespan: 1m
        """)
    loaded = load([tmp_path])
    assert [c.title for c in loaded.correlations] == ["Burst of Modbus writes from one host"]
    assert sorted(Path(f.path).name for f in loaded.failures) == ["dangling.yml", "quiet.yml"]
    assert loaded.signals == {"8f3c1c55-0d6c-4f57-9d59-5b1a4c0d0001"}

    db = tmp_path / "c.duckdb"
    capture = REPO / "tests" / "captures" / "modbus_all_functions.pcap"

    def run(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    run("ingest", str(capture), "--db", str(db), "--rules", str(tmp_path), "--workers", "2")
    alerts = [json.loads(x) for x in run("alerts", "--db", str(db), "--format", "jsonl").splitlines()]
    assert alerts and {a["rule"]["name"] for a in alerts} == {"Burst of Modbus writes from one host"}
    writes = [json.loads(x) for x in run("events", "--db", str(db), "--format", "jsonl", "--operation", "write").splitlines()]
    requests = [e for e in writes if e["ot"]["role"] == "request"]
    assert len(alerts) == len(requests) // 3  # every third write in the window fires, then it restarts
    first = alerts[0]
    assert first["threat"]["technique"]["id"] == ["T0806"] and first["tags"] == ["caf.c1.c"]
    assert first["related"]["events"] == [e["event"]["id"] for e in requests[:3]]
    assert "source.ip=192.168.10.10" in first["message"]
    # `rules test` runs the same rules and correlations in process, storing nothing
    tested = [json.loads(x) for x in run("rules", "test", str(tmp_path), str(capture), "--format", "jsonl").splitlines()]
    assert [(a["event"]["id"], a["related"]["events"]) for a in tested] == [
        (a["event"]["id"], a["related"]["events"]) for a in alerts]
