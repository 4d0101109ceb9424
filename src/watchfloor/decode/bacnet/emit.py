"""BACnet/IP messages → schema events: one per BVLL message, and device observations (I-Am)."""

from __future__ import annotations

from typing import Any, Final, Literal

from msgspec.structs import replace

from ...capture.flows import Flow
from ...schema import AddressRange, Asset, Endpoint, Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Bacnet, BacnetProperty
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    ABORT,
    APDU_TYPES,
    BVLC_FUNCTIONS,
    BVLC_RESULTS,
    COMPLEX_ACK,
    CONFIRMED_SERVICES,
    ERROR,
    NETWORK_MESSAGES,
    REJECT,
    REJECT_NETWORK_REASONS,
    SEGMENT_ACK,
    SIMPLE_ACK,
    UNCONFIRMED,
    UNCONFIRMED_SERVICES,
)
from .tables import (
    ABORT_REASONS,
    DCC_STATES,
    ERROR_CLASSES,
    ERROR_CODES,
    OBJECT_TYPES,
    PROPERTIES,
    REINITIALIZE_STATES,
    REJECT_REASONS,
    SEGMENTATION,
)

DATASET: Final = "ot.bacnet"
_PROTOCOL_TYPE: Final = ["protocol"]
_CATEGORY: Final = ["network"]
Fields = dict[str, Any]
Outcome = Literal["success", "failure"] | None  # event.outcome
# field holding a code, field for its name, table (a list: compiled, a tuple's items are boxed
# again on each pass)
_NAMED: Final[list[tuple[str, str, dict[int, str]]]] = [
    ("error_class", "error_class_name", ERROR_CLASSES),
    ("error_code", "error_code_name", ERROR_CODES),
    ("abort_reason", "abort_reason_name", ABORT_REASONS),
    ("reinitialize_state", "reinitialize_state_name", REINITIALIZE_STATES),
    ("enable_disable", "enable_disable_name", DCC_STATES),
    ("segmentation_supported", "segmentation_supported_name", SEGMENTATION),
    ("property_id", "property_name", PROPERTIES),
    ("object_type", "object_type_name", OBJECT_TYPES),
    ("device_type", "device_type_name", OBJECT_TYPES),
    ("bvlc_result_code", "bvlc_result", BVLC_RESULTS),
    ("network_reject_reason", "network_reject_reason_name", REJECT_NETWORK_REASONS),
    ("reject_reason", "reject_reason_name", REJECT_REASONS),
]


def _name(table: dict[int, str], code: int) -> str:
    return table.get(code) or f"unknown-{code}"


def describe(f: Fields) -> tuple[str, str, str | None]:
    """(event.action, ot.action.operation, ot.role) of a decoded message."""
    t = f.get("apdu_type")
    service = f.get("service")
    if t is None:
        mtype = f.get("network_message_type")
        if mtype is not None:
            c = NETWORK_MESSAGES.get(mtype)
            return (c.name, c.operation, c.role) if c else (f"unknown-network-message-{mtype}", "other", None)
        c = BVLC_FUNCTIONS.get(f["bvlc_function"])
        return (c.name, c.operation, c.role) if c else (f"unknown-bvlc-{f['bvlc_function']}", "other", None)
    if t == UNCONFIRMED:
        c = UNCONFIRMED_SERVICES.get(service)  # type: ignore[arg-type]
        return (c.name, c.operation, c.role) if c else (f"unknown-{service}", "other", None)
    if t in (SEGMENT_ACK, REJECT, ABORT) or service is None:
        role = "response" if t in (REJECT, SIMPLE_ACK, COMPLEX_ACK, ERROR) or f.get("from_server") else "request"
        return (APDU_TYPES[t] if t < 8 else f"unknown-apdu-{t}"), "other", role
    name, op = CONFIRMED_SERVICES.get(service) or (f"unknown-{service}", "other")
    return name, op, ("request" if t == 0 else "response")


_NAMED_KEYS: Final = {code: (label, table) for code, label, table in _NAMED}
# the entries of _NAMED that a property access (BacnetProperty) holds
_ACCESS_NAMED: Final = [n for n in _NAMED if n[1] in BacnetProperty.__struct_fields__]
_BVLC_NAMES: Final = {k: c.name for k, c in BVLC_FUNCTIONS.items()}
_BORROWED: Final = ("object_type", "object_instance", "property_id", "array_index")
MAX_ACTIONS: Final = 1024  # ot.action objects kept per flow (events are read-only once emitted)


class Emitter:
    """Builds one flow's events; objects shared by its events (network, endpoints, the
    `ot.action` of an operation on an object) are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="bacnet",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.actions: dict[tuple, OtAction] = {}

    def _action(self, op: str, otype: str | None, inst: int | None) -> OtAction:
        key = (op, otype, inst)
        act = self.actions.get(key)
        if act is None:
            target = Target(object=otype) if otype is not None else None
            span = AddressRange(start=inst, end=inst) if otype is not None and inst is not None else None
            act = OtAction(operation=op, target=target, address=span)  # type: ignore[arg-type]
            if len(self.actions) < MAX_ACTIONS:
                self.actions[key] = act
        return act

    def message(self, d: int, f: Fields, ts_ns: int, request: tuple[int, int, Fields] | None,
                anomalies: list[str] | None, det: Detail | None = None) -> Event:  # fmt: skip
        """`det`: `detail` of fields that differ from `f` in the invoke id at most."""
        if det is None:
            det = detail(f)
        bacnet = det.bacnet
        duration = None
        invoke = f.get("invoke_id")
        if request is None:
            if invoke != bacnet.invoke_id:  # (a plain keyword: no dict to unpack)
                bacnet = replace(bacnet, invoke_id=invoke)
        else:
            request_frame, req_ts, req = request
            duration = ts_ns - req_ts
            bacnet = replace(bacnet, invoke_id=invoke, request_frame=request_frame)
            for key in _BORROWED:  # what the response leaves out (a SimpleACK), as the request said
                if key not in f and key in req:
                    value = req[key]
                    setattr(bacnet, key, value)  # (the copy is this event's own)
                    named = _NAMED_KEYS.get(key)
                    if named is not None:
                        setattr(bacnet, named[0], _name(named[1], value))
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=det.name, dataset=DATASET, outcome=det.outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="bacnet", role=det.role,  # type: ignore[arg-type]
                  action=self._action(det.op, bacnet.object_type_name, bacnet.object_instance),
                  anomalies=anomalies, bacnet=bacnet),  # fmt: skip
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "bacnet", d, ts_ns, code, text)


class Detail:
    """What a message's event takes from its parsed fields alone (names looked up, property
    values converted): a poll repeated with new invoke ids shares one. (A plain class: compiled,
    it is made without the interpreted `__new__` of a NamedTuple.)"""

    def __init__(self, name: str, op: str, role: str | None, outcome: Outcome,
                 bacnet: Bacnet) -> None:  # fmt: skip
        self.name = name  # event.action
        self.op = op  # ot.action.operation
        self.role, self.outcome, self.bacnet = role, outcome, bacnet


def detail(f: Fields) -> Detail:
    name, op, role = describe(f)
    t = f.get("apdu_type")
    outcome: Outcome = None
    f = dict(f)
    if t is not None:
        if t == SIMPLE_ACK or t == COMPLEX_ACK:
            outcome = "success"
        elif t == ERROR or t == REJECT or (t == ABORT and role == "response"):
            outcome = "failure"
        if t < 8:
            f["apdu_type_name"] = APDU_TYPES[t]
        if "service" in f:
            f["service_name"] = name
    elif "bvlc_result_code" in f:
        outcome = "failure" if f["bvlc_result_code"] else "success"
    for code, label, table in _NAMED:  # a dozen lookups: cheaper than a set of f
        value = f.get(code)
        if value is not None:
            f[label] = _name(table, value)
    if "properties" in f:
        f["properties"] = [_access(a) for a in f["properties"]]
    fn = f["bvlc_function"]
    f["bvlc_function_name"] = _BVLC_NAMES.get(fn) or f"unknown-{fn}"
    if "network_message_type" in f:
        f["network_message"] = name
    return Detail(name, op, role, outcome, Bacnet(**f))


def _access(a: Fields) -> BacnetProperty:
    p = BacnetProperty(**a)  # then the names, set on it (cheaper than a second dict to unpack)
    for code, label, table in _ACCESS_NAMED:
        value = a.get(code)
        if value is not None:
            setattr(p, label, _name(table, value))
    return p


def device(sender: Endpoint, f: Fields, ts_ns: int) -> Event:
    """I-Am → an observation of the device it announces. The device sits at the sender's
    address unless the NPDU names a source network (it is behind a router: no IP is claimed) or a
    BBMD forwarded the message (the original B/IP address is the device's)."""
    ip = mac = None
    if "source_network" not in f:
        fwd = f.get("forwarded_from")
        ip, mac = (fwd.rsplit(":", 1)[0], None) if fwd else (sender.ip, sender.mac)
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action="device_announcement", dataset=DATASET),  # fmt: skip
        asset=Asset(ip=ip, mac=mac, device_id=f["object_instance"], vendor_id=f["vendor_id"],
                    max_apdu=f["max_apdu_accepted"]),  # fmt: skip
        ot=Ot(protocol="bacnet"),
    )
