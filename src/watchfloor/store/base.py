"""The one storage interface every stage writes through. Backends: DuckDB (embedded) for now."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from ..schema import Event


class StoreError(Exception):
    """The store cannot be opened or used; the message says why and what to do."""


@dataclass(frozen=True)
class EventFilter:
    protocol: str | None = None
    operation: str | None = None
    action: str | None = None
    kind: str | None = None  # None: events and assets (alerts and signals have their own uses)
    ip: str | None = None  # either side
    anomaly: str | None = None
    rules: tuple[str, ...] | None = None  # matches of these rule ids (with kind None: alerts and signals)
    source: str | None = None  # events of one ingested capture (its source id)
    min_severity: int | None = None  # alerts at least this severe (event.severity)
    since: str | None = None  # RFC 3339 / ISO 8601
    until: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Talker:
    initiator: str
    responder: str
    protocol: str
    messages: int
    operations: list[str]
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class Conversation:
    """Stored traffic grouped by initiator → responder, protocol and operation (`Store.conversations`)."""

    initiator: str
    initiator_mac: str | None
    responder: str
    responder_mac: str | None
    ot_protocol: str | None  # an OT message's ot.protocol
    protocol: str | None  # network.protocol (the decoder that recognised a flow, or a log's)
    transport: str | None
    port: int | None  # the responder's
    role: str | None  # request | response | None (flow records, one-way messages)
    operation: str | None
    flow: bool  # flow records (packets and bytes) rather than messages
    count: int
    first_ns: int
    last_ns: int
    packets_out: int  # initiator → responder (flow records)
    bytes_out: int
    packets_in: int
    bytes_in: int


@dataclass(frozen=True)
class Observation:
    """Identical asset observations grouped (`Store.observations`)."""

    asset: dict[str, Any]  # the asset fields that were set
    source: str  # protocol or dataset that observed it
    action: str | None
    count: int
    first_ns: int
    last_ns: int


SourceState = Literal["ingesting", "complete", "damaged"]


@dataclass(frozen=True)
class Source:
    """A capture as the store knows it. `ingesting` while events arrive, or after an ingest that
    was interrupted (its events are replaced on the next attempt); `damaged`: the capture was
    corrupt, the events before the damage are stored."""

    id: str
    file: str
    events: int
    packets: int
    state: SourceState


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together, or not at all (a crash loses no stored data)."""
        ...

    def append(self, events: Sequence[Event]) -> None: ...
    def append_jsonl(self, lines: bytes) -> None: ...

    @staticmethod
    def prepare(lines: bytes) -> bytes:
        """JSON lines → this backend's insert format; touches no connection, so decoder processes
        can run it."""
        ...

    def append_prepared(self, data: bytes) -> None: ...
    def start_source(self, source_id: str, file: str) -> None:
        """Record that a capture's events are arriving; drop those of an earlier attempt."""
        ...

    def finish_source(self, source: Source) -> None: ...
    def source(self, source_id: str) -> Source | None: ...
    def events(self, flt: EventFilter) -> Iterator[dict[str, Any]]: ...
    def talkers(self, limit: int | None = None) -> list[Talker]: ...
    def events_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...
    def bindings(self) -> list[tuple[str, str, str, str, float, float, str]]: ...
    def replace_triage(self, rows: Sequence[tuple[str, str, bool, bool, str]],
                       incidents: Sequence[tuple[str, str, str, str]]) -> None: ...  # fmt: skip
    def triage(self) -> dict[str, str]: ...
    def incidents(self) -> list[str]: ...
    def count(self) -> int: ...
    def conversations(self, *, source: str | None = None,
                      exclude_source: str | None = None) -> list[Conversation]: ...  # fmt: skip
    def observations(self, *, source: str | None = None,
                     exclude_source: str | None = None) -> list[Observation]: ...  # fmt: skip
    def close(self) -> None: ...


def open_store(location: str | Path, *, read_only: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at `location` — a DuckDB file path."""
    from .duckdb import DuckDBStore

    return DuckDBStore(Path(location), read_only=read_only)
