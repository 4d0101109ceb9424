"""EtherNet/IP and CIP frames → schema events: messages, I/O summaries, anomalies, identities."""

from __future__ import annotations

from typing import Any, Literal

from ...capture.flows import Flow
from ...schema import Asset, Endpoint, Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Cip, CipService, Enip, EnipIdentity, EnipIo
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    CLASSES,
    COMMANDS,
    DEVICE_TYPES,
    ENCAP_STATUS,
    GENERAL_STATUS,
    LOGIX_TYPES,
    RESET_TYPES,
    UNCONNECTED_SEND,
    VENDORS,
)

DATASET = "ot.enip"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
# When one message carries several services, the event's operation is the weightiest of them.
_WEIGHT = {op: i for i, op in enumerate((
    "other", "discovery", "diagnostic", "read", "session", "config", "write", "control", "program",
    "firmware"))}  # fmt: skip
_CIP_FIELDS = frozenset(Cip.__struct_fields__)
_CONTEXTS = {bytes(8): "0000000000000000"}


def heavier(a: str, b: str) -> str:
    return a if _WEIGHT[a] >= _WEIGHT[b] else b


def _cip_struct(msg: dict[str, Any]) -> Cip:
    fields = {k: v for k, v in msg.items() if k in _CIP_FIELDS}
    if "class_id" in fields:
        fields["class_name"] = CLASSES.get(fields["class_id"], f"unknown-{fields['class_id']}")
    if "status" in fields:
        fields["status_name"] = GENERAL_STATUS.get(fields["status"], f"unknown-{fields['status']}")
    if "tag_type" in fields:
        t = LOGIX_TYPES.get(fields["tag_type"])
        unknown = "STRUCT" if fields["tag_type"] == 0x02A0 else f"unknown-{fields['tag_type']}"
        fields["tag_type_name"] = t[0] if t else unknown
    if "data" in fields:
        fields["data"] = fields["data"].hex()
    if "reset_type" in fields:
        rt = fields["reset_type"]  # 100-199 vendor specific, other values reserved
        fields["reset_type_name"] = RESET_TYPES.get(rt) or (
            "vendor_specific" if 100 <= rt <= 199 else f"reserved-{rt}")
    nested = msg.get("_flat")
    if nested:
        fields["services"] = [n["service"] for n, _ in nested]
        fields["nested"] = [
            CipService(service=n["service"], service_name=n["_name"], depth=depth,
                       class_id=n.get("class_id"), instance_id=n.get("instance_id"),
                       attribute_id=n.get("attribute_id"), symbol=n.get("symbol"),
                       status=n.get("status"), extended_status=n.get("extended_status"),
                       status_name=GENERAL_STATUS.get(n["status"], f"unknown-{n['status']}")
                       if "status" in n else None, tag_type=n.get("tag_type"),
                       elements=n.get("elements"), values=n.get("values"))  # fmt: skip
            for n, depth in nested
        ]
    return Cip(service_name=msg["_name"], **fields)


def identity_struct(ident: dict[str, Any]) -> EnipIdentity:
    return EnipIdentity(vendor=VENDORS.get(ident["vendor_id"]),
                        device_type_name=DEVICE_TYPES.get(ident["device_type"]),
                        **ident)  # fmt: skip


_TARGETS: dict[str, Target] = {}  # shared by every flow: events are read-only once emitted


def cip_parts(cip: dict[str, Any]) -> tuple[Cip, str, OtAction]:
    """What every event of one analysed CIP message shares: ot.cip, event.action and
    ot.action (for an Unconnected Send, the routed request's target and values)."""
    struct = _cip_struct(cip)
    shown = cip
    flat = cip.get("_flat")
    if flat and cip["service"] == UNCONNECTED_SEND and "class_id" in cip:
        shown = flat[0][0]  # what the routed request addresses
    if "symbol" in shown:
        obj: str | None = "tag"
    elif "class_id" in shown:
        obj = CLASSES.get(shown["class_id"], f"unknown-{shown['class_id']}")
    else:
        obj = None
    target = None
    if obj:
        target = _TARGETS.get(obj)
        if target is None:
            target = _TARGETS[obj] = Target(object=obj)
    action = OtAction(operation=cip["_operation"], target=target, values=shown.get("values"))
    return struct, cip["_name"], action


class Emitter:
    """Builds one flow's events; objects shared by every event of the flow are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="enip",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.commands: dict[int, tuple[str, OtAction]] = {}

    def _command_action(self, cmd: int) -> tuple[str, OtAction]:
        got = self.commands.get(cmd)
        if got is None:
            name, op = COMMANDS.get(cmd) or (f"unknown-{cmd}", "other")
            got = self.commands[cmd] = (name, OtAction(operation=op))  # type: ignore[arg-type]
        return got

    def message(self, d: int, cmd: int, length: int, session: int, status: int, context: bytes,
                options: int, items: list[int] | None, connection_id: int | None,
                sequence: int | None, protocol_version: int | None,
                identities: list[dict[str, Any]] | None, request_frame: int | None, view: Any,
                is_request: bool, ts_ns: int, duration: int | None,
                anomalies: list[str] | None) -> Event:  # fmt: skip
        """One event per encapsulation message, with its CIP message (and nested services)."""
        name, ot_action = self.commands.get(cmd) or self._command_action(cmd)
        outcome: Literal["success", "failure"] | None = None
        if not is_request:
            outcome = "success" if status == 0 else "failure"
        action, cip_struct = name, None
        if view is not None:
            cip_struct, action, ot_action = view.struct, view.action, view.ot_action
            if not is_request and view.cip.get("status"):
                outcome = "failure"
        ctx = _CONTEXTS.get(context) or context.hex()
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=action, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(
                protocol="enip",
                role="request" if is_request else "response",
                action=ot_action,
                anomalies=anomalies,
                enip=Enip(command=cmd, command_name=name, length=length, session_handle=session,
                          status=status,
                          status_name=ENCAP_STATUS.get(status) or f"unknown-{status}",
                          sender_context=ctx, options=options, items=items,
                          connection_id=connection_id, sequence=sequence,
                          protocol_version=protocol_version,
                          identities=[identity_struct(i) for i in identities]
                          if identities else None,
                          request_frame=request_frame),  # fmt: skip
                cip=cip_struct,
            ),
        )

    def io_summary(self, d: int, ts_ns: int, io: EnipIo) -> Event:
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action="io_summary", dataset=DATASET),  # fmt: skip
            source=self.flow.src(d),
            destination=self.flow.dst(d),
            network=self.net,
            ot=Ot(protocol="enip", enip=Enip(io=io),
                  anomalies=["io_sequence_gap"] if io.sequence_gaps else None),  # fmt: skip
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "enip", d, ts_ns, code, text)


def identity(device: Endpoint, ts_ns: int, ident: dict[str, Any], action: str) -> Event:
    """An identity (ListIdentity reply item, identity Get_Attributes_All) → asset observation.
    The address is the sender's: a ListIdentity item's socket address is often 0.0.0.0 or the
    device's private address behind NAT, so it stays in the message event only."""
    vendor = VENDORS.get(ident["vendor_id"], f"vendor-{ident['vendor_id']}")
    dtype = DEVICE_TYPES.get(ident["device_type"], f"device-type-{ident['device_type']}")
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"], action=action,
                        dataset=DATASET),  # fmt: skip
        asset=Asset(ip=device.ip, mac=device.mac, vendor=vendor, product=ident["product_name"],
                    product_code=str(ident["product_code"]), device_type=dtype,
                    revision=ident["revision"], serial=ident["serial_number"]),  # fmt: skip
        ot=Ot(protocol="enip"),
    )
