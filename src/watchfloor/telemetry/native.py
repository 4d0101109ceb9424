"""Watchfloor's own events as JSON lines (`watchfloor decode --format jsonl`, `events --format
jsonl`, another Watchfloor's export): read back exactly, validated against the schema.

Like every reader's, the ids become `<source>-<id as read>` (and `related.events` with them), so
ingesting the same file again replaces its events instead of adding them twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import msgspec

from ..schema import Event
from . import Corrupt, Format

_decode = msgspec.json.Decoder(Event).decode


def sniff(head: bytes, name: str) -> bool:
    line = head.lstrip().split(b"\n", 1)[0]
    if not line.startswith(b"{") or b'"@timestamp"' not in line or b'"event"' not in line:
        return False
    try:
        _decode(line)
    except msgspec.DecodeError:
        return False  # e.g. the first line was cut by the sniff window: let other formats try
    return True


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    replace = msgspec.structs.replace
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            ev = _decode(line)
        except msgspec.DecodeError as e:
            yield Corrupt(f"line {n}", str(e))
            continue
        changes: dict = {"event": replace(ev.event, id=f"{source}-{ev.event.id}")}
        if ev.related is not None:
            changes["related"] = replace(ev.related, events=[f"{source}-{i}" for i in ev.related.events])
        yield replace(ev, **changes)


FORMAT = Format("watchfloor-jsonl", sniff, read)
