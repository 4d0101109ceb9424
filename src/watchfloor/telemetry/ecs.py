"""ECS JSON (Elastic Common Schema) from EDRs, Elastic Agent/Beats and anything else that writes
it: records with `@timestamp` and an `event` object (or `ecs.version`).

`conform` brings an ECS-shaped document to the schema generically: it walks the schema's own type
information, keeps the fields the schema has (dotted keys such as `"process.name"` are nested
first), turns single values into lists where ECS allows arrays, and drops what the schema lacks;
the full record stays in `event.original`. Records with `winlog` are left to the Windows JSON
reader, which keeps their event data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec
import msgspec.inspect as mi

from ..schema import Event
from . import Corrupt, Format
from .jsonio import first_records, records
from .windows import timestamp

KINDS = {"event", "asset", "alert", "signal"}


def _fields(t: mi.Type) -> mi.Type:
    while True:
        if isinstance(t, mi.Metadata):
            t = t.type
        elif isinstance(t, mi.UnionType):
            inner = [a for a in t.types if not isinstance(a, mi.NoneType)]
            t = inner[0]
        else:
            return t


_TYPES: dict[type, dict[str, mi.Type]] = {}


def _struct_fields(t: mi.StructType) -> dict[str, mi.Type]:
    got = _TYPES.get(t.cls)
    if got is None:
        got = _TYPES[t.cls] = {f.encode_name: _fields(f.type) for f in t.fields}
    return got


def nest(doc: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1}` → `{"a": {"b": 1}}`, recursively; nested and dotted forms merge."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            value = nest(value)
        if "." in key and key != "@timestamp":
            head, _, rest = key.partition(".")
            value = nest({rest: value})
            key = head
        have = out.get(key)
        if isinstance(have, dict) and isinstance(value, dict):
            out[key] = {**have, **value}
        else:
            out[key] = value
    return out


def _conform(value: Any, t: mi.Type) -> Any:
    """`value` cut to type `t`; None when nothing of it fits."""
    if value is None:
        return None
    if isinstance(t, mi.StructType):
        if not isinstance(value, dict):
            return None
        fields = _struct_fields(t)
        out = {}
        for k, v in value.items():
            ft = fields.get(k)
            if ft is not None:
                c = _conform(v, ft)
                if c is not None:
                    out[k] = c
        return out or None
    if isinstance(t, mi.ListType):
        items = value if isinstance(value, list) else [value]
        got = [c for c in (_conform(v, t.item_type) for v in items) if c is not None]
        return got or None
    if isinstance(t, mi.DictType):
        if not isinstance(value, dict):
            return None
        return {str(k): v if isinstance(v, str) else msgspec.json.encode(v).decode()
                for k, v in value.items() if v is not None}  # fmt: skip
    if isinstance(t, mi.IntType):
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        try:
            return int(str(value), 0)
        except ValueError:
            return None
    if isinstance(t, mi.FloatType):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if isinstance(t, mi.BoolType):
        return value if isinstance(value, bool) else None
    if isinstance(t, mi.LiteralType):
        return value if value in t.values else None
    if isinstance(t, mi.StrType):
        if isinstance(value, (dict, list)):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return None


_EVENT_TYPE = mi.type_info(Event)


def conform(doc: dict[str, Any], event_id: str, module: str, original: str | None) -> Event:
    """An ECS-shaped document → an Event (see the module doc)."""
    doc = nest(doc)
    meta = doc.get("event") if isinstance(doc.get("event"), dict) else {}
    when = timestamp(str(doc.get("@timestamp") or meta.get("created") or meta.get("ingested") or ""))
    kind = meta.get("kind") if meta.get("kind") in KINDS else "event"
    category = meta.get("category") or ["host"]
    base = _conform(doc, _EVENT_TYPE) or {}
    base["@timestamp"] = when or "1970-01-01T00:00:00.000000Z"
    ev = dict(base.get("event") or {})
    ev.update(id=event_id, kind=kind, category=category if isinstance(category, list) else [category],
              module=ev.get("module") or module, original=original)  # fmt: skip
    base["event"] = ev
    for alert_only in ("rule", "related", "threat"):  # ours name detections and their evidence
        base.pop(alert_only, None)
    return msgspec.convert(base, Event)


def is_ecs(doc: dict[str, Any]) -> bool:
    if "winlog" in doc or "Event" in doc:
        return False
    ecs = doc.get("ecs")
    if isinstance(ecs, dict) and "version" in ecs or "ecs.version" in doc:
        return True
    return "@timestamp" in doc and (isinstance(doc.get("event"), dict)
                                    or any(k.startswith("event.") for k in doc))  # fmt: skip


def sniff(head: bytes, name: str) -> bool:
    recs = first_records(head)
    return bool(recs) and sum(is_ecs(r) for r in recs) * 2 > len(recs)


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    n = 0
    for item in records(stream):
        if isinstance(item, Corrupt):
            yield item
            continue
        position, original, doc = item
        n += 1
        try:
            yield conform(doc, f"{source}-{n}", "ecs", original.decode("utf-8", "replace"))
        except msgspec.ValidationError as e:
            yield Corrupt(position, f"does not fit the schema: {e}")


FORMAT = Format("ecs-json", sniff, read)
