"""Per-flow EtherNet/IP state: framing, roles, request/response pairing, CIP service context,
class 0/1 I/O counting, anomalies.

All flow state lives on the session and dies with the flow. Pending requests and I/O connections
are bounded; unanswered requests are reported once they age out or the flow ends. The only state
shared by flows is the bounded cache of analysed CIP messages (a pure function of their bytes
and their request's).
"""

from __future__ import annotations

from struct import Struct
from struct import error as StructError
from typing import TYPE_CHECKING, Any, NamedTuple

from msgspec.structs import replace

from ...schema import OtAction
from ...schema.events import Cip as CipStruct
from ...schema.events import EnipIo
from ...schema.time import rfc3339
from .._contract import Malformed, NeedMoreData
from .._pending import Pending
from . import emit
from .constants import (
    CLASS_CONNECTION_MANAGER,
    CLASS_IDENTITY,
    COMMANDS,
    DEFAULT_PORTS,
    FORWARD_OPEN,
    ITEM_CONNECTED_ADDRESS,
    ITEM_CONNECTED_DATA,
    ITEM_LIST_IDENTITY,
    ITEM_SEQUENCED_ADDRESS,
    ITEM_UNCONNECTED_DATA,
    LARGE_FORWARD_OPEN,
    LIST_IDENTITY,
    LIST_INTERFACES,
    LIST_SERVICES,
    MAX_LENGTH,
    PCCC_FUNCTIONS,
    REGISTER_SESSION,
    SEND_RR_DATA,
    SEND_UNIT_DATA,
    UNCONNECTED_SEND,
    command_name,
)
from .probe import header_plausible, io_items
from .wire import (
    ENCAP,
    Cip,
    Encap,
    forward_open_reply,
    identity,
    list_identity,
    parse_cip,
    parse_cpf,
    parse_encap,
    pccc_reply,
    service_info,
    tag_reply,
)

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 500
MAX_IO_CONNECTIONS = 256
UNANSWERED_NS = 30 * 10**9
IO_SUMMARY_NS = 60 * 10**9  # an I/O connection is summarised once a minute (and at the end)
# Analysed CIP messages kept (shared by every flow of the process: a plant polls many devices
# with the same requests), and the largest message kept.
MAX_VIEWS, MAX_CACHED_BYTES = 4096, 512
_NO_REPLY = frozenset((0x0000, 0x0066))  # NOP and UnRegisterSession are never answered
_SESSION_BOUND = frozenset((SEND_RR_DATA, SEND_UNIT_DATA, 0x0066))  # need a registered session
_DISCOVERY = frozenset((LIST_IDENTITY, LIST_SERVICES, LIST_INTERFACES))
_BORROWED = ("class_id", "instance_id", "attribute_id", "symbol")
_U32_2 = Struct("<II")
_U32 = Struct("<I")
_U16 = Struct("<H")
# The usual CPF layouts, recognised without the general parser: interface handle 0 and timeout
# are skipped; SendUnitData: 2 items, connected address (4) + connected data; SendRRData: 2 items,
# null address (0) + unconnected data.
_CONNECTED_HEAD = bytes.fromhex("0200" "a100" "0400")
_CONNECTED = Struct("<IHHH")  # connection id, data item type, its length, sequence count
_UNCONNECTED_HEAD = bytes.fromhex("0200" "0000" "0000" "b200")
_CONNECTED_ITEMS = [ITEM_CONNECTED_ADDRESS, ITEM_CONNECTED_DATA]  # shared: events are read-only
_UNCONNECTED_ITEMS = [0x0000, ITEM_UNCONNECTED_DATA]


# (CIP message key, its request's key) → view. A message's key is its bytes; for Execute PCCC
# with the PCCC transaction number zeroed (it changes with every message and explains nothing
# else: a hit gets its own number patched in).
_VIEWS: dict[tuple[bytes, bytes | None], View] = {}


class View(NamedTuple):
    """One CIP message analysed in its request's context."""

    cip: Cip  # wire fields plus private keys (a pending request keeps it for its reply); shared
    # by the Execute PCCC messages of one cache entry: its pccc_transaction is the first one's
    struct: CipStruct  # ot.cip
    action: str  # event.action
    ot_action: OtAction
    anomalies: tuple[str, ...]
    identity: dict[str, Any] | None  # identity Get_Attributes_All reply
    key: bytes  # what the analysis depends on (the cache key)
    tns_at: int  # offset of the PCCC transaction number in the message, or -1


def _flatten(msg: Cip, req: Cip | None, depth: int, out: list[tuple[Cip, int]]) -> None:
    """Nested services depth first (Wireshark's order of cip.sc), each named in its context."""
    reqs = req.get("_nested") if req is not None else None
    for i, n in enumerate(msg.get("_nested") or ()):
        r = reqs[i] if reqs is not None and i < len(reqs) else None
        _name(n, r)
        n["_req"] = r
        out.append((n, depth))
        _flatten(n, r, depth + 1, out)


def _name(msg: Cip, req: Cip | None) -> None:
    """Name the service in the context of the object its request addressed; a response borrows
    the request's path (it states none)."""
    ctx = msg
    if req is not None:
        ctx = req
        for k in _BORROWED:
            if k in req and k not in msg:
                msg[k] = req[k]
    msg["_name"], msg["_operation"] = service_info(msg["service"], ctx.get("class_id"),
                                                   "symbol" in ctx)  # fmt: skip
    if "pccc_command" in ctx:  # Execute PCCC: the PCCC command says what it does
        key = (ctx["pccc_command"], ctx.get("pccc_function"))
        msg["pccc_command"] = ctx["pccc_command"]
        if key[1] is not None:
            msg["pccc_function"] = key[1]
        pccc = PCCC_FUNCTIONS.get(key)  # type: ignore[arg-type]
        msg["pccc_function_name"] = pccc[0] if pccc else f"unknown-{key[0]}-{key[1]}"
        if pccc:
            msg["_operation"] = pccc[1]


def _reply_body(cip: Cip, req: Cip | None) -> bool:
    """Decode a successful reply's data that only its request explains (Forward Open reply,
    Logix tag values, identity attributes); False when the data does not fit."""
    if req is None or cip.get("status") or "data" not in cip:
        return True
    body, sc, cls = cip["data"], cip["service"], req.get("class_id")
    try:
        if cls == CLASS_CONNECTION_MANAGER and sc in (FORWARD_OPEN, LARGE_FORWARD_OPEN):
            forward_open_reply(body, cip)
            del cip["data"]
        elif sc in (0x4C, 0x52) and cip["_name"] in ("read_tag", "read_tag_fragmented"):
            del cip["data"]
            tag_reply(body, cip)
        elif sc == 0x01 and cls == CLASS_IDENTITY and req.get("instance_id") == 1:
            cip["_identity"] = identity(body)
        elif sc == 0x4B and "pccc_command" in req:
            pccc_reply(body, cip)
    except (Malformed, StructError, IndexError):
        cip["data"] = body
        return False
    return True


def _pccc_tns_at(raw: bytes) -> int:
    """Where an Execute PCCC request's or reply's transaction number would be (after the
    path or additional status, the requestor id, command and status), or -1."""
    if len(raw) < 4:
        return -1
    at = 4 + 2 * raw[3] if raw[0] & 0x80 else 2 + 2 * raw[1]
    if at + 8 > len(raw):
        return -1
    at += raw[at] + 2
    return at if at + 2 <= len(raw) else -1


_new_view = tuple.__new__


class EnipSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator
        self.datagrams = flow.transport == "udp"
        self.buf = [b"", b""]
        self.resync = [False, False]
        self.requests_lost = False
        # key → frame, ts, request
        self.pending: Pending[tuple, tuple[int, int, View | None]] = Pending(MAX_PENDING)
        self.next_expiry = 0
        self.io: dict[tuple[int, int], list[Any]] = {}
        self.io_flooded = False
        self.session: int | None = None  # handle the target granted in RegisterSession

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        if self.datagrams:
            self._datagram(d, data, frame, ts_ns)
            return
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        unpack_header = ENCAP.unpack_from
        if self.resync[d]:
            pos = self._find_header(buf, 0)
            if pos < 0:
                self.buf[d] = buf[-(23):] if len(buf) > 23 else buf
                return
            self.resync[d] = False
        while pos < end:
            if end - pos < 24:
                break  # judged when the header is complete
            # parse_encap, inlined: this loop runs once per message
            cmd, length, session, status, context, options = unpack_header(buf, pos)
            if cmd > 0xFF:  # commands are below 0x100
                self._anomaly(d, ts_ns, "framing_lost", "EtherNet/IP framing lost (command "
                              "beyond 0xff); resynchronising")  # fmt: skip
                pos = self._find_header(buf, pos + 1)
                if pos < 0:
                    self.buf[d], self.resync[d] = buf[-23:], True
                    return
                continue
            if length > MAX_LENGTH:
                self._anomaly(d, ts_ns, "framing_lost", f"EtherNet/IP framing lost "
                              f"(encapsulation length {length} beyond {MAX_LENGTH}); "
                              "resynchronising")  # fmt: skip
                pos = self._find_header(buf, pos + 1)
                if pos < 0:
                    self.buf[d], self.resync[d] = buf[-23:], True
                    return
                continue
            stop = pos + 24 + length
            if stop > end:
                break
            self._message(d, (cmd, session, status, context, options, buf[pos + 24 : stop]),
                          frame, ts_ns)  # fmt: skip
            pos = stop
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def _find_header(self, buf: bytes, start: int) -> int:
        for i in range(start, len(buf) - 23):
            if header_plausible(buf, i) and buf[i]:  # a NOP of zero bytes is no anchor
                return i
        return -1

    def _datagram(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        items = io_items(data)
        if items is not None:
            self._io(d, items, len(data), frame, ts_ns)
            return
        pos = 0
        while pos < len(data):
            if not header_plausible(data, pos, True):
                self._anomaly(d, ts_ns, "framing_lost", "UDP datagram is neither an encapsulation "
                              "message nor implicit I/O")  # fmt: skip
                return
            try:
                encap, n = parse_encap(data, pos, MAX_LENGTH)
            except NeedMoreData:  # the datagram ends inside the message it announces
                self._truncated(d, data[pos:], frame, ts_ns)
                return
            pos += n
            self._message(d, encap, frame, ts_ns)
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        partial, self.buf[d], self.resync[d] = self.buf[d], b"", True
        if gap.cause == "late":
            return
        if gap.cause == "snaplen":
            self._truncated(d, partial, frame, ts_ns)
            return
        if d == self.client:
            self.requests_lost = True
        self._anomaly(d, ts_ns, "stream_gap", f"{gap.missing} bytes not seen (lost or out of "
                      "order); resynchronising on the next encapsulation header")  # fmt: skip

    def _truncated(self, d: int, partial: bytes, frame: int, ts_ns: int) -> None:
        """A message cut short whose header survived is still reported, header fields only."""
        if len(partial) >= 24 and header_plausible(partial, 0, True):
            cmd, _, session, status, context, options = ENCAP.unpack_from(partial)
            self._message(d, (cmd, session, status, context, options, partial[24:]), frame,
                          ts_ns, truncated=True)  # fmt: skip

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        if reason == "evicted":
            self._anomaly(self.client or 0, ts_ns, "flow_evicted", "the flow table was full: "
                          "this flow was evicted and its EtherNet/IP state dropped")  # fmt: skip
        for key in list(self.io):
            self._io_summary(key, ts_ns)
        self.io.clear()
        self._expire(ts_ns, -1)

    # -- class 0/1 I/O -----------------------------------------------------------------------
    def _io(self, d: int, items: list[tuple[int, bytes]], size: int, frame: int,
            ts_ns: int) -> None:  # fmt: skip
        conn = seq = None
        tid, addr = items[0]
        if tid == ITEM_SEQUENCED_ADDRESS and len(addr) == 8:
            conn, seq = _U32_2.unpack(addr)
        elif tid == ITEM_CONNECTED_ADDRESS and len(addr) == 4:
            conn = _U32.unpack(addr)[0]
        key = (d, conn if conn is not None else -1)
        st = self.io.get(key)
        if st is None:
            if len(self.io) >= MAX_IO_CONNECTIONS:
                if not self.io_flooded:
                    self.io_flooded = True
                    self._anomaly(d, ts_ns, "io_connections_flooded", f"more than "
                                  f"{MAX_IO_CONNECTIONS} I/O connections in one flow; the "
                                  "others are not counted")  # fmt: skip
                return
            # packets, bytes, first frame, last frame, first ts, last ts, first seq, last seq,
            # gaps, lost, out of order
            st = self.io[key] = [0, 0, frame, frame, ts_ns, ts_ns, seq, seq, 0, 0, 0]
        elif seq is not None and st[7] is not None:
            delta = (seq - st[7]) & 0xFFFFFFFF
            if delta == 0 or delta >= 0x80000000:
                st[10] += 1
                seq = st[7]  # keep the newest sequence
            elif delta > 1:
                st[8] += 1
                st[9] += delta - 1
        st[0] += 1
        st[1] += size
        st[3], st[5] = frame, ts_ns
        if seq is not None:
            st[7] = seq
        if ts_ns - st[4] >= IO_SUMMARY_NS:
            self._io_summary(key, ts_ns)
            del self.io[key]

    def _io_summary(self, key: tuple[int, int], ts_ns: int) -> None:
        st = self.io[key]
        d, conn = key
        io = EnipIo(connection_id=max(conn, 0), packets=st[0], bytes=st[1], first_frame=st[2],
                    last_frame=st[3], first_seen=rfc3339(st[4]), last_seen=rfc3339(st[5]),
                    first_sequence=st[6], last_sequence=st[7], sequence_gaps=st[8],
                    sequence_lost=st[9], out_of_order=st[10])  # fmt: skip
        self.out.append(self.emitter.io_summary(d, ts_ns, io))

    # -- messages --------------------------------------------------------------------------
    def _is_request(self, d: int, cmd: int, data: bytes, raw: bytes | None) -> bool:
        if raw is not None:  # the CIP request/response bit is the protocol's own word
            is_request = not raw[0] & 0x80
            if self.client is None:
                self.client = d if is_request else 1 - d
            return is_request
        if self.client is not None:
            return d == self.client
        if cmd in _DISCOVERY:  # requests carry no data, replies a CPF
            is_request = not data
        else:
            src, dst = self.flow.src(d).port or 0, self.flow.dst(d).port or 0
            if dst in DEFAULT_PORTS or src in DEFAULT_PORTS:
                is_request = dst in DEFAULT_PORTS
            else:
                is_request = dst < src
        if not self.datagrams:
            self.client = d if is_request else 1 - d
        return is_request

    def _message(self, d: int, encap: Encap, frame: int, ts_ns: int,
                 truncated: bool = False) -> None:  # fmt: skip
        cmd, session, status, context, options, data = encap
        anomalies: list[str] = []
        raw: bytes | None = None  # the CIP message
        items = conn = seq = version = identities = None
        if truncated:
            anomalies.append("truncated")
        elif cmd == SEND_UNIT_DATA and data.startswith(_CONNECTED_HEAD, 6) and len(data) >= 22:
            # the common layout
            conn, tid, n, seq = _CONNECTED.unpack_from(data, 12)
            if tid == ITEM_CONNECTED_DATA and n == len(data) - 20 and n >= 4:
                items, raw = _CONNECTED_ITEMS, data[22:]
            else:
                conn = seq = None
        elif cmd == SEND_RR_DATA and data.startswith(_UNCONNECTED_HEAD, 6) and len(data) >= 16:
            if _U16.unpack_from(data, 14)[0] == len(data) - 16 >= 2:
                items, raw = _UNCONNECTED_ITEMS, data[16:]
        if items is None and not truncated:
            if cmd not in COMMANDS:
                anomalies.append("unknown_command")
            try:
                if cmd in (SEND_RR_DATA, SEND_UNIT_DATA) and data:
                    if len(data) < 6:
                        raise Malformed("interface handle and timeout truncated")
                    cpf = parse_cpf(data, 6)
                    items = [t for t, _ in cpf]
                    for tid, body in cpf:
                        if tid == ITEM_CONNECTED_ADDRESS and len(body) == 4:
                            conn = _U32.unpack(body)[0]
                        elif tid == ITEM_SEQUENCED_ADDRESS and len(body) == 8:
                            conn, seq = _U32_2.unpack(body)
                        elif tid == ITEM_CONNECTED_DATA and len(body) >= 2 and raw is None:
                            seq = _U16.unpack_from(body)[0]
                            raw = body[2:]
                        elif tid == ITEM_UNCONNECTED_DATA and raw is None:
                            raw = body
                    if raw is not None and len(raw) < 2:
                        raw = None
                        raise Malformed("CIP message shorter than 2 bytes")
                elif cmd == LIST_IDENTITY and data:
                    cpf = parse_cpf(data)
                    items = [t for t, _ in cpf]
                    identities = [list_identity(b) for t, b in cpf if t == ITEM_LIST_IDENTITY]
                elif cmd in (LIST_SERVICES, LIST_INTERFACES) and data:
                    items = [t for t, _ in parse_cpf(data)]
                elif cmd == REGISTER_SESSION and len(data) >= 2:
                    version = _U16.unpack_from(data)[0]
            except Malformed:
                anomalies.append("malformed_cpf")
        if options:
            anomalies.append("nonzero_options")
        if raw is not None and self.client is not None:  # _is_request's usual case
            is_request = not raw[0] & 0x80
        else:
            is_request = self._is_request(d, cmd, data, raw)
        if cmd in _SESSION_BOUND and self.session is not None and session != self.session:
            anomalies.append("session_mismatch")
        elif cmd == REGISTER_SESSION and not is_request and status == 0:
            self.session = session
        key = (cmd, seq) if cmd == SEND_UNIT_DATA else (cmd, context)
        duration = request_frame = None
        req: View | None = None
        view: View | None = None
        if is_request:
            if raw is not None:
                view = self._view(raw, None, True)
            if cmd not in _NO_REPLY:
                self._remember(d, key, view, frame, ts_ns)
        else:
            pend = self.pending.pop(key, None)
            if pend is not None:
                self.requests_lost = False
                request_frame, duration, req = pend[0], ts_ns - pend[1], pend[2]
            elif not self.datagrams:  # discovery replies come back on other UDP flows
                anomalies.append("request_not_captured" if self.requests_lost
                                 else "response_without_request")  # fmt: skip
            if raw is not None:
                view = self._view(raw, req, False)
        if view is not None and view.anomalies:
            anomalies += view.anomalies
        out = self.out
        out.append(self.emitter.message(
            d, cmd, len(data), session, status, context, options, items, conn, seq, version,
            identities, request_frame, view, is_request, ts_ns, duration, anomalies or None))
        if identities or (view is not None and view.identity is not None):
            src = self.flow.src(d)
            for ident in identities or ():
                out.append(emit.identity(src, ts_ns, ident, "list_identity"))
            if view is not None and view.identity is not None:
                out.append(emit.identity(src, ts_ns, view.identity, "identity_attributes"))

    def _view(self, raw: bytes, req: View | None, is_request: bool) -> View:
        """The analysis of one CIP message in its request's context, cached: cyclic polling
        repeats the same bytes, and events share the (read-only) parts built from them."""
        cache = _VIEWS
        req_key = req.key if req is not None else None
        tns_at = -1
        if raw[0] & 0x7F == 0x4B:  # Execute PCCC, perhaps
            tns_at = _pccc_tns_at(raw)
        if tns_at >= 0:
            masked = raw[:tns_at] + b"\0\0" + raw[tns_at + 2 :]
            view = cache.get((masked, req_key))
            if view is not None:  # the same PCCC message: only ot.cip gets its own number
                tns = raw[tns_at] | raw[tns_at + 1] << 8
                return _new_view(View, (view.cip, replace(view.struct, pccc_transaction=tns),
                                        *view[2:]))  # fmt: skip
        view = cache.get((raw, req_key))
        if view is not None:
            return view
        cip = parse_cip(raw)
        anomalies: list[str] = ["malformed_cip"] if "_malformed" in cip else []
        self._cip_context(cip, req.cip if req is not None else None, is_request, anomalies)
        struct, action, ot_action = emit.cip_parts(cip)
        key = raw
        if tns_at >= 0 and cip.get("pccc_transaction") == _U16.unpack_from(raw, tns_at)[0]:
            key = masked  # an Execute PCCC message: cached under its masked bytes
        else:
            tns_at = -1
        view = View(cip, struct, action, ot_action, tuple(anomalies), cip.get("_identity"), key,
                    tns_at)  # fmt: skip
        if len(raw) <= MAX_CACHED_BYTES:
            if len(cache) >= MAX_VIEWS:
                cache.clear()
            cache[(key, req_key)] = view
        return view

    def _cip_context(self, cip: Cip, req: Cip | None, is_request: bool,
                     anomalies: list[str]) -> None:  # fmt: skip
        """Names, nested services and reply bodies that only the paired request explains."""
        if req is not None and req.get("class_id") == CLASS_CONNECTION_MANAGER and \
                req["service"] == UNCONNECTED_SEND and cip["service"] != UNCONNECTED_SEND:
            nested = req.get("_nested")
            req = nested[0] if nested else None  # the reply is the embedded request's
        _name(cip, req)
        flat: list[tuple[Cip, int]] = []
        _flatten(cip, req, 1, flat)
        if flat:
            cip["_flat"] = flat
        op = cip["_operation"]
        for n, _ in flat:
            op = emit.heavier(op, n["_operation"])
            if "_malformed" in n and "malformed_cip" not in anomalies:
                anomalies.append("malformed_cip")
        cip["_operation"] = op
        if is_request or req is None:
            return
        if not _reply_body(cip, req) or not all(_reply_body(n, n.get("_req")) for n, _ in flat):
            if "malformed_cip" not in anomalies:
                anomalies.append("malformed_cip")

    def _remember(self, d: int, key: tuple, view: View | None, frame: int, ts_ns: int) -> None:
        if self.pending.add(key, (frame, ts_ns, view)):  # a reused key replaces the older request
            self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests outstanding; "
                          "the oldest are dropped")  # fmt: skip

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        self.next_expiry = ts_ns + 10**9
        stale = [(k, p) for k, p in self.pending.items() if ts_ns - p[1] > older_than_ns]
        for k, _ in stale:
            del self.pending[k]
        if not stale or self.client is None or self.datagrams:
            return
        key, (_, first, _) = stale[0]
        self._anomaly(self.client, first, "unanswered_request",
                      f"{len(stale)} request(s) never answered; first: {command_name(key[0])}")  # fmt: skip

    def _anomaly(self, d: int, ts_ns: int, code: str, text: str) -> None:
        self.out.append(self.emitter.anomaly(d, ts_ns, code, text))


__all__ = ["EnipSession", "View"]
