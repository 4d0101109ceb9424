"""Windows events exported as XML: `wevtutil qe ... /f:xml`, `Get-WinEvent | % ToXml()`, Event
Viewer's "Save as XML" (`<Events><Event>...</Event>...</Events>`), or `<Event>` elements one
after the other with no root. Parsed incrementally (one `<Event>` in memory at a time).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import BinaryIO

from ..schema import Event
from . import Corrupt, Format
from .windows import Record, integer, to_event

_EVENT = re.compile(rb"<(?:\w+:)?Event[\s>]")
_NS = re.compile(r"^\{[^}]*\}")


def sniff(head: bytes, name: str) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:4096]
    return start.startswith(b"<") and b"<System>" in head and _EVENT.search(start) is not None


def _local(tag: str) -> str:
    return _NS.sub("", tag)


def _record(event: ET.Element) -> Record:
    rec = Record()
    for child in event:
        section = _local(child.tag)
        if section == "System":
            for s in child:
                name, a = _local(s.tag), s.attrib
                if name == "Provider":
                    rec.provider_name = a.get("Name") or a.get("EventSourceName")
                    rec.provider_guid = (a.get("Guid") or "").strip("{}") or None
                elif name == "EventID":
                    rec.event_id = integer(s.text)
                elif name == "TimeCreated":
                    rec.time = a.get("SystemTime")
                elif name == "EventRecordID":
                    rec.record_id = integer(s.text)
                elif name == "Correlation":
                    rec.activity_id = (a.get("ActivityID") or "").strip("{}") or None
                elif name == "Execution":
                    rec.pid, rec.thread_id = integer(a.get("ProcessID")), integer(a.get("ThreadID"))
                elif name == "Security":
                    rec.user_sid = a.get("UserID")
                elif name in ("Channel", "Computer", "Level", "Task", "Opcode", "Keywords"):
                    value = (s.text or "").strip() or None
                    setattr(rec, "computer" if name == "Computer" else name.lower(), value)
                elif name == "Version":
                    rec.version = integer(s.text)
        elif section in ("EventData", "UserData"):
            items = list(child)
            if section == "UserData" and len(items) == 1 and len(items[0]):
                items = list(items[0])  # UserData's one wrapper element
            unnamed: list[str] = []
            for item in items:
                if _local(item.tag) == "Data" and "Name" not in item.attrib:
                    unnamed.append(item.text or "")  # classic providers: values without names
                    continue
                rec.data[item.attrib.get("Name") or _local(item.tag)] = item.text or ""
            if unnamed:
                rec.data["Data"] = "\n".join(unnamed)
    return rec


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    n = 0
    parser = ET.XMLPullParser(events=("start", "end"))
    parser.feed(b"<watchfloor-root>")  # lets `<Event>` siblings without a root parse too
    stack: list[ET.Element] = []
    offset = 0
    try:
        while True:
            block = stream.read(1 << 16)
            if not block:
                break
            if offset == 0:
                block = re.sub(rb"^\xef\xbb\xbf?\s*<\?xml[^>]*\?>", b"", block, count=1)
            offset += len(block)
            parser.feed(block)
            for kind, elem in parser.read_events():
                if kind == "start":
                    stack.append(elem)
                    continue
                stack.pop()
                if _local(elem.tag) != "Event" or any(_local(e.tag) == "Event" for e in stack):
                    continue
                n += 1
                original = ET.tostring(elem, encoding="unicode")
                yield to_event(_record(elem), source, n, "windows-xml", original)
                if stack:
                    stack[-1].remove(elem)  # keep memory at one event
        parser.feed(b"</watchfloor-root>")
        parser.close()
    except ET.ParseError as e:
        # XML cannot resume after a syntax error: what follows the damage is lost.
        yield Corrupt(f"event {n + 1} (near byte {offset})", f"XML syntax error: {e}; rest of file not read")


FORMAT = Format("windows-xml", sniff, read)
