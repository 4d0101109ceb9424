"""Per-flow Modbus/TCP state: framing, client/server roles, request/response pairing, anomalies.

All state lives on the session and dies with the flow. Pending requests are bounded (`flooded`
when exceeded); unanswered ones are reported once they age out or the flow ends.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .._contract import Malformed, NeedMoreData
from .._pending import Pending, StreamLosses
from . import emit
from .constants import FUNCTIONS, MAX_ADU, function_name
from .probe import DEFAULT_PORTS, header_plausible
from .wire import MBAP, Adu, Pdu, parse_adu, parse_pdu, plausible

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 500  # as Suricata's request flood limit
# Once a flow is Modbus, an ADU longer than the specification's 260 bytes is decoded (and flagged),
# as Wireshark does: vendors overstep the limit. Recognition and resynchronisation stay strict.
MAX_LENGTH = 0xFFFF
UNANSWERED_NS = 30 * 10**9
STORM_COUNT, STORM_NS = 20, 10 * 10**9  # exceptions within a window that make a storm


class ModbusSession(StreamLosses):
    NAME = "Modbus"
    RESYNC = "the next Modbus header"

    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator
        self.confirmed = False  # a response has matched a request: the roles are certain
        self.requests_lost = False  # a gap in the client's stream since the last paired response
        self.responses_lost_at = -1  # time of the last gap in the server's stream
        # On the Modbus port any function code counts when resynchronising (as in recognition).
        self.any_function = not DEFAULT_PORTS.isdisjoint(flow.ports)
        self.buf = [b"", b""]
        self.datagrams = flow.transport == "udp"
        self.resync = [False, False]
        # tid → frame, ts, fc, request
        self.pending: Pending[int, tuple[int, int, int, Pdu]] = Pending(MAX_PENDING)
        self.exceptions: deque[int] = deque(maxlen=STORM_COUNT)
        self.storm_quiet_until = 0
        self.next_expiry = 0

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        if self.datagrams:
            self._datagram(d, data, frame, ts_ns)
            return
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        if self.resync[d]:
            pos = self._find_header(buf, 0)
            if pos < 0:
                self.buf[d] = b""
                return
            self.resync[d] = False
        while pos < end:
            try:
                adu, n = parse_adu(buf, pos, MAX_LENGTH)
            except NeedMoreData:
                break
            except Malformed as e:
                self._anomaly(d, ts_ns, "framing_lost", f"Modbus framing lost ({e}); "
                              "resynchronising")  # fmt: skip
                pos = self._find_header(buf, pos + 1)
                if pos < 0:
                    pos = end
                continue
            pos += n
            self._message(d, adu, frame, ts_ns)
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def _datagram(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        """Modbus/UDP: each datagram holds whole ADUs; nothing carries over to the next one."""
        pos = 0
        while pos < len(data):
            try:
                adu, n = parse_adu(data, pos, MAX_LENGTH)
            except NeedMoreData:  # the datagram ends inside the ADU it announces
                self._truncated(d, data[pos:], frame, ts_ns)
                return
            except Malformed as e:
                self._anomaly(d, ts_ns, "framing_lost", f"Modbus/UDP datagram: {e}")
                return
            pos += n
            self._message(d, adu, frame, ts_ns)

    def _find_header(self, buf: bytes, start: int) -> int:
        for i in range(start, len(buf) - 7):
            if header_plausible(buf, i, self.any_function):
                return i
        return -1

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        partial, self.buf[d], self.resync[d] = self.buf[d], b"", True
        if gap.cause == "late":  # a late segment is being fitted in: nothing more was lost
            return
        if gap.cause == "snaplen":  # the capture cut the segment short
            self._truncated(d, partial, frame, ts_ns)
            return
        self._stream_gap(d, gap, ts_ns)

    def _truncated(self, d: int, partial: bytes, frame: int, ts_ns: int) -> None:
        """A message cut short whose MBAP header survived is still reported (as Wireshark does),
        its PDU as far as it goes."""
        if len(partial) >= 8 and partial[2:4] == b"\0\0":
            tid, _, _, unit, fc = MBAP.unpack_from(partial)
            self._message(d, (tid, unit, fc, partial[8:]), frame, ts_ns, truncated=True)

    # -- messages --------------------------------------------------------------------------
    def _role(self, d: int, adu: Adu) -> bool:
        """Whether direction d is the client. Learned once per flow, from semantics first:
        the handshake, then which layout the first message fits; ports only break a tie."""
        if self.client is None:
            _, _, fc, data = adu
            as_req, as_resp = plausible(fc, data, True), plausible(fc, data, False)
            if as_req != as_resp:
                self.client = d if as_req else 1 - d
            else:
                src, dst = self.flow.src(d).port or 0, self.flow.dst(d).port or 0
                if dst in DEFAULT_PORTS or src in DEFAULT_PORTS:
                    self.client = d if dst in DEFAULT_PORTS else 1 - d
                else:  # servers listen on the lower, well-known side
                    self.client = d if dst < src else 1 - d
        return d == self.client

    def _message(self, d: int, adu: Adu, frame: int, ts_ns: int, truncated: bool = False) -> None:
        is_request = d == self.client if self.client is not None else self._role(d, adu)
        tid, _, raw_fc, data = adu
        if is_request and raw_fc & 0x80 and not self.confirmed:
            # Only servers send exception responses: whoever opened the connection, d is the
            # server (seen with servers that connect out, and with forged handshakes).
            self.client, is_request = 1 - d, False
        fc = raw_fc & 0x7F
        anomalies: list[str] | None = None
        if truncated:
            pdu, anomalies = Pdu(data=data), ["truncated"]
        else:
            try:
                pdu = parse_pdu(raw_fc, data, is_request)
            except Malformed:
                pdu, anomalies = Pdu(data=data), ["length_mismatch"]
            if len(data) > MAX_ADU - 8:
                anomalies = [*(anomalies or ()), "oversized_adu"]
        if fc not in FUNCTIONS:
            anomalies = [*(anomalies or ()), "unknown_function"]
        request = None
        if is_request:
            if raw_fc & 0x80:
                anomalies = [*(anomalies or ()), "exception_bit_in_request"]
            self._remember(d, tid, fc, pdu, frame, ts_ns)
        else:
            pend = self.pending.pop(tid, None)
            if pend is None:
                lost = self._unmatched()
                anomalies = [*(anomalies or ()), lost]
            else:
                self.requests_lost = False
                if pend[2] != fc:
                    anomalies = [*(anomalies or ()), "function_mismatch"]
                request = pend
                self.confirmed = True
            if "exception_code" in pdu:
                self._count_exception(d, ts_ns)
        out = self.out
        out.append(self.emitter.message(d, adu, pdu, is_request, ts_ns, request, anomalies))
        if "objects" in pdu and not is_request:
            out.append(emit.identity(self.flow.src(d), ts_ns, pdu["objects"]))

    def _remember(self, d: int, tid: int, fc: int, pdu: Pdu, frame: int, ts_ns: int) -> None:
        if self.pending.add(tid, (frame, ts_ns, fc, pdu)):  # a reused key replaces the older request
            self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests outstanding; "
                          "the oldest are dropped")  # fmt: skip

    def _count_exception(self, d: int, ts_ns: int) -> None:
        ex = self.exceptions
        ex.append(ts_ns)
        if len(ex) == STORM_COUNT and ts_ns - ex[0] <= STORM_NS and ts_ns >= self.storm_quiet_until:
            self.storm_quiet_until = ts_ns + STORM_NS
            self._anomaly(d, ts_ns, "exception_storm", f"{STORM_COUNT} exception responses "
                          f"within {(ts_ns - ex[0]) / 1e9:.1f} s")  # fmt: skip

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        """Report requests with no answer after `older_than_ns` (all of them when negative)."""
        self.next_expiry = ts_ns + 10**9
        stale = self.pending.expire(ts_ns, older_than_ns, self.responses_lost_at)
        if not stale or self.client is None:
            return
        tid, (_, first, fc, _) = stale[0]
        self._anomaly(self.client, first, "unanswered_request",
                      f"{len(stale)} request(s) never answered; first: transaction {tid} "
                      f"{function_name(fc)}")  # fmt: skip
