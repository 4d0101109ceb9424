"""Reading JSON logs as a stream of records: JSON lines, one JSON array of records, a wrapper
object holding the array (CloudTrail `{"Records": [...]}`, Azure `{"records": [...]}`, Graph
`{"value": [...]}`) or objects simply one after the other. Bounded memory for all but a single
huge wrapper document, whose records are only yielded once it is read whole (cloud exports are
split into files of modest size)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec

from . import Corrupt

WRAPPERS = ("Records", "records", "value", "events", "Events")
_decoder = msgspec.json.Decoder()


def first_records(head: bytes, limit: int = 8) -> list[dict[str, Any]]:
    """Up to `limit` records from the first bytes of a file (for sniffing): whole JSON lines, or
    the records of a wrapper/array when the head holds it whole. Empty when it is not JSON."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith((b"{", b"[")):
        return []
    try:
        doc = _decoder.decode(text)
    except msgspec.DecodeError:
        doc = None
    if doc is not None:
        return _unwrap(doc)[:limit]
    out: list[dict[str, Any]] = []
    for line in text.split(b"\n")[:-1]:  # the last line may be cut by the head's end
        line = line.strip()
        if not line:
            continue
        try:
            doc = _decoder.decode(line)
        except msgspec.DecodeError:
            if out:
                break
            return _partial_array(text, limit)
        out.extend(_unwrap(doc))
        if len(out) >= limit:
            break
    return out[:limit] or _partial_array(text, limit)


def _partial_array(text: bytes, limit: int) -> list[dict[str, Any]]:
    """Records at the start of an array or wrapper whose end the head does not reach."""
    out: list[dict[str, Any]] = []
    for doc in _scan(text):
        if isinstance(doc, tuple):
            break
        out.extend(_unwrap(doc))
        if len(out) >= limit:
            break
    return out


def _unwrap(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, list):
        return [d for d in doc if isinstance(d, dict)]
    if isinstance(doc, dict):
        for key in WRAPPERS:
            inner = doc.get(key)
            if isinstance(inner, list) and len(doc) <= 3:
                return [d for d in inner if isinstance(d, dict)]
        return [doc]
    return []


def _scan(text: bytes) -> Iterator[Any]:
    """Top-level JSON values in `text`, entering one array or wrapper object: a small
    hand-written tokenizer over brackets and strings (values are decoded by msgspec)."""
    i, n = 0, len(text)
    # skip into an array, or into a wrapper's array
    j = text.find(b"[", 0, 4096)
    k = text.find(b"{")
    if j >= 0 and (k < 0 or j < k or text[k:j].count(b'"') == 2):
        i = j + 1
    while i < n:
        while i < n and text[i] in b" \t\r\n,":
            i += 1
        if i >= n:
            return
        if text[i] != 0x7B:  # '{'
            if text[i:].strip() not in (b"]", b"]}", b"] }") and not text[i:].strip().startswith(b"]"):
                yield (i, "unexpected data; the rest of the document is not read")
            return
        end = _object_end(text, i)
        if end < 0:
            yield (i, "record cut short (file truncated?)")
            return
        try:
            yield _decoder.decode(text[i:end])
        except msgspec.DecodeError as e:
            yield (i, f"not JSON: {e}")
        i = end


def _object_end(text: bytes, i: int) -> int:
    depth, in_str, esc = 0, False, False
    for pos in range(i, len(text)):
        c = text[pos]
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x7B or c == 0x5B:
            depth += 1
        elif c == 0x7D or c == 0x5D:
            depth -= 1
            if depth == 0:
                return pos + 1
    return -1


def records(stream: BinaryIO) -> Iterator[tuple[str, bytes, dict[str, Any]] | Corrupt]:
    """(position, the record's original bytes, the record) per record, or Corrupt.

    JSON lines are read line by line (a bad line costs that line); a document that is not line
    oriented (an array or wrapper, pretty-printed) is read whole and split into its records."""
    first = stream.readline()
    rest_is_doc = False
    stripped = first.strip().lstrip(b"\xef\xbb\xbf")
    if stripped in (b"[", b"{") or not stripped.endswith((b"}", b"]")):
        rest_is_doc = True
    else:
        try:
            doc = _decoder.decode(stripped)
        except msgspec.DecodeError:
            rest_is_doc = True
        else:
            unwrapped = _unwrap(doc)
            if not (len(unwrapped) == 1 and unwrapped[0] is doc):  # an array or a wrapper
                yield from _document(stripped + stream.read())
                return
    if rest_is_doc:
        yield from _document(first + stream.read())
        return
    lineno = 0
    line = first
    while line:
        lineno += 1
        body = line.strip()
        if body:
            try:
                doc = _decoder.decode(body)
            except msgspec.DecodeError as e:
                yield Corrupt(f"line {lineno}", f"not JSON: {e}")
            else:
                if isinstance(doc, dict):
                    yield f"line {lineno}", body, doc
                else:
                    yield Corrupt(f"line {lineno}", "not a JSON object")
        line = stream.readline()


def _document(text: bytes) -> Iterator[tuple[str, bytes, dict[str, Any]] | Corrupt]:
    text = text.lstrip(b"\xef\xbb\xbf")
    try:
        doc = _decoder.decode(text)
    except msgspec.DecodeError as e:
        # damaged: salvage every well-formed record
        # objects one after the other (e.g. evtx_dump's pretty-printed records), or damage:
        # every well-formed record is kept, each bad stretch reported
        n = 0
        for item in _scan(text):
            n += 1
            if isinstance(item, tuple):
                yield Corrupt(f"record {n} at byte {item[0]}", item[1])
            else:
                for rec in _unwrap(item):
                    yield f"record {n}", msgspec.json.encode(rec), rec
        if n == 0:
            yield Corrupt("byte 0", f"not JSON ({e})")
        return
    for n, rec in enumerate(_unwrap(doc), 1):
        yield f"record {n}", msgspec.json.encode(rec), rec
