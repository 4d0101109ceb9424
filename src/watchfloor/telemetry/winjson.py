"""Windows events exported as JSON, in the three shapes met in practice, record by record:

- the `evtx` / evtx_dump shape: `{"Event": {"System": {...}, "EventData": {...}}}` (also what
  SigmaHQ's regression data and many EVTX converters write);
- Winlogbeat / Elastic: `winlog.channel`, `winlog.event_id`, `winlog.event_data` (ECS);
- NXLog / OTRF Security-Datasets ("Mordor"): flat objects, `EventID`, `Channel`, `SourceName`,
  `Hostname`, the event data as top-level keys beside NXLog's own.

JSON lines, arrays and wrapper objects are all accepted (see `jsonio`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from ..schema import Event
from . import Corrupt, Format
from .jsonio import first_records, records
from .windows import Record, from_evtx_json, integer, text, to_event

# NXLog's im_msvistalog fields (and what shippers add): everything else is event data.
_NXLOG = frozenset({
    "EventTime", "EventReceivedTime", "SourceModuleName", "SourceModuleType", "Hostname",
    "Keywords", "EventType", "EventTypeOrignal", "SeverityValue", "Severity", "SourceName",
    "ProviderGuid", "Version", "Task", "OpcodeValue", "Opcode", "RecordNumber", "ActivityID",
    "RelatedActivityID", "ExecutionProcessID", "ThreadID", "Channel", "Domain", "AccountName",
    "UserID", "AccountType", "Category", "Message", "EventID", "@timestamp", "@version", "host",
    "port", "tags", "ERROR_EVT_UNRESOLVED", "log_name", "beat", "type", "TimeCreated",
})  # fmt: skip


def shape(doc: dict[str, Any]) -> str | None:
    if isinstance(doc.get("Event"), dict) and isinstance(doc["Event"].get("System"), dict):
        return "evtx-json"
    w = doc.get("winlog")
    if isinstance(w, dict) and ("event_id" in w or "channel" in w):
        return "winlogbeat"
    if "EventID" in doc and ("Channel" in doc or "SourceName" in doc):
        return "nxlog"
    return None


def sniff(head: bytes, name: str) -> bool:
    recs = first_records(head)
    return bool(recs) and sum(shape(r) is not None for r in recs) * 2 > len(recs)


def from_winlogbeat(doc: dict[str, Any]) -> Record:
    w = doc["winlog"]
    proc = w.get("process") if isinstance(w.get("process"), dict) else {}
    thread = proc.get("thread") if isinstance(proc.get("thread"), dict) else {}
    user = w.get("user") if isinstance(w.get("user"), dict) else {}
    data = w.get("event_data") or w.get("user_data") or {}
    keywords = w.get("keywords")
    return Record(
        event_id=integer(w.get("event_id")), provider_name=text(w.get("provider_name")),
        provider_guid=text(w.get("provider_guid")), channel=text(w.get("channel")),
        computer=text(w.get("computer_name")), time=text(doc.get("@timestamp")),
        record_id=integer(w.get("record_id")), version=integer(w.get("version")),
        level=text(w.get("level")), task=text(w.get("task")), opcode=text(w.get("opcode")),
        keywords=text(keywords[0]) if isinstance(keywords, list) and keywords else text(keywords),
        activity_id=text(w.get("activity_id")), pid=integer(proc.get("pid")),
        thread_id=integer(thread.get("id")), user_sid=text(user.get("identifier")),
        data={k: text(v) or "" for k, v in data.items()} if isinstance(data, dict) else {},
    )  # fmt: skip


def from_nxlog(doc: dict[str, Any]) -> Record:
    guid = text(doc.get("ProviderGuid"))
    return Record(
        event_id=integer(doc.get("EventID")), provider_name=text(doc.get("SourceName")),
        provider_guid=guid.strip("{}") if guid else None, channel=text(doc.get("Channel")),
        computer=text(doc.get("Hostname")),
        # EventTime is the source's local time without a zone; @timestamp (the shipper's) is UTC
        time=text(doc.get("UtcTime") or doc.get("@timestamp") or doc.get("EventTime")),
        record_id=integer(doc.get("RecordNumber")), version=integer(doc.get("Version")),
        level=text(doc.get("Severity")), task=text(doc.get("Task")), opcode=text(doc.get("Opcode")),
        keywords=text(doc.get("Keywords")), activity_id=text(doc.get("ActivityID")),
        pid=integer(doc.get("ExecutionProcessID")), thread_id=integer(doc.get("ThreadID")),
        user_sid=text(doc.get("UserID")),
        data={k: text(v) or "" for k, v in doc.items() if k not in _NXLOG},
    )  # fmt: skip


def to_record(doc: dict[str, Any]) -> Record | None:
    kind = shape(doc)
    if kind == "evtx-json":
        return from_evtx_json(doc)
    if kind == "winlogbeat":
        return from_winlogbeat(doc)
    if kind == "nxlog":
        return from_nxlog(doc)
    return None


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    n = 0
    for item in records(stream):
        if isinstance(item, Corrupt):
            yield item
            continue
        position, original, doc = item
        n += 1
        rec = to_record(doc)
        if rec is None:
            yield Corrupt(position, "not a Windows event (no System section, winlog or EventID)")
            continue
        yield to_event(rec, source, n, "windows-json", original.decode("utf-8", "replace"))


FORMAT = Format("windows-json", sniff, read)
