"""Embedded store: DuckDB in one file. Events go in as Arrow batches; tables follow the schema.

Events are stored in one table per protocol or telemetry family (`event_parts.modbus`,
`event_parts.zeek`, ...: `ot.protocol`, else the first part of `event.dataset`), each holding
only the columns its events have used. The schema has about a thousand leaf fields, and an
insert pays for every column of the table it writes to, NULLs included: one table of every
column took ten times as long per event. The `events` view unites the parts by name over an
empty table of the whole schema, so every field is a column path in SQL exactly as in JSON
(`ot.modbus.unit_id`), whether or not any event has used it yet. Migration adds what a newer
schema has and the file lacks; it never drops or changes stored data.
"""

from __future__ import annotations

import io
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ..schema import SCHEMA_VERSION, Event
from ..schema.export import arrow_schema
from ..schema.time import rfc3339
from ._baseline import _BaselineTables
from .base import Conversation, EventFilter, Observation, Source, StoreError, Talker

_SOURCES_DDL = """CREATE TABLE IF NOT EXISTS sources (
    id VARCHAR PRIMARY KEY, file VARCHAR, events BIGINT, packets BIGINT, state VARCHAR,
    ingested_at TIMESTAMPTZ DEFAULT now())"""
# Triage and incidents are recomputed as a whole from the alerts (`watchfloor triage`), so they
# live beside the append-only events, one JSON document per alert / incident.
_TRIAGE_DDL = """CREATE TABLE IF NOT EXISTS triage (
    alert_id VARCHAR PRIMARY KEY, priority VARCHAR, suppressed BOOLEAN, open BOOLEAN, doc JSON)"""
_INCIDENTS_DDL = """CREATE TABLE IF NOT EXISTS incidents (
    id VARCHAR PRIMARY KEY, priority VARCHAR, first_seen VARCHAR, doc JSON)"""


COMMIT_EVENTS = 100_000
PARTS = "event_parts"  # the schema of the per-family tables
_LAYOUT = "_layout"  # in PARTS: no rows, every column; it gives the views their shape
_SINGLE = "events_v1"  # the one events table of a store written before the parts, kept as it is
_SCHEMA = arrow_schema()
# Arrow's JSON reader cannot build MAP columns (winlog.event_data): the reader gets the schema
# without them, and `prepare` lifts them out of the lines and puts them back as MAP arrays.
_MAPS = [(f.name, c.name) for f in _SCHEMA if pa.types.is_struct(f.type)
         for c in f.type if pa.types.is_map(c.type)]  # fmt: skip
_PARSE_SCHEMA = pa.schema([
    pa.field(f.name, pa.struct([c for c in f.type if (f.name, c.name) not in _MAPS]))
    if pa.types.is_struct(f.type) else f for f in _SCHEMA])  # fmt: skip
_PARSE_ROW = pa.struct(list(_PARSE_SCHEMA))
_MAP_MARKERS = [f'"{child}":'.encode() for _, child in _MAPS]
_OT_SHARED = ("protocol", "role", "action", "anomalies")  # the rest of `ot`: a struct per protocol
_OT = _SCHEMA.field("ot").type


def _part_columns() -> dict[str, pa.DataType]:
    """A part's possible columns: the schema's top-level fields, `ot` with its shared fields only,
    and a column per protocol's detail (`"ot.modbus"`). A part gains a column when its events
    first need it, and adding a column is cheap only at the top level: adding a field inside a
    STRUCT column rewrites that column for every stored row, in memory."""
    columns: dict[str, pa.DataType] = {}
    for f in _SCHEMA:
        if f.name != "ot":
            columns[f.name] = f.type
            continue
        columns["ot"] = pa.struct([c for c in _OT if c.name in _OT_SHARED])
        columns.update((f"ot.{c.name}", c.type) for c in _OT if c.name not in _OT_SHARED)
    return columns


_PART_COLUMNS = _part_columns()


class _Parser:
    """JSON lines → Arrow with only the fields the lines use, typed by the schema.

    Parsing against the whole schema costs every row every field (~30,000 events/s); against the
    fields seen so far, ~8 times less. A batch with a field not seen before fails that fast parse
    and is parsed once against the whole schema, which adds its fields to those seen."""

    def __init__(self) -> None:
        self.seen = pa.schema([])
        self._fast = self._options(self.seen)

    @staticmethod
    def _options(schema: pa.Schema) -> pa_json.ParseOptions:
        return pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")

    def parse(self, lines: bytes) -> pa.Table:
        try:
            return pa_json.read_json(io.BytesIO(lines), parse_options=self._fast)
        except pa.ArrowInvalid:
            pass  # a field not seen yet, or bad input: the whole schema tells which
        try:
            table = pa_json.read_json(io.BytesIO(lines), parse_options=self._options(_PARSE_SCHEMA))
        except pa.ArrowInvalid as e:
            raise StoreError(f"events do not match the schema: {e}") from None
        row = pa.struct(list(_used_columns(table).schema))
        self.seen = pa.schema(list(_restrict(_PARSE_ROW, pa.struct(list(self.seen)), row)))
        self._fast = self._options(self.seen)
        return table


_PARSER = _Parser()  # per process: decoder processes each learn the fields they meet


def _restrict(full: pa.DataType, *seen: pa.DataType) -> pa.DataType:
    """`full` (a schema type) with only the struct fields present in any of `seen` (its subsets)."""
    if not pa.types.is_struct(full):
        return full
    fields = []
    for f in full:
        kids = [t.field(f.name).type for t in seen if t.get_field_index(f.name) >= 0]
        if kids:
            fields.append(f.with_type(_restrict(f.type, *kids)))
    return pa.struct(fields)


def _used(arr: pa.Array) -> pa.Array | None:
    """`arr` without the struct fields that hold no value in any row; None if it holds none."""
    if arr.null_count == len(arr):
        return None
    if not pa.types.is_struct(arr.type):
        return arr
    kids = [(f, _used(arr.field(i))) for i, f in enumerate(arr.type)]
    kept = [(f.with_type(k.type), k) for f, k in kids if k is not None]
    if len(kept) == len(kids):
        return arr
    if not kept:  # empty objects: keep one (null) field, as a STRUCT needs one, for their rows
        f, _ = kids[0]
        kept = [(f, arr.field(0))]
    return pa.StructArray.from_arrays([k for _, k in kept], fields=[f for f, _ in kept],
                                      mask=arr.is_null())  # fmt: skip


def _used_columns(table: pa.Table) -> pa.Table:
    """`table` with only the columns and struct fields that hold a value in some row."""
    names, arrays = [], []
    for name, column in zip(table.column_names, table.columns):
        arr = _used(column.combine_chunks())
        if arr is not None:
            names.append(name)
            arrays.append(arr)
    return pa.table(arrays, names=names)


def _parts(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """(family, its rows in part columns, only those that hold a value): a table in PARTS each."""
    table = table.combine_chunks()  # DuckDB refuses STRUCT columns sliced to match other columns' chunks
    names = table.column_names
    protocol = pc.struct_field(table.column("ot"), "protocol") if "ot" in names else None
    dataset = None
    if "event" in names and "dataset" in table.schema.field("event").type.names:
        dataset = pc.list_element(pc.split_pattern(pc.struct_field(table.column("event"), "dataset"),
                                                   ".", max_splits=1), 0)  # fmt: skip
    keys = pc.coalesce(*(k for k in (protocol, dataset) if k is not None), pa.scalar("other"))
    families = pc.unique(keys).to_pylist()
    for family in families:
        part = _split_ot(table if len(families) == 1 else table.filter(pc.equal(keys, family)))
        yield _table_name(family), part.select([i for i, column in enumerate(part.columns)
                                                if column.null_count < len(column)])  # fmt: skip


def _split_ot(table: pa.Table) -> pa.Table:
    """`ot` as part columns: its shared fields, and each protocol's detail as a column."""
    i = table.schema.get_field_index("ot")
    if i < 0:
        return table
    ot = table.column(i).combine_chunks()
    shared = [(f, ot.field(j)) for j, f in enumerate(ot.type) if f.name in _OT_SHARED]
    table = table.set_column(i, "ot", pa.StructArray.from_arrays(
        [a for _, a in shared], fields=[f for f, _ in shared], mask=ot.is_null()))  # fmt: skip
    for j, f in enumerate(ot.type):
        if f.name not in _OT_SHARED:
            table = table.append_column(f"ot.{f.name}", ot.field(j))
    return table


def _table_name(family: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", family.lower()).strip("_")[:48] or "other"


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in t) + ")"
    if pa.types.is_map(t):
        return f"MAP({_sql_type(t.key_type)}, {_sql_type(t.item_type)})"
    if pa.types.is_list(t):
        return _sql_type(t.value_type) + "[]"
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
            pa.bool_(): "BOOLEAN"}.get(t) or "TIMESTAMPTZ"  # fmt: skip


class DuckDBStore(_BaselineTables):
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        if read_only and not path.exists():
            raise StoreError(f"{path}: no such store (create it with `watchfloor ingest`)")
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as e:
            raise StoreError(f"{path}: cannot open as a DuckDB store ({e})") from None
        self.path = path
        # One writer thread inserts while the caller parses the next batch; two batches at most
        # wait, so memory stays bounded.
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._writer: threading.Thread | None = None
        self._error: StoreError | None = None
        self._explicit = False  # inside transaction(): the caller commits
        self.schema = _SCHEMA
        self._parts: dict[str, list[str]] = {}  # part name → its columns
        self._common = "events_common"  # what the summaries read
        self.encoder = msgspec.json.Encoder()
        if not read_only:
            self._migrate()
        elif self._tables("main", "events"):  # an older store read as it is (not migrated)
            self._common = f"({self._common_of_single('main.events')})"
        else:
            self._reload_parts()

    # -- schema ------------------------------------------------------------------------------
    def _columns(self) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'events' ORDER BY ordinal_position").fetchall()  # fmt: skip
        return dict(rows)

    def _migrate(self) -> None:
        con = self.con
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(_SOURCES_DDL)
        self._baseline_tables()
        con.execute(_TRIAGE_DDL)
        con.execute(_INCIDENTS_DDL)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTS}")
        if self._tables("main", "events"):  # a store from before the parts: its table stays whole
            con.execute(f"ALTER TABLE events RENAME TO {_SINGLE}")  # (the views fill what it lacks)
        if not self._tables(PARTS, _LAYOUT):
            self._create(_LAYOUT, list(_PART_COLUMNS))
        self._reload_parts()
        # A newer schema's fields, in the columns each table has: inside a part's STRUCT column
        # that rewrites the column (once per schema version; inserts would silently drop them).
        for name in [_LAYOUT, *self._parts]:
            table = f'{PARTS}."{name}"'
            stored = self._stored(table)
            wanted = pa.schema([pa.field(c, t) for c, t in _PART_COLUMNS.items()
                                if name == _LAYOUT or c in stored.names])  # fmt: skip
            self._add_missing(table, wanted, stored)  # (nested fields only: the parts' names stay)
        self._view()
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                    [str(SCHEMA_VERSION)])  # fmt: skip

    def _tables(self, schema: str, name: str | None = None) -> list[str]:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
               "AND table_type = 'BASE TABLE'" + (" AND table_name = ?" if name else "")
               + " ORDER BY table_name")  # fmt: skip
        return [r[0] for r in self.con.execute(sql, [schema, name] if name else [schema]).fetchall()]

    def _stored(self, table: str) -> pa.Schema:
        """A table's nested layout, field by field (a type string cannot tell ot.modbus.function
        from ot.s7comm.function)."""
        return self.con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema

    def _reload_parts(self) -> None:
        """The parts and their columns as the catalog has them (also after a rollback undid
        some of their DDL)."""
        self._parts = {}
        for table, column in self.con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name <> ? ORDER BY table_name, ordinal_position", [PARTS, _LAYOUT]).fetchall():  # fmt: skip
            self._parts.setdefault(table, []).append(column)

    def _event_tables(self) -> list[str]:
        """The tables that hold events: the parts, and the single table of an older store."""
        tables = [f'{PARTS}."{name}"' for name in sorted(self._parts)]
        return tables + [_SINGLE] if self._tables("main", _SINGLE) else tables

    def _view(self) -> None:
        """`events`: the parts united by name, shaped by the layout table, each part's `ot` put
        back together. `events_common`: the same rows without the per-protocol detail under `ot`,
        for the store's own summaries: a union casts every row to its shape, and with the detail
        that is ~700 fields (summaries took 5-10 times as long)."""
        full = [_whole(_LAYOUT, list(_PART_COLUMNS)), *self._whole_rows()]
        common = []
        for name, columns in {_LAYOUT: list(_PART_COLUMNS), **self._parts}.items():
            detail = ", ".join(f'"{c}"' for c in columns if c.startswith("ot."))
            common.append(f'SELECT * EXCLUDE ({detail}) FROM {PARTS}."{name}"' if detail
                          else f'SELECT * FROM {PARTS}."{name}"')  # fmt: skip
        if self._tables("main", _SINGLE):
            common.append(self._common_of_single(_SINGLE))
        for view, selects in (("events", full), ("events_common", common)):
            self.con.execute(f"CREATE OR REPLACE VIEW {view} AS " + " UNION ALL BY NAME ".join(selects))

    def _rows(self) -> str:
        """What `events()` reads: the parts united by name, each `ot` put back together, and a
        NULL for each top-level column no part has yet (a filter may name it). Unlike the
        `events` view it does not cast every row to the whole schema: reading takes less than
        half the time."""
        if not self._parts:  # nothing stored yet, or an older store read as it is
            return "events"
        selects = self._whole_rows()
        have = {c for columns in self._parts.values() for c in columns}
        missing = [f'NULL::{_sql_type(t)} AS "{c}"' for c, t in _PART_COLUMNS.items()
                   if c not in have and not c.startswith("ot.")]  # fmt: skip
        if missing:
            selects.append(f"SELECT {', '.join(missing)} WHERE false")
        return "(" + " UNION ALL BY NAME ".join(selects) + ")"

    def _whole_rows(self) -> list[str]:
        """A SELECT per table that holds events, `ot` put back together: the parts, and the single
        table of an older store."""
        selects = [_whole(name, columns) for name, columns in self._parts.items()]
        return selects + [f"SELECT * FROM {_SINGLE}"] if self._tables("main", _SINGLE) else selects

    def _common_of_single(self, table: str) -> str:
        """The rows of an older store's single table as `events_common` has them."""
        has = self._stored(table).field("ot").type.names
        shared = ", ".join(f'"{n}" := ot."{n}"' for n in _OT_SHARED if n in has)
        return f"SELECT * REPLACE (CASE WHEN ot IS NOT NULL THEN struct_pack({shared}) END AS ot) FROM {table}"

    def _create(self, name: str, columns: list[str]) -> None:
        self.con.execute(f'CREATE TABLE {PARTS}."{name}" ('
                         + ", ".join(f'"{c}" {_sql_type(_PART_COLUMNS[c])}' for c in columns) + ")")

    def _fit(self, name: str, columns: list[str]) -> None:
        """Make the part `name` have `columns` (part columns, with the schema's whole types)."""
        have = self._parts.get(name)
        if have is None:
            self._create(name, columns)
            self._parts[name] = list(columns)
        else:
            new = [c for c in columns if c not in have]
            if not new:
                return
            for c in new:  # top-level columns: cheap, whatever the part holds
                self.con.execute(f'ALTER TABLE {PARTS}."{name}" ADD COLUMN "{c}" {_sql_type(_PART_COLUMNS[c])}')
            have += new
        self._view()

    def _add_missing(self, table: str, schema: pa.Schema, stored: pa.Schema) -> None:
        """Add the columns, and fields inside STRUCT columns, of `schema` that `table` lacks."""

        def add(path: str, t: pa.DataType, have: pa.DataType | None) -> None:
            if have is None:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {path} {_sql_type(t)}")
            elif pa.types.is_struct(t) and pa.types.is_struct(have):
                for f in t:
                    i = have.get_field_index(f.name)
                    add(f'{path}."{f.name}"', f.type, have.field(i).type if i >= 0 else None)

        for f in schema:
            i = stored.get_field_index(f.name)
            add(f'"{f.name}"', f.type, stored.field(i).type if i >= 0 else None)

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._drain()
        self.con.execute("BEGIN TRANSACTION")
        self._explicit = True
        try:
            yield
            self._drain()
        except BaseException:
            self._drain(raise_error=False)
            self.con.execute("ROLLBACK")
            self._reload_parts()
            raise
        finally:
            self._explicit = False
        self.con.execute("COMMIT")

    def append(self, events: Sequence[Event]) -> None:
        if events:
            self.append_jsonl(self.encoder.encode_lines(events))

    def append_jsonl(self, lines: bytes) -> None:
        """Events already encoded as JSON lines."""
        if lines:
            self.append_prepared(self.prepare(lines))

    @staticmethod
    def prepare(lines: bytes) -> bytes:
        """JSON lines → the insert format (an Arrow IPC stream with the fields the lines use,
        typed by the schema). Touches no connection, so decoder processes can run it in parallel
        (each keeps its own record of the fields seen)."""
        maps = None
        if any(m in lines for m in _MAP_MARKERS):
            lines, maps = _lift_maps(lines)
        table = _PARSER.parse(lines)
        if maps:
            table = _with_maps(table, maps)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    def append_prepared(self, data: bytes) -> None:
        """Insert a batch made by `prepare`. Reading it (here) and inserting it (on the writer
        thread) overlap with the caller's next batch."""
        batch = pa.ipc.open_stream(data).read_all()
        if self._writer is None:
            self._writer = threading.Thread(target=self._insert_loop, daemon=True,
                                            name="watchfloor-store-writer")  # fmt: skip
            self._writer.start()
        if self._error is not None:
            self._drain()
        self._queue.put(batch)

    def _insert_loop(self) -> None:
        """Insert queued batches. Outside an explicit transaction, batches are committed in
        groups of about COMMIT_EVENTS: one commit per batch would halve the insert rate, one
        for a whole capture would hold all of it in memory."""
        con, open_txn, uncommitted = self.con, False, 0
        while True:
            batch = self._queue.get()
            try:
                if batch is None or self._error is not None:
                    if open_txn:
                        con.execute("COMMIT" if self._error is None else "ROLLBACK")
                        open_txn, uncommitted = False, 0
                        if self._error is not None:
                            self._reload_parts()
                    if batch is None:
                        return
                    continue
                if not self._explicit and not open_txn:
                    con.execute("BEGIN TRANSACTION")
                    open_txn = True
                for name, part in _parts(batch):
                    self._fit(name, part.column_names)
                    con.register("_batch", part)
                    con.execute(f'INSERT INTO {PARTS}."{name}" BY NAME SELECT * FROM _batch')
                    con.unregister("_batch")
                uncommitted += batch.num_rows
                if open_txn and uncommitted >= COMMIT_EVENTS:
                    con.execute("COMMIT")
                    open_txn, uncommitted = False, 0
            except duckdb.Error as e:
                self._error = StoreError(f"{self.path}: insert failed: {e}")
            finally:
                self._queue.task_done()

    def _drain(self, *, raise_error: bool = True) -> None:
        """Wait until every queued batch is in the table (or failed); stop the writer thread."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        error, self._error = self._error, None
        if error is not None and raise_error:
            raise error

    def start_source(self, source_id: str, file: str) -> None:
        self._drain()  # the connection serves one call at a time
        # Event ids begin with the capture's id: an interrupted or repeated ingest is undone here.
        for table in self._event_tables():
            self.con.execute(f"DELETE FROM {table} WHERE starts_with(event.id, ?)", [source_id + "-"])
        self.con.execute("INSERT OR REPLACE INTO sources (id, file, events, packets, state) "
                         "VALUES (?, ?, 0, 0, 'ingesting')", [source_id, file])  # fmt: skip

    def finish_source(self, source: Source) -> None:
        self._drain()
        self.con.execute("INSERT OR REPLACE INTO sources (id, file, events, packets, state) "
                         "VALUES (?, ?, ?, ?, ?)",
                         [source.id, source.file, source.events, source.packets, source.state])  # fmt: skip

    def source(self, source_id: str) -> Source | None:
        self._drain()
        row = self.con.execute("SELECT id, file, events, packets, state FROM sources "
                               "WHERE id = ?", [source_id]).fetchone()  # fmt: skip
        return Source(*row) if row else None

    # -- reading -----------------------------------------------------------------------------
    def count(self) -> int:
        self._drain()
        return self.con.execute(f"SELECT count(*) FROM {self._common}").fetchone()[0]  # type: ignore[index]

    def events(self, flt: EventFilter) -> Iterator[dict[str, Any]]:
        self._drain()
        where, args = [], []
        for clause, value in (
            ("ot.protocol = ?", flt.protocol),
            ("ot.action.operation = ?", flt.operation),
            ("event.action = ?", flt.action),
            ("event.kind = ?", flt.kind),
            ("list_contains(ot.anomalies, ?)", flt.anomaly),
            ("starts_with(event.id, ?)", f"{flt.source}-" if flt.source else None),
            ("event.severity >= ?", flt.min_severity),
            ('"@timestamp" >= CAST(? AS TIMESTAMPTZ)', flt.since),
            ('"@timestamp" <= CAST(? AS TIMESTAMPTZ)', flt.until),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        if flt.rules is not None:
            where.append(f"rule.id IN ({', '.join('?' * len(flt.rules))})" if flt.rules else "false")
            args += list(flt.rules)
        if flt.kind is None and flt.rules is None:
            where.append("event.kind NOT IN ('alert', 'signal')")
        if flt.ip is not None:
            where.append("(source.ip = ? OR destination.ip = ? OR asset.ip = ?)")
            args += [flt.ip] * 3
        sql = (f"{_READ} FROM {self._rows()}" + (" WHERE " + " AND ".join(where) if where else "")
               + ' ORDER BY "@timestamp", pcap.file, pcap.frame'
               + (f" LIMIT {int(flt.limit)}" if flt.limit else ""))  # fmt: skip
        try:
            yield from _documents(self.con.sql(sql, params=args))
        except duckdb.Error as e:
            raise StoreError(f"query failed: {e}") from None

    def events_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        self._drain()
        sql = f"{_READ} FROM {self._rows()} WHERE event.id IN ({', '.join('?' * len(ids))})"
        return list(_documents(self.con.sql(sql, params=list(ids))))

    def bindings(self) -> list[tuple[str, str, str, str, float, float, str]]:
        """Identifier pairs observed together, with the first and last time (epoch seconds):
        IP and MAC of either endpoint; a host's name and IPs; a logon from an IP (and by a user)
        to a host. Parts of the schema a store lacks (no log telemetry yet) are skipped."""
        self._drain()
        ts = 'epoch_ms("@timestamp") / 1000.0'
        parts = [
            f"SELECT 'ip', {side}.ip, 'mac', {side}.mac, min({ts}), max({ts}), 'traffic' FROM {self._common} "
            f"WHERE {side}.ip IS NOT NULL AND {side}.mac IS NOT NULL GROUP BY ALL"
            for side in ("source", "destination")
        ]
        cols = self._columns()
        if "host" in cols and "name" in cols["host"] and "ip" in cols["host"]:
            parts.append("SELECT 'host', n, 'ip', ip, min(t), max(t), 'host record' FROM ("
                         f"SELECT host.name AS n, unnest(host.ip) AS ip, {ts} AS t FROM {self._common} "
                         "WHERE host.name IS NOT NULL) GROUP BY ALL")  # fmt: skip
            parts.append(f"SELECT 'ip', source.ip, 'host', host.name, min({ts}), max({ts}), 'logon' "
                         f"FROM {self._common} WHERE list_contains(event.category, 'authentication') "
                         "AND event.outcome IS DISTINCT FROM 'failure' AND source.ip IS NOT NULL AND host.name IS NOT NULL GROUP BY ALL")  # fmt: skip
            if "user" in cols and "name" in cols["user"]:
                parts.append(f"SELECT 'user', user.name, 'host', host.name, min({ts}), max({ts}), "
                             f"'logon' FROM {self._common} WHERE list_contains(event.category, 'authentication') "
                             "AND event.outcome IS DISTINCT FROM 'failure' AND user.name IS NOT NULL AND host.name IS NOT NULL GROUP BY ALL")  # fmt: skip
        return [tuple(r) for r in self.con.execute(" UNION ALL ".join(parts)).fetchall()]  # type: ignore[misc]

    def replace_triage(self, rows: Sequence[tuple[str, str, bool, bool, str]],
                       incidents: Sequence[tuple[str, str, str, str]]) -> None:  # fmt: skip
        """Rows (alert id, priority, suppressed, open, triage JSON) and (incident id, priority,
        first seen, incident JSON) replace the previous triage in one transaction."""
        self._drain()
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM triage")
            con.execute("DELETE FROM incidents")
            if rows:
                con.executemany("INSERT INTO triage VALUES (?, ?, ?, ?, ?)", list(rows))
            if incidents:
                con.executemany("INSERT INTO incidents VALUES (?, ?, ?, ?)", list(incidents))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def triage(self) -> dict[str, str]:
        """Alert id → its triage JSON."""
        self._drain()
        return dict(self.con.execute("SELECT alert_id, doc FROM triage").fetchall())

    def incidents(self) -> list[str]:
        """Incident JSON documents, most urgent first."""
        self._drain()
        return [r[0] for r in self.con.execute(
            "SELECT doc FROM incidents ORDER BY priority, first_seen, id").fetchall()]  # fmt: skip

    def talkers(self, limit: int | None = None) -> list[Talker]:
        self._drain()
        sql = f"""
            SELECT source.ip, destination.ip, ot.protocol, count(*) AS messages,
                   list_sort(list_distinct(list(ot.action.operation))),
                   strftime(min("@timestamp"), '%Y-%m-%dT%H:%M:%SZ'),
                   strftime(max("@timestamp"), '%Y-%m-%dT%H:%M:%SZ')
            FROM {self._common} WHERE ot.role = 'request'
            GROUP BY ALL ORDER BY messages DESC, 1, 2"""
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [Talker(*r) for r in self.con.execute(sql).fetchall()]

    # -- inventory ---------------------------------------------------------------------------
    def _source_clause(self, source: str | None, exclude_source: str | None) -> tuple[str, list[str]]:
        if source is not None:
            return " AND starts_with(event.id, ?)", [source + "-"]
        if exclude_source is not None:
            return " AND NOT starts_with(event.id, ?)", [exclude_source + "-"]
        return "", []

    def conversations(self, *, source: str | None = None,
                      exclude_source: str | None = None) -> list[Conversation]:  # fmt: skip
        """Stored OT messages and flow records grouped by initiator → responder (a response's
        initiator is its destination), protocol, operation: the inventory's and map's raw input.
        (IT messages such as DNS are counted through their flow records.)"""
        self._drain()
        clause, args = self._source_clause(source, exclude_source)
        sql = f"""
            WITH e AS (
                SELECT coalesce(ot.role = 'response', false) AS rev, * FROM {self._common}
                WHERE event.kind = 'event' AND coalesce(event.action, '') <> 'anomaly'
                  AND (ot.protocol IS NOT NULL OR event.action = 'flow')
                  AND source.ip IS NOT NULL AND destination.ip IS NOT NULL{clause})
            SELECT
                CASE WHEN rev THEN destination.ip ELSE source.ip END,
                CASE WHEN rev THEN destination.mac ELSE source.mac END,
                CASE WHEN rev THEN source.ip ELSE destination.ip END,
                CASE WHEN rev THEN source.mac ELSE destination.mac END,
                ot.protocol, network.protocol, network.transport,
                CASE WHEN rev THEN source.port ELSE destination.port END,
                ot.role, ot.action.operation, event.action = 'flow',
                count(*),
                epoch_ns(min(coalesce(TRY_CAST(event."start" AS TIMESTAMPTZ), "@timestamp"))),
                epoch_ns(max("@timestamp")),
                coalesce(sum(CASE WHEN rev THEN destination.packets ELSE source.packets END), 0),
                coalesce(sum(CASE WHEN rev THEN destination.bytes ELSE source.bytes END), 0),
                coalesce(sum(CASE WHEN rev THEN source.packets ELSE destination.packets END), 0),
                coalesce(sum(CASE WHEN rev THEN source.bytes ELSE destination.bytes END), 0)
            FROM e GROUP BY ALL"""
        try:
            return [Conversation(*r) for r in self.con.execute(sql, args).fetchall()]
        except duckdb.Error as e:
            raise StoreError(f"query failed: {e}") from None

    def observations(self, *, source: str | None = None,
                     exclude_source: str | None = None) -> list[Observation]:  # fmt: skip
        """Asset observations (event.kind asset) grouped by identical facts, with where they came
        from and when they were first and last seen."""
        self._drain()
        clause, args = self._source_clause(source, exclude_source)
        sql = f"""
            SELECT asset, coalesce(ot.protocol, event.dataset), event.action, count(*),
                   epoch_ns(min("@timestamp")), epoch_ns(max("@timestamp"))
            FROM {self._common} WHERE event.kind = 'asset' AND asset IS NOT NULL{clause} GROUP BY ALL"""
        try:
            rows = self.con.execute(sql, args).fetchall()
        except duckdb.Error as e:
            raise StoreError(f"query failed: {e}") from None
        return [Observation({k: v for k, v in (r[0] or {}).items() if v is not None}, *r[1:])
                for r in rows]  # fmt: skip

    def close(self) -> None:
        self._drain(raise_error=False)
        self.con.close()


def _lift_maps(lines: bytes) -> tuple[bytes, dict[tuple[str, str], list[Any]]]:
    """Take the MAP fields out of each JSON line; return the rest and the maps, row by row."""
    maps: dict[tuple[str, str], list[Any]] = {key: [] for key in _MAPS}
    out = []
    for line in lines.splitlines():
        if not line.strip():
            continue
        doc = msgspec.json.decode(line)
        for (top, child), values in maps.items():
            parent = doc.get(top)
            values.append(parent.pop(child, None) if isinstance(parent, dict) else None)
        out.append(msgspec.json.encode(doc))
    return b"\n".join(out) + b"\n", maps


def _with_maps(table: pa.Table, maps: dict[tuple[str, str], list[Any]]) -> pa.Table:
    """Put the lifted MAP fields back into their struct columns (after the parsed fields)."""
    for (top, child), values in maps.items():
        if all(v is None for v in values):
            continue
        child_field = _SCHEMA.field(top).type.field(child)
        mapped = pa.array(values, type=child_field.type)
        i = table.schema.get_field_index(top)
        if i < 0:
            struct = pa.StructArray.from_arrays([mapped], fields=[child_field], mask=mapped.is_null())
            table = table.append_column(top, struct)
            continue
        column = table.column(i).combine_chunks()
        struct = pa.StructArray.from_arrays(
            [column.field(j) for j in range(column.type.num_fields)] + [mapped],
            fields=[*column.type, child_field], mask=column.is_null())  # fmt: skip
        table = table.set_column(i, top, struct)
    return table


_READ = 'SELECT * EXCLUDE ("@timestamp"), epoch_ns("@timestamp") AS _ts'


def _whole(part: str, columns: list[str]) -> str:
    """A part's rows with `ot` put back together from its shared fields and detail columns."""
    detail = [c for c in columns if c.startswith("ot.")]
    if not detail:
        return f'SELECT * FROM {PARTS}."{part}"'
    quoted = ", ".join(f'"{c}"' for c in detail)
    back = ", ".join(f'"{c[3:]}" := "{c}"' for c in detail)
    return (f"SELECT * EXCLUDE (ot, {quoted}), CASE WHEN ot IS NOT NULL THEN struct_insert(ot, {back}) "
            f'END AS ot FROM {PARTS}."{part}"')


def _documents(rows: duckdb.DuckDBPyRelation) -> Iterator[dict[str, Any]]:
    """Rows of `_READ` as event documents, a batch at a time through Arrow (fields no row of
    the batch has are dropped there, before any Python object is made for them)."""
    for batch in rows.to_arrow_reader(2048):
        table = _used_columns(pa.Table.from_batches([batch]))
        # MAP columns as dicts: converted in Python, five times slower, so only where there are any
        maps = "strict" if any(top in table.column_names for top, _ in _MAPS) else None
        for doc in table.to_pylist(maps_as_pydicts=maps):
            doc = _prune(doc)
            yield {"@timestamp": rfc3339(doc.pop("_ts")), **doc}


def _prune(value: Any) -> Any:
    """Drop the NULLs the table holds for fields an event did not have: it reads back as written.
    (Scalars, most of the values, are kept without a call.)"""
    if isinstance(value, dict):
        return {k: _prune(v) if isinstance(v, (dict, list)) else v
                for k, v in value.items() if v is not None}  # fmt: skip
    if isinstance(value, list):
        return [_prune(v) if isinstance(v, (dict, list)) else v for v in value]
    return value

