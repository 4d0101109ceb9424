"""Per-flow IEC 104 state: framing across segments, controlling/controlled station, send/receive
sequence numbers, activation/confirmation pairing, anomalies.

All state lives on the session and dies with the flow; pending activations are bounded.
"""

from __future__ import annotations

from struct import Struct
from typing import TYPE_CHECKING

from ...schema import Iec104
from .._contract import Malformed, NeedMoreData
from . import emit
from .constants import (
    ACT,
    ACTTERM,
    CONFIRMATIONS,
    COT_NAMES,
    DEACT,
    MAX_LENGTH,
    MIN_LENGTH,
    NOT_ON_104,
    REQ,
    SEQ_MODULO,
    START,
    TYPES,
    U_FUNCTIONS,
    UNKNOWN_COTS,
    type_name,
)
from .probe import DEFAULT_PORTS, header_plausible
from .wire import (
    _U32,
    ELEMENTS,
    INVALID_TIME,
    TIMED,
    parse_apdu,
    parse_header,
    parse_objects,
)

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 256  # activations awaiting confirmation/termination
UNCONFIRMED_NS = 15 * 10**9  # t1, the standard's default confirmation time-out
TERMINATION_NS = 300 * 10**9  # a confirmed activation waits this long for its termination
HALF = SEQ_MODULO // 2
K = 12  # 104 §5.5: the default maximum of unacknowledged I frames a station may send
_START_BYTE = bytes((START,))
_I_HEADER = Struct("<IBBBBH")  # control field; ASDU type, VSQ, COT, originator, common address
# type id → (mnemonic, TypeInfo, (element size, decoder) or None, time-tagged, not on 104)
_TYPE_META = {t: (info.mnemonic, info, ELEMENTS.get(t), t in TIMED, t in NOT_ON_104)
              for t, info in TYPES.items()}  # fmt: skip
# The ot.iec104 of each U function: the same for every such frame (events are read-only)
_U_FIELDS = {c1: Iec104(apci_type=3, apci="U", u_function=name) for c1, name in U_FUNCTIONS.items()}


class Iec104Session:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.client: int | None = flow.initiator  # the controlling station
        self.seen_start = flow.initiator is not None  # the connection's first bytes are ours
        # next N(S) expected from each side (None: unknown, after a mid-stream start or a gap)
        self.next_ns: list[int | None] = [0, 0] if self.seen_start else [None, None]
        # last N(R) each side's I frames got from the peer (None: not seen yet, or a gap since)
        self.acked: list[int | None] = [0, 0] if self.seen_start else [None, None]
        self.started = False  # STARTDT confirmed (only judged when the connection start was seen)
        self.buf = [b"", b""]
        self.resync = [False, False]
        self.garbled = [False, False]  # framing_lost reported, no good APDU since
        self.lost = [False, False]  # a gap in that side's stream since the flow began
        self.responses_lost_at = -1
        # (type, common address, first IOA) → [[frame, ts, confirmed], ...] oldest first
        self.pending: dict[tuple[int, int, int], list[list]] = {}
        self.npending = 0
        self.flooded = False
        self.next_expiry = 0

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        if self.resync[d]:
            pos = self._find_header(buf, 0)
            if pos < 0:
                self.buf[d] = buf[-5:]  # a header may straddle the next segment
                return
            self.resync[d] = False
        garbled, message = self.garbled, self._message
        while pos < end:
            # The common case inline (a whole APDU of a sane length): what parse_apdu does.
            if end - pos >= 6 and buf[pos] == START and buf[pos + 1] >= MIN_LENGTH:
                nxt = pos + 2 + buf[pos + 1]
                if nxt > end:
                    break
                garbled[d] = False
                if not buf[pos + 2] & 1 and self.client is not None:  # I frame, direction known
                    self._iframe(d, d == self.client, buf, pos, nxt, frame, ts_ns)
                else:
                    message(d, buf, pos, nxt, frame, ts_ns)
                pos = nxt
                continue
            try:
                _, n = parse_apdu(buf, pos)
            except NeedMoreData:
                break
            except Malformed as e:
                # Skipped as Wireshark does; one anomaly per run of bad octets.
                if buf[pos] == START:  # a length below 4: the frame still spans 2 + length
                    skip, why = 2 + buf[pos + 1], f"IEC 104 {e}; skipped"
                else:
                    nxt = buf.find(_START_BYTE, pos + 1)
                    skip = (nxt if nxt >= 0 else end) - pos
                    why = f"{skip} octets before the next start octet 0x68; skipped"
                if not garbled[d]:
                    garbled[d] = True
                    self._anomaly(d, ts_ns, "framing_lost", why)
                pos += skip
                continue
            garbled[d] = False
            message(d, buf, pos, pos + n, frame, ts_ns)
            pos += n
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns)

    def _find_header(self, buf: bytes, start: int) -> int:
        """The first plausible APCI (the caller keeps the last 5 octets when there is none: a
        header may straddle the next segment)."""
        i = buf.find(_START_BYTE, start)
        while 0 <= i:
            if header_plausible(buf, i):
                return i
            i = buf.find(_START_BYTE, i + 1)
        return -1

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        self.buf[d], self.resync[d] = b"", True
        if gap.cause == "late":
            return
        self.next_ns[d] = None  # I frames may be in the hole: numbering is relearnt
        self.acked[1 - d] = None  # and acknowledgements of the peer's frames too
        self.lost[d] = True
        if d != self.client:
            self.responses_lost_at = ts_ns
        self._anomaly(d, ts_ns, "stream_gap", f"{gap.missing} bytes not seen (lost, out of order "
                      "or cut by the snap length); resynchronising on the next APCI")  # fmt: skip

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        if reason == "evicted":
            self._anomaly(self.client or 0, ts_ns, "flow_evicted", "the flow table was full: "
                          "this flow was evicted and its IEC 104 state dropped")  # fmt: skip
        self._expire(ts_ns, final=True)

    # -- messages --------------------------------------------------------------------------
    def _is_client(self, d: int, c1: int, asdu: bytes) -> bool:
        """Whether d is the controlling station: the handshake, else the first message whose
        meaning fixes it (STARTDT/STOPDT, activations vs. monitor data), else the 104 port or
        the higher port (not remembered, so a later decisive message still wins)."""
        if self.client is not None:
            return d == self.client
        sender_controls: bool | None = None
        if c1 & 3 == 3 and c1 in (0x07, 0x13, 0x0B, 0x23):
            sender_controls = c1 in (0x07, 0x13)
        elif not c1 & 1 and len(asdu) >= 3:
            t, cot = asdu[0], asdu[2] & 0x3F
            if t < 45 or t == 70 or cot in CONFIRMATIONS or cot in UNKNOWN_COTS:
                sender_controls = False
            elif cot in (ACT, DEACT):
                sender_controls = True
        if sender_controls is not None:
            self.client = d if sender_controls else 1 - d
            return sender_controls
        src, dst = self.flow.src(d).port or 0, self.flow.dst(d).port or 0
        if dst in DEFAULT_PORTS or src in DEFAULT_PORTS:
            return dst in DEFAULT_PORTS
        return dst < src

    def _message(self, d: int, buf: bytes, p: int, end: int, frame: int, ts_ns: int) -> None:
        """The APDU buf[p:end] (start octet, length, control field, ASDU)."""
        c1 = buf[p + 2]
        client = self.client
        from_client = (d == client if client is not None
                       else self._is_client(d, c1, buf[p + 6 : end]))  # fmt: skip
        if not c1 & 1:
            self._iframe(d, from_client, buf, p, end, frame, ts_ns)
            return
        ctrl = _U32.unpack_from(buf, p + 2)[0]
        asdu = buf[p + 6 : end]
        anomalies: list[str] = []
        if c1 & 2:  # U
            name = U_FUNCTIONS.get(c1)
            iec = _U_FIELDS.get(c1) or Iec104(apci_type=3, apci="U", u_function=f"unknown-{c1}")
            if name is None or ctrl >> 8:
                anomalies.append("bad_control_field")
            elif c1 == 0x0B:
                self.started = True
            elif c1 == 0x23:
                self.started = False
        else:  # S
            nr = ctrl >> 17
            iec = Iec104(apci_type=1, apci="S", recv_seq=nr)
            self._acknowledged(d, nr, anomalies)
            if ctrl & 0x1FFFE:
                anomalies.append("bad_control_field")
        if asdu:
            anomalies.append("length_mismatch")  # S and U frames are the control field alone
            if len(asdu) + 6 > MAX_LENGTH + 2:
                anomalies.append("oversized_apdu")
        self.out.append(self.emitter.message(d, from_client, iec, None, ts_ns, None, None,
                                             anomalies or None))  # fmt: skip

    def _iframe(self, d: int, from_client: bool, buf: bytes, p: int, end: int, frame: int,
                ts_ns: int) -> None:  # fmt: skip
        """The I frame buf[p:end]: sequence checks, the ASDU decoded (in place: its objects
        start at p + 12), activations paired with their confirmations."""
        n = end - p - 6  # ASDU length
        if n >= 6:
            ctrl, t, vsq, c, oa, ca = _I_HEADER.unpack_from(buf, p + 2)
        else:
            ctrl = _U32.unpack_from(buf, p + 2)[0]
        ns, nr = (ctrl & 0xFFFF) >> 1, ctrl >> 17
        anomalies: list[str] = []
        next_ns, acked = self.next_ns, self.acked
        exp = next_ns[d]  # N(S) in order (_sequence)
        if exp is not None and ns != exp:
            ahead = (ns - exp) % SEQ_MODULO
            anomalies.append("sequence_gap" if ahead < HALF else "sequence_duplicate")
        next_ns[d] = (ns + 1) % SEQ_MODULO
        a = acked[d]  # at most k unacknowledged (_window)
        if a is not None and K < (ns - a) % SEQ_MODULO + 1 < HALF:
            anomalies.append("window_exceeded")
        sent = next_ns[1 - d]  # N(R) acknowledges no more than was sent (_acknowledged)
        if sent is not None and 0 < (nr - sent) % SEQ_MODULO < HALF:
            anomalies.append("ack_of_unsent")
        acked[1 - d] = nr
        if ctrl & 0x10000:
            anomalies.append("bad_control_field")
        if self.seen_start and not self.started:
            anomalies.append("data_before_startdt")
        if n < 6:
            fields = {"apci_type": 0, "apci": "I", "send_seq": ns, "recv_seq": nr}
            fields.update(parse_header(buf[p + 6 : end]))
            anomalies.append("short_asdu")
            info = TYPES.get(fields["type_id"]) if n else None
            self.out.append(self.emitter.message(d, from_client, Iec104(**fields), info, ts_ns,
                                                 None, None, anomalies))  # fmt: skip
            return
        cot = c & 0x3F
        negative = c & 0x40 != 0
        meta = _TYPE_META.get(t)
        if meta is None:
            mnemonic, info, element, timed = f"unknown-{t}", None, None, False
            anomalies.append("unknown_type")
        else:
            mnemonic, info, element, timed, not_on_104 = meta
            if not_on_104:
                anomalies.append("type_not_in_104")
        cot_name = COT_NAMES.get(cot)
        if cot_name is None:
            cot_name = f"unknown-{cot}"
            anomalies.append("unknown_cause")
        objects = None
        data = None
        if element is not None:
            size, decode = element
            if vsq & 0x7F == 1 and n == 9 + size:  # one object (SQ makes no difference then)
                objects = [decode(buf, p + 15, buf[p + 12] | buf[p + 13] << 8 | buf[p + 14] << 16)]
            else:
                try:
                    objects = parse_objects(t, vsq > 127, vsq & 0x7F, buf[p + 12 : end])
                except Malformed:
                    anomalies.append("length_mismatch")
        if objects is None:
            if n > 6:
                data = buf[p + 12 : end].hex()
        elif timed:
            bad = False
            for o in objects:
                if o.time == INVALID_TIME:
                    o.time, bad = None, True
            if bad:
                anomalies.append("invalid_time")
        request = outcome = None
        if t < 45 or t == 70:
            if cot == REQ and objects and not from_client:  # the data a read command asked for
                request = self._answer_read(ca, objects[0].ioa)
        else:
            ioa = objects[0].ioa if objects else (buf[p + 12] | buf[p + 13] << 8 | buf[p + 14] << 16
                                                     if n >= 9 else -1)  # fmt: skip
            key = (t, ca, ioa)
            if from_client:
                if cot == ACT or cot == DEACT or (cot == REQ and t == 102):
                    self._remember(d, key, frame, ts_ns)
            elif cot in CONFIRMATIONS or cot in UNKNOWN_COTS or (t == 102 and cot == REQ):
                refused = negative or cot in UNKNOWN_COTS
                outcome = "failure" if refused else "success"
                request = self._match(key, cot == ACTTERM, refused)
                if request is None and self.seen_start and not self.lost[1 - d] and cot != ACTTERM:
                    anomalies.append("confirmation_without_activation")
        if n > MAX_LENGTH - 4:
            anomalies.append("oversized_apdu")
        # At most 15 keywords: CPython 3.11 compiles a call with more (its STACK_USE_GUIDELINE)
        # into a dict and a ** call, ~0.5 µs more; the two rarely set fields are set apart.
        iec = Iec104(apci_type=0, apci="I", send_seq=ns, recv_seq=nr, type_id=t,
                     type_name=mnemonic, sq=vsq > 127, count=vsq & 0x7F, cot=cot,
                     cot_name=cot_name, negative=negative, test=c > 127, originator=oa,
                     common_address=ca, objects=objects)  # fmt: skip
        duration = None
        if data is not None:
            iec.data = data
        if request is not None:
            iec.request_frame, duration = request[0], ts_ns - request[1]
        self.out.append(self.emitter.iframe(d, from_client, iec, info, ts_ns, duration, outcome,
                                            anomalies or None))  # fmt: skip

    def _answer_read(self, ca: int, ioa: int) -> list | None:
        for k in ((102, ca, ioa), (102, 0xFFFF, ioa)):
            entries = self.pending.get(k)
            if entries:
                e = entries.pop(0)
                self.npending -= 1
                if not entries:
                    del self.pending[k]
                return e
        return None

    def _match(self, key: tuple[int, int, int], termination: bool, refused: bool) -> list | None:
        """The activation a confirmation (or termination) answers: the oldest one not yet
        confirmed (confirmed, for a termination), also among broadcasts to every station. A
        termination or a refusal ends it; a positive confirmation leaves it waiting for its
        termination."""
        for k in (key, (key[0], 0xFFFF, key[2])):
            entries = self.pending.get(k)
            if not entries:
                continue
            for i, e in enumerate(entries):
                if e[2] == termination:
                    if termination or refused:
                        del entries[i]
                        self.npending -= 1
                    else:
                        e[2] = True
                    if not entries:
                        del self.pending[k]
                    return e
        return None

    def _acknowledged(self, d: int, nr: int, anomalies: list[str]) -> None:
        """N(R) from d acknowledges the peer's I frames: it may not run ahead of them."""
        sent = self.next_ns[1 - d]
        if sent is not None and 0 < (nr - sent) % SEQ_MODULO < HALF:
            anomalies.append("ack_of_unsent")
        self.acked[1 - d] = nr

    def _remember(self, d: int, key: tuple[int, int, int], frame: int, ts_ns: int) -> None:
        pending = self.pending
        if self.npending >= MAX_PENDING:
            if not self.flooded:
                self.flooded = True
                self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} activations "
                              "outstanding; the oldest are dropped")  # fmt: skip
            oldest = next(iter(pending))
            entries = pending[oldest]
            del entries[0]
            if not entries:
                del pending[oldest]
            self.npending -= 1
        else:
            self.flooded = False
        entries = pending.setdefault(key, [])
        if entries and entries[0][2]:  # a new activation of the object: stop waiting for the
            self.npending -= sum(1 for e in entries if e[2])  # older ones' terminations
            entries[:] = [e for e in entries if not e[2]]
        entries.append([frame, ts_ns, False])
        self.npending += 1

    def _expire(self, ts_ns: int, final: bool = False) -> None:
        """Report activations never confirmed within t1 (all of them at the end of the flow);
        forget confirmed ones whose termination never came."""
        self.next_expiry = ts_ns + 10**9
        unconfirmed = []
        for key, entries in list(self.pending.items()):
            keep = []
            for e in entries:
                age = ts_ns - e[1]
                if e[2]:
                    if not final and age <= TERMINATION_NS:
                        keep.append(e)
                elif final or age > UNCONFIRMED_NS:
                    if e[1] > self.responses_lost_at:  # else its confirmation may be in a gap
                        unconfirmed.append(key)
                else:
                    keep.append(e)
            if keep:
                self.pending[key] = keep
            else:
                del self.pending[key]
        self.npending = sum(map(len, self.pending.values()))
        if unconfirmed and self.client is not None:
            t, ca, ioa = unconfirmed[0]
            self._anomaly(self.client, ts_ns, "unconfirmed_activation",
                          f"{len(unconfirmed)} activation(s) never confirmed; first: "
                          f"{type_name(t)} common address {ca} IOA {ioa}")  # fmt: skip

    def _anomaly(self, d: int, ts_ns: int, code: str, text: str) -> None:
        self.out.append(self.emitter.anomaly(d, ts_ns, code, text))
