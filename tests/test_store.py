"""The embedded DuckDB store: batched appends, queries, migration, atomic ingest."""

from __future__ import annotations

from pathlib import Path

import duckdb
import msgspec
import pytest

from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.store import EventFilter, Source, StoreError, open_store

CAPTURES = Path(__file__).parent / "captures"


def _events(name: str) -> list[Event]:
    return [e for b in decode_file(CAPTURES / name) for e in b]


def test_events_read_back_exactly_as_written(tmp_path: Path) -> None:
    events = _events("modbus_all_functions.pcap")
    store = open_store(tmp_path / "s.duckdb")
    with store.transaction():
        store.append(events)
    back = [msgspec.convert(d, Event) for d in store.events(EventFilter())]
    key = lambda e: e.event.id  # noqa: E731
    assert sorted(back, key=key) == sorted(events, key=key)


def test_filters_and_talkers(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.duckdb")
    with store.transaction():
        store.append(_events("modbus_all_functions.pcap"))
    writes = list(store.events(EventFilter(operation="write")))
    assert writes and all(d["ot"]["action"]["operation"] == "write" for d in writes)
    assets = list(store.events(EventFilter(kind="asset")))
    assert assets and assets[0]["asset"]["vendor"] == "Watchfloor Test PLC Co"
    assert list(store.events(EventFilter(anomaly="unanswered_request")))
    assert len(list(store.events(EventFilter(limit=3)))) == 3
    talker = store.talkers()[0]
    assert talker.protocol == "modbus" and "write" in talker.operations and talker.messages > 30


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.duckdb")
    events = _events("modbus_all_functions.pcap")
    with pytest.raises(RuntimeError), store.transaction():
        store.append(events)
        raise RuntimeError("crash mid-ingest")
    assert store.count() == 0
    with store.transaction():
        store.append(events)
        store.finish_source(Source("abc", "x.pcap", len(events), 76, "complete"))
    store.close()
    again = open_store(tmp_path / "s.duckdb", read_only=True)
    assert again.count() == len(events) and again.source("abc").state == "complete"  # type: ignore[union-attr]


def test_interrupted_ingest_is_replaced_not_duplicated(tmp_path: Path) -> None:
    events = _events("modbus_all_functions.pcap")
    source_id = events[0].event.id.split("-")[0]
    store = open_store(tmp_path / "s.duckdb")
    store.start_source(source_id, "x.pcap")
    store.append(events[:30])  # ... and the process dies here
    store.close()
    store = open_store(tmp_path / "s.duckdb")
    assert store.source(source_id).state == "ingesting"  # type: ignore[union-attr]
    store.start_source(source_id, "x.pcap")
    store.append(events)
    store.finish_source(Source(source_id, "x.pcap", len(events), 76, "complete"))
    assert store.count() == len(events)


def test_migration_adds_fields_a_newer_schema_has(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))  # simulate a file written before two fields existed
    con.execute("ALTER TABLE events DROP COLUMN message")
    con.execute("ALTER TABLE events DROP COLUMN ot.modbus.subfunction_name")
    con.close()
    store = open_store(path)
    with store.transaction():
        store.append(_events("modbus_all_functions.pcap"))
    assert any("subfunction_name" in d["ot"].get("modbus", {}) for d in store.events(EventFilter()))


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("not a database")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(bogus)
    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "absent.duckdb", read_only=True)
