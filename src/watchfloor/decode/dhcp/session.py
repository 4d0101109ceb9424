"""Per-flow DHCP state: one message per UDP datagram (DHCP's broadcasts spread one exchange over
several flows, so nothing is paired here; the transaction id is on every event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._contract import WireError
from .._events import anomaly_event
from .emit import Emitter
from .wire import parse

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event


class DhcpSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = Emitter(flow)

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        try:
            msg = parse(data)
        except WireError as e:
            self.out.append(anomaly_event(self.flow, self.emitter.net, "dhcp", d, ts_ns, "malformed",
                                          f"DHCP message not decoded: {e}"))  # fmt: skip
            return
        ev, observed = self.emitter.message(d, msg, ts_ns)
        self.out.append(ev)
        if observed is not None:
            self.out.append(observed)

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        pass

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        pass
