"""Per-flow Modbus/TCP state: framing, client/server roles, request/response pairing, anomalies.

All state lives on the session and dies with the flow. Pending requests are bounded (`flooded`
when exceeded); unanswered ones are reported once they age out or the flow ends.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .._contract import Malformed, NeedMoreData
from . import emit
from .constants import FUNCTIONS, function_name
from .probe import DEFAULT_PORTS, header_plausible
from .wire import Adu, Pdu, parse_adu, parse_pdu, plausible

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...schema import Event

MAX_PENDING = 500  # as Suricata's request flood limit
UNANSWERED_NS = 30 * 10**9
STORM_COUNT, STORM_NS = 20, 10 * 10**9  # exceptions within a window that make a storm


class ModbusSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.net = emit.network(flow)
        self.client: int | None = flow.initiator
        self.buf = [b"", b""]
        self.resync = [False, False]
        self.pending: dict[int, tuple[int, int, int, Pdu]] = {}  # tid → frame, ts, fc, request
        self.flooded = False
        self.exceptions: deque[int] = deque(maxlen=STORM_COUNT)
        self.storm_quiet_until = 0
        self.next_expiry = 0
        self.frame = 0

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        self.frame = frame
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
                adu, n = parse_adu(buf, pos)
            except NeedMoreData:
                break
            except Malformed as e:
                self.out.append(emit.anomaly(self.flow, self.net, d, ts_ns, "framing_lost",
                                             f"Modbus framing lost ({e}); resynchronising"))  # fmt: skip
                pos = self._find_header(buf, pos + 1)
                if pos < 0:
                    pos = end
                continue
            pos += n
            self._message(d, adu, frame, ts_ns)
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def _find_header(self, buf: bytes, start: int) -> int:
        for i in range(start, len(buf) - 7):
            if header_plausible(buf, i):
                return i
        return -1

    def gap(self, d: int, missing: int, frame: int, ts_ns: int) -> None:
        self.buf[d], self.resync[d] = b"", True
        if d != self.client:  # responses may be in the hole: their requests are not "unanswered"
            self.pending.clear()
        self.out.append(emit.anomaly(self.flow, self.net, d, ts_ns, "capture_gap",
                                     f"{missing} bytes missing from the capture; "
                                     "resynchronising on the next Modbus header"))  # fmt: skip

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        self._expire(ts_ns, -1)

    # -- messages --------------------------------------------------------------------------
    def _role(self, d: int, adu: Adu) -> bool:
        """Whether direction d is the client. Learned once per flow, from semantics first."""
        if self.client is None:
            as_req = plausible(adu.function_code, adu.data, True)
            as_resp = plausible(adu.function_code, adu.data, False)
            if as_req != as_resp:
                self.client = d if as_req else 1 - d
            elif adu.transaction_id in self.pending:  # cannot happen before roles are known
                self.client = 1 - d
            else:  # ambiguous layout: fall back to the configured server ports, then to the lower
                src, dst = self.flow.src(d).port or 0, self.flow.dst(d).port or 0
                if dst in DEFAULT_PORTS or src in DEFAULT_PORTS:
                    self.client = d if dst in DEFAULT_PORTS else 1 - d
                else:
                    self.client = d if dst < src else 1 - d
        return d == self.client

    def _message(self, d: int, adu: Adu, frame: int, ts_ns: int) -> None:
        is_request = self._role(d, adu)
        anomalies: list[str] = []
        fc = adu.function_code & 0x7F
        try:
            pdu = parse_pdu(adu.function_code, adu.data, is_request)
        except Malformed:
            pdu, anomalies = Pdu(data=adu.data), ["length_mismatch"]
        if fc not in FUNCTIONS:
            anomalies.append("unknown_function")
        request = None
        if is_request:
            if adu.function_code & 0x80:
                anomalies.append("exception_bit_in_request")
            self._remember(d, adu, pdu, frame, ts_ns)
        else:
            pend = self.pending.pop(adu.transaction_id, None)
            if pend is None:
                anomalies.append("response_without_request")
            else:
                req_frame, req_ts, req_fc, req = pend
                if req_fc != fc:
                    anomalies.append("function_mismatch")
                request = (req_frame, req_ts, req)
            if pdu.exception_code is not None:
                self._count_exception(d, ts_ns)
        self.out.append(emit.message(self.flow, self.net, d, adu, pdu, is_request, ts_ns,
                                     request=request, anomalies=anomalies))  # fmt: skip
        if fc == 43 and pdu.objects and not is_request:
            obs = emit.identity(self.flow.src(d), ts_ns, pdu.objects)
            if obs is not None:
                self.out.append(obs)

    def _remember(self, d: int, adu: Adu, pdu: Pdu, frame: int, ts_ns: int) -> None:
        pending = self.pending
        pending.pop(adu.transaction_id, None)  # a reused id replaces the older request
        if len(pending) >= MAX_PENDING:
            if not self.flooded:
                self.flooded = True
                self.out.append(emit.anomaly(self.flow, self.net, d, ts_ns, "flooded",
                                             f"more than {MAX_PENDING} requests outstanding; "
                                             "oldest are dropped"))  # fmt: skip
            del pending[next(iter(pending))]
        else:
            self.flooded = False
        pending[adu.transaction_id] = (frame, ts_ns, adu.function_code & 0x7F, pdu)

    def _count_exception(self, d: int, ts_ns: int) -> None:
        ex = self.exceptions
        ex.append(ts_ns)
        if len(ex) == STORM_COUNT and ts_ns - ex[0] <= STORM_NS and ts_ns >= self.storm_quiet_until:
            self.storm_quiet_until = ts_ns + STORM_NS
            self.out.append(emit.anomaly(self.flow, self.net, d, ts_ns, "exception_storm",
                                         f"{STORM_COUNT} exception responses within "
                                         f"{(ts_ns - ex[0]) / 1e9:.1f} s"))  # fmt: skip

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        """Report requests with no answer after `older_than_ns` (all of them when negative)."""
        self.next_expiry = ts_ns + 10**9
        stale = [(tid, p) for tid, p in self.pending.items() if ts_ns - p[1] > older_than_ns]
        if not stale or self.client is None:
            return
        for tid, _ in stale:
            del self.pending[tid]
        tid, (frame, _, fc, _) = stale[0]
        self.out.append(emit.anomaly(
            self.flow, self.net, self.client, ts_ns, "unanswered_request",
            f"{len(stale)} request(s) never answered; first: transaction {tid} "
            f"{function_name(fc)} in frame {frame}"))  # fmt: skip
