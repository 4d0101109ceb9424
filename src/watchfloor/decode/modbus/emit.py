"""Modbus frames → schema events: messages, anomalies and device identity observations."""

from __future__ import annotations

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
from .constants import (
    DEVICE_OBJECTS,
    DIAGNOSTIC_CONTROL,
    DIAGNOSTICS,
    EXCEPTIONS,
    FUNCTIONS,
    MEI_TYPES,
    function_name,
)
from .wire import Adu, Pdu

DATASET = "ot.modbus"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]


def network(flow: Flow) -> Network:
    return Network(transport="tcp", protocol="modbus", community_id=flow.community_id,
                   vlan_id=flow.vlan)  # fmt: skip


def _operation(fc: int, sub: int | None) -> tuple[str, str | None]:
    """ot.action.operation and the sub-function's name."""
    if fc == 8:
        name = DIAGNOSTICS.get(sub, f"unknown-{sub}") if sub is not None else None
        return ("control" if sub in DIAGNOSTIC_CONTROL else "diagnostic"), name
    if fc == 43 and sub is not None:
        name, op = MEI_TYPES.get(sub, (f"unknown-{sub}", "other"))
        return op, name
    f = FUNCTIONS.get(fc)
    return (f.operation if f else "other"), None


def message(flow: Flow, net: Network, d: int, adu: Adu, pdu: Pdu, is_request: bool, ts_ns: int,
            *, request: tuple[int, int, Pdu] | None, anomalies: list[str] | None) -> Event:  # fmt: skip
    """One event per ADU. A response borrows address and quantity from its paired request."""
    fc = adu.function_code & 0x7F
    op, sub_name = _operation(fc, pdu.subfunction)
    f = FUNCTIONS.get(fc)
    address, quantity, values = pdu.address, pdu.quantity, pdu.values
    outcome = duration = request_frame = None
    if not is_request:
        outcome = "failure" if pdu.exception_code is not None else "success"
        if request is not None:
            request_frame, req_ts, req = request
            duration = ts_ns - req_ts
            if pdu.exception_code is None and fc in (1, 2, 3, 4, 23):
                address = req.read_address if fc == 23 else req.address
                quantity = req.read_quantity if fc == 23 else req.quantity
                if values is not None and quantity is not None and fc in (1, 2):
                    values = values[:quantity]  # trailing pad bits of the last byte
    span = None
    if address is not None and fc not in (8, 43):
        span = AddressRange(start=address, end=address + max((quantity or 1) - 1, 0))
    if fc == 5 and values:  # coil ON is 0xFF00 on the wire
        values = [1 if values[0] == 0xFF00 else 0 if values[0] == 0 else values[0]]
    exc = pdu.exception_code
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", category=_CATEGORY, type=_PROTOCOL_TYPE,
                        action=function_name(fc), dataset=DATASET, outcome=outcome,
                        duration=duration),  # fmt: skip
        source=flow.src(d),
        destination=flow.dst(d),
        network=net,
        ot=Ot(
            protocol="modbus",
            role="request" if is_request else "response",
            action=OtAction(
                operation=op,  # type: ignore[arg-type]
                target=Target(unit=adu.unit_id, object=f.object if f else None),
                address=span,
                values=values if fc not in (8, 43) else None,
            ),
            anomalies=anomalies or None,
            modbus=Modbus(
                transaction_id=adu.transaction_id,
                unit_id=adu.unit_id,
                function_code=fc,
                function=function_name(fc),
                exception_code=exc,
                exception=EXCEPTIONS.get(exc, f"unknown-{exc}") if exc is not None else None,
                subfunction=pdu.subfunction,
                subfunction_name=sub_name,
                address=address,
                quantity=quantity,
                values=values,
                and_mask=pdu.and_mask,
                or_mask=pdu.or_mask,
                read_address=pdu.read_address,
                read_quantity=pdu.read_quantity,
                objects=[DeviceObject(id=i, name=DEVICE_OBJECTS.get(i, f"object-{i}"),
                                      value=v.decode("latin-1")) for i, v in pdu.objects]
                if pdu.objects else None,  # fmt: skip
                files=[FileRecord(file=a, record=b, length=c) for a, b, c in pdu.files]
                if pdu.files else None,  # fmt: skip
                data=pdu.data.hex() if pdu.data else None,
                request_frame=request_frame,
            ),
        ),
    )


def anomaly(flow: Flow, net: Network, d: int, ts_ns: int, code: str, text: str) -> Event:
    """A protocol anomaly that is not one message (gaps, floods, unanswered requests)."""
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", category=_CATEGORY, type=["error"], action="anomaly",
                        dataset=DATASET),  # fmt: skip
        message=text,
        source=flow.src(d),
        destination=flow.dst(d),
        network=net,
        ot=Ot(protocol="modbus", anomalies=[code]),
    )


def identity(server: Endpoint, ts_ns: int, objects: list[tuple[int, bytes]]) -> Event | None:
    """Read Device Identification (43/14) → an asset observation of the answering server."""
    o = {i: v.decode("latin-1").strip("\x00 ") for i, v in objects}
    if not o:
        return None
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action="device_identification", dataset=DATASET),  # fmt: skip
        asset=Asset(ip=server.ip, mac=server.mac, vendor=o.get(0), product_code=o.get(1),
                    revision=o.get(2), url=o.get(3), product=o.get(4), model=o.get(5),
                    name=o.get(6)),  # fmt: skip
        ot=Ot(protocol="modbus"),
    )
