"""Events of the network log readers (Zeek, Suricata EVE, syslog/CEF) store and read back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from watchfloor.store import EventFilter, open_store
from watchfloor.telemetry import suricata, syslog, zeek

from ._telemetry import read_all
from .test_telemetry_suricata import DATA as EVE
from .test_telemetry_zeek import CONN


def test_round_trip(tmp_path: Path) -> None:
    events = read_all(suricata.FORMAT, EVE, "s")[0] + read_all(zeek.FORMAT, CONN, "z")[0]
    events.append(syslog.parse(b"<134>May  1 08:00:00 fw01 CEF:0|V|P|1|100|n|10|src=10.0.0.1 "
                               b"suser=x cs1=y", "c", 1))  # fmt: skip
    events.append(syslog.parse(b'<165>1 2003-10-11T22:14:15.003Z h app 1 ID [a@1 b="c"] text', "c", 2))
    store = open_store(tmp_path / "t.duckdb")
    store.append(events)
    back = list(store.events(EventFilter())) + list(store.events(EventFilter(kind="alert")))
    store.close()
    assert len(back) == len(events)
    written = {e.event.id: json.loads(msgspec.json.encode(e)) for e in events}
    for doc in back:
        want = written[doc["event"]["id"]]
        assert doc == {**want, "@timestamp": doc["@timestamp"]}
        assert doc["@timestamp"][:19] == want["@timestamp"][:19]
