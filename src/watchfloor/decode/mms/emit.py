"""MMS PDUs → schema events: messages, anomalies and Identify observations (asset facts)."""

from __future__ import annotations

from typing import Any, Literal

from ...capture.flows import Flow
from ...schema import Asset, Endpoint, Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Mms, MmsName
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    ACCESS_ERRORS,
    ACSE_APDUS,
    ACSE_NAMES,
    CONFIG_FCS,
    CONFIRMED_ERROR,
    CONFIRMED_REQUEST,
    CONFIRMED_RESPONSE,
    CONTROL_PARTS,
    ERROR_CLASSES,
    OBJECT_CLASSES,
    PDU_TYPES,
    READ,
    REJECT_TYPES,
    REQUESTS,
    SELECT_PART,
    SERVICES,
    SPDU_TYPES,
    UNCONFIRMED,
    UNCONFIRMED_SERVICES,
    WRITE,
)
from .osi import NO_SESSION, Upper
from .wire import Name, Pdu

DATASET = "ot.mms"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
_SESSION_PDUS = {8: "initiate", 9: "initiate", 10: "initiate_error", 11: "conclude", 12: "conclude",
                 13: "conclude_error", 5: "cancel", 6: "cancel", 7: "cancel_error",
                 4: "reject"}  # fmt: skip
# request fields a response repeats for the reader (it does not carry them itself)
_BORROWED = ("variables", "variable_list", "domain", "file_name", "program_invocation",
             "object_class", "scope")  # fmt: skip

Request = tuple[int, int, Pdu, str, Target | None]  # frame, ts, request, operation, target


def service_name(code: int | None) -> str | None:
    if code is None:
        return None
    s = SERVICES.get(code)
    return s.name if s else f"unknown-{code}"


def operation(pdu: Pdu) -> str:
    """ot.action.operation. IEC 61850-8-1: a write to a control object (Oper, SBOw, Cancel,
    ctlVal) is control, a read of SBO selects (control); writes to settings and control blocks
    (functional constraints SP, SG, SE, CF, RP, BR, GO, ...) are config."""
    svc = SERVICES.get(pdu.service) if pdu.service is not None else None  # type: ignore[arg-type]
    if pdu.type == UNCONFIRMED:
        return "read" if pdu.service == 0 else "other"
    if svc is None:
        return "session" if pdu.type not in (CONFIRMED_REQUEST, CONFIRMED_RESPONSE) else "other"
    if pdu.service == WRITE or pdu.service == READ:
        op = "write" if pdu.service == WRITE else "read"
        for _, _, item in pdu.fields.get("variables") or ():
            parts = item.split("$")
            if pdu.service == WRITE:
                if not CONTROL_PARTS.isdisjoint(parts):
                    return "control"
                if len(parts) > 1 and parts[1] in CONFIG_FCS:
                    op = "config"
            elif SELECT_PART in parts and len(parts) > 1 and parts[1] == "CO":
                return "control"
        return op
    return svc.operation


def _names(names: list[Name]) -> list[MmsName]:
    return [MmsName(scope=s, domain=d, item=i) for s, d, i in names]


def target(pdu_fields: dict[str, Any]) -> Target | None:
    """The first object named: station = domain (logical device), object = item."""
    names = pdu_fields.get("variables")
    name = names[0] if names else pdu_fields.get("variable_list")
    if name is not None:
        return Target(station=name[1], object=name[2])
    if "domain" in pdu_fields:
        return Target(station=pdu_fields["domain"])
    if "file_name" in pdu_fields:
        return Target(object=pdu_fields["file_name"])
    if "program_invocation" in pdu_fields:
        return Target(object=pdu_fields["program_invocation"])
    return None


def _mms_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    out.pop("scalars", None)
    if "variables" in out:
        out["variables"] = _names(out["variables"])
    if "variable_list" in out:
        s, d, i = out["variable_list"]
        out["variable_list"] = MmsName(scope=s, domain=d, item=i)
    if "failures" in out:
        out["failure_names"] = [ACCESS_ERRORS.get(c, f"unknown-{c}") for c in out["failures"]]
        if "values" in out:  # only a failed item's text starts with "failure:"
            out["values"] = [_failure_text(v) for v in out["values"]]
    if "object_class" in out:
        oc = out["object_class"]
        out["object_class_name"] = OBJECT_CLASSES.get(oc, f"unknown-{oc}")
    if "error_class" in out:
        ec = out["error_class"]
        out["error_class_name"] = ERROR_CLASSES.get(ec, f"unknown-{ec}")
    if "reject_type" in out:
        rt = out["reject_type"]
        out["reject_type_name"] = REJECT_TYPES.get(rt, f"unknown-{rt}")
    return out


def _failure_text(v: str) -> str:
    if v.startswith("failure:"):
        code = int(v[8:])
        return f"failure:{ACCESS_ERRORS.get(code, f'unknown-{code}')}"
    return v


def _action_values(fields: dict[str, Any]) -> list[int] | None:
    ints = fields.get("scalars")
    if not ints or None in ints:
        return None
    return ints  # type: ignore[no-any-return]


class Emitter:
    """Builds one flow's events; objects shared by every event of the flow are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="mms",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.converted: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}

    def _convert(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`fields` in schema form, made once per fields dict (requests served from the parse
        cache share theirs). The result is shared: never changed after."""
        if not fields:
            return fields
        hit = self.converted.get(id(fields))
        if hit is not None and hit[0] is fields:
            return hit[1]
        conv = _mms_fields(fields)
        if len(self.converted) >= 512:
            self.converted.clear()
        self.converted[id(fields)] = (fields, conv)  # holds `fields`: its id stays unique
        return conv

    def _event(self, d: int, ts_ns: int, action: str, role: Literal["request", "response"] | None,
               act: OtAction | None, mms: Mms, anomalies: list[str] | None,
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
            ot=Ot(protocol="mms", role=role, action=act, anomalies=anomalies, mms=mms),
        )

    def message(self, d: int, upper: Upper, pdu: Pdu, ts_ns: int, request: Request | None,
                anomalies: list[str] | None) -> Event:  # fmt: skip
        """One event per MMS PDU. A response carries its request's operation, target and names."""
        t = pdu.type
        fields = self._convert(pdu.fields)
        outcome: Literal["success", "failure"] | None = None
        duration = request_frame = None
        if t in REQUESTS:
            role: Literal["request", "response"] | None = "request"
        elif t == UNCONFIRMED:
            role = None
        else:
            role = "response"
            outcome = "failure" if t in (2, 7, 10, 13, 4) or "failures" in fields else "success"
        if t == 4 and pdu.invoke_id is None:
            role = None
        tgt = target(pdu.fields)
        if request is None:
            op = operation(pdu)
        else:
            request_frame, req_ts, req, op, req_target = request
            duration = ts_ns - req_ts
            tgt = tgt or req_target
            asked = self._convert(req.fields)
            borrowed = {k: asked[k] for k in _BORROWED if k in asked and k not in fields}
            if borrowed:
                if "object_class" in borrowed:
                    borrowed["object_class_name"] = asked["object_class_name"]
                fields = {**fields, **borrowed}
        if t == CONFIRMED_REQUEST or t == CONFIRMED_RESPONSE:
            action = service_name(pdu.service) or "unknown"
            svc, svc_name = pdu.service, action
        elif t == UNCONFIRMED:
            action = UNCONFIRMED_SERVICES.get(pdu.service or 0, f"unknown-{pdu.service}")
            svc = svc_name = None
        else:
            action = _SESSION_PDUS.get(t, PDU_TYPES[t])
            if t == CONFIRMED_ERROR:
                action = "confirmed_error"
            svc = svc_name = None
            if request is not None and t == CONFIRMED_ERROR:
                svc_name = service_name(request[2].service)
        values = _action_values(pdu.fields) if pdu.service in (READ, WRITE) or t == UNCONFIRMED else None
        # Keywords only where set, one mapping to unpack: a struct built this way costs a third less
        spdu = SPDU_TYPES.get(upper.spdu) if upper.spdu != NO_SESSION else None
        if upper.acse is not None or upper.acse_fields:
            fields = {"acse": ACSE_APDUS.get(upper.acse) if upper.acse is not None else None,
                      **(upper.acse_fields or {}), **fields}  # fmt: skip
        if t == UNCONFIRMED:
            mms = Mms(pdu_type=t, pdu=PDU_TYPES[t], invoke_id=pdu.invoke_id,
                      unconfirmed_service=pdu.service, unconfirmed_service_name=action, spdu=spdu,
                      request_frame=request_frame, **fields)  # fmt: skip
        else:
            mms = Mms(pdu_type=t, pdu=PDU_TYPES[t], invoke_id=pdu.invoke_id, service=svc,
                      service_name=svc_name, spdu=spdu, request_frame=request_frame, **fields)  # fmt: skip
        act = OtAction(operation=op, target=tgt, values=values)  # type: ignore[arg-type]
        return self._event(d, ts_ns, action, role, act, mms, anomalies, outcome, duration)

    def association(self, d: int, upper: Upper, ts_ns: int, anomalies: list[str] | None) -> Event:
        """An ACSE APDU or session SPDU that carries no MMS PDU (release, abort, refuse)."""
        acse = upper.acse
        action = ACSE_NAMES.get(acse, f"acse-{acse}") if acse is not None else f"session_{SPDU_TYPES.get(upper.spdu, 'unknown')}"
        role: Literal["request", "response"] | None = (
            "request" if acse in (0, 2) else "response" if acse in (1, 3) else None)  # fmt: skip
        mms = Mms(spdu=SPDU_TYPES.get(upper.spdu), acse=ACSE_APDUS.get(acse) if acse is not None else None,  # type: ignore[arg-type]
                  **(upper.acse_fields or {}))  # fmt: skip
        return self._event(d, ts_ns, action, role, OtAction(operation="session"), mms, anomalies)  # type: ignore[arg-type]

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "mms", d, ts_ns, code, text)


def identity(server: Endpoint, ts_ns: int, fields: dict[str, Any]) -> Event | None:
    """Identify response → an asset observation of the answering server (vendor, model,
    revision as the VMD states them)."""
    vendor, model, revision = fields.get("vendor"), fields.get("model"), fields.get("revision")
    if not (vendor or model or revision):
        return None
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action="identify", dataset=DATASET),  # fmt: skip
        asset=Asset(ip=server.ip, mac=server.mac, vendor=vendor or None, model=model or None,
                    revision=revision or None),  # fmt: skip
        ot=Ot(protocol="mms"),
    )
