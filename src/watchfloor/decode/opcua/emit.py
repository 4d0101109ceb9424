"""OPC UA messages → schema events: messages, anomalies and server identity observations."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from ...capture.flows import Flow
from ...schema import Asset, Endpoint, Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Opcua, OpcuaApplication, OpcuaCall, OpcuaEndpoint, OpcuaNode
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import SERVICES, status_name

DATASET = "ot.opcua"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
MAX_TEXT = 256  # characters of one value kept in an event

# transport message type → (event.action, ot.action.operation, role of its sender)
TRANSPORT = {
    "HEL": ("hello", "session", "request"), "ACK": ("acknowledge", "session", "response"),
    "ERR": ("error", "session", "response"), "RHE": ("reverse_hello", "session", None),
}  # fmt: skip
_TARGETS = {
    "read": "variable", "write": "variable", "history_read": "variable",
    "history_update": "variable", "call": "method", "add_nodes": "node", "delete_nodes": "node",
    "add_references": "reference", "delete_references": "reference", "browse": "node",
    "create_monitored_items": "variable",
}  # fmt: skip
_TARGET_OBJECTS = {k: Target(object=v) for k, v in _TARGETS.items()}


def thumbprint(cert: bytes | None) -> str | None:
    return hashlib.sha1(cert).hexdigest() if cert else None


def text(v: Any) -> str | None:
    """A decoded value as text: booleans lower-case, arrays as [a, b]; long text cut."""
    if v is None:
        return None
    if v is True or v is False:
        s = "true" if v else "false"
    elif isinstance(v, list):
        s = "[" + ", ".join(text(x) or "null" for x in v) + "]"
    else:
        s = str(v)
    return s if len(s) <= MAX_TEXT else s[: MAX_TEXT - 3] + "..."


def _typed(arg: tuple[str, Any]) -> str:
    return f"{arg[0]}:{text(arg[1])}"


def _node(n: dict) -> OpcuaNode:
    n = dict(n)
    if "value" in n:
        n["value"] = text(n["value"])
    if n.get("status_code") is not None:
        n["status"] = status_name(n["status_code"])
    return OpcuaNode(**n)


def _call(c: dict) -> OpcuaCall:
    out = OpcuaCall(object_id=c.get("object_id"), method_id=c.get("method_id"),
                    arguments=[_typed(a) for a in c["arguments"]] if "arguments" in c else None,
                    outputs=[_typed(a) for a in c["outputs"]] if "outputs" in c else None)  # fmt: skip
    if c.get("status_code") is not None:
        out.status_code, out.status = c["status_code"], status_name(c["status_code"])
    return out


def _application(a: dict, cert: bytes | None = None) -> OpcuaApplication:
    return OpcuaApplication(application_uri=a.get("application_uri"),
                            product_uri=a.get("product_uri"),
                            application_name=a.get("application_name"),
                            application_type=a.get("application_type"),
                            discovery_urls=a.get("discovery_urls") or None,
                            certificate_sha1=thumbprint(cert))  # fmt: skip


def _endpoint(e: dict) -> OpcuaEndpoint:
    return OpcuaEndpoint(endpoint_url=e["endpoint_url"], security_mode=e["security_mode"],
                         security_policy=e["security_policy"],
                         user_token_types=e["user_token_types"] or None,
                         security_level=e["security_level"],
                         transport_profile=e["transport_profile"],
                         certificate_sha1=thumbprint(e["certificate"]))  # fmt: skip


def servers(fields: dict) -> list[OpcuaApplication]:
    """The distinct server descriptions of a GetEndpoints / CreateSession response."""
    seen: dict[tuple, OpcuaApplication] = {}
    for e in fields.get("endpoints") or ():
        app = e["application"]
        cert = e["certificate"] or fields.get("certificate")
        key = (app.get("application_uri"), app.get("product_uri"), cert)
        if key not in seen:
            seen[key] = _application(app, cert)
    if not seen and fields.get("certificate"):
        seen[()] = OpcuaApplication(certificate_sha1=thumbprint(fields["certificate"]))
    return list(seen.values())


_CONVERTED = frozenset(("nodes", "calls", "endpoints", "applications", "application", "certificate"))
# Converted operation lists, by the identity of the wire list (kept alive here, so an id is never
# reused while it is a key): a polled request's cached detail converts once per process.
_MEMO: dict[int, tuple[list, list | None]] = {}


def _memo(items: list, fn: Any) -> list | None:
    hit = _MEMO.get(id(items))
    if hit is not None:
        return hit[1]
    out = [fn(x) for x in items] or None
    if len(_MEMO) >= 4096:
        _MEMO.clear()
    _MEMO[id(items)] = (items, out)
    return out


def convert(f: dict) -> dict:
    """Wire fields → `ot.opcua` keyword arguments, in place."""
    if not _CONVERTED.isdisjoint(f):
        if "nodes" in f:
            f["nodes"] = _memo(f["nodes"], _node)
        if "calls" in f:
            f["calls"] = _memo(f["calls"], _call)
        if "endpoints" in f:
            f["endpoints"] = [_endpoint(e) for e in f["endpoints"]] or None
        if "applications" in f:
            f["applications"] = [_application(a) for a in f["applications"]] or None
        if "application" in f:
            f["applications"] = [_application(f.pop("application"))]
        if "certificate" in f:
            f["certificate_sha1"] = thumbprint(f.pop("certificate"))
    code = f.get("status_code")
    if code is not None and "status" not in f:
        f["status"] = status_name(code)
    return f


def write_values(nodes: list[dict]) -> list[int] | None:
    """ot.action.values of a Write: the written values when every one is an integer or boolean."""
    out = []
    for n in nodes:
        v = n.get("value")
        if isinstance(v, bool):
            out.append(int(v))
        elif isinstance(v, int):
            out.append(v)
        else:
            return None
    return out or None


class Emitter:
    """Builds one flow's events; objects shared by its events are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="opcua",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.actions: dict[tuple[str, str], OtAction] = {}

    def message(self, d: int, ts_ns: int, action: str, operation: str,
                role: Literal["request", "response"] | None, opcua: dict,
                anomalies: list[str] | None = None, duration: int | None = None,
                values: list[int] | None = None) -> Event:  # fmt: skip
        outcome: Literal["success", "failure"] | None = None
        if role == "response" or opcua.get("message_type") == "ERR":
            code = opcua.get("status_code")
            outcome = None if code is None else "failure" if code & 0x80000000 else "success"
        ends = self.flow.ends
        if values is None:
            act = self.actions.get((operation, action))
            if act is None:
                act = self.actions[(operation, action)] = OtAction(
                    operation=operation, target=_TARGET_OBJECTS.get(action))  # type: ignore[arg-type]
        else:
            act = OtAction(operation=operation, target=_TARGET_OBJECTS.get(action), values=values)  # type: ignore[arg-type]
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=action, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=ends[d],
            destination=ends[1 - d],
            network=self.net,
            ot=Ot(protocol="opcua", role=role, action=act, anomalies=anomalies,
                  opcua=Opcua(**opcua)),
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "opcua", d, ts_ns, code, text)


def identity(server: Endpoint, ts_ns: int, app: OpcuaApplication, service: str) -> Event:
    """A server's ApplicationDescription (GetEndpoints / CreateSession) → an asset observation."""
    return Event(
        timestamp=rfc3339(ts_ns),
        event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                        action=f"{service}_server", dataset=DATASET),  # fmt: skip
        asset=Asset(ip=server.ip, mac=server.mac, name=app.application_name,
                    url=app.application_uri, product_code=app.product_uri),  # fmt: skip
        ot=Ot(protocol="opcua", opcua=Opcua(message_type="MSG", applications=[app])),
    )


def service_meta(sid: int | None) -> tuple[str, str]:
    """(event.action, operation) of a service encoding id."""
    s = SERVICES.get(sid) if sid is not None else None
    if s is None:
        return (f"unknown-{sid}" if sid is not None else "unknown_service"), "other"
    return s.name, s.operation
