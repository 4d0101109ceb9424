"""BACnet/IP messages → schema events: one per BVLL message, and device observations (I-Am)."""

from __future__ import annotations

from typing import Any, Literal

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

DATASET = "ot.bacnet"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
Fields = dict[str, Any]
# field holding a code → (field for its name, table)
_NAMED = (("error_class", "error_class_name", ERROR_CLASSES), ("error_code", "error_code_name", ERROR_CODES),
          ("abort_reason", "abort_reason_name", ABORT_REASONS),
          ("reinitialize_state", "reinitialize_state_name", REINITIALIZE_STATES),
          ("enable_disable", "enable_disable_name", DCC_STATES),
          ("segmentation_supported", "segmentation_supported_name", SEGMENTATION),
          ("property_id", "property_name", PROPERTIES), ("object_type", "object_type_name", OBJECT_TYPES),
          ("device_type", "device_type_name", OBJECT_TYPES),
          ("bvlc_result_code", "bvlc_result", BVLC_RESULTS),
          ("network_reject_reason", "network_reject_reason_name", REJECT_NETWORK_REASONS))  # fmt: skip


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


class Emitter:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="bacnet",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip

    def message(self, d: int, f: Fields, ts_ns: int, request: tuple[int, int, Fields] | None,
                anomalies: list[str] | None) -> Event:  # fmt: skip
        name, op, role = describe(f)
        t = f.get("apdu_type")
        outcome: Literal["success", "failure"] | None = None
        duration = request_frame = None
        f = dict(f)
        if request is not None:
            request_frame, req_ts, req = request
            duration = ts_ns - req_ts
            for key in ("object_type", "object_instance", "property_id", "array_index"):
                if key not in f and key in req:
                    f[key] = req[key]
        if t in (SIMPLE_ACK, COMPLEX_ACK):
            outcome = "success"
        elif t in (ERROR, REJECT) or (t == ABORT and role == "response"):
            outcome = "failure"
        elif "bvlc_result_code" in f:
            outcome = "failure" if f["bvlc_result_code"] else "success"
        for code, label, table in _NAMED:
            if code in f and f[code] is not None:
                f[label] = _name(table, f[code])
        if "reject_reason" in f:
            f["reject_reason_name"] = _name(REJECT_REASONS, f["reject_reason"])
        if "properties" in f:
            f["properties"] = [_access(a) for a in f["properties"]]
        if t is not None and t < 8:
            f["apdu_type_name"] = APDU_TYPES[t]
        fn = BVLC_FUNCTIONS.get(f["bvlc_function"])
        f["bvlc_function_name"] = fn.name if fn else f"unknown-{f['bvlc_function']}"
        if "network_message_type" in f:
            f["network_message"] = name
        if "service" in f and t is not None:
            f["service_name"] = name
        target = span = None
        otype = f.get("object_type")
        if otype is not None:
            target = Target(object=f["object_type_name"])
            inst = f.get("object_instance")
            if inst is not None:
                span = AddressRange(start=inst, end=inst)
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome, duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="bacnet", role=role,  # type: ignore[arg-type]
                  action=OtAction(operation=op, target=target, address=span),  # type: ignore[arg-type]
                  anomalies=anomalies, bacnet=Bacnet(request_frame=request_frame, **f)),  # fmt: skip
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "bacnet", d, ts_ns, code, text)


def _access(a: Fields) -> BacnetProperty:
    out = dict(a)
    if out.get("object_type") is not None:
        out["object_type_name"] = _name(OBJECT_TYPES, out["object_type"])
    if out.get("property_id") is not None:
        out["property_name"] = _name(PROPERTIES, out["property_id"])
    if "error_class" in out:
        out["error_class_name"] = _name(ERROR_CLASSES, out["error_class"])
        out["error_code_name"] = _name(ERROR_CODES, out["error_code"])
    return BacnetProperty(**out)


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
