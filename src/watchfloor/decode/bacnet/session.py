"""Per-flow BACnet/IP state: one BVLL message per datagram; confirmed request / acknowledgement
pairing by invoke id, BVLL request / result pairing, device observations, anomalies.

A UDP "flow" is one pair of B/IP addresses: a Who-Is broadcast and the I-Am unicast or broadcast
answers are different flows, each decoded on its own (unconfirmed services are not paired).
All state lives on the session and dies with the flow; pending requests are bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._contract import Malformed, NeedMoreData
from .._pending import Pending
from . import emit
from .constants import (
    ABORT,
    BVLC_FUNCTIONS,
    COMPLEX_ACK,
    CONFIRMED,
    CONFIRMED_SERVICES,
    ERROR,
    NETWORK_MESSAGES,
    REJECT,
    SIMPLE_ACK,
    UNCONFIRMED,
    UNCONFIRMED_SERVICES,
)
from .services import parse_service
from .wire import Fields, parse_apdu, parse_bvlc, parse_npdu

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING: Final = 255  # one per invoke id and direction, at most
MAX_REASSEMBLIES: Final = 16  # segmented messages being reassembled per flow
MAX_PARSED: Final = 256  # parsed messages kept per flow for reuse
MAX_MESSAGE: Final = 1 << 20  # octets of one reassembled message (a window of 127 x 1476 is ~187 KB)
UNANSWERED_NS: Final = 30 * 10**9  # well beyond the APDU timeout (default 3 s, 3 retries)
_RESPONSES: Final = frozenset((SIMPLE_ACK, COMPLEX_ACK, ERROR, REJECT))
_BVLC_REQUESTS: Final = frozenset((0x01, 0x02, 0x05, 0x06, 0x08))
_BVLC_RESPONSES: Final = frozenset((0x00, 0x03, 0x07))
_BVLL: Final = -1  # pending key of a BVLL request (one outstanding per direction)
_BROADCAST: Final = 0x0B


class BacnetSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        # (requesting direction, invoke id or _BVLL) → frame, ts, fields
        self.pending: Pending[tuple[int, int], tuple[int, int, Fields]] = Pending(MAX_PENDING)
        # (sending direction, invoke id, PDU type) → service data of the segments so far
        self.segments: dict[tuple[int, int, int], list[bytes]] = {}
        self.next_expiry = 0
        # A client polls the same requests and a device often answers with the same values: the
        # parse (fields, anomalies, event detail) of each unsegmented message by its bytes without
        # the invoke id, keyed (where the invoke id was, those bytes); `offsets` lists the places
        # in use per direction (a client's requests have theirs in one place, the answers in
        # another: each message is looked up once).
        self.parsed: dict[tuple[int, bytes], tuple[Fields, list[str], emit.Detail]] = {}
        self.offsets: tuple[list[int], list[int]] = ([], [])

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        for off in self.offsets[d]:  # a message seen before but for its invoke id? (polling)
            hit = self.parsed.get((off, data[:off] + data[off + 1 :] if off >= 0 else data))
            if hit is not None:
                f = dict(hit[0])
                if off >= 0:
                    f["invoke_id"] = data[off]
                self._message(d, f, frame, ts_ns, hit[1][:] or None, hit[2])
                break
        else:
            if not self._parse(d, data, frame, ts_ns):
                return
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, UNANSWERED_NS)

    def _parse(self, d: int, data: bytes, frame: int, ts_ns: int) -> bool:
        """Parse and report one datagram; False if it is not a BVLL message at all."""
        anomalies: list[str] = []
        try:
            function, f, npdu, declared = parse_bvlc(data)
        except NeedMoreData:
            if len(data) >= 2 and data[0] == 0x81:  # cut short: report what is left
                self._message(d, {"bvlc_function": data[1]}, frame, ts_ns, ["truncated"])
            else:
                self._anomaly(d, ts_ns, "truncated", f"datagram of {len(data)} bytes, too short "
                              "for a BVLC header")  # fmt: skip
            return False
        except Malformed as e:
            if len(data) >= 2 and data[0] == 0x81:
                self._message(d, {"bvlc_function": data[1]}, frame, ts_ns, ["malformed_bvlc"])
            else:
                self._anomaly(d, ts_ns, "malformed_bvlc", f"not a BACnet/IP message: {e}")
            return False
        if function not in BVLC_FUNCTIONS:
            anomalies.append("unknown_bvlc_function")
        if declared != len(data):
            anomalies.append("length_mismatch")
        invoke = self._npdu(d, data, npdu, len(data), f, anomalies) if npdu >= 0 else -1
        det = emit.detail(f)
        if not f.get("segmented"):  # the parse is a function of the bytes alone: keep it
            if len(self.parsed) >= MAX_PARSED:
                self.parsed.clear()
                self.offsets[0].clear()
                self.offsets[1].clear()
            key = data[:invoke] + data[invoke + 1 :] if invoke >= 0 else data
            self.parsed[(invoke, key)] = (f, anomalies[:], det)
            if invoke not in self.offsets[d]:
                self.offsets[d].append(invoke)
        self._message(d, f, frame, ts_ns, anomalies or None, det)
        return True

    def _npdu(self, d: int, data: bytes, npdu: int, end: int, f: Fields,
              anomalies: list[str]) -> int:  # fmt: skip
        """Parse the NPDU and what it carries into `f`; returns where the APDU's invoke id is
        (-1: it has none, or it is malformed before it)."""
        try:
            apdu = parse_npdu(data, npdu, end, f)
        except Malformed:
            anomalies.append("malformed_npdu")
            return -1
        if apdu < 0:
            if f["network_message_type"] not in NETWORK_MESSAGES and f["network_message_type"] < 0x80:
                anomalies.append("unknown_network_message")
            return -1
        try:
            start = parse_apdu(data, apdu, end, f)
        except Malformed:
            anomalies.append("malformed_apdu")
            return -1
        t, service = f["apdu_type"], f.get("service")
        if t > ABORT:
            anomalies.append("unknown_apdu_type")
            return -1
        invoke = -1 if t == UNCONFIRMED else apdu + 2 if t == CONFIRMED else apdu + 1
        if service is not None and (t == UNCONFIRMED and service not in UNCONFIRMED_SERVICES
                                    or t != UNCONFIRMED and service not in CONFIRMED_SERVICES):
            anomalies.append("unknown_service")
        if t == CONFIRMED and f["bvlc_function"] == _BROADCAST:
            anomalies.append("confirmed_request_broadcast")
        whole = False
        if f.get("segmented"):
            joined = self._reassemble(d, f, data[start:end], anomalies)
            if joined is None:
                return invoke
            data, start, end, whole = joined, 0, len(joined), True
        try:
            parse_service(data, start, end, f, whole)
        except Malformed:
            anomalies.append("malformed_service")
        return invoke

    def _reassemble(self, d: int, f: Fields, part: bytes, anomalies: list[str]) -> bytes | None:
        """Segments of one message (20.1.2.11, 5.3): the service data of all of them once the
        last (more-follows clear) arrives in sequence; None before. Bounded: MAX_REASSEMBLIES
        messages per flow, MAX_MESSAGE octets each; a segment out of sequence drops the message."""
        key = (d, f["invoke_id"], f["apdu_type"])
        seq = f["sequence_number"]
        parts = self.segments.pop(key, None)
        if seq == 0:
            parts = [part]
        elif parts is None or len(parts) != seq:
            if parts is not None or seq:
                anomalies.append("segment_lost")
            return None
        else:
            parts.append(part)
        if not f["more_follows"]:
            return b"".join(parts)
        if sum(map(len, parts)) > MAX_MESSAGE:
            anomalies.append("segmented_message_too_long")
            return None
        if len(self.segments) >= MAX_REASSEMBLIES:
            del self.segments[next(iter(self.segments))]
        self.segments[key] = parts
        return None

    def _message(self, d: int, f: Fields, frame: int, ts_ns: int, anomalies: list[str] | None,
                 det: emit.Detail | None = None) -> None:  # fmt: skip
        t = f.get("apdu_type")
        request = None
        if t == CONFIRMED:
            if not f.get("sequence_number"):  # the first (or only) segment opens the transaction
                self._remember((d, f["invoke_id"]), frame, ts_ns, f, d)
        elif t in _RESPONSES:
            key = (1 - d, f["invoke_id"])
            more = t == COMPLEX_ACK and f.get("more_follows")
            request = self.pending.get(key) if more else self.pending.pop(key, None)
            if request is None and not f.get("sequence_number"):
                anomalies = [*(anomalies or ()), "response_without_request"]
        elif t == ABORT:  # either side may abort the transaction of the client's invoke id
            key = (1 - d, f["invoke_id"]) if f["from_server"] else (d, f["invoke_id"])
            request = self.pending.pop(key, None)
        elif "apdu_type" not in f and "network_message_type" not in f:
            fn = f["bvlc_function"]
            if fn in _BVLC_REQUESTS:
                self._remember((d, _BVLL), frame, ts_ns, f, d)
            elif fn in _BVLC_RESPONSES:
                request = self.pending.pop((1 - d, _BVLL), None)
        self.out.append(self.emitter.message(d, f, ts_ns, request, anomalies, det))
        if t == UNCONFIRMED and f.get("service") == 0 and "vendor_id" in f:  # a whole I-Am
            self.out.append(emit.device(self.flow.src(d), f, ts_ns))

    def _remember(self, key: tuple[int, int], frame: int, ts_ns: int, f: Fields, d: int) -> None:
        if self.pending.add(key, (frame, ts_ns, f)):
            self._anomaly(d, ts_ns, "flooded", f"more than {MAX_PENDING} requests outstanding; "
                          "the oldest are dropped")  # fmt: skip

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        """Datagrams have no gaps; nothing carries over from one to the next."""

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        if reason == "evicted":
            self._anomaly(0, ts_ns, "flow_evicted", "the flow table was full: this flow was "
                          "evicted and its BACnet state dropped")  # fmt: skip
        self._expire(ts_ns, -1)

    def _expire(self, ts_ns: int, older_than_ns: int) -> None:
        self.next_expiry = ts_ns + 10**9
        stale = [(k, p) for k, p in self.pending.items() if ts_ns - p[1] > older_than_ns]
        if not stale:
            return
        for k, _ in stale:
            del self.pending[k]
        (d, invoke), (_, first, f) = stale[0]
        what = emit.describe(f)[0] + (f" (invoke id {invoke})" if invoke >= 0 else "")
        self._anomaly(d, first, "unanswered_request", f"{len(stale)} request(s) never answered; "
                      f"first: {what}")  # fmt: skip

    def _anomaly(self, d: int, ts_ns: int, code: str, text: str) -> None:
        self.out.append(self.emitter.anomaly(d, ts_ns, code, text))
