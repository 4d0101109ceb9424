"""Artefacts generated from the schema: JSON Schema (committed) and the Arrow layout the store uses.

Nothing here restates a field: both walk the msgspec type information of `Event`.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import msgspec.inspect as mi
import pyarrow as pa

from .events import SCHEMA_VERSION, Event

SCHEMA_FILE = Path(__file__).with_name("event.schema.json")


def json_schema() -> dict:
    schema = msgspec.json.schema(Event)
    schema["$id"] = f"https://watchfloor.dev/schema/event/v{SCHEMA_VERSION}.json"
    schema["title"] = "Watchfloor event"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _arrow_type(t: mi.Type) -> pa.DataType:
    if isinstance(t, mi.UnionType):  # `X | None`: nullability is Arrow's default
        (inner,) = [a for a in t.types if not isinstance(a, mi.NoneType)]
        return _arrow_type(inner)
    if isinstance(t, mi.Metadata):
        return _arrow_type(t.type)
    if isinstance(t, (mi.StrType, mi.LiteralType)):
        return pa.string()
    if isinstance(t, mi.IntType):
        return pa.int64()
    if isinstance(t, mi.FloatType):
        return pa.float64()
    if isinstance(t, mi.BoolType):
        return pa.bool_()
    if isinstance(t, mi.ListType):
        return pa.list_(_arrow_type(t.item_type))
    if isinstance(t, mi.StructType):
        return pa.struct(_arrow_fields(t))
    if isinstance(t, mi.DictType):  # a string map (winlog.event_data): an Arrow/DuckDB MAP
        return pa.map_(_arrow_type(t.key_type), _arrow_type(t.value_type))
    raise TypeError(f"no Arrow mapping for schema type {t!r}")


def _arrow_fields(t: mi.StructType) -> list[pa.Field]:
    return [pa.field(f.encode_name, _arrow_type(f.type)) for f in t.fields]


def arrow_schema() -> pa.Schema:
    """Event as Arrow: nested structs mirror the JSON, so `ot.modbus.unit_id` is a column path."""
    info = mi.type_info(Event)
    assert isinstance(info, mi.StructType)
    fields = _arrow_fields(info)
    # @timestamp is stored as a real timestamp, not the RFC 3339 text.
    return pa.schema(
        [pa.field(f.name, pa.timestamp("ns", tz="UTC")) if f.name == "@timestamp" else f
         for f in fields]
    )  # fmt: skip
