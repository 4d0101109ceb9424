"""Behavioural baseline end to end through the CLI: ingest a normal session, learn, then ingest an
abnormal one and check the deviation alerts (one test per deviation type), approve, diff, show.

Traffic comes from the project's Modbus/TCP kit (`watchfloor.testing`: the HMI↔PLC poll session
with reads every 250 ms and occasional writes, and hand-built exchanges on TCP conversations with
handshakes); `test_baseline_live.py` does the same with real stacks on loopback (pyModbusTCP,
pymodbus, python-snap7).
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchfloor.cli import main
from watchfloor.schema.time import parse_rfc3339
from watchfloor.testing import TcpConversation, poll_session, write_pcap
from watchfloor.testing import modbus as mb
from watchfloor.testing.goose import boolean, goose_frame
from watchfloor.testing.modbus import DEFAULT_START_NS, Endpoint

HMI = Endpoint("10.10.1.50", 49500, "02:00:00:01:00:32")
ENG = Endpoint("10.10.1.60", 49600, "02:00:00:01:00:3c")
PLC = Endpoint("10.10.2.10", 502, "02:00:00:02:00:0a")
PLC2 = Endpoint("10.10.2.11", 502, "02:00:00:02:00:0b")
ROGUE = Endpoint("10.10.1.66", 40000, "02:00:00:01:00:42")
S = 1_000_000_000
LATER = DEFAULT_START_NS + 900 * S  # monitoring starts 15 min after learning began

CONTRACT = ("@timestamp", "rule.id", "rule.name", "event.severity", "source.ip", "destination.ip",
            "ot.protocol", "threat.technique.id", "message", "related.events")  # fmt: skip


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def ingest(db: Path, *pcaps: Path) -> str:
    return run("ingest", *map(str, pcaps), "--db", str(db), "--workers", "1")


def alerts(db: Path, prefix: str = "baseline.") -> list[dict]:
    out = run("alerts", "--db", str(db), "--format", "jsonl")
    found = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [a for a in found if a["rule"]["id"].startswith(prefix)]


def field(doc: dict, dotted: str):  # type: ignore[no-untyped-def]
    for part in dotted.split("."):
        if part not in doc:
            return None
        doc = doc[part]
    return doc


def exchange(conv: TcpConversation, tid: int, request: bytes, response: bytes, unit: int = 1) -> list:
    conv.advance(50_000_000)
    return conv.client_send(mb.mbap(tid, unit, request)) + conv.server_send(mb.mbap(tid, unit, response))


def session(client: Endpoint, server: Endpoint, start: int, pdus: list[tuple[bytes, bytes]]) -> list:
    conv = TcpConversation(client, server, start_ns=start)
    records = conv.handshake()
    for i, (req, resp) in enumerate(pdus, 1):
        records += exchange(conv, i, req, resp)
    return records


def poll(client: Endpoint, server: Endpoint, start: int, cycles: int, seed: int,
         interval: int = 250_000_000) -> list:  # fmt: skip
    return list(poll_session(cycles=cycles, seed=seed, client=client, server=server, start_ns=start,
                             poll_interval_ns=interval))  # fmt: skip


def pcap(path: Path, *streams: list) -> Path:
    write_pcap(path, heapq.merge(*streams, key=lambda r: r[0]))
    return path


@pytest.fixture(scope="module")
def learned(tmp_path_factory) -> Path:
    """A store holding 500 s of normal traffic (HMI polls PLC, engineering WS polls PLC2), learned."""
    d = tmp_path_factory.mktemp("baseline")
    normal = pcap(d / "normal.pcap", poll(HMI, PLC, DEFAULT_START_NS, 2000, 1),
                  poll(ENG, PLC2, DEFAULT_START_NS + 7_000_000, 2000, 2))  # fmt: skip
    db = d / "template.duckdb"
    ingest(db, normal)
    out = run("baseline", "learn", "--db", str(db))
    assert "baseline version 1 for site default (active)" in out and "2 edges" in out
    return db


@pytest.fixture
def db(learned: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "site.duckdb"
    copy.write_bytes(learned.read_bytes())
    return copy


def test_learning_mode_raises_no_deviation_until_a_baseline_is_learned(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap", poll(ROGUE, PLC, DEFAULT_START_NS, 20, 3))
    db = tmp_path / "s.duckdb"
    ingest(db, p)
    assert alerts(db) == []
    result = CliRunner().invoke(main, ["baseline", "show", "--db", str(db)])
    assert result.exit_code != 0 and "no active baseline" in result.output


def test_normal_traffic_later_raises_nothing(db: Path, tmp_path: Path) -> None:
    p = pcap(tmp_path / "same.pcap", poll(HMI, PLC, LATER, 200, 11), poll(ENG, PLC2, LATER + 7_000_000, 200, 12))
    ingest(db, p)
    found = alerts(db)
    # the kit's plant drifts its analog values slowly; none of that may look like an attack
    assert [a["message"] for a in found if a["rule"]["id"] != "baseline.value"] == []
    assert len(found) <= 2, [a["message"] for a in found]


def test_new_function_and_new_address_are_explained(db: Path, tmp_path: Path) -> None:
    pdus = [(mb.read_request(3, 0, 10), mb.read_registers_response(3, [1] * 10)),
            (mb.mask_write_register(4, 0xFF00, 0x0012), mb.mask_write_register(4, 0xFF00, 0x0012)),
            (mb.write_multiple_registers_request(400, [1] * 11), mb.write_multiple_response(16, 400, 11))]  # fmt: skip
    ingest(db, pcap(tmp_path / "x.pcap", session(HMI._replace(port=49501), PLC, LATER, pdus)))
    by_rule = {a["rule"]["id"]: a for a in alerts(db)}
    fn = by_rule["baseline.new_function"]
    assert "mask_write_register" in fn["message"] and "10.10.1.50" in fn["message"]
    assert fn["event"]["severity"] == 4 and "T0855" in fn["threat"]["technique"]["id"]
    addr = by_rule["baseline.new_address"]
    assert "holding registers 400–410 on unit 1 of 10.10.2.10" in addr["message"]
    assert "this edge only used write_multiple_registers on 10–13" in addr["message"]
    assert "during 9 min of baseline" in addr["message"]


def test_value_outside_its_envelope(db: Path, tmp_path: Path) -> None:
    pdus = [(mb.write_single_request(6, 0, 60000), mb.write_single_request(6, 0, 60000))]
    ingest(db, pcap(tmp_path / "v.pcap", session(HMI._replace(port=49502), PLC, LATER, pdus)))
    (a,) = [a for a in alerts(db) if a["rule"]["id"] == "baseline.value"]
    assert "holding register 0 on unit 1 of 10.10.2.10 is 60000" in a["message"]
    assert a["ot"]["action"]["values"] == [60000] and a["event"]["severity"] == 4


def test_a_written_mode_word_outside_its_values_alerts_once(tmp_path: Path) -> None:
    """A register written with a few repeated values (a mode word) is judged by those values;
    the PLC's echo of the abnormal write is the same finding, not a second alert."""
    modes = [(mb.write_single_request(6, 30, v), mb.write_single_request(6, 30, v)) for v in [1, 2] * 6]
    db = tmp_path / "m.duckdb"
    ingest(db, pcap(tmp_path / "modes.pcap", session(HMI, PLC, DEFAULT_START_NS, modes)))
    run("baseline", "learn", "--db", str(db))
    bad = [(mb.write_single_request(6, 30, 7), mb.write_single_request(6, 30, 7))]
    ingest(db, pcap(tmp_path / "bad.pcap", session(HMI._replace(port=49530), PLC, LATER, bad)))
    (a,) = alerts(db)
    assert a["rule"]["id"] == "baseline.value" and a["source"]["ip"] == "10.10.1.50"
    assert "holding register 30 on unit 1 of 10.10.2.10 is 7; during 1 s of baseline it was only 1/2" \
        in a["message"]  # fmt: skip


def test_binary_point_in_a_state_never_seen(db: Path, tmp_path: Path) -> None:
    """Discrete input 15 of the kit's plant is always 0 while learning; reporting 1 deviates."""
    bits = [0] * 15 + [1]
    pdus = [(mb.read_request(2, 0, 16), mb.read_bits_response(2, bits))]
    ingest(db, pcap(tmp_path / "b.pcap", session(HMI._replace(port=49503), PLC, LATER, pdus)))
    found = [a for a in alerts(db) if a["rule"]["id"] == "baseline.value"]
    assert any("discrete input 15" in a["message"] and "is 1" in a["message"] and "only 0" in a["message"]
               for a in found), [a["message"] for a in found]  # fmt: skip


def test_cadence_speed_up_and_rate(db: Path, tmp_path: Path) -> None:
    fast = pcap(tmp_path / "fast.pcap", poll(HMI, PLC, LATER, 600, 13, interval=20_000_000))
    ingest(db, fast)
    found = alerts(db)
    cadence = [a for a in found if a["rule"]["id"] == "baseline.cadence"]
    assert cadence and all("sped up" in a["message"] for a in cadence)
    assert "during 9 min of baseline every 0.25" in cadence[0]["message"]
    (rate,) = [a for a in found if a["rule"]["id"] == "baseline.rate"]
    assert "10.10.1.50 → 10.10.2.10 (modbus) exceeded" in rate["message"]
    assert len(cadence) == 4  # one per polled block, not one per request
    for a in (cadence[0], rate):  # accepted (a faster poll was commissioned): no longer deviations
        run("baseline", "approve", a["event"]["id"], "--db", str(db))
    ingest(db, pcap(tmp_path / "fast2.pcap", poll(HMI, PLC, LATER + 7200 * S, 600, 16, interval=20_000_000)))
    again = [a["rule"]["id"] for a in alerts(db)[len(found):]]
    assert again.count("baseline.cadence") == 3 and "baseline.rate" not in again, again


def test_polling_that_stops(db: Path, tmp_path: Path) -> None:
    """The HMI polls for 20 s then falls silent while the other edge keeps polling."""
    p = pcap(tmp_path / "stop.pcap", poll(HMI, PLC, LATER, 80, 14), poll(ENG, PLC2, LATER, 400, 15))
    ingest(db, p)
    stopped = [a for a in alerts(db) if a["rule"]["id"] == "baseline.cadence"]
    assert stopped and all("stopped" in a["message"] and "10.10.1.50" in a["message"] for a in stopped)
    assert all(a["threat"]["technique"]["id"] == ["T0815"] for a in stopped)


def test_polling_that_stops_at_a_capture_rotation(db: Path, tmp_path: Path) -> None:
    """Cadence carries from one capture to the next: the HMI's polling stops exactly where the
    sensor rotated its file. Across an unobserved gap (an hour with no capture at all) nothing
    can be said about the HMI's polling, so nothing is reported."""
    first = pcap(tmp_path / "r1.pcap", poll(HMI, PLC, LATER, 80, 14), poll(ENG, PLC2, LATER, 80, 15))
    ingest(db, first)
    assert [a for a in alerts(db) if a["rule"]["id"] == "baseline.cadence"] == []
    late = pcap(tmp_path / "late.pcap", poll(ENG._replace(port=49601), PLC2, LATER + 3600 * S, 200, 17))
    rotated = pcap(tmp_path / "r2.pcap", poll(ENG, PLC2, LATER + 20 * S, 400, 16))
    probe = tmp_path / "probe.duckdb"
    probe.write_bytes(db.read_bytes())
    ingest(probe, late)
    assert [a for a in alerts(probe) if a["rule"]["id"] == "baseline.cadence"] == []
    ingest(db, rotated)
    stopped = [a for a in alerts(db) if a["rule"]["id"] == "baseline.cadence"]
    assert stopped and all("stopped" in a["message"] and "10.10.1.50" in a["message"] for a in stopped)


def test_new_edge_between_known_assets(db: Path, tmp_path: Path) -> None:
    pdus = [(mb.read_request(3, 0, 10), mb.read_registers_response(3, [1] * 10))]
    ingest(db, pcap(tmp_path / "e.pcap", session(ENG._replace(port=49601), PLC, LATER, pdus)))
    (a,) = alerts(db)
    assert a["rule"]["id"] == "baseline.new_edge"
    assert "10.10.1.60 read 10.10.2.10 over modbus" in a["message"]
    assert "10.10.1.60 never talked modbus to 10.10.2.10" in a["message"]


def test_new_asset_grace_learns_reads_but_commands_still_alert(db: Path, tmp_path: Path) -> None:
    reads = [(mb.read_request(3, 0, 10), mb.read_registers_response(3, [1] * 10))] * 3
    write = [(mb.write_single_request(6, 1, 7), mb.write_single_request(6, 1, 7))]
    ingest(db, pcap(tmp_path / "r.pcap", session(ROGUE, PLC, LATER, reads + write)))
    found = alerts(db)
    kinds = [a["rule"]["id"] for a in found]
    assert kinds.count("baseline.new_asset") == 1 and "baseline.new_edge" not in kinds[:1]
    assert "10.10.1.66 was never seen" in found[0]["message"]
    writes = [a for a in found if a["ot"]["action"]["operation"] == "write"]
    assert writes and writes[0]["event"]["severity"] == 4, kinds


DAY = 86400 * S
EIGHT = DEFAULT_START_NS - DEFAULT_START_NS % DAY + 8 * 3600 * S  # 08:00 UTC of the kit's first day


def learned_two_days(tmp_path: Path, *learn_options: str, watched: bool = True) -> Path:
    """A store that learned two days of an HMI polling every 30 s from 08:00 to 09:00 UTC and
    (`watched`) of the engineering workstation polling PLC2 every 10 min around the clock."""
    streams = [poll(HMI, PLC, EIGHT, 120, 1, interval=30 * S),
               poll(HMI._replace(port=49510), PLC, EIGHT + DAY, 120, 2, interval=30 * S)]  # fmt: skip
    if watched:
        streams.append(poll(ENG, PLC2, EIGHT - 8 * 3600 * S, 288, 5, interval=600 * S))
    learn = pcap(tmp_path / "days.pcap", *streams)
    db = tmp_path / "d.duckdb"
    ingest(db, learn)
    run("baseline", "learn", "--db", str(db), *learn_options)
    return db


def test_off_hours_activity(tmp_path: Path) -> None:
    db, day, eight = learned_two_days(tmp_path), DAY, EIGHT
    night = pcap(tmp_path / "night.pcap", poll(HMI._replace(port=49511), PLC, eight + 2 * day - 5 * 3600 * S, 3, 3, interval=30 * S))
    ingest(db, night)
    found = [a for a in alerts(db) if a["rule"]["id"] == "baseline.off_hours"]
    assert len(found) == 1 and "active at 03:00 UTC" in found[0]["message"]  # no site: UTC
    assert "never active in that hour, while other traffic was" in found[0]["message"]


def test_off_hours_need_an_hour_the_sensor_watched(tmp_path: Path) -> None:
    """Learned from captures that only cover 08:00-09:00: nothing is known of 03:00."""
    db = learned_two_days(tmp_path, watched=False)
    ingest(db, pcap(tmp_path / "night.pcap", poll(HMI._replace(port=49511), PLC,
                                                 EIGHT + 2 * DAY - 5 * 3600 * S, 3, 3, interval=30 * S)))  # fmt: skip
    assert [a for a in alerts(db) if a["rule"]["id"] == "baseline.off_hours"] == []


def test_off_hours_are_the_sites_local_hours(tmp_path: Path) -> None:
    """A site in India (UTC+05:30, a half-hour offset): learned 08:00-09:00 UTC, i.e. 13:30-14:30
    local. Polling at 08:10 UTC the next day is a known hour; at 03:00 UTC it is 08:30 local,
    named in the site's clock."""
    site = tmp_path / "site.yaml"
    site.write_text("version: 1\nsites:\n  - id: plant-in\n    timezone: Asia/Kolkata\n"
                    "    zones: [{id: cell, subnets: [10.10.0.0/16]}]\n")
    db, day, eight = learned_two_days(tmp_path, "--site", "plant-in", "--site-file", str(site)), DAY, EIGHT
    usual = poll(HMI._replace(port=49512), PLC, eight + 2 * day + 600 * S, 3, 4, interval=30 * S)
    night = poll(HMI._replace(port=49511), PLC, eight + 2 * day - 5 * 3600 * S, 3, 3, interval=30 * S)
    run("ingest", str(pcap(tmp_path / "n.pcap", night, usual)), "--db", str(db), "--workers", "1",
        "--site", str(site))  # fmt: skip
    (a,) = [a for a in alerts(db) if a["rule"]["id"] == "baseline.off_hours"]
    assert "active at 08:00 Asia/Kolkata" in a["message"] and a["@timestamp"][11:13] == "03"


def goose(start: int, seconds: int, bursts: tuple[int, ...] = (), src: str = "02:00:00:61:85:01") -> list:
    """A GOOSE publisher's heartbeat every second; at each burst second the trip goes true and is
    retransmitted 2, 4, 8, ... ms apart (stNum + 1), then back to the heartbeat."""
    records, st, sq = [], 1, 0
    for second in range(seconds):
        t = start + second * S
        if second in bursts:
            st, sq, gap = st + 1, 0, 2_000_000
            while gap < S:
                records.append((t, goose_frame("IED1PROT/LLN0$GO$Trip", st, sq, [boolean(True)], src=src)))
                t, sq, gap = t + gap, sq + 1, gap * 2
        else:
            records.append((t, goose_frame("IED1PROT/LLN0$GO$Trip", st, sq, [boolean(second in bursts)], src=src)))
            sq += 1
    return records


def test_layer2_publishers_are_edges_by_mac_and_their_bursts_are_normal(tmp_path: Path) -> None:
    """GOOSE has no IP: the publisher and its multicast group are the edge, by MAC. A burst of
    retransmissions after a trip was seen while learning, so the next one is no cadence change;
    a second publisher of the same control block is a new asset."""
    db = tmp_path / "g.duckdb"
    ingest(db, pcap(tmp_path / "learn.pcap", goose(DEFAULT_START_NS, 600, bursts=(200, 400))))
    run("baseline", "learn", "--db", str(db))
    (edge,) = json.loads(run("baseline", "show", "--db", str(db), "--format", "jsonl"))["edges"]
    assert (edge["initiator"], edge["responder"], edge["protocol"]) == \
        ("02:00:00:61:85:01", "01:0c:cd:01:00:01", "goose")  # fmt: skip
    later = DEFAULT_START_NS + 600 * S
    ingest(db, pcap(tmp_path / "burst.pcap", goose(later, 60, bursts=(30,))))
    assert alerts(db) == []
    rogue = goose(later + 60 * S, 5, src="02:00:00:61:85:66")
    ingest(db, pcap(tmp_path / "rogue.pcap", rogue, goose(later + 60 * S, 5)))
    (a,) = alerts(db)
    assert a["rule"]["id"] == "baseline.new_asset" and "02:00:00:61:85:66 was never seen" in a["message"]


def test_persistent_session_turning_into_per_request_connections(db: Path, tmp_path: Path) -> None:
    streams = [poll(HMI._replace(port=50000 + i), PLC, LATER + i * 2 * S, 1, 20 + i) for i in range(14)]
    ingest(db, pcap(tmp_path / "c.pcap", *streams))
    (a,) = [a for a in alerts(db) if a["rule"]["id"] == "baseline.connection"]
    assert "opened 11 new connections" in a["message"] and "persistent session" in a["message"]


def test_one_alert_per_behaviour_then_approve_folds_it_into_a_new_version(db: Path, tmp_path: Path) -> None:
    pdus = [(mb.mask_write_register(4, 0xFF00, 0x0012), mb.mask_write_register(4, 0xFF00, 0x0012))] * 5
    ingest(db, pcap(tmp_path / "m1.pcap", session(HMI._replace(port=49520), PLC, LATER, pdus)))
    (a,) = alerts(db)  # five identical writes: one alert
    out = run("baseline", "approve", a["event"]["id"], "--db", str(db))
    assert "baseline version 2" in out and "approved new_function" in out
    diff = run("baseline", "diff", "1", "2", "--db", str(db))
    assert "+ 10.10.1.50 → 10.10.2.10 modbus: function mask_write_register" in diff
    ingest(db, pcap(tmp_path / "m2.pcap", session(HMI._replace(port=49521), PLC, LATER + 7200 * S, pdus)))
    assert len(alerts(db)) == 1  # approved: no new alert
    shown = json.loads(run("baseline", "show", "--db", str(db), "--format", "jsonl"))
    assert shown["version"] == 2 and shown["parent"] == 1 and shown["status"] == "active"
    again = CliRunner().invoke(main, ["baseline", "approve", a["event"]["id"], "--db", str(db)])
    assert again.exit_code != 0 and "already approved into version 2" in again.output


def test_an_unapproved_masters_command_alerts_once_per_burst(db: Path, tmp_path: Path) -> None:
    """Over an edge outside the baseline (the engineering workstation never talked to PLC), forty
    identical writes 50 ms apart are one burst, the same write two minutes later is a new attempt
    and alerts again, 30 s after that it does not. The HMI, an approved master of PLC, doing the
    same new write twice is one finding per hour."""
    write = [(mb.mask_write_register(4, 0xFF00, 0x0012), mb.mask_write_register(4, 0xFF00, 0x0012))]
    known = [session(HMI._replace(port=49530 + i), PLC, LATER + i * 120 * S, write * 40) for i in range(2)]
    rogue = [session(ENG._replace(port=49630 + i), PLC, LATER + at * S, write * (40 if i == 0 else 1))
             for i, at in enumerate((300, 420, 450))]  # fmt: skip
    ingest(db, pcap(tmp_path / "bursts.pcap", *known, *rogue))
    found = alerts(db)
    by_hmi = [a for a in found if a["source"]["ip"] == HMI.ip]
    assert [a["rule"]["id"] for a in by_hmi] == ["baseline.new_function"]
    by_eng = sorted(((parse_rfc3339(a["@timestamp"]) or 0) - LATER) // S for a in found
                    if a["source"]["ip"] == ENG.ip)  # fmt: skip
    assert by_eng[0] == 300 and all(t < 302 for t in by_eng[:-1]) and by_eng[-1] == 420, by_eng
    assert all("mask_write_register" in a["message"] for a in found)


def test_show_states_what_was_learned(learned: Path) -> None:
    out = run("baseline", "show", "--db", str(learned))
    assert "10.10.1.50 → 10.10.2.10 modbus" in out and "persistent (1 session(s))" in out
    assert "read_holding_registers|1|holding_register: addresses 0–9" in out
    assert "cadence read_coils|1|coil|0-15: every 0.25" in out


def test_every_alert_meets_the_output_contract(db: Path, tmp_path: Path) -> None:
    """Rule, intel and baseline alerts alike carry the contract's fields."""
    intel = tmp_path / "intel.json"
    intel.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--a", "pattern_type": "stix",
        "pattern": "[ipv4-addr:value = '10.10.1.66']", "valid_from": "2020-01-01T00:00:00Z",
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z"}]}))  # fmt: skip
    pdus = [(mb.diagnostics(1), mb.diagnostics(1)),  # restart communications: a pack rule
            (mb.write_single_request(6, 1, 7), mb.write_single_request(6, 1, 7))]
    p = pcap(tmp_path / "k.pcap", session(ROGUE, PLC, LATER, pdus))
    run("ingest", str(p), "--db", str(db), "--workers", "1", "--intel", str(intel))
    every = alerts(db, prefix="")
    sources = {a["event"]["dataset"] for a in every}
    assert {"watchfloor.baseline", "watchfloor.detect", "watchfloor.intel"} <= sources
    for a in every:
        missing = [f for f in CONTRACT if not _has(a, f)]
        assert not missing, (a["rule"]["id"], missing)
        assert isinstance(a["threat"]["technique"]["id"], list)
        assert isinstance(a["related"]["events"], list) and a["related"]["events"]
        if a["event"]["dataset"] != "watchfloor.intel":  # about OT messages: every fact is there
            assert all(field(a, f) is not None for f in CONTRACT), a
    # intel also matches host facts and flow summaries (no destination / protocol there: null)
    assert any(a["rule"]["id"].startswith("intel:") and all(field(a, f) is not None for f in CONTRACT)
               for a in every)  # fmt: skip


def _has(doc: dict, dotted: str) -> bool:
    *parents, leaf = dotted.split(".")
    for part in parents:
        doc = doc.get(part) or {}
    return leaf in doc


SITE = """version: 1
sites:
  - id: plant-a
    zones: [{id: cell-1, purdue_level: 1, subnets: [10.10.2.0/24]}, {id: ops, purdue_level: 3, subnets: [10.10.1.0/24]}]
    assets: [{name: PLC-3, ips: [10.10.2.10], role: controller}]
  - id: plant-b
    zones: [{id: cell-9, purdue_level: 1, subnets: [10.20.2.0/24]}]
"""


def test_site_baseline_learns_its_own_traffic_and_names_assets(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    other = Endpoint("10.20.2.10", 502, "02:00:00:03:00:0a")
    db = tmp_path / "s.duckdb"
    ingest(db, pcap(tmp_path / "n.pcap", poll(HMI, PLC, DEFAULT_START_NS, 400, 1),
                    poll(HMI._replace(port=49700), other, DEFAULT_START_NS, 400, 2)))  # fmt: skip
    out = run("baseline", "learn", "--db", str(db), "--site", "plant-a", "--site-file", str(site))
    assert "site plant-a" in out and "1 edges" in out  # plant-b's PLC is not plant-a's traffic
    bad = CliRunner().invoke(main, ["baseline", "learn", "--db", str(db), "--site", "plant-z",
                                    "--site-file", str(site)])  # fmt: skip
    assert bad.exit_code != 0 and "declared: plant-a, plant-b" in bad.output
    pdus = [(mb.write_single_request(6, 400, 1), mb.write_single_request(6, 400, 1))]
    attack = pcap(tmp_path / "a.pcap", session(HMI._replace(port=49501), PLC, LATER, pdus),
                  session(HMI._replace(port=49701), other, LATER, pdus))  # fmt: skip
    run("ingest", str(attack), "--db", str(db), "--workers", "1", "--site", str(site))
    (a,) = alerts(db)  # plant-b has no baseline yet: it is still learning
    assert a["rule"]["id"] == "baseline.new_address"
    assert "holding register 400 on unit 1 of 10.10.2.10 (PLC-3)" in a["message"]


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "labeled"


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "lemay_modbus").is_dir(), reason="../shared/corpus/labeled absent")
def test_detection_benchmark_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench" / "detection.py"
    proc = subprocess.run([sys.executable, str(bench), "--datasets", "lemay_modbus", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| send_a_fake_command")]
    assert rows and rows[0].split("|")[8].strip() == "yes"  # the fake command is detected
