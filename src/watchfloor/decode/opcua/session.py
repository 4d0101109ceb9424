"""Per-flow OPC UA state: framing, chunk reassembly, the secure channel's security, client/server
roles, request/response pairing, anomalies.

All state lives on the session and dies with the flow: pending requests and partly reassembled
messages are bounded; unanswered requests are reported once they age out or the flow ends.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .._contract import Malformed, NeedMoreData
from .._pending import Pending, StreamLosses
from . import emit, wire
from .constants import (
    ACTIVATE_SESSION_REQUEST,
    CREATE_SESSION_RESPONSE,
    GET_ENDPOINTS_RESPONSE,
    MAX_CHUNKS,
    MAX_MESSAGE,
    OPN_REQUEST,
    RESPONSE_OF,
    SECURITY_POLICY_NONE,
    SERVICE_FAULT,
    SERVICES,
    status_name,
)

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 500
MAX_PARTIAL = 64  # messages being reassembled per direction
UNANSWERED_NS = 60 * 10**9
PUBLISH = 826  # long-poll: a Publish request waits for data, unanswered is normal
_HEADER_RE = re.compile(rb"(?:MSG|OPN|CLO|HEL|ACK|ERR|RHE)[FCA]")
_OPERATIONS = ("nodes", "calls")
_TEXT = {b"MSG": "MSG", b"OPN": "OPN", b"CLO": "CLO", b"F": "F", b"C": "C", b"A": "A"}
_CHECKED = frozenset((ACTIVATE_SESSION_REQUEST, OPN_REQUEST))
_META = {sid: (svc.name, svc.operation) for sid, svc in SERVICES.items()}
_JOINED_REQUESTS = frozenset((631, 673, 527, 712, 494, 500, 506))
# Responses whose operations are joined to their request's, one for one, in order.
_JOINED = {634: "nodes", 676: "nodes", 530: "nodes", 715: "calls", 497: "nodes", 503: "nodes",
           509: "nodes"}  # fmt: skip


class OpcuaSession(StreamLosses):
    NAME = "OPC UA"
    RESYNC = "the next OPC UA header"
    LOSS = "lost, out of order or cut by the snap length"

    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator
        self.buf = [b"", b""]
        self.resync = [False, False]
        # request id → frame, ts, service id, fields
        self.pending: Pending[int, tuple[int, int, int, dict | None]] = Pending(MAX_PENDING)
        # per direction: request id → [bodies, total size, first frame]
        self.partial: list[dict[int, list[Any]]] = [{}, {}]
        self.policy: str | None = None  # SecurityPolicyUri of the channel (from OPN)
        self.mode: str | None = None  # none / sign / sign_and_encrypt
        self.requests_lost = False
        self.responses_lost_at = -1
        self.next_expiry = 0

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        if self.resync[d]:
            pos = self._find_header(buf, 0)
            if pos < 0:
                self.buf[d] = buf[-7:]
                return
            self.resync[d] = False
        while pos < end:
            try:
                chunk, n = wire.parse_chunk(buf, pos)
            except NeedMoreData:
                break
            except Malformed as e:
                self._anomaly(d, ts_ns, "framing_lost", f"OPC UA framing lost ({e}); "
                              "resynchronising")  # fmt: skip
                pos = self._find_header(buf, pos + 1)
                if pos < 0:  # keep a tail that may begin the next header
                    self.resync[d] = True
                    self.buf[d] = buf[-7:]
                    return
                continue
            pos += n
            self._chunk(d, chunk, frame, ts_ns)
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    @staticmethod
    def _find_header(buf: bytes, start: int) -> int:
        for m in _HEADER_RE.finditer(buf, start):
            i = m.start()
            if len(buf) - i < 8 or wire.header_ok(buf, i):
                return i
        return -1

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        self.buf[d], self.resync[d] = b"", True
        self.partial[d].clear()
        if gap.cause == "late":
            return
        self._stream_gap(d, gap, ts_ns)

    # -- chunks ----------------------------------------------------------------------------
    def _chunk(self, d: int, chunk: wire.Chunk, frame: int, ts_ns: int) -> None:
        mt, ct, body = chunk
        if mt not in (b"MSG", b"OPN", b"CLO"):
            self._transport(d, mt.decode(), body, ts_ns)
            return
        try:
            h = wire.secure_header(mt, body)
        except Malformed:
            self._emit(d, ts_ns, "malformed", "other", None,
                       {"message_type": _TEXT[mt], "chunk_type": _TEXT[ct]}, ["malformed_header"])
            return
        base: dict[str, Any] = {"message_type": _TEXT[mt], "chunk_type": _TEXT[ct],
                                "secure_channel_id": h.channel_id,
                                "sequence_number": h.sequence_number, "request_id": h.request_id}  # fmt: skip
        if h.token_id is not None:
            base["security_token_id"] = h.token_id
        if mt == b"OPN":
            base["security_policy"] = h.policy
            self.policy = h.policy
            if h.policy == SECURITY_POLICY_NONE:
                self.mode = "none"
            elif self.mode in (None, "none"):
                self.mode = None  # learned from the first symmetric message
            if h.sender_certificate:
                base["sender_certificate_sha1"] = emit.thumbprint(h.sender_certificate)
            if h.receiver_thumbprint:
                base["receiver_certificate_thumbprint"] = h.receiver_thumbprint.hex()
        payload = body[h.body_offset :]
        if ct == b"C":
            self._intermediate(d, h.request_id, payload, base, frame, ts_ns)
            return
        parts = self.partial[d].pop(h.request_id, None)
        if ct == b"A":
            self._abort(d, payload, base, parts, ts_ns)
            return
        if parts is not None:
            parts[0].append(payload)
            payload = b"".join(parts[0])
            base["chunks"] = len(parts[0])
        self._secure(d, mt, payload, base, frame, ts_ns)

    def _intermediate(self, d: int, rid: int, payload: bytes, base: dict, frame: int,
                      ts_ns: int) -> None:  # fmt: skip
        """A C chunk: kept until the final chunk of its request id, within bounds."""
        partial = self.partial[d]
        parts = partial.get(rid)
        if parts is None:
            if len(partial) >= MAX_PARTIAL:
                del partial[next(iter(partial))]
                self._anomaly(d, ts_ns, "chunk_limit", f"more than {MAX_PARTIAL} messages being "
                              "reassembled; the oldest is dropped")  # fmt: skip
            parts = partial[rid] = [[], 0, frame]
        parts[0].append(payload)
        parts[1] += len(payload)
        if len(parts[0]) > MAX_CHUNKS or parts[1] > MAX_MESSAGE:
            del partial[rid]
            self._anomaly(d, ts_ns, "chunk_limit", f"request {rid}: more than {MAX_CHUNKS} "
                          f"chunks or {MAX_MESSAGE} bytes; reassembly dropped")  # fmt: skip
        role = "request" if d == self.client else "response" if self.client is not None else None
        self._emit(d, ts_ns, "message_chunk", "other", role, self._security(base))  # type: ignore[arg-type]

    def _abort(self, d: int, payload: bytes, base: dict, parts: list | None, ts_ns: int) -> None:
        f = dict(base)
        if parts is not None:
            f["chunks"] = len(parts[0]) + 1
        if not self._encrypted():
            try:
                f.update(wire.error(payload))
            except Malformed:
                pass
        role = "request" if d == self.client else "response" if self.client is not None else None
        self._emit(d, ts_ns, "message_abort", "other", role, self._security(f))  # type: ignore[arg-type]

    # -- transport messages ----------------------------------------------------------------
    def _transport(self, d: int, mt: str, body: bytes, ts_ns: int) -> None:
        action, op, role = emit.TRANSPORT[mt]
        f: dict[str, Any] = {"message_type": mt}
        anomalies = None
        try:
            f.update(wire.error(body) if mt == "ERR" else wire.reverse_hello(body) if mt == "RHE"
                     else wire.hello(body))  # fmt: skip
        except Malformed:
            anomalies = ["malformed_body"]
        if mt == "HEL":
            self.client = d
            self.policy = self.mode = None  # a new connection handshake
        elif mt in ("ACK", "ERR"):
            self.client = 1 - d
        if mt == "ACK" and "endpoint_url" in f:
            del f["endpoint_url"]
        self._emit(d, ts_ns, action, op, role, f, anomalies)  # type: ignore[arg-type]

    # -- secure messages -------------------------------------------------------------------
    def _encrypted(self) -> bool:
        return self.policy not in (None, SECURITY_POLICY_NONE) and self.mode != "sign"

    def _security(self, f: dict) -> dict:
        if self.mode is not None and self.mode != "none":
            f["security_mode"] = self.mode
        if self._encrypted():
            f["encrypted"] = True
        return f

    def _secure(self, d: int, mt: bytes, payload: bytes, base: dict, frame: int,
                ts_ns: int) -> None:  # fmt: skip
        secured = self.policy not in (None, SECURITY_POLICY_NONE)
        if secured and (mt == b"OPN" or self.mode == "sign_and_encrypt"):
            self._opaque(d, mt, base, ts_ns)
            return
        try:
            sid, at = wire.service_id(payload, 0)
        except Malformed:
            if secured:
                self._opaque(d, mt, base, ts_ns, learn=True)
            else:
                self._emit(d, ts_ns, "unknown_service", "other", None, base, ["malformed_body"])
            return
        service = SERVICES.get(sid) if sid is not None else None
        if secured and self.mode is None:
            # Sign or SignAndEncrypt: the OPN request that says which was encrypted. A body that
            # starts with a service id the sender may send is signed plaintext.
            if service is None or service.request != (d == self.client or self.client is None):
                self._opaque(d, mt, base, ts_ns, learn=True)
                return
            self.mode = "sign"
        self._service(d, sid, service, payload, at, self._security(base), frame, ts_ns)

    def _opaque(self, d: int, mt: bytes, base: dict, ts_ns: int, learn: bool = False) -> None:
        """A message whose body is encrypted: only its headers are reported."""
        if learn:
            self.mode = "sign_and_encrypt"
        f = self._security(base)
        f["encrypted"] = True
        role = "request" if d == self.client else "response" if self.client is not None else None
        if mt == b"CLO":
            role = "request"
        action = {b"OPN": "open_secure_channel", b"CLO": "close_secure_channel"}.get(mt,
                                                                                    "encrypted_message")  # fmt: skip
        self._emit(d, ts_ns, action, "session" if mt != b"MSG" else "other", role, f)  # type: ignore[arg-type]

    def _service(self, d: int, sid: int | None, service: Any, payload: bytes, at: int, f: dict,
                 frame: int, ts_ns: int) -> None:  # fmt: skip
        anomalies: list[str] | None = None
        f["service_id"] = sid
        if service is None:
            f["service"] = f"unknown-{sid}" if sid is not None else "unknown"
            anomalies = ["unknown_service"]
            is_request = d == self.client if self.client is not None else None
        else:
            f["service"] = service.name
            is_request = service.request
            if self.client is None or (sid == OPN_REQUEST and self.client != d):
                self.client = d if is_request else 1 - d
            try:
                f.update(wire.service_body(sid, is_request, payload, at))  # type: ignore[arg-type]
            except Malformed:
                anomalies = ["malformed_body"]
            if sid in _CHECKED:
                anomalies = self._check(sid, f, anomalies)
        name, op = _META.get(sid) or emit.service_meta(sid)  # type: ignore[arg-type]
        role: Any = None if is_request is None else "request" if is_request else "response"
        duration = values = None
        if f["message_type"] == "CLO":
            role = "request"
        elif is_request:
            ops = {k: f[k] for k in _OPERATIONS if k in f} if sid in _JOINED_REQUESTS else None
            if sid != SERVICE_FAULT and self.pending.add(f["request_id"], (frame, ts_ns, sid or 0, ops)):
                self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests "
                              "outstanding; the oldest are dropped")  # fmt: skip
            if sid == 673 and "nodes" in f:
                values = emit.write_values(f["nodes"])
        elif is_request is False:
            pend = self.pending.pop(f["request_id"], None)
            if pend is None:
                anomalies = [*(anomalies or ()), self._unmatched()]
            else:
                self.requests_lost = False
                req_frame, req_ts, req_sid, req = pend
                duration = ts_ns - req_ts
                f["request_frame"] = req_frame
                if sid == SERVICE_FAULT:
                    name, op = emit.service_meta(req_sid)
                    f["service"] = "service_fault"
                elif RESPONSE_OF.get(req_sid) != sid:
                    anomalies = [*(anomalies or ()), "service_mismatch"]
                elif req:
                    _join(sid, f, req)  # type: ignore[arg-type]
        if sid == SERVICE_FAULT and f.get("status_code") is not None:
            f["status"] = status_name(f["status_code"])
        servers = emit.servers(f) if sid in (GET_ENDPOINTS_RESPONSE, CREATE_SESSION_RESPONSE) else ()
        fields = emit.convert(f)
        if servers:
            fields["applications"] = servers
        out = self.out
        out.append(self.emitter.message(d, ts_ns, name, op, role, fields, anomalies, duration,
                                        values))  # fmt: skip
        if servers:
            server = self.flow.src(d)
            for app in servers:
                out.append(emit.identity(server, ts_ns, app, name))

    def _check(self, sid: int, f: dict, anomalies: list[str] | None) -> list[str] | None:
        """Anomalies of session and channel set-up: credentials in the clear, a security mode
        that the channel's policy cannot provide."""
        found = list(anomalies or ())
        if sid == ACTIVATE_SESSION_REQUEST and f.get("identity_token") == "username" and \
                (self.policy in (None, SECURITY_POLICY_NONE) or self.mode == "sign"):
            found.append("username_token_unencrypted_channel")
            if not f.get("token_encryption"):
                found.append("cleartext_password")
        if sid == OPN_REQUEST and f.get("security_mode") not in (None, "none") and \
                self.policy == SECURITY_POLICY_NONE:
            found.append("security_mode_without_policy")
        return found or None

    def _emit(self, d: int, ts_ns: int, action: str, op: str, role: Any, f: dict,
              anomalies: list[str] | None = None) -> None:  # fmt: skip
        self.out.append(self.emitter.message(d, ts_ns, action, op, role, emit.convert(f),
                                             anomalies))  # fmt: skip

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        self.next_expiry = ts_ns + 10**9
        # Publish is a long poll: waiting for its answer is normal
        reported = [(rid, p) for rid, p in self.pending.expire(ts_ns, older_than_ns,
                                                                self.responses_lost_at)
                    if p[2] != PUBLISH]  # fmt: skip
        if not reported or self.client is None:
            return
        rid, (_, first, sid, _) = reported[0]
        self._anomaly(self.client, first, "unanswered_request",
                      f"{len(reported)} request(s) never answered; first: request id {rid} "
                      f"{emit.service_meta(sid)[0]}")  # fmt: skip


# Joined operation lists by the identities of the request's and the response's lists (both from
# the parse cache while polling repeats them; kept here, so an id is not reused while it is a key):
# the same list comes back, and its conversion to schema nodes is memoised in turn.
_JOINS: dict[tuple[int, int], tuple[list, list, list]] = {}


def _join(sid: int, f: dict, req: dict) -> None:
    """A response's per-operation results joined to its request's operations, in order."""
    key = _JOINED.get(sid)
    if key is None:
        return
    ops = req.get(key)
    if not ops:
        return
    results = sid in (676, 497, 503, 509)
    got = f.get("results") or [] if results else f.get(key)
    if got is None or len(got) != len(ops):
        return
    hit = _JOINS.get((id(ops), id(got)))
    if hit is not None and hit[0] is ops and hit[1] is got:
        joined = hit[2]
    elif results:
        joined = [{**op, "status_code": code} for op, code in zip(ops, got)]
    else:
        keep = ("node_id", "attribute_id", "attribute", "index_range") if key == "nodes" else \
            ("object_id", "method_id")  # fmt: skip
        joined = [{**{k: op[k] for k in keep if k in op}, **{k: v for k, v in r.items()
                                                              if v is not None}}
                  for op, r in zip(ops, got)]  # fmt: skip
    if hit is None:
        if len(_JOINS) >= 4096:
            _JOINS.clear()
        _JOINS[(id(ops), id(got))] = (ops, got, joined)
    if results:
        f["nodes"] = joined
        del f["results"]  # now on the nodes
    else:
        f[key] = joined
