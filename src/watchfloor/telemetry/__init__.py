"""Telemetry other tools already produce (EVTX, Zeek, Suricata, cloud audit logs, syslog, EDR
JSON), read into the one event schema.

Each input format is one module here exposing a `Format`; `FORMATS` lists them in the order they
are tried, most specific first, because a generic sniff (e.g. "JSON lines") also accepts what a
specific one (e.g. Suricata EVE) does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..schema import Event


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A record a reader could not use: where it is (e.g. "line 12", "record 7 at offset 4096")
    and why. Readers yield these and go on; the caller counts them and names the first few."""

    position: str
    reason: str


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    # (the file's first bytes, up to 64 KiB, decompressed; its name) -> is it this format?
    sniff: Callable[[bytes, str], bool]
    # (the whole stream, decompressed; a source name for event provenance) -> events, streamed
    read: Callable[[BinaryIO, str], Iterator[Event | Corrupt]]


# The Windows / JSON / cloud readers (wf-itwin) use the source name as the prefix of their event
# ids, `<source>-<n>` with n the record's ordinal in its input (ingest passes the input's id, so
# the store can replace an input's events when it is ingested again). The network readers
# (wf-itnet: Suricata EVE, Zeek, syslog/CEF) do the same with n the record's line number; EVE and
# Zeek JSON come before the generic ECS JSON reader.
from . import azure, cloudtrail, ecs, evtx, native, suricata, syslog, winjson, winxml, zeek  # noqa: E402

FORMATS: tuple[Format, ...] = (
    evtx.FORMAT, native.FORMAT, winxml.FORMAT, winjson.FORMAT, cloudtrail.FORMAT, azure.FORMAT,
    suricata.FORMAT, zeek.FORMAT, ecs.FORMAT, syslog.FORMAT,
)
