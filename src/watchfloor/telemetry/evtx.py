"""Windows EVTX files, read with the maintained `evtx` parser (Rust, via its Python binding).

The file is read one 64 KiB chunk at a time and each chunk is parsed on its own (behind a copy of
the file header): memory stays at one chunk whatever the file size, and damage costs only the
records of the chunk it is in. A chunk that is cut short, has a bad signature or fails to parse
part-way is reported as `Corrupt` with its number, offset and the records lost (from the chunk
header's record numbers); reading goes on with the next chunk.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import msgspec

from ..schema import Event
from . import Corrupt, Format
from .windows import from_evtx_json, to_event

MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER = 4096
CHUNK = 65536


def sniff(head: bytes, name: str) -> bool:
    return head.startswith(MAGIC)


def _single_chunk_header(header: bytes) -> bytes:
    """The file header rewritten to describe a file of one chunk (number 0), checksum updated."""
    h = bytearray(header[:HEADER].ljust(HEADER, b"\x00"))
    struct.pack_into("<QQ", h, 8, 0, 0)  # first and last chunk number
    struct.pack_into("<H", h, 42, 1)  # chunk count
    struct.pack_into("<I", h, 120, struct.unpack_from("<I", h, 120)[0] & ~1)  # not dirty
    struct.pack_into("<I", h, 124, zlib.crc32(bytes(h[:120])))
    return bytes(h)


def _read_full(stream: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        b = stream.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def records(stream: BinaryIO) -> Iterator[tuple[int, str, dict] | Corrupt]:
    """(record number, the record as the parser's JSON text, parsed) per record, or Corrupt."""
    header = _read_full(stream, HEADER)
    if len(header) < 128 or not header.startswith(MAGIC):
        yield Corrupt("offset 0", "not an EVTX file header (file truncated or damaged)")
        return
    declared = struct.unpack_from("<H", header, 42)[0]
    head = _single_chunk_header(header)
    decoder = msgspec.json.Decoder()
    index = 0
    while True:
        offset = HEADER + index * CHUNK
        chunk = _read_full(stream, CHUNK)
        if not chunk:
            if index < declared:
                yield Corrupt(f"chunk {index} at offset {offset}",
                              f"file ends: {declared - index} declared chunk(s) missing")  # fmt: skip
            return
        where = f"chunk {index} at offset {offset}"
        index += 1
        if not chunk.startswith(CHUNK_MAGIC):
            if chunk.strip(b"\x00"):  # all zeros: preallocated, unused space
                yield Corrupt(where, "bad chunk signature; chunk skipped")
            continue
        first, last = struct.unpack_from("<QQ", chunk, 8)
        expected = last - first + 1 if last >= first and last - first < CHUNK else None
        if len(chunk) < CHUNK:
            yield Corrupt(where, f"truncated chunk ({len(chunk)} of {CHUNK} bytes); "
                          f"{expected if expected is not None else 'its'} record(s) lost")  # fmt: skip
            return
        got = 0
        parser = _parser(head + chunk)
        it = parser.records_json() if parser is not None else iter(())
        failure = None if parser is not None else "chunk cannot be parsed"
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except Exception as e:  # noqa: BLE001 -- the binding raises RuntimeError/OSError kinds
                failure = str(e).splitlines()[0][:200]
                break
            got += 1
            data = rec["data"]
            try:
                yield rec["event_record_id"], data, decoder.decode(data)
            except msgspec.DecodeError as e:
                yield Corrupt(f"{where}, record {rec['event_record_id']}", f"bad JSON from parser: {e}")
        if failure is not None or (expected is not None and got < expected):
            lost = f"{expected - got} record(s) lost" if expected is not None else "records lost"
            yield Corrupt(where, f"{failure or 'records missing'}; {lost}")


def _parser(data: bytes):  # type: ignore[no-untyped-def]
    import evtx

    try:
        return evtx.PyEvtxParser(io.BytesIO(data), number_of_threads=1)
    except Exception:  # noqa: BLE001
        return None


def read(stream: BinaryIO, source: str) -> Iterator[Event | Corrupt]:
    n = 0
    for item in records(stream):
        if isinstance(item, Corrupt):
            yield item
            continue
        number, original, doc = item
        rec = from_evtx_json(doc)
        n += 1
        if rec is None:
            yield Corrupt(f"record {number}", "no System section")
            continue
        yield to_event(rec, source, n, "evtx", original)


FORMAT = Format("evtx", sniff, read)
