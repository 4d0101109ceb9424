"""Per-flow DNP3 state: link framing across segments, transport reassembly, request/response
pairing, anomalies.

All state lives on the session and dies with the flow: at most MAX_ASSEMBLIES transport
reassemblies (each at most MAX_REASSEMBLY octets) and MAX_PENDING outstanding requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._contract import Malformed, NeedMoreData
from .._pending import Pending
from . import emit
from .constants import (
    FUNCTIONS,
    LINK_CONTROL_ONLY,
    LINK_PRIMARY,
    LINK_SECONDARY,
    LINK_USER_DATA,
    MAX_REASSEMBLY,
    RESPONSES,
    function_name,
)
from .wire import LinkFrame, find_start, parse_link

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING = 256
MAX_ASSEMBLIES = 64
UNANSWERED_NS = 30 * 10**9
NO_RESPONSE = frozenset((0, 6, 8, 10, 12, 33))  # confirm and the "no ack" functions
BROADCAST = 0xFFFD  # 0xFFFD..0xFFFF: broadcast destinations, never answered (§9.2.5.3)


class Dnp3Session:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.buf = [b"", b""]
        self.datagrams = flow.transport == "udp"
        self.resync = [True, True]  # until the first header: a capture may start mid-frame
        self.started = [False, False]
        # (direction, source, destination) → [next transport sequence, parts, octets, frames]
        self.assemblies: dict[tuple[int, int, int], list] = {}
        # (master, outstation, application sequence) → (frame, ts, function code, operation)
        self.pending: Pending[tuple[int, int, int], tuple[int, int, int, str]] = Pending(MAX_PENDING)
        self.odd_link = False  # the frame completing the fragment has a non-user-data function
        self.requests_lost = [False, False]  # a gap in this direction since its last message
        self.responses_lost_at = -1
        self.next_expiry = 0

    # -- stream ----------------------------------------------------------------------------
    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        if self.datagrams:
            self._datagram(d, data, frame, ts_ns)
            return
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        if self.resync[d]:
            pos = find_start(buf, 0)
            if pos < 0:  # keep a trailing 0x05 that may start the next header
                self.buf[d] = buf[-1:] if buf[-1:] == b"\x05" else b""
                return
            if pos and self.started[d]:
                self._anomaly(d, ts_ns, "framing_lost", f"{pos} octets skipped before the next "
                              "DNP3 link header")  # fmt: skip
            self.resync[d] = False
        self.started[d] = True
        while pos < end:
            try:
                lf, n = parse_link(buf, pos)
            except NeedMoreData:
                break
            except Malformed as e:
                nxt = find_start(buf, pos + 1)
                skipped = (nxt if nxt >= 0 else end) - pos
                self._anomaly(d, ts_ns, "framing_lost", f"DNP3 framing lost ({e}); {skipped} "
                              "octets skipped")  # fmt: skip
                if nxt < 0:
                    pos = end if buf[-1:] != b"\x05" else end - 1
                    break
                pos = nxt
                continue
            pos += n
            self._link(d, lf, frame, ts_ns)
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def _datagram(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        """DNP3/UDP: each datagram holds whole link frames; nothing carries over."""
        pos = 0
        while pos < len(data):
            try:
                lf, n = parse_link(data, pos)
            except NeedMoreData:
                self._anomaly(d, ts_ns, "truncated", f"datagram ends inside a link frame "
                              f"({len(data) - pos} octets)")  # fmt: skip
                return
            except Malformed as e:
                self._anomaly(d, ts_ns, "framing_lost", f"DNP3/UDP datagram: {e}")
                return
            pos += n
            self._link(d, lf, frame, ts_ns)

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        self.buf[d], self.resync[d] = b"", True
        if gap.cause == "late":
            return
        self.requests_lost[d] = True
        self.responses_lost_at = ts_ns
        self._anomaly(d, ts_ns, "stream_gap", f"{gap.missing} octets not seen ({gap.cause}); "
                      "resynchronising on the next DNP3 link header")  # fmt: skip

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        if reason == "evicted":
            self._anomaly(0, ts_ns, "flow_evicted", "the flow table was full: this flow was "
                          "evicted and its DNP3 state dropped")  # fmt: skip
        for (d, src, dst), asm in list(self.assemblies.items()):
            self._anomaly(d, ts_ns, "incomplete_fragment", f"transport reassembly {src}->{dst} "
                          f"unfinished: {asm[2]} octets in {asm[3]} segments")  # fmt: skip
        self.assemblies.clear()
        self._expire(ts_ns, -1)

    # -- link and transport layers ---------------------------------------------------------
    def _link(self, d: int, lf: LinkFrame, frame: int, ts_ns: int) -> None:
        control, dst, src, data, ok = lf
        func = control & 0x0F
        primary = control & 0x40
        if not ok:
            self._anomaly(d, ts_ns, "bad_crc", f"link frame {src}->{dst}: a data block CRC does "
                          "not match; its user data is discarded")  # fmt: skip
            return
        user_data = primary and func in LINK_USER_DATA
        if not data or func in LINK_CONTROL_ONLY:
            if user_data:
                self._anomaly(d, ts_ns, "empty_user_data", f"user data frame {src}->{dst} "
                              "without a transport octet")  # fmt: skip
                return
            names = LINK_PRIMARY if primary else LINK_SECONDARY
            name = names.get(func, f"unknown-{func}")
            anomalies = [] if func in names else ["unknown_link_function"]
            if data:  # reset / link status / ACK frames with octets after the header: ignored
                anomalies.append("unexpected_user_data")
            self.out.append(self.emitter.link(d, lf, name, ts_ns, anomalies or None))
            return
        # User data in a frame of another function (reserved, test link, NACK...): a receiver
        # may drop it, but it was sent; it is decoded, as Wireshark does, and flagged.
        self.odd_link = not user_data
        th = data[0]
        key = (d, src, dst)
        asm = self.assemblies.get(key)
        seq = th & 0x3F
        if th & 0x40:  # FIR: a new fragment starts
            if asm is not None:
                self._anomaly(d, ts_ns, "incomplete_fragment", f"transport reassembly {src}->"
                              f"{dst} restarted by a new first segment; {asm[2]} octets "
                              "dropped")  # fmt: skip
                del self.assemblies[key]
            if th & 0x80:
                self._fragment(d, lf, data[1:], 1, frame, ts_ns)
                return
            if len(self.assemblies) >= MAX_ASSEMBLIES:
                del self.assemblies[next(iter(self.assemblies))]
            self.assemblies[key] = [(seq + 1) & 0x3F, [data[1:]], len(data) - 1, 1]
            return
        if asm is None:
            self._anomaly(d, ts_ns, "transport_sequence", f"transport segment {src}->{dst} "
                          f"(sequence {seq}) without a first segment; dropped")  # fmt: skip
            return
        if seq != asm[0]:
            del self.assemblies[key]
            self._anomaly(d, ts_ns, "transport_sequence", f"transport sequence {seq}, expected "
                          f"{asm[0]}: fragment {src}->{dst} dropped")  # fmt: skip
            return
        asm[1].append(data[1:])
        asm[2] += len(data) - 1
        asm[3] += 1
        if asm[2] > MAX_REASSEMBLY:
            del self.assemblies[key]
            self._anomaly(d, ts_ns, "reassembly_too_long", f"fragment {src}->{dst} exceeds "
                          f"{MAX_REASSEMBLY} octets; dropped")  # fmt: skip
            return
        if th & 0x80:  # FIN
            del self.assemblies[key]
            self._fragment(d, lf, b"".join(asm[1]), asm[3], frame, ts_ns)
        else:
            asm[0] = (seq + 1) & 0x3F

    # -- application layer -----------------------------------------------------------------
    def _fragment(self, d: int, lf: LinkFrame, apdu: bytes, segments: int, frame: int,
                  ts_ns: int) -> None:  # fmt: skip
        if len(apdu) < 2:
            self._anomaly(d, ts_ns, "truncated", f"application fragment of {len(apdu)} octets "
                          "has no function code")  # fmt: skip
            return
        _, dst, src, _, _ = lf
        ac, fc = apdu[0], apdu[1]
        anomalies: list[str] = ["user_data_in_link_function"] if self.odd_link else []
        if fc not in FUNCTIONS:
            anomalies.append("unknown_function")
        request = None
        seq = ac & 0x0F
        if fc in RESPONSES:
            if fc == 129 and ac & 0x80:  # the first fragment of a solicited response
                request = self.pending.pop((dst, src, seq), None)
                if request is None:
                    anomalies.append("request_not_captured" if self.requests_lost[1 - d]
                                     else "response_without_request")  # fmt: skip
                else:
                    self.requests_lost[1 - d] = False
        self.requests_lost[d] = False
        event, attributes = self.emitter.message(d, lf, apdu, segments, ts_ns, request,
                                                 anomalies)  # fmt: skip
        if fc not in RESPONSES and fc not in NO_RESPONSE and dst < BROADCAST:
            op = event.ot.action.operation  # type: ignore[union-attr]
            self._remember(d, (src, dst, seq), (frame, ts_ns, fc, op))
        self.out.append(event)
        if attributes and fc in RESPONSES:
            self.out.append(emit.identity(self.flow.src(d), ts_ns, attributes))

    def _remember(self, d: int, key: tuple[int, int, int], req: tuple[int, int, int, str]) -> None:
        if self.pending.add(key, req):  # a reused key replaces the older request
            self._anomaly(d, req[1], "flooded", f"more than {MAX_PENDING} requests outstanding; "
                          "the oldest are dropped")  # fmt: skip

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        self.next_expiry = ts_ns + 10**9
        stale = [(k, p) for k, p in self.pending.items() if ts_ns - p[1] > older_than_ns]
        for k, _ in stale:
            del self.pending[k]
        stale = [(k, p) for k, p in stale if p[1] > self.responses_lost_at]
        if not stale:
            return
        (master, outstation, seq), (_, first, fc, _) = stale[0]
        self._anomaly(0, first, "unanswered_request",
                      f"{len(stale)} request(s) never answered; first: {function_name(fc)} "
                      f"{master}->{outstation} sequence {seq}")  # fmt: skip

    def _anomaly(self, d: int, ts_ns: int, code: str, text: str) -> None:
        self.out.append(self.emitter.anomaly(d, ts_ns, code, text))
