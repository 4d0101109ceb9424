"""DNP3 fragments → schema events: application messages, link-layer frames, anomalies and
device-attribute asset observations."""

from __future__ import annotations

from typing import Any, Literal

from ...capture.flows import Flow
from ...schema import (
    AddressRange,
    Asset,
    Dnp3,
    Dnp3Object,
    Dnp3Point,
    Endpoint,
    Event,
    EventMeta,
    Network,
    Ot,
    OtAction,
    Target,
)
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    CONTROL_OPS,
    CONTROL_STATUS,
    FUNCTIONS,
    IIN_BITS,
    IIN_ERRORS,
    LINK_PRIMARY,
    LINK_SECONDARY,
    NEEDS_OBJECTS,
    RESPONSES,
    TRIP_CLOSE,
    object_name,
)
from .wire import LinkFrame, parse_objects

DATASET = "ot.dnp3"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
_NAMES = {fc: (f.name, f.operation) for fc, f in FUNCTIONS.items()}
_CONFIG_WRITES = frozenset((0, 34, 50, 52))  # writing attributes, deadbands or the clock
_CONTROL_GROUPS = frozenset((12, 41))  # command objects: their status octet is a control status
# Device attributes (group 0 variations) that identify a device → Asset fields
_IDENTITY = {252: "vendor", 250: "product", 242: "revision", 248: "serial", 247: "name"}


_IIN_NAMES: dict[int, list[str]] = {}


def iin_flags(iin: int) -> list[str]:
    names = _IIN_NAMES.get(iin)
    if names is None:
        names = _IIN_NAMES[iin] = [name for bit, name in IIN_BITS if iin & bit]
    return names


def link_name(control: int) -> str:
    """Link function name from the control octet (primary or secondary table by PRM)."""
    func = control & 0x0F
    names = LINK_PRIMARY if control & 0x40 else LINK_SECONDARY
    return names.get(func, f"unknown-{func}")


_LINK_NAMES = [link_name(c) for c in range(256)]  # control octet → link function name
_NO_GROUPS: frozenset[int] = frozenset()
_ONLY_ATTRIBUTES = frozenset((0,))
_NO_ATTRS: dict[int, Any] = {}  # read-only


def crob_operation(code: int) -> str:
    """CROB control code → e.g. `latch_on`, `trip_pulse_on`; queue and clear bits appended."""
    op = CONTROL_OPS.get(code & 0x0F, f"unknown-{code & 0x0F}")
    tc = TRIP_CLOSE[code >> 6]
    name = f"{tc}_{op}" if tc else op
    if code & 0x10:
        name += "_queue"
    if code & 0x20:
        name += "_clear"
    return name


def _objects(raw: list[dict[str, Any]]) -> tuple[list[Dnp3Object], bool, dict[int, Any]]:
    """Object headers → schema objects; whether a control status reports a failure; identity
    attributes (group 0) by variation."""
    out, failed, attrs = [], False, {}
    for o in raw:
        g, v = o["group"], o["variation"]
        pts = o.pop("points", None)
        points = None
        if pts is not None:
            if g in _CONTROL_GROUPS or g == 43 or g == 13:
                for p in pts:
                    if "control_code" in p:
                        p["operation"] = crob_operation(p["control_code"])
                    s = p.get("status")
                    if s is not None and g != 13:
                        p["status_name"] = CONTROL_STATUS.get(s, f"unknown-{s}")
                        failed = failed or s != 0
            elif g == 0 and v in _IDENTITY:
                for p in pts:
                    val = p.get("text")
                    if val is not None and val.strip("\0 "):
                        attrs[v] = val.strip("\0 ")
            points = [Dnp3Point(**p) for p in pts]
        out.append(Dnp3Object(name=object_name(g, v), points=points, **o))
    return out, failed, attrs


# What a fragment's object octets decode to, and the facts the event needs from them (computed
# once per decoded body, not once per event): schema objects, whether a control status reports a
# failure, identity attributes, the fault (or None), the set of groups, and the first header's
# name, index span and values (ot.action target / address / values).
Decoded = tuple[list[Dnp3Object], bool, dict[int, Any], "str | None", frozenset[int], "str | None",
                "AddressRange | None", "list[int] | None"]  # fmt: skip

# Recent object octets → Decoded. Polls repeat requests, and responses whose values have not
# changed, byte for byte; events are read-only once emitted, so they may share objects.
_DECODED: dict[tuple[int, bytes], Decoded] = {}
_CACHED_BODY = 256  # octets: bounds the cache to a few MB


def decode_objects(fc: int, body: bytes) -> Decoded:
    """Object octets → schema objects, whether a control failed, identity attributes, fault,
    groups, and the first header's name, span and values."""
    key = (fc, body)
    hit = _DECODED.get(key)
    if hit is not None:
        return hit
    raw, err = parse_objects(fc, body)
    objects, failed, attrs = _objects(raw)
    name = span = values = None
    if objects:
        first = objects[0]
        name, span = first.name, _span(first)
        if first.values:
            values = first.values
        elif first.points:
            vals = [p.value for p in first.points if p.value is not None]
            if not vals and first.group == 12:
                vals = [p.control_code for p in first.points if p.control_code is not None]
            values = vals or None
    decoded = (objects, failed, attrs, err, frozenset(o.group for o in objects), name, span,
               values)  # fmt: skip
    if len(body) <= _CACHED_BODY:
        if len(_DECODED) >= 1024:
            _DECODED.clear()
        _DECODED[key] = decoded
    return decoded


def _span(obj: Dnp3Object) -> AddressRange | None:
    if obj.range_start is not None:
        return AddressRange(start=obj.range_start, end=obj.range_stop)  # type: ignore[arg-type]
    if obj.indexes:
        return AddressRange(start=min(obj.indexes), end=max(obj.indexes))
    if obj.points:
        idx = [p.index for p in obj.points if p.index is not None]
        if idx:
            return AddressRange(start=min(idx), end=max(idx))
    return None


class Emitter:
    """Builds one flow's events; objects shared by every event of the flow are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="dnp3",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.targets: dict[tuple[int, str | None], Target] = {}

    def _target(self, unit: int, obj: str | None) -> Target:
        t = self.targets.get((unit, obj))
        if t is None:
            t = self.targets[(unit, obj)] = Target(unit=unit, object=obj)
        return t

    def message(self, d: int, lf: LinkFrame, apdu: bytes, segments: int, ts_ns: int,
                request: tuple[int, int, int, str] | None,
                anomalies: list[str]) -> tuple[Event, dict[int, Any]]:  # fmt: skip
        """One event per application fragment; returns it and any device attributes in it."""
        control, dst, src = lf[0], lf[1], lf[2]
        ac, fc = apdu[0], apdu[1]
        name, op = _NAMES.get(fc) or (f"unknown-{fc}", "other")
        iin = flags = None
        is_response = fc in RESPONSES
        if is_response:
            if len(apdu) >= 4:
                iin = apdu[2] << 8 | apdu[3]
                flags = iin_flags(iin) or None
            else:
                anomalies.append("truncated")
            body = apdu[4:]
        else:
            body = apdu[2:]
        objects: list[Dnp3Object] | None = None
        failed, attrs, data, text = False, _NO_ATTRS, None, None
        groups: frozenset[int] = _NO_GROUPS
        first_name = span = values = None
        if body:
            objects, failed, attrs, err, groups, first_name, span, values = decode_objects(fc, body)
            if err is not None:
                anomalies.append("malformed_objects")
                data = body.hex()
                text = f"object headers: {err}"
        elif fc in NEEDS_OBJECTS:
            anomalies.append("missing_objects")
        outcome: Literal["success", "failure"] | None = None
        duration = request_frame = None
        if is_response:
            if request is not None:
                request_frame, req_ts, _, op = request
                duration = ts_ns - req_ts
            failed = failed or bool(iin and iin & IIN_ERRORS)
            outcome = "failure" if failed else "success"
            if 0 in groups:
                op = "discovery"
        elif fc == 2 and groups:
            if groups <= _CONFIG_WRITES:
                op = "config"
            elif 70 in groups:
                op = "program"
        elif fc == 1 and groups == _ONLY_ATTRIBUTES:
            op = "discovery"
        outstation = src if is_response else dst
        # At most 15 keyword arguments: msgspec (0.22) builds a struct from 16 or more about five
        # times slower, so the two fields that are usually None are set afterwards.
        dnp3 = Dnp3(source=src, destination=dst, link_control=control,
                    link_function=_LINK_NAMES[control], function_code=fc, function=name,
                    sequence=ac & 0x0F, first=bool(ac & 0x80), final=bool(ac & 0x40),
                    confirm=bool(ac & 0x20), unsolicited=bool(ac & 0x10), iin=iin,
                    iin_flags=flags, transport_segments=segments, objects=objects)  # fmt: skip
        if data is not None:
            dnp3.data = data
        if request_frame is not None:
            dnp3.request_frame = request_frame
        ends = self.flow.ends
        event = Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            message=text,
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(
                protocol="dnp3",
                role="response" if is_response else "request",
                action=OtAction(operation=op,  # type: ignore[arg-type]
                                target=self._target(outstation, first_name),
                                address=span,
                                values=values),  # fmt: skip
                anomalies=anomalies or None,
                dnp3=dnp3,
            ),
        )
        return event, attrs

    def link(self, d: int, lf: LinkFrame, name: str, ts_ns: int,
             anomalies: list[str] | None) -> Event:  # fmt: skip
        """A link-layer frame without application data (reset, link status, ACK/NACK)."""
        control, dst, src, _, _ = lf
        primary = bool(control & 0x40)
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=f"link_{name}", dataset=DATASET),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="dnp3", role="request" if primary else "response",
                  action=OtAction(operation="session",
                                  target=self._target(dst if primary else src, None)),
                  anomalies=anomalies,
                  dnp3=Dnp3(source=src, destination=dst, link_control=control,
                            link_function=name)),  # fmt: skip
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        """A protocol anomaly that is not one message (gaps, CRC errors, reassembly faults)."""
        return anomaly_event(self.flow, self.net, "dnp3", d, ts_ns, code, text)


def identity(outstation: Endpoint, ts_ns: int, attrs: dict[int, Any]) -> Event:
    """Device attributes (group 0) → an asset observation of the answering outstation."""
    fields = {_IDENTITY[v]: val for v, val in attrs.items()}
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action="device_attributes", dataset=DATASET),  # fmt: skip
        asset=Asset(ip=outstation.ip, mac=outstation.mac, **fields),
        ot=Ot(protocol="dnp3"),
    )
