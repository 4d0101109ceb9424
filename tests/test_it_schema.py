"""The ECS IT field sets (host, user, process, winlog, cloud, ...) validate and store like OT ones."""

from __future__ import annotations

from pathlib import Path

import msgspec

from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.store import EventFilter, open_store

CAPTURES = Path(__file__).parent / "captures"

PROCESS_START = {
    "@timestamp": "2024-05-01T10:00:00.000000Z",
    "event": {"id": "t-1", "kind": "event", "category": ["process"], "type": ["start"],
              "code": "1", "provider": "Microsoft-Windows-Sysmon", "module": "evtx",
              "original": "<Event>...</Event>"},
    "host": {"name": "ws01.corp.example"},
    "user": {"name": "alice", "domain": "CORP"},
    "process": {"pid": 4242, "name": "cmd.exe", "executable": "C:\\Windows\\System32\\cmd.exe",
                "command_line": "cmd.exe /c whoami", "hash": {"sha256": "ab" * 32},
                "parent": {"pid": 1, "executable": "C:\\Windows\\explorer.exe"}},
    "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1,
               "record_id": 77, "computer_name": "ws01.corp.example",
               "event_data": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c whoami"}},
}
SIGN_IN = {
    "@timestamp": "2024-05-01T10:00:01.000000Z",
    "event": {"id": "t-2", "kind": "event", "category": ["authentication"], "outcome": "failure"},
    "cloud": {"provider": "azure", "account": {"id": "tenant"}},
    "source": {"ip": "203.0.113.9", "geo": {"country_iso_code": "NL"}},
    "user_agent": {"original": "Mozilla/5.0"},
}


def test_it_events_validate_and_round_trip_through_the_store(tmp_path: Path) -> None:
    it = [msgspec.convert(d, Event) for d in (PROCESS_START, SIGN_IN)]
    ot = [e for b in decode_file(CAPTURES / "modbus_all_functions.pcap") for e in b][:20]
    store = open_store(tmp_path / "s.duckdb")
    with store.transaction():
        store.append(it + ot)
    back = {d["event"]["id"]: msgspec.convert(d, Event) for d in store.events(EventFilter())}
    for e in it + ot:
        assert back[e.event.id] == e
    (value,) = store.con.execute(
        "SELECT winlog.event_data['CommandLine'] FROM events WHERE winlog IS NOT NULL").fetchone()
    assert value == "cmd.exe /c whoami"
