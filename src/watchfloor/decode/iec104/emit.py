"""IEC 104 APDUs → schema events: one per APDU, plus anomaly events."""

from __future__ import annotations

from typing import cast

from ...capture.flows import Flow
from ...schema import (
    AddressRange,
    Event,
    EventMeta,
    Iec104,
    Network,
    Ot,
    OtAction,
    Target,
)
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import TYPES, TypeInfo

DATASET = "ot.iec104"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
_SUPERVISORY = "supervisory"  # event.action of an S frame


class Emitter:
    """Builds one flow's events; objects shared by every event of the flow are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="iec104",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.targets: dict[tuple[int | None, int | None], Target] = {}
        self.session_action = OtAction(operation="session")
        self.ranges: dict[int, AddressRange] = {}

    def _target(self, ca: int | None, t: int | None) -> Target:
        tg = self.targets.get((ca, t))
        if tg is None:
            info = TYPES.get(t) if t is not None else None
            tg = self.targets[(ca, t)] = Target(unit=ca, object=info.object if info else None)
        return tg

    def _range(self, ioa: int) -> AddressRange:
        """The address span of a one-object ASDU, shared by the flow's events (read-only)."""
        r = self.ranges.get(ioa)
        if r is None:
            if len(self.ranges) >= 4096:  # bounded whatever the traffic
                self.ranges.clear()
            r = self.ranges[ioa] = AddressRange(start=ioa, end=ioa)
        return r

    def message(self, d: int, from_client: bool, iec: Iec104, info: TypeInfo | None, ts_ns: int,
                duration: int | None, outcome: str | None,
                anomalies: list[str] | None) -> Event:  # fmt: skip
        """One event per APDU; `info` is the I frame's type (None for S/U and unknown types)."""
        if iec.apci_type == 0:
            t = iec.type_id
            name = info.name if info else ("i_frame" if t is None else f"unknown-{t}")
            objs = iec.objects
            span = values = None
            if objs:
                if len(objs) == 1:
                    o = objs[0]
                    span = self._range(o.ioa)
                    if o.value is not None:
                        values = [o.value]
                else:
                    ioas = [o.ioa for o in objs]
                    span = AddressRange(start=min(ioas), end=max(ioas))
                    vals = [o.value for o in objs]
                    if None not in vals:
                        values = cast("list[int]", vals)
            op = info.operation if info else "other"
            tg = self._target(iec.common_address, t)
            action = OtAction(operation=op, target=tg, address=span, values=values)  # type: ignore[arg-type]
        else:
            name = iec.u_function or _SUPERVISORY
            action = self.session_action
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,  # type: ignore[arg-type]
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="iec104", role="request" if from_client else "response",
                  action=action, anomalies=anomalies, iec104=iec),  # fmt: skip
        )

    def iframe(self, d: int, from_client: bool, iec: Iec104, info: TypeInfo | None, ts_ns: int,
               duration: int | None, outcome: str | None,
               anomalies: list[str] | None) -> Event:  # fmt: skip
        """`message` for an I frame with a whole ASDU header, the bulk of the traffic."""
        t, ca, objs = iec.type_id, iec.common_address, iec.objects
        if info is not None:
            name, op = info.name, info.operation
        else:
            name, op = f"unknown-{t}", "other"
        span = values = None
        if objs:
            if len(objs) == 1:
                o = objs[0]
                span = self.ranges.get(o.ioa) or self._range(o.ioa)
                if o.value is not None:
                    values = [o.value]
            else:
                ioas = [o.ioa for o in objs]
                span = AddressRange(start=min(ioas), end=max(ioas))
                vals = [o.value for o in objs]
                if None not in vals:
                    values = cast("list[int]", vals)
        tg = self.targets.get((ca, t)) or self._target(ca, t)
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,  # type: ignore[arg-type]
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="iec104", role="request" if from_client else "response",
                  action=OtAction(operation=op, target=tg, address=span, values=values),  # type: ignore[arg-type]
                  anomalies=anomalies, iec104=iec),  # fmt: skip
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        """A protocol anomaly that is not one message (gaps, framing, unconfirmed activations)."""
        return anomaly_event(self.flow, self.net, "iec104", d, ts_ns, code, text)
