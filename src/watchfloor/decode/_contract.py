"""What every protocol decoder provides, and the only two ways its wire layer may fail."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..capture.flows import Flow
    from ..capture.tcp import Gap
    from ..schema import Event


class WireError(Exception):
    """Base of the two failure kinds; nothing else may escape a `wire.py`."""


class NeedMoreData(WireError):
    """The bytes end inside a frame; `need` more bytes (at least) complete it."""

    def __init__(self, need: int) -> None:
        super().__init__(f"need {need} more bytes")
        self.need = need


class Malformed(WireError):
    """The bytes are not a valid frame of this protocol."""


class Session(Protocol):
    """Per-flow decoder state. Direction `d` is the flow's 0/1 side that sent the bytes.

    `gap` marks a discontinuity in d's stream (see `capture.tcp.Gap` for its causes): the decoder
    drops any partial frame and resynchronises.
    """

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None: ...
    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None: ...
    def close(self, frame: int, ts_ns: int, reason: str) -> None: ...


def deferred(module: str, name: str) -> SessionFactory:
    """The session class `name` of `module`, imported when the first flow needs it: a run loads
    only the decoders its traffic uses (start-up is much of a short capture's time)."""
    cls: SessionFactory | None = None

    def session(flow: Flow, out: list[Event]) -> Session:
        nonlocal cls
        if cls is None:
            cls = getattr(import_module(module), name)
        return cls(flow, out)

    return session


@dataclass(frozen=True, slots=True)
class DecoderManifest:
    """Declares a decoder; the registry (`decode.DECODERS`) lists these, the sensor reads them."""

    name: str
    transports: tuple[str, ...]
    default_ports: frozenset[int]
    spec: str
    probe: ProbeFn
    session: SessionFactory
    # True: the flow's first bytes that no probe accepted are probed again together with the
    # next chunk, and the session's `preamble(d, data)` learns from the other direction's.
    preamble: bool = False
    # Layer-2 decoders (transport "ether") name the EtherTypes they read (after VLAN tags; never
    # IPv4/IPv6). The sensor then hands over each frame of those EtherTypes, per stream of one
    # (source MAC, destination MAC, EtherType, VLAN) in both directions: the session is created
    # by `session(flow, out)` when `probe(payload, True)` accepts a frame and is fed every frame's
    # payload (from the EtherType on, Ethernet padding included) as one `feed` call, like a UDP
    # datagram; `flow.transport` is "ether", `flow.ethertype` the EtherType, endpoints carry MACs
    # only. Streams share the flow table's bounds and idle expiry; `gap` is never called.
    ethertypes: frozenset[int] = frozenset()


class ProbeFn(Protocol):
    def __call__(self, data: bytes, on_default_port: bool) -> bool:
        """True when `data` starts with this protocol's frames. Recognition must work on any
        port; `on_default_port` may only relax what counts as evidence."""
        ...


class SessionFactory(Protocol):
    def __call__(self, flow: Flow, out: list[Event]) -> Session: ...
