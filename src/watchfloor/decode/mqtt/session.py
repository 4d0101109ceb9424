"""Per-connection MQTT state: framing across segments, client/broker roles, the protocol version
the CONNECT announced, request/acknowledgement pairing, 5.0 topic aliases, anomalies.

All state lives on the session and dies with the flow; pending requests and topic aliases are
bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._contract import Malformed, NeedMoreData
from .._pending import Pending, StreamLosses
from . import emit
from .constants import (
    ANSWERS,
    AUTH,
    CONNECT,
    FROM_CLIENT,
    FROM_SERVER,
    PACKET_TYPES,
    PINGREQ,
    PROTOCOL_NAMES,
    PUBLISH,
    PUBREL,
    REQUIRED_FLAGS,
    SUBSCRIBE,
    UNSUBSCRIBE,
    VERSIONS,
    packet_name,
)
from .probe import header_plausible
from .wire import Fields, parse_header, parse_packet

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 500
MAX_ALIASES = 1024  # topic aliases remembered per direction (5.0 allows up to 65535)
UNANSWERED_NS = 30 * 10**9
_REMEMBERED = frozenset((CONNECT, PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE, PINGREQ))


class MqttSession(StreamLosses):
    NAME = "MQTT"
    RESYNC = "the next MQTT packet"

    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator
        # Whether the client's stream is seen from its first byte (the handshake was captured).
        self.from_start = flow.initiator is not None
        self.seen_client = False
        self.connected = False
        self.version: int | None = None  # protocol level of the CONNECT (3, 4, 5)
        self.client_id: str | None = None
        self.buf = [b"", b""]
        self.resync = [False, False]
        self.requests_lost = False
        self.responses_lost_at = -1
        # (requesting direction, request type, packet id or -1) → frame, ts, fields
        self.pending: Pending[tuple[int, int, int], tuple[int, int, Fields]] = Pending(MAX_PENDING)
        self.aliases: tuple[dict[int, str], dict[int, str]] = ({}, {})
        self.next_expiry = 0

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        if self.resync[d]:
            pos = self._find_header(buf, 0)
            if pos < 0:
                self.buf[d] = b""
                return
            self.resync[d] = False
        while pos < end:
            first = buf[pos]
            try:
                _, start, stop = parse_header(buf, pos)
            except NeedMoreData:
                break
            except Malformed as e:
                self._anomaly(d, ts_ns, "framing_lost", f"MQTT framing lost ({e}); resynchronising")
                pos = self._find_header(buf, pos + 1)
                if pos < 0:
                    pos = end
                continue
            self._packet(d, first, buf, start, stop, frame, ts_ns)
            pos = stop
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def _find_header(self, buf: bytes, start: int) -> int:
        """The next position where a whole packet with a plausible header starts and ends at the
        end of the bytes or at another plausible header (senders write packets whole)."""
        for i in range(start, len(buf) - 1):
            if not header_plausible(buf[i]):
                continue
            try:
                _, _, stop = parse_header(buf, i)
            except NeedMoreData:
                return i if i == start else -1
            except Malformed:
                continue
            if stop == len(buf) or header_plausible(buf[stop]):
                return i
        return -1

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        partial, self.buf[d], self.resync[d] = self.buf[d], b"", True
        if gap.cause == "late":
            return
        if gap.cause == "snaplen":
            if len(partial) >= 2 and header_plausible(partial[0]):
                self.out.append(self.emitter.message(d, partial[0], {}, self._role(d, partial[0]),
                                                     ts_ns, None, ["truncated"],
                                                     self.client_id, self.version))  # fmt: skip
            return
        self._stream_gap(d, gap, ts_ns)

    # -- packets ---------------------------------------------------------------------------
    def _role(self, d: int, first: int) -> str:
        """ot.role of a packet; learns which side is the client from types only one side sends."""
        t = first >> 4
        if self.client is None:
            if t in FROM_CLIENT:
                self.client = d
            elif t in FROM_SERVER:
                self.client = 1 - d
        if t == AUTH:
            return "request" if d == self.client else "response"
        p = PACKET_TYPES.get(t)
        return p.role if p and p.role else "request"

    def _parse(self, first: int, buf: bytes, start: int, stop: int) -> Fields:
        version = self.version
        if version is not None or first >> 4 == CONNECT:
            return parse_packet(first, buf, start, stop, version == 5)
        try:  # version unknown (no CONNECT seen): 3.1.1 unless only 5.0 fits
            return parse_packet(first, buf, start, stop, False)
        except Malformed:
            fields = parse_packet(first, buf, start, stop, True)
            self.version = 5
            return fields

    def _packet(self, d: int, first: int, buf: bytes, start: int, stop: int, frame: int,
                ts_ns: int) -> None:  # fmt: skip
        t = first >> 4
        role = self._role(d, first)
        anomalies: list[str] = []
        if t not in PACKET_TYPES or (t == AUTH and self.version not in (5, None)):
            anomalies.append("unknown_packet_type")
        elif t == PUBLISH:
            if first & 6 == 6:
                anomalies.append("invalid_qos")
        elif REQUIRED_FLAGS[t] != first & 15:
            anomalies.append("invalid_flags")
        try:
            fields = self._parse(first, buf, start, stop)
        except Malformed:
            fields = {}
            anomalies.append("malformed_packet")
        if d == self.client and not self.seen_client:
            self.seen_client = True
            if t != CONNECT and self.from_start:
                anomalies.append("missing_connect")
        if t == CONNECT and fields:
            self._connect(fields, anomalies)
        elif t == PUBLISH and "topic_alias" in fields:
            self._alias(d, fields, anomalies)
        request = None
        if role == "response" and t in ANSWERS:
            request = self._answer(d, t, fields, anomalies)
        elif t in _REMEMBERED and (t != PUBLISH or fields.get("qos")):
            key = (d, t, fields.get("packet_id", -1))
            if self.pending.add(key, (frame, ts_ns, fields)):
                self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests "
                              "outstanding; the oldest are dropped")  # fmt: skip
        self.out.append(self.emitter.message(d, first, fields, role, ts_ns, request,
                                             anomalies or None, self.client_id,
                                             self.version))  # fmt: skip

    def _connect(self, fields: Fields, anomalies: list[str]) -> None:
        if self.connected:
            anomalies.append("double_connect")
        self.connected = True
        level = fields["protocol_level"]
        self.version = level
        self.client_id = fields.get("client_id")
        named = PROTOCOL_NAMES.get(fields["protocol_name"].encode())
        if level not in VERSIONS or named != min(level, 4):
            anomalies.append("unsupported_protocol")
        if fields["connect_flags"] & 1:
            anomalies.append("reserved_flag_set")
        if fields.get("will_qos", 0) == 3:
            anomalies.append("invalid_qos")
        if fields["password_present"] and not fields["username_present"] and level < 5:
            anomalies.append("password_without_username")

    def _alias(self, d: int, fields: Fields, anomalies: list[str]) -> None:
        aliases = self.aliases[d]
        alias = fields["topic_alias"]
        if fields["topic"]:
            if len(aliases) < MAX_ALIASES or alias in aliases:
                aliases[alias] = fields["topic"]
        elif alias in aliases:
            fields["topic"] = aliases[alias]
        else:
            anomalies.append("unknown_topic_alias")

    def _answer(self, d: int, t: int, fields: Fields,
                anomalies: list[str]) -> tuple[int, int, Fields] | None:  # fmt: skip
        req_type = ANSWERS[t]
        pend = self.pending.pop((1 - d, req_type, fields.get("packet_id", -1)), None)
        if pend is None:
            lost = self._unmatched()
            anomalies.append(lost)
            return None
        self.requests_lost = False
        return pend

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        """Report requests with no answer after `older_than_ns` (all of them when negative)."""
        self.next_expiry = ts_ns + 10**9
        stale = self.pending.expire(ts_ns, older_than_ns, self.responses_lost_at)
        if not stale:
            return
        (d, t, pid), pend = stale[0]
        ident = f" {pid}" if pid >= 0 else ""
        self._anomaly(d, pend[1], "unanswered_request", f"{len(stale)} request(s) never answered; "
                      f"first: {packet_name(t)}{ident}")  # fmt: skip
