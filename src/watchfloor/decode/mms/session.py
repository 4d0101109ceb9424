"""Per-flow MMS state: TPKT framing across segments, COTP reassembly, the OSI upper layers,
roles, request/response pairing by invoke id, Identify facts, anomalies.

All state lives on the session and dies with the flow: one partial TPKT and one partial TSDU per
direction (at most MAX_TSDU bytes), at most MAX_PENDING outstanding requests, at most
256 parsed request services (polling repeats the same read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._contract import Malformed, NeedMoreData
from .._pending import Pending
from ..cotp import CR, Reassembler, TpktSession, parse_connection, parse_tpkt
from . import emit
from .constants import (
    ANSWERS,
    CANCEL_REQUEST,
    CONFIRMED_ERROR,
    CONFIRMED_REQUEST,
    CONFIRMED_RESPONSE,
    IDENTIFY,
    REJECT,
    REQUESTS,
    RESPONSES,
    SPDU_CN,
)
from .osi import DATA_TRANSFER, NO_SESSION, Upper, data_pdu, unwrap
from .wire import Pdu, parse

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...schema import Event

MAX_PENDING = 500
MAX_TSDU = 1 << 20  # MMS messages may be long (file transfer, large reports); bounded anyway


class MmsSession(TpktSession):
    NAME = "MMS"

    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator
        self.buf = [b"", b""]
        self.resync = [False, False]
        self.segments = (Reassembler(MAX_TSDU), Reassembler(MAX_TSDU))
        self.pending: Pending[tuple[int, int], emit.Request] = Pending(MAX_PENDING)
        self.requests_lost = False
        self.responses_lost_at = -1
        self.next_expiry = 0
        self.requests: dict[bytes, tuple[int, dict, bool]] = {}  # parsed request services, by bytes

    # -- stream ----------------------------------------------------------------------------
    def preamble(self, d: int, data: bytes) -> None:
        """Payload seen before the flow was recognised: a COTP connection request tells who
        connects. No events: their frames have passed."""
        pos = 0
        while pos < len(data):
            try:
                start, stop = parse_tpkt(data, pos)
            except (NeedMoreData, Malformed):
                return
            if data[start + 1] & 0xF0 == CR and self.client is None:
                self.client = d
            pos = stop

    def _connection(self, d: int, tpdu: bytes, ts_ns: int) -> None:
        try:
            c = parse_connection(tpdu)
        except Malformed:
            self._anomaly(d, ts_ns, "malformed_cotp", "a COTP TPDU does not parse")
            return
        if c.code == CR and self.client is None:
            self.client = d

    # -- OSI upper layers and MMS -------------------------------------------------------------
    def _tsdu(self, d: int, tsdu: bytes, frame: int, ts_ns: int) -> None:
        raw = data_pdu(tsdu)
        if raw is not None:  # fast path: the usual data transfer of one MMS PDU
            try:
                pdu = parse(raw, self.requests)
            except Malformed as e:
                self._anomaly(d, ts_ns, "malformed_pdu", f"MMS PDU: {e}")
                return
            self._pdu(d, DATA_TRANSFER, pdu, frame, ts_ns)
            return
        try:
            upper = unwrap(tsdu)
        except (Malformed, IndexError) as bad:
            self._anomaly(d, ts_ns, "malformed_upper_layers", f"COTP data starting "
                          f"{tsdu[:4].hex()}: no valid ISO session/presentation/MMS ({bad})")  # fmt: skip
            return
        if upper.spdu == SPDU_CN and self.client is None:
            self.client = d
        if not upper.mms:
            if upper.acse is not None or upper.spdu not in (1, NO_SESSION):
                self.out.append(self.emitter.association(d, upper, ts_ns, None))
            return
        for raw in upper.mms:
            try:
                pdu = parse(raw, self.requests)
            except Malformed as e:
                self._anomaly(d, ts_ns, "malformed_pdu", f"MMS PDU: {e}")
                continue
            self._pdu(d, upper, pdu, frame, ts_ns)

    def _pdu(self, d: int, upper: Upper, pdu: Pdu, frame: int, ts_ns: int) -> None:
        t = pdu.type
        anomalies: list[str] | None = None
        if not pdu.complete:
            anomalies = ["missing_service" if pdu.service is None and t < 2 else "malformed_service"]
        if t in REQUESTS:
            if self.client is None:
                self.client = d
        elif t in RESPONSES and self.client is None:
            self.client = 1 - d
        request = None
        if t in ANSWERS or (t == REJECT and pdu.invoke_id is not None):
            asked = ANSWERS.get(t, CONFIRMED_REQUEST)  # a reject names the request it refuses
            key = ((1 - d) << 8 | asked, -1 if pdu.invoke_id is None or asked not in (
                CONFIRMED_REQUEST, CANCEL_REQUEST) else pdu.invoke_id)  # fmt: skip
            request = self.pending.pop(key, None)
            if request is None:
                lost = self._unmatched()
                anomalies = [*(anomalies or ()), lost]
            else:
                self.requests_lost = False
                if t == CONFIRMED_RESPONSE and pdu.service != request[2].service:
                    anomalies = [*(anomalies or ()), "service_mismatch"]
        if t == CONFIRMED_ERROR or t in (7, 10, 13):
            anomalies = [*(anomalies or ()), "error_response"]
        elif t == 4:
            anomalies = [*(anomalies or ()), "reject"]
        event = self.emitter.message(d, upper, pdu, ts_ns, request, anomalies)
        if t in REQUESTS:  # MMS is symmetric: either side may request, so keys carry the side
            key = (d << 8 | t, -1 if pdu.invoke_id is None else pdu.invoke_id)
            act = event.ot.action  # type: ignore[union-attr]
            if self.pending.add(key, (frame, ts_ns, pdu, act.operation, act.target)):  # type: ignore[union-attr]
                self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests "
                              "outstanding; the oldest are dropped")  # fmt: skip
        self.out.append(event)
        if t == CONFIRMED_RESPONSE and pdu.service == IDENTIFY:
            ident = emit.identity(self.flow.src(d), ts_ns, pdu.fields)
            if ident is not None:
                self.out.append(ident)

    # -- pairing ---------------------------------------------------------------------------
    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        self.next_expiry = ts_ns + 10**9
        reported = self.pending.expire(ts_ns, older_than_ns, self.responses_lost_at)
        if reported:
            (key, ref), pend = reported[0]
            self._anomaly(key >> 8, pend[1], "unanswered_request",
                          f"{len(reported)} request(s) never answered; first: invoke id {ref}")
