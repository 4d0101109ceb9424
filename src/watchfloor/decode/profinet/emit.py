"""PROFINET PDUs → schema events: DCP messages and identities, RT summaries, alarms, IO-CM calls."""

from __future__ import annotations

from typing import Any, Final, Literal, NamedTuple

from msgspec.structs import replace

from ...capture.flows import Flow
from ...schema import Asset, Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import ProfinetAlarm, ProfinetDcp, ProfinetIo, ProfinetRt
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    ALARM_TYPES,
    CONTROL_COMMANDS,
    CONTROL_OPERATIONS,
    DCP_SERVICE_TYPES,
    DCP_SERVICES,
    DEVICE_ROLES,
    HELLO,
    IDENTIFY,
    IO_OPNUMS,
    PNIO_INTERFACES,
    RPC_PACKET_TYPES,
    RTA_PDU_TYPES,
    SET,
    VENDORS,
)
from .wire import block_name

DATASET: Final = "ot.profinet"
PROTOCOL: Final = "profinet"
_CATEGORY: Final = ["network"]
_PROTOCOL_TYPE: Final = ["protocol"]


def roles(bits: int) -> list[str]:
    return [name for bit, name in DEVICE_ROLES if bits & bit]


class DcpTemplate(NamedTuple):
    """A DCP PDU analysed once: everything its events share except the Xid and the pairing."""

    service_id: int
    service_type: int
    name: str  # event.action
    msg: ProfinetDcp  # xid 0, no request frame
    role: Literal["request", "response"] | None
    action: OtAction
    outcome: Literal["success", "failure"] | None
    anomalies: list[str] | None
    asset: Asset | None  # identity facts a response or Hello states (mac left to the sender)


def dcp_template(pdu: dict[str, Any], fields: dict[str, Any], bad: list[str]) -> DcpTemplate:
    sid, stype = pdu["service_id"], pdu["service_type"]
    svc = DCP_SERVICES.get(sid)
    name, op = (svc.name, svc.operation) if svc else (f"unknown-{sid}", "other")
    for kind in fields.get("control", ()):  # a reset or signal outweighs what else is set
        op = CONTROL_OPERATIONS.get(kind, op) if op != "control" else op
    outcome: Literal["success", "failure"] | None = None
    if stype != 0:
        outcome = "failure" if stype != 1 or fields.get("block_error") else "success"
    if "device_role" in fields:
        fields = {**fields, "device_roles": roles(fields["device_role"])}
    station = fields.get("name_of_station") if sid == IDENTIFY or stype != 0 else None
    msg = ProfinetDcp(service=name, service_type_name=DCP_SERVICE_TYPES.get(
        stype, f"unknown-{stype}"), **{**pdu, "xid": 0}, **fields)  # fmt: skip
    anomalies = (["block_malformed"] if bad else []) + ([] if svc else ["unknown_service"])
    asset = None
    if (stype == 1 and sid != SET or sid == HELLO) and \
            not {"name_of_station", "vendor_id", "vendor_value"}.isdisjoint(fields):
        vid, roles_bits, ip = fields.get("vendor_id"), fields.get("device_role"), fields.get("ip")
        asset = Asset(
            ip=ip if ip and ip != "0.0.0.0" else None,
            vendor=None if vid is None else VENDORS.get(vid, f"vendor-0x{vid:04x}"),
            product_code=None if vid is None else f"0x{vid:04x}:0x{fields['device_id']:04x}",
            model=fields.get("vendor_value"), name=fields.get("name_of_station"),
            device_type=None if roles_bits is None else ",".join(roles(roles_bits)) or None,
        )  # fmt: skip
    role: Literal["request", "response"] | None = "request" if stype == 0 else "response"
    return DcpTemplate(sid, stype, f"dcp_{name}", msg, None if sid == HELLO else role,  # Hello:
                       OtAction(operation=op,  # type: ignore[arg-type]  # nobody answers it
                                target=Target(station=station) if station else None),
                       outcome, anomalies or None, asset)  # fmt: skip


class Emitter:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol=PROTOCOL,
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip

    def _event(self, d: int, ts_ns: int, action: str, ot: Ot, *,
               outcome: Literal["success", "failure"] | None = None,
               duration: int | None = None) -> Event:  # fmt: skip
        ends = self.flow.ends
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=action, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=ot,
        )

    # -- DCP -------------------------------------------------------------------------------------
    def dcp(self, d: int, ts_ns: int, tpl: DcpTemplate, xid: int,
            request: tuple[int, int] | None) -> Event:  # fmt: skip
        """One DCP message from its analysed form (shared by every frame with the same bytes
        but the Xid): only the Xid and the pairing are the frame's own."""
        duration = None
        if request is None:
            msg = replace(tpl.msg, xid=xid)
        else:
            msg = replace(tpl.msg, xid=xid, request_frame=request[0])
            duration = ts_ns - request[1]
        ot = Ot(protocol=PROTOCOL, role=tpl.role, action=tpl.action, anomalies=tpl.anomalies,
                profinet_dcp=msg)  # fmt: skip
        return self._event(d, ts_ns, tpl.name, ot, outcome=tpl.outcome, duration=duration)

    def identity(self, d: int, ts_ns: int, asset: Asset) -> Event:
        """A device's Identify/Get response or Hello → asset observation (the sender's facts)."""
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                            action="dcp_identity", dataset=DATASET),  # fmt: skip
            asset=replace(asset, mac=self.flow.ends[d].mac),
            ot=Ot(protocol=PROTOCOL),
        )

    # -- RT ------------------------------------------------------------------------------------
    def rt_summary(self, d: int, ts_ns: int, rt: ProfinetRt) -> Event:
        anomalies = [code for code, n in (("rt_data_invalid", rt.invalid),
                                          ("rt_provider_stopped", rt.stopped),
                                          ("rt_station_problem", rt.problem),
                                          ("rt_cycle_counter_backwards", rt.cycle_backwards)) if n]  # fmt: skip
        ot = Ot(protocol=PROTOCOL, action=OtAction(operation="read"), profinet_rt=rt,
                anomalies=anomalies or None)  # fmt: skip
        return self._event(d, ts_ns, "rt_cyclic_summary", ot)

    def alarm(self, d: int, ts_ns: int, pdu: dict[str, Any]) -> Event:
        ptype = pdu["pdu_type"]
        atype = pdu.get("alarm_type")
        msg = ProfinetAlarm(pdu_type_name=RTA_PDU_TYPES.get(ptype, f"unknown-{ptype}"),
                            alarm_type_name=None if atype is None else ALARM_TYPES.get(
                                atype, f"unknown-{atype}"), **pdu)  # fmt: skip
        action = "alarm" if atype is not None else f"alarm_{msg.pdu_type_name}"
        return self._event(d, ts_ns, action, Ot(protocol=PROTOCOL, action=OtAction(
            operation="diagnostic"), profinet_alarm=msg))  # fmt: skip

    # -- IO-CM ---------------------------------------------------------------------------------
    def io(self, d: int, ts_ns: int, pdu: dict[str, Any], request: tuple[int, int] | None,
           anomalies: list[str] | None) -> Event:  # fmt: skip
        opnum, ptype = pdu["opnum"], pdu["packet_type"]
        svc = IO_OPNUMS.get(opnum)
        name, op = (svc.name, svc.operation) if svc else (f"unknown-{opnum}", "other")
        fields = {k: v for k, v in pdu.items() if k != "little"}
        fields["interface"] = PNIO_INTERFACES.get(pdu["interface"], f"unknown-{pdu['interface']}")
        cmd = fields.get("control_command")
        if cmd is not None:
            fields["control"] = [n for bit, n in CONTROL_COMMANDS if cmd & bit]
        if "blocks" in fields:
            fields["block_names"] = [block_name(b) for b in fields["blocks"]]
        duration = None
        if request is not None:
            fields["request_frame"] = request[0]
            duration = ts_ns - request[1]
        outcome: Literal["success", "failure"] | None = None
        if ptype == 2 and "status" in fields:
            outcome = "success" if fields["status"] == 0 else "failure"
        elif ptype in (3, 6):
            outcome = "failure"
        msg = ProfinetIo(operation=name, packet_type_name=RPC_PACKET_TYPES.get(
            ptype, f"unknown-{ptype}"), **fields)  # fmt: skip
        role: Literal["request", "response"] | None = (
            "request" if ptype == 0 else "response" if ptype in (2, 3, 6) else None)  # fmt: skip
        target = None
        if "slot" in fields:
            target = Target(object=f"api {fields['api']} slot {fields['slot']} subslot "
                            f"0x{fields['subslot']:04x} index 0x{fields['index']:04x}")  # fmt: skip
        ot = Ot(protocol=PROTOCOL, role=role, action=OtAction(operation=op, target=target),  # type: ignore[arg-type]
                anomalies=anomalies, profinet_io=msg)  # fmt: skip
        return self._event(d, ts_ns, f"io_{name}", ot, outcome=outcome, duration=duration)

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, PROTOCOL, d, ts_ns, code, text)

