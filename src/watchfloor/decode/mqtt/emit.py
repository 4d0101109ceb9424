"""MQTT control packets → schema events."""

from __future__ import annotations

from typing import Literal

from ...capture.flows import Flow
from ...schema import Event, EventMeta, Network, Ot, OtAction, Target
from ...schema.events import Mqtt
from ...schema.time import rfc3339
from .._events import anomaly_event
from .constants import (
    CONNACK,
    CONNACK_V3,
    PACKET_TYPES,
    PUBLISH,
    SUBACK,
    SUBACK_V3,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    VERSIONS,
    reason_name,
)
from .wire import Fields

DATASET = "ot.mqtt"
_PROTOCOL_TYPE = ["protocol"]
_CATEGORY = ["network"]
_NAMES = {t: (p.name, p.operation) for t, p in PACKET_TYPES.items()}
_TOPIC = Target(object="topic")
_FILTER = Target(object="topic_filter")
_TARGETS = {PUBLISH: _TOPIC, 4: _TOPIC, 5: _TOPIC, 6: _TOPIC, 7: _TOPIC, SUBSCRIBE: _FILTER,
            SUBACK: _FILTER, UNSUBSCRIBE: _FILTER, UNSUBACK: _FILTER}  # fmt: skip


class Emitter:
    """Builds one connection's events; objects shared by all of them are made once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="mqtt",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip
        self.actions = {t: OtAction(operation=op, target=_TARGETS.get(t))  # type: ignore[arg-type]
                        for t, (_, op) in _NAMES.items()}  # fmt: skip

    def message(self, d: int, first: int, fields: Fields, role: str, ts_ns: int,
                request: tuple[int, int, Fields] | None, anomalies: list[str] | None,
                client_id: str | None, version: int | None) -> Event:  # fmt: skip
        """One event per control packet. An acknowledgement borrows the topic (filters) of the
        request it answers."""
        t = first >> 4
        name, _ = _NAMES.get(t) or (f"unknown-{t}", "other")
        f = dict(fields)
        f["client_id"] = client_id
        v5 = version == 5
        outcome: Literal["success", "failure"] | None = None
        duration = request_frame = None
        if request is not None:
            request_frame, req_ts, req = request
            duration = ts_ns - req_ts
            if "topic" in req:
                f["topic"] = req["topic"]
            if "topic_filters" in req and "topic_filters" not in f:
                f["topic_filters"] = req["topic_filters"]
        code = f.get("reason_code")
        if code is not None:
            f["reason"] = reason_name(code, v5, CONNACK_V3 if t == CONNACK else None)
            if role == "response":
                outcome = "failure" if code >= 0x80 or (t == CONNACK and code) else "success"
        codes = f.get("reason_codes")
        if codes is not None:
            table = SUBACK_V3 if t == SUBACK else None
            f["reasons"] = [reason_name(c, v5, table) for c in codes]
            outcome = "failure" if any(c >= 0x80 for c in codes) else "success"
        elif outcome is None and role == "response":
            outcome = "success"
        if "protocol_level" in f:
            f["protocol_version"] = VERSIONS.get(f["protocol_level"], f"unknown-{f['protocol_level']}")
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=name, dataset=DATASET, outcome=outcome,
                            duration=duration),  # fmt: skip
            source=self.flow.ends[d],
            destination=self.flow.ends[1 - d],
            network=self.net,
            ot=Ot(
                protocol="mqtt",
                role=role,  # type: ignore[arg-type]
                action=self.actions.get(t) or OtAction(operation="other"),
                anomalies=anomalies,
                mqtt=Mqtt(message_type=t, message_type_name=name, request_frame=request_frame,
                          **f),  # fmt: skip
            ),
        )

    def anomaly(self, d: int, ts_ns: int, code: str, text: str) -> Event:
        return anomaly_event(self.flow, self.net, "mqtt", d, ts_ns, code, text)
