"""The embedded DuckDB store: batched appends, queries, migration, atomic ingest."""

from __future__ import annotations

from pathlib import Path

import duckdb
import msgspec
import pyarrow as pa
import pytest

from watchfloor.schema import Event
from watchfloor.sensor import decode_file
from watchfloor.store import EventFilter, Source, StoreError, open_store

CAPTURES = Path(__file__).parent / "captures"


def _events(name: str) -> list[Event]:
    return [e for b in decode_file(CAPTURES / name) for e in b]


# One capture of every protocol family: their events share batches, so the batches split into
# several parts with different columns.
MIXED = ["modbus_all_functions.pcap", "dnp3/dnp3_session.pcap", "goose/goose_sequence.pcap",
         "goose/sv_streams.pcap", "bacnet/bacnet_operations.pcap", "opcua/opcua_session.pcap",
         "profinet/profinet_io_cm.pcap", "mqtt/mqtt_v5_port_18830.pcap", "enip/enip_session.pcap"]


def test_events_read_back_exactly_as_written(tmp_path: Path) -> None:
    events = [e for name in MIXED for e in _events(name)]
    store = open_store(tmp_path / "s.duckdb")
    with store.transaction():
        for i in range(0, len(events), 300):  # batches that mix protocols
            store.append(events[i : i + 300])
    back = [msgspec.convert(d, Event) for d in store.events(EventFilter())]
    key = lambda e: e.event.id  # noqa: E731
    assert sorted(back, key=key) == sorted(events, key=key)
    parts = {r[0] for r in store.con.execute(  # type: ignore[attr-defined]
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'event_parts'").fetchall()}  # fmt: skip
    assert {"_layout", "modbus", "dnp3", "goose", "sv", "bacnet", "opcua", "network"} <= parts
    # a part has only the columns its events used; the protocol's detail is a column of its own
    modbus = store.con.sql("SELECT * FROM event_parts.modbus LIMIT 0").to_arrow_table().schema  # type: ignore[attr-defined]
    assert "ot.modbus" in modbus.names and "ot.dnp3" not in modbus.names and "host" not in modbus.names
    assert modbus.field("ot").type.names == ["protocol", "role", "action", "anomalies"]
    assert store.count() == len(events)
    assert {t.protocol for t in store.talkers()} >= {"modbus", "dnp3", "bacnet", "opcua"}


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
    store = open_store(path)
    with store.transaction():
        store.append(_events("modbus_all_functions.pcap"))
    store.close()
    con = duckdb.connect(str(path))  # simulate a file written before two fields existed
    for table in ("event_parts._layout", "event_parts.modbus"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN message")
        con.execute(f'ALTER TABLE {table} DROP COLUMN "ot.modbus".subfunction_name')
    con.close()
    store = open_store(path)
    assert {"message", "ot"} <= set(store._columns())  # type: ignore[attr-defined]
    events = _events("modbus_all_functions.pcap")
    assert events
    with store.transaction():
        store.append(events)
    assert any("subfunction_name" in d["ot"].get("modbus", {}) for d in store.events(EventFilter()))


def test_a_store_from_before_the_parts_keeps_its_events(tmp_path: Path) -> None:
    """Stores written with one events table: the table is kept as it is, read with the parts."""
    from watchfloor.store.duckdb import _SCHEMA, DuckDBStore, _sql_type

    path = tmp_path / "v1.duckdb"
    old = _events("modbus_all_functions.pcap")
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (" + ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in _SCHEMA
                                                    if f.name != "message") + ")")  # fmt: skip
    batch = pa.ipc.open_stream(DuckDBStore.prepare(msgspec.json.Encoder().encode_lines(
        [e for e in old if e.message is None]))).read_all()  # fmt: skip
    con.register("b", batch.drop_columns([c for c in batch.column_names if c == "message"]))
    con.execute("INSERT INTO events BY NAME SELECT * FROM b")
    con.close()
    reader = open_store(path, read_only=True)  # read as it is, not migrated
    assert reader.count() == batch.num_rows and reader.talkers()[0].protocol == "modbus"
    assert len(list(reader.events(EventFilter()))) == batch.num_rows
    assert sum(1 for _ in reader.behaviour_rows()) == sum(  # type: ignore[attr-defined]
        1 for e in old if e.message is None and e.ot is not None and e.event.kind == "event" and e.event.action != "anomaly")
    reader.close()
    store = open_store(path)
    assert store.count() == batch.num_rows
    new = _events("dnp3/dnp3_session.pcap")
    with store.transaction():
        store.append(new)
    assert store.count() == batch.num_rows + len(new)
    assert {d["ot"]["protocol"] for d in store.events(EventFilter(kind="event")) if "ot" in d} >= {"modbus", "dnp3"}
    store.start_source(old[0].event.id.split("-")[0], "again.pcap")  # a re-ingest clears old rows too
    assert store.count() == len(new)


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("not a database")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(bogus)
    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "absent.duckdb", read_only=True)
