"""GOOSE messages → schema events (one per frame) and anomalies."""

from __future__ import annotations

from typing import Any, Final

from ...capture.flows import Flow
from ...schema import Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Goose
from ...schema.time import rfc3339
from .._events import anomaly_event
from .wire import Header

DATASET: Final = "ot.goose"
_PROTOCOL_TYPE: Final = ["protocol"]
_CATEGORY: Final = ["network"]
_INTERNAL: Final = ("t_raw", "unknown_elements", "sq_span")


class Emitter:
    def __init__(self, flow: Flow, protocol: str = "goose") -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol=protocol, vlan_id=flow.vlan)
        self.targets: dict[str, Target] = {}

    def _target(self, ref: str) -> Target:
        t = self.targets.get(ref)
        if t is None:
            if len(self.targets) > 1024:
                self.targets.clear()
            ld = ref.split("/", 1)[0] if "/" in ref else None
            t = self.targets[ref] = Target(station=ld, object=ref)
        return t

    def prepare(self, h: Header, fields: dict[str, Any],
                scalars: list[int | None]) -> tuple[Goose, OtAction]:  # fmt: skip
        """The parts of a message's event that its retransmissions share (they differ in sqNum
        only). A GOOSE message publishes a data set's values to its subscribers: for the
        protocol-neutral layer it is data delivered (read), like an MMS report."""
        kw = dict(fields)
        for k in _INTERNAL:
            kw.pop(k, None)
        kw["appid"], kw["length"] = h.appid, h.length
        ref = fields.get("gocb_ref")
        values = scalars if scalars and all(v is not None for v in scalars) else None
        action = OtAction(operation="read", target=self._target(ref) if ref else None,
                          values=values)  # type: ignore[arg-type]  # fmt: skip
        return Goose(**kw), action

    def message(self, d: int, goose: Goose, action: OtAction, ts_ns: int,
                anomalies: list[str] | None) -> Event:  # fmt: skip
        """One message's event; `action` may be shared with the events of its retransmissions,
        as the flow's endpoints and network are shared by all of them."""
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action="goose", dataset=DATASET),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="goose", action=action, anomalies=anomalies, goose=goose),
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str, protocol: str = "goose") -> Event:
        return anomaly_event(self.flow, self.net, protocol, d, ts_ns, code, text)
