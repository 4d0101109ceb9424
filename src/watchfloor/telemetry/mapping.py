"""Declarative mappings: any JSON source (an EDR, a firewall, a home-grown tool) mapped to the
schema's ECS fields by a YAML file, without code. `watchfloor ingest --mapping FILE` tries the
mapping's format before the built-in ones.

    name: acme-edr                 # event.module of the events; the format's name
    match:                         # records this mapping is for: every field has the value
      product: Acme EDR            #   (a list: any of its values); no `match`: any JSON record
    timestamp: ts                  # field holding the time
    timestamp_format: epoch_ms     # rfc3339 (default), epoch_s, epoch_ms, epoch_us, epoch_ns
    fields:                        # source field (dotted path into the record) → ECS field
      proc.path: process.executable
      proc.cmd: process.command_line
      proc.pid: process.pid
      proc.parent.path: process.parent.executable
      device.name: host.name
      actor.user: user.name
      file.sha256: process.hash.sha256
    constants:                     # ECS field → fixed value
      event.kind: event
      event.category: [process]
      event.type: [start]

Values are converted to the ECS field's type (text, integer, list); a field the schema does not
have is an error when the mapping loads, not a silent loss; the whole record is kept as
`event.original`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import yaml

from ..schema import Event
from ..schema.time import rfc3339
from . import Corrupt, Format
from .ecs import _EVENT_TYPE, _struct_fields, conform
from .jsonio import first_records, records

_EPOCH = {"epoch_s": 10**9, "epoch_ms": 10**6, "epoch_us": 10**3, "epoch_ns": 1}


class MappingError(ValueError):
    pass


def _get(doc: Any, path: str) -> Any:
    """The value at a dotted path; a key holding the whole rest of the path wins."""
    if not isinstance(doc, dict):
        return None
    if path in doc:
        return doc[path]
    head, dot, rest = path.partition(".")
    while dot:
        if head in doc:
            return _get(doc[head], rest)
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


def _set(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        out = out.setdefault(p, {})
    out[last] = value


def _check_target(target: str, where: str) -> None:
    import msgspec.inspect as mi

    t: Any = _EVENT_TYPE
    for part in target.split("."):
        if not isinstance(t, mi.StructType) or part not in _struct_fields(t):
            raise MappingError(f"{where}: {target!r} is not a field of the event schema")
        t = _struct_fields(t)[part]
        while isinstance(t, mi.ListType):
            t = t.item_type


def load(path: str | Path) -> Format:
    """The `Format` a mapping file describes."""
    try:
        spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise MappingError(f"{path}: cannot read the mapping ({e})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("fields"), dict):
        raise MappingError(f"{path}: a mapping needs `fields: {{source field: ECS field}}`")
    name = str(spec.get("name") or Path(path).stem)
    fields: dict[str, str] = {str(k): str(v) for k, v in spec["fields"].items()}
    constants: dict[str, Any] = dict(spec.get("constants") or {})
    for target in [*fields.values(), *constants]:
        if target not in ("@timestamp",):
            _check_target(target, str(path))
    match = {str(k): v if isinstance(v, list) else [v] for k, v in (spec.get("match") or {}).items()}
    ts_field = spec.get("timestamp")
    ts_format = str(spec.get("timestamp_format") or "rfc3339")
    if ts_format != "rfc3339" and ts_format not in _EPOCH:
        raise MappingError(f"{path}: timestamp_format must be rfc3339 or one of {', '.join(_EPOCH)}")

    def matches(doc: dict[str, Any]) -> bool:
        return all(_get(doc, f) in values for f, values in match.items())

    def sniff(head: bytes, _name: str) -> bool:
        recs = first_records(head)
        return bool(recs) and sum(matches(r) for r in recs) * 2 > len(recs)

    def convert(doc: dict[str, Any], event_id: str, original: str) -> Event:
        out: dict[str, Any] = {}
        for target, value in constants.items():
            _set(out, target, value)
        for src, target in fields.items():
            value = _get(doc, src)
            if value is not None:
                _set(out, target, value)
        if ts_field:
            raw = _get(doc, str(ts_field))
            if ts_format in _EPOCH and raw is not None:
                try:
                    out["@timestamp"] = rfc3339(int(float(raw) * _EPOCH[ts_format]))
                except (TypeError, ValueError):
                    pass
            elif raw is not None:
                out["@timestamp"] = str(raw)
        return conform(out, event_id, name, original)

    def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
        n = 0
        for item in records(stream):
            if isinstance(item, Corrupt):
                yield item
                continue
            position, original, doc = item
            n += 1
            if match and not matches(doc):
                yield Corrupt(position, f"record does not match mapping {name!r}")
                continue
            try:
                yield convert(doc, f"{source}-{n}", original.decode("utf-8", "replace"))
            except msgspec.ValidationError as e:
                yield Corrupt(position, f"mapped record does not fit the schema: {e}")

    return Format(name, sniff, read)


__all__ = ["MappingError", "load"]
