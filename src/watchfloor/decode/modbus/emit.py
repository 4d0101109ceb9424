"""Modbus frames → schema events: messages, anomalies and device identity observations."""

from __future__ import annotations

from typing import Literal

from ...capture.flows import Flow
from ...schema import (
    AddressRange,
    Asset,
    DeviceObject,
    Endpoint,
    Event,
    EventMeta,
    FileRecord,
    Modbus,
    Network,
    Ot,
    OtAction,
    Target,
)
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    DEVICE_OBJECTS,
    DIAGNOSTIC_CONTROL,
    DIAGNOSTICS,
    EXCEPTIONS,
    FUNCTIONS,
    MEI_TYPES,
)
from .wire import Adu, Pdu

DATASET = "ot.modbus"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
_READS = frozenset((1, 2, 3, 4, 23))  # responses carry values for the request's address range
_SUBFUNCTIONS = frozenset((8, 43))  # operation depends on the sub-function; no data addresses
_CONVERTED = frozenset(("objects", "files", "data"))  # wire forms that become schema forms
_NAMES = {fc: (f.name, f.operation) for fc, f in FUNCTIONS.items()}


def _borrow_range(fields: dict, req: Pdu, fc: int) -> None:
    """A read response states no addresses: they are the paired request's."""
    start = req.get("read_address" if fc == 23 else "address")
    count = req.get("read_quantity" if fc == 23 else "quantity")
    if start is not None:
        fields["address"] = start
    if count is not None:
        fields["quantity"] = count
        if fc < 3 and "values" in fields:
            fields["values"] = fields["values"][:count]  # the last byte's pad bits


def _convert(fields: dict) -> dict:
    out = dict(fields)
    if "objects" in out:
        out["objects"] = [DeviceObject(id=i, name=DEVICE_OBJECTS.get(i, f"object-{i}"),
                                       value=v.decode("latin-1")) for i, v in out["objects"]]  # fmt: skip
    if "files" in out:
        out["files"] = [FileRecord(file=a, record=b, length=c) for a, b, c in out["files"]]
    if "data" in out:
        out["data"] = out["data"].hex()
    return out


def _operation(fc: int, sub: int | None) -> tuple[str, str | None]:
    """ot.action.operation, and the sub-function's name where the function has one."""
    if fc == 8:
        name = DIAGNOSTICS.get(sub, f"unknown-{sub}") if sub is not None else None
        return ("control" if sub in DIAGNOSTIC_CONTROL else "diagnostic"), name
    if fc == 43 and sub is not None:
        name, op = MEI_TYPES.get(sub, (f"unknown-{sub}", "other"))
        return op, name
    f = FUNCTIONS.get(fc)
    return (f.operation if f else "other"), None


class Emitter:
    """Builds one flow's events. Objects shared by every event of the flow (endpoints, network,
    targets) are made once: events are read-only once emitted."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="modbus",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.targets: dict[tuple[int, int], Target] = {}

    def _target(self, unit: int, fc: int) -> Target:
        t = self.targets.get((unit, fc))
        if t is None:
            f = FUNCTIONS.get(fc)
            t = self.targets[(unit, fc)] = Target(unit=unit, object=f.object if f else None)
        return t

    def message(self, d: int, adu: Adu, pdu: Pdu, is_request: bool, ts_ns: int,
                request: tuple[int, int, int, Pdu] | None,
                anomalies: list[str] | None) -> Event:  # fmt: skip
        """One event per ADU. A response borrows address and quantity from its paired request."""
        tid, unit, raw_fc, _ = adu
        fc = raw_fc & 0x7F
        name, op = _NAMES.get(fc) or (f"unknown-{fc}", "other")
        fields: dict = pdu  # type: ignore[assignment]  # copied below before any change
        outcome: Literal["success", "failure"] | None = None
        duration = request_frame = None
        if not is_request:
            fields = dict(pdu)
            if "exception_code" in fields:
                outcome = "failure"
                exc = fields["exception_code"]
                fields["exception"] = EXCEPTIONS.get(exc, f"unknown-{exc}")
            else:
                outcome = "success"
            if request is not None:
                request_frame, req_ts, _, req = request
                duration = ts_ns - req_ts
                if outcome == "success" and fc in _READS:
                    _borrow_range(fields, req, fc)
        if fc in _SUBFUNCTIONS:
            op, sub_name = _operation(fc, fields.get("subfunction"))
            if sub_name is not None:
                fields = {**fields, "subfunction_name": sub_name}
        if not _CONVERTED.isdisjoint(fields):
            fields = _convert(fields)
        values = fields.get("values")
        if fc == 5 and values:  # coil ON is 0xFF00 on the wire
            values = [1 if values[0] == 0xFF00 else 0 if values[0] == 0 else values[0]]
            fields = {**fields, "values": values}
        span = None
        if "address" in fields and fc not in _SUBFUNCTIONS:
            start = fields["address"]
            span = AddressRange(start=start, end=start + max(fields.get("quantity", 1) - 1, 0))
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(
                protocol="modbus",
                role="request" if is_request else "response",
                action=OtAction(operation=op, target=self._target(unit, fc), address=span,  # type: ignore[arg-type]
                                values=values if fc not in _SUBFUNCTIONS else None),  # fmt: skip
                anomalies=anomalies,
                modbus=Modbus(transaction_id=tid, unit_id=unit, function_code=fc, function=name,
                              request_frame=request_frame, **fields),  # fmt: skip
            ),
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        """A protocol anomaly that is not one message (gaps, floods, unanswered requests)."""
        return anomaly_event(self.flow, self.net, "modbus", d, ts_ns, code, text)


def identity(server: Endpoint, ts_ns: int, objects: list[tuple[int, bytes]]) -> Event:
    """Read Device Identification (43/14) → an asset observation of the answering server."""
    o = {i: v.decode("latin-1").strip("\x00 ") for i, v in objects}
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action="device_identification", dataset=DATASET),  # fmt: skip
        asset=Asset(ip=server.ip, mac=server.mac, vendor=o.get(0), product_code=o.get(1),
                    revision=o.get(2), url=o.get(3), product=o.get(4), model=o.get(5),
                    name=o.get(6)),  # fmt: skip
        ot=Ot(protocol="modbus"),
    )
