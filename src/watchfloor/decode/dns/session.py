"""Per-flow DNS / mDNS / LLMNR state: one message per UDP datagram; nothing to pair (the
transaction id travels on each message)."""

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

PORT_PROTOCOLS = {137: "nbns", 5353: "mdns", 5355: "llmnr"}


class DnsSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        p0, p1 = flow.ports
        self.protocol = PORT_PROTOCOLS.get(p0) or PORT_PROTOCOLS.get(p1) or "dns"
        self.emitter = Emitter(flow, self.protocol)
        self.named = False

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        if not self.named:
            self.flow.protocol = self.protocol  # the flow record names mDNS / LLMNR as such
            self.named = True
        try:
            msg = parse(data)
        except WireError as e:
            self.out.append(anomaly_event(self.flow, self.emitter.net, self.protocol, d, ts_ns,
                                          "malformed", f"{self.protocol.upper()} message not decoded: {e}"))  # fmt: skip
            return
        self.out.append(self.emitter.message(d, msg, ts_ns))
        if msg.header.response or self.protocol == "nbns":  # NetBIOS registrations name their sender
            self.out += self.emitter.names(msg, ts_ns)

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        pass  # datagrams: nothing spans a gap

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        pass
