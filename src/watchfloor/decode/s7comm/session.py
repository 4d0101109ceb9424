"""Per-flow S7 state: TPKT framing across segments, COTP reassembly, roles, request/response
pairing (PDU reference; S7comm-plus sequence number), connection facts, anomalies.

All state lives on the session and dies with the flow: one partial TPKT and one partial TSDU per
direction (at most MAX_TSDU bytes), at most MAX_PENDING outstanding requests.
"""

from __future__ import annotations

from struct import error as StructError
from typing import TYPE_CHECKING, Any

from .._contract import Malformed, NeedMoreData
from .._pending import Pending
from ..cotp import CC, CR, DT, Reassembler, TpktSession, parse_connection, parse_tpkt, tpdu_size
from . import emit
from .constants import (
    ACK,
    ACK_DATA,
    GROUP_BLOCK,
    GROUP_CPU,
    GROUP_TIME,
    JOB,
    PLUS_NO_RESPONSE,
    PLUS_PROTOCOL_ID,
    PROTOCOL_ID,
    READ_VAR,
    SZL_SUBFUNCTION,
    USERDATA,
    WRITE_VAR,
)
from .wire import (
    Header,
    PlusPdu,
    block_function,
    clock,
    data_items,
    parse_header,
    parse_job,
    parse_plus,
    parse_userdata,
    plus_frame,
    szl_request,
    szl_response,
    write_addresses,
)

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 500
MAX_TSDU = 1 << 16  # S7comm PDUs are at most 960 bytes, S7comm-plus frames 64 KiB

Request = tuple[int, int, int | None, dict[str, Any]]  # frame, ts, function, request fields


class S7Session(TpktSession):
    NAME = "S7"

    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator
        self.buf = [b"", b""]
        self.resync = [False, False]
        self.segments = (Reassembler(MAX_TSDU), Reassembler(MAX_TSDU))
        # (kind, reference) → request
        self.pending: Pending[tuple[int, int], Request] = Pending(MAX_PENDING)
        self.requests_lost = False
        self.responses_lost_at = -1
        self.foreign_reported = False
        self.plus_open: list[PlusPdu | None] = [None, None]  # a fragmented S7comm-plus message
        self.next_expiry = 0
        self.read_jobs: dict[bytes, dict[str, Any]] = {}  # parsed read var jobs, by parameter
        # write var jobs by parameter: the addresses as request fields, or None when an item is
        # not an S7ANY address (parse_job then merges its specification with its data)
        self.write_jobs: dict[bytes, dict[str, Any] | None] = {}
        self.answers: dict[tuple[bytes, bytes], dict[str, Any]] = {}  # parsed read/write answers

    # -- stream ----------------------------------------------------------------------------
    def _whole(self, d: int, buf: bytes, pos: int, end: int, frame: int, ts_ns: int) -> int:
        """Fast path: a whole TPKT holding a whole S7comm PDU in one DT (class 0, EOT)."""
        stop = pos + ((buf[pos + 2] << 8) | buf[pos + 3]) if pos + 7 <= end else end + 1
        if (stop <= end and buf[pos] == 3 and buf[pos + 4] == 2 and buf[pos + 5] == DT
                and not buf[pos + 1] and stop >= pos + 7):  # fmt: skip
            segments = self.segments[d]
            if (buf[pos + 6] == 0x80 and stop >= pos + 8 and buf[pos + 7] == PROTOCOL_ID
                    and not segments.parts and not segments.overflow):  # fmt: skip
                self._s7(d, buf[pos + 7 : stop], frame, ts_ns)
                return stop
            if stop == pos + 7 and not buf[pos + 6] & 0x80:
                return stop  # an empty DT that does not end a TSDU (some stacks send one after
                # each PDU): it adds nothing to reassemble
        return 0

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        self.plus_open[d] = None
        super().gap(d, gap, frame, ts_ns)

    def preamble(self, d: int, data: bytes) -> None:
        """Payload seen before the flow was recognised (capture.flows keeps a few small chunks):
        COTP connection TPDUs still tell who connects to which rack and slot. No events: their
        frames have passed."""
        pos = 0
        while pos < len(data):
            try:
                start, stop = parse_tpkt(data, pos)
            except (NeedMoreData, Malformed):
                return
            if data[start + 1] & 0xF0 in (CR, CC):
                self._connection(d, data[start:stop], 0)
            pos = stop

    # -- COTP connection TPDUs ---------------------------------------------------------------
    def _connection(self, d: int, tpdu: bytes, ts_ns: int) -> None:
        """CR/CC: who connects, which rack and slot (called TSAP), the TPDU size. DR/DC: noted."""
        try:
            c = parse_connection(tpdu)
        except (Malformed, IndexError, StructError):
            self._anomaly(d, ts_ns, "malformed_cotp", "a COTP TPDU does not parse")
            return
        if c.code == CR and self.client is None:
            self.client = d
        if c.code in (CR, CC):
            self.emitter.connection(c.params.get(0xC2), tpdu_size(c.params))

    # -- application PDUs --------------------------------------------------------------------
    def _tsdu(self, d: int, tsdu: bytes, frame: int, ts_ns: int) -> None:
        first = tsdu[0] if tsdu else -1
        if first == PROTOCOL_ID:
            self._s7(d, tsdu, frame, ts_ns)
        elif first == PLUS_PROTOCOL_ID:
            self._plus(d, tsdu, frame, ts_ns)
        elif tsdu and not self.foreign_reported:  # once per flow: the rest is likely the same
            self.foreign_reported = True
            self._anomaly(d, ts_ns, "unknown_payload", f"COTP data starting {tsdu[:4].hex()} "
                          "is neither S7comm nor S7comm-plus")  # fmt: skip

    def _learn(self, d: int, is_request: bool | None) -> None:
        if self.client is None and is_request is not None:
            self.client = d if is_request else 1 - d

    def _s7(self, d: int, pdu: bytes, frame: int, ts_ns: int) -> None:
        try:
            h = parse_header(pdu)
        except Malformed as e:
            self._anomaly(d, ts_ns, "malformed_header", f"S7comm header: {e}")
            return
        anomalies: list[str] | None = None if h.complete else ["length_mismatch"]
        rosctr, fields = h.rosctr, {}
        fc = group = sub = None
        if rosctr == JOB or rosctr == ACK_DATA:
            is_request: bool | None = rosctr == JOB
            if h.param:
                fc = h.param[0]
                try:
                    if fc == READ_VAR and is_request:  # polling repeats the same job: parse once
                        fields = self.read_jobs.get(h.param) or self._read_job(h)
                    elif fc == WRITE_VAR and is_request and self._write_job(d, h, frame, ts_ns,
                                                                            anomalies):  # fmt: skip
                        return
                    elif (fc == READ_VAR or fc == WRITE_VAR) and not is_request:
                        # polled values seldom change: the same answer bytes are parsed once
                        key = (h.param, h.data)
                        fields = self.answers.get(key) or self._answer(h, key)
                    else:
                        fields = parse_job(h)
                except Malformed:
                    fields = {"data": (h.param + h.data).hex()}
                    anomalies = [*(anomalies or ()), "malformed_parameter"]
        elif rosctr == USERDATA:
            is_request, fields, group, sub, bad = self._userdata(h)
            if bad:
                anomalies = [*(anomalies or ()), "malformed_parameter"]
        else:
            is_request = False if rosctr == ACK else None
        if h.error_class:
            anomalies = [*(anomalies or ()), "error_response"]
        self._learn(d, is_request)
        kind = 1 if rosctr == USERDATA else 0
        request = None
        if is_request:
            self._remember(d, (kind, h.pdu_reference), fc if kind == 0 else sub, fields, frame, ts_ns)
        elif is_request is not None:
            request = self.pending.pop((kind, h.pdu_reference), None)
            if request is None:
                lost = self._unmatched()
                anomalies = [*(anomalies or ()), lost]
            else:
                self.requests_lost = False
                if kind == 0 and fc is not None and request[2] is not None and request[2] != fc:
                    anomalies = [*(anomalies or ()), "function_mismatch"]
        out = self.out
        if kind == 0 and "items" in fields and (fc == READ_VAR or fc == WRITE_VAR):
            if is_request and fc == READ_VAR:
                out.append(self.emitter.read_job(d, h, fields, ts_ns, anomalies))
                return
            if request is not None and rosctr == ACK_DATA:
                ev = self.emitter.rw_response(d, h, fc, fields, ts_ns, request, anomalies)
                if ev is not None:
                    out.append(ev)
                    return
        out.append(self.emitter.message(d, h, fc, group, sub, fields, is_request, ts_ns, request,
                                        anomalies))  # fmt: skip
        if "szl_records" in fields and not is_request:
            ident = emit.identity(self.flow.src(d), ts_ns, fields["szl_id"], fields["szl_records"])
            if ident is not None:
                out.append(ident)

    def _write_job(self, d: int, h: Header, frame: int, ts_ns: int,
                   anomalies: list[str] | None) -> bool:  # fmt: skip
        """A write var job of S7ANY items: addresses parsed once per parameter, data per PDU;
        False when `parse_job` has to take it (other items, malformed)."""
        param = h.param
        try:
            if param in self.write_jobs:
                fields = self.write_jobs[param]
            else:
                addrs = write_addresses(param)
                if len(self.write_jobs) >= 256:
                    self.write_jobs.clear()
                fields = self.write_jobs[param] = (
                    {"item_count": param[1], "items": addrs}
                    if all("area" in a for a in addrs) else None)  # fmt: skip
            if fields is None:
                return False
            values = data_items(h.data, len(fields["items"]))
        except (Malformed, StructError, IndexError, ValueError):
            return False
        if h.error_class:  # (a job has none)
            return False
        self._learn(d, True)
        self._remember(d, (0, h.pdu_reference), WRITE_VAR, fields, frame, ts_ns)
        self.out.append(self.emitter.write_job(d, h, fields, values, ts_ns, anomalies))
        return True

    def _answer(self, h: Header, key: tuple[bytes, bytes]) -> dict[str, Any]:
        fields = parse_job(h)
        if len(self.answers) >= 256:
            self.answers.clear()
        self.answers[key] = fields
        return fields

    def _read_job(self, h: Header) -> dict[str, Any]:
        fields = parse_job(h)
        if len(self.read_jobs) >= 256:
            self.read_jobs.clear()
        self.read_jobs[h.param] = fields
        return fields

    def _userdata(self, h: Header) -> tuple[bool | None, dict[str, Any], int | None, int | None,
                                              bool]:  # fmt: skip
        """(is_request, fields, group, subfunction, malformed) of a userdata PDU."""
        p = h.param
        group = p[5] & 0x0F if len(p) > 5 else None
        sub = p[6] if len(p) > 6 else None
        try:
            ud = parse_userdata(h)
        except Malformed:
            return None, {}, group, sub, True
        is_request = True if ud.type == 4 else False if ud.type == 8 else None
        fields: dict[str, Any] = {"userdata_type": ud.type, "sequence_number": ud.sequence}
        if ud.last_data_unit is not None:
            fields["last_data_unit"] = ud.last_data_unit
        if ud.error_code:
            fields["error_code"] = ud.error_code
        if ud.return_code is not None:
            fields["return_code"] = ud.return_code
        try:
            if ud.group == GROUP_CPU and ud.subfunction == SZL_SUBFUNCTION and ud.payload:
                if is_request:
                    fields["szl_id"], fields["szl_index"] = szl_request(ud.payload)
                elif ud.return_code == 0xFF and self._szl_first(h.pdu_reference):
                    szl_id, index, _, records = szl_response(ud.payload)
                    fields["szl_id"], fields["szl_index"] = szl_id, index
                    if records:
                        fields["szl_records"] = records
            elif ud.group == GROUP_TIME and ud.payload and ud.return_code == 0xFF:
                if (ud.subfunction in (1, 3) and not is_request) or (ud.subfunction in (2, 4)
                                                                      and is_request):  # fmt: skip
                    fields["clock"] = clock(ud.payload)
            elif ud.group == GROUP_BLOCK and ud.payload:
                fields.update(block_function(ud.subfunction, bool(is_request), ud.payload))
        except Malformed:
            return is_request, fields, group, sub, True
        return is_request, fields, group, sub, False

    def _szl_first(self, reference: int) -> bool:
        """Whether an SZL answer starts a list: the answer to a follow-up request (sent for
        the rest of a long list; it names no SZL id) carries only more records, no SZL header."""
        request = self.pending.get((1, reference))
        return request is None or "szl_id" in request[3]

    def _plus(self, d: int, pdu: bytes, frame: int, ts_ns: int) -> None:
        """One S7comm-plus frame. A message spread over several frames is reported at its last
        frame, with the first frame's header and the total data length."""
        first = self.plus_open[d]
        try:
            if first is not None:
                version, length, _, last = plus_frame(pdu)
                if version != first.version:
                    raise Malformed(f"fragment of version {version} continues version "
                                    f"{first.version}")  # fmt: skip
                first = first._replace(data_length=first.data_length + length)
                if len(pdu) < 4 + length:
                    first = first._replace(complete=False)
                p = first
            else:
                p = parse_plus(pdu)
                last = p.last
        except Malformed as e:
            self.plus_open[d] = None
            self._anomaly(d, ts_ns, "malformed_header", f"S7comm-plus: {e}")
            return
        if not last and p.complete:
            self.plus_open[d] = p
            return
        self.plus_open[d] = None
        is_request = True if p.opcode == 0x31 else False if p.opcode in (0x32, 0x02) else None
        self._learn(d, is_request)
        anomalies = None if p.complete else ["length_mismatch"]
        request = None
        if p.sequence_number is not None:
            key = (2, p.sequence_number)
            if is_request:
                if not (p.transport_flags or 0) & PLUS_NO_RESPONSE:
                    self._remember(d, key, p.function_code, {}, frame, ts_ns)
            elif is_request is not None:
                request = self.pending.pop(key, None)
        self.out.append(self.emitter.plus(d, p, is_request, ts_ns, request, anomalies))

    # -- pairing ---------------------------------------------------------------------------
    def _remember(self, d: int, key: tuple[int, int], fc: int | None, fields: dict[str, Any],
                  frame: int, ts_ns: int) -> None:  # fmt: skip
        if self.pending.add(key, (frame, ts_ns, fc, fields)):  # a reused key replaces the older request
            self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests outstanding; "
                          "the oldest are dropped")  # fmt: skip

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        self.next_expiry = ts_ns + 10**9
        reported = self.pending.expire(ts_ns, older_than_ns, self.responses_lost_at)
        if reported and self.client is not None:
            (kind, ref), pend = reported[0]
            what = ("PDU reference", "userdata PDU reference", "S7comm-plus sequence")[kind]
            self._anomaly(self.client, pend[1], "unanswered_request",
                          f"{len(reported)} request(s) never answered; first: {what} {ref}")

