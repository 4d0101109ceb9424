"""ISO transport on TCP: RFC 1006 TPKT framing and ISO 8073 / X.224 COTP (class 0) TPDUs.

Shared by the protocols carried on TCP 102 (S7comm, S7comm-plus, IEC 61850 MMS): a TPKT frames one
TPDU; data TPDUs (DT) carry the application's bytes, and a message longer than the negotiated
TPDU size is split over several DTs, the last one flagged end-of-TSDU (EOT). Pure and stateless
apart from `Reassembler` and `TpktSession` (the stream framing its sessions share); the parsers
raise only NeedMoreData or Malformed.
"""

from __future__ import annotations

from abc import abstractmethod
from struct import Struct
from typing import TYPE_CHECKING, NamedTuple

from ._contract import Malformed, NeedMoreData
from ._pending import StreamLosses

if TYPE_CHECKING:
    from ..capture.tcp import Gap

TPKT_VERSION = 3
TPKT_HEADER = 4
MIN_TPKT = 7  # header + the shortest TPDU (DT class 0: LI, code, EOT/number)

# X.224 §13.1 Table 8: TPDU codes (high nibble; CR/CC carry the credit in the low nibble)
CR, CC, DR, DC, DT, ED, AK, EA, RJ, ER = 0xE0, 0xD0, 0x80, 0xC0, 0xF0, 0x10, 0x60, 0x20, 0x50, 0x70
TPDU_NAMES = {
    CR: "connection_request", CC: "connection_confirm", DR: "disconnect_request",
    DC: "disconnect_confirm", DT: "data", ED: "expedited_data", AK: "data_acknowledgement",
    EA: "expedited_data_acknowledgement", RJ: "reject", ER: "tpdu_error",
}  # fmt: skip
# X.224 §13.3.4: variable-part parameters of CR/CC
P_TPDU_SIZE, P_CALLING_TSAP, P_CALLED_TSAP = 0xC0, 0xC1, 0xC2

_REFS = Struct(">HH")


def parse_tpkt(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """The TPKT at `pos`: returns (start of its TPDU, end of the TPKT)."""
    have = len(buf) - pos
    if have < TPKT_HEADER:
        raise NeedMoreData(TPKT_HEADER - have)
    if buf[pos] != TPKT_VERSION or buf[pos + 1]:
        raise Malformed(f"TPKT version {buf[pos]}.{buf[pos + 1]}, expected 3.0")
    length = (buf[pos + 2] << 8) | buf[pos + 3]
    if length < MIN_TPKT:
        raise Malformed(f"TPKT length {length} shorter than a TPDU")
    end = pos + length
    if end > len(buf):
        raise NeedMoreData(end - len(buf))
    return pos + TPKT_HEADER, end


def tpkt_plausible(buf: bytes, pos: int) -> bool:
    """A look at one TPKT header and the TPDU code it announces (for resynchronisation)."""
    if len(buf) - pos < 6 or buf[pos] != TPKT_VERSION or buf[pos + 1]:
        return False
    length, li, code = (buf[pos + 2] << 8) | buf[pos + 3], buf[pos + 4], buf[pos + 5]
    if length < MIN_TPKT or li < 2 or li + 5 > length:
        return False
    return code == DT if li == 2 else (code & 0xF0) in TPDU_NAMES and code != DT


class Connection(NamedTuple):
    """A CR, CC, DR or DC TPDU."""

    code: int  # CR / CC / DR / DC
    dst_ref: int
    src_ref: int
    option: int  # CR/CC: class and options; DR: reason; DC: 0
    params: dict[int, bytes]  # variable part, by parameter code


def parse_connection(tpdu: bytes) -> Connection:
    """A CR/CC/DR/DC TPDU (LI onwards)."""
    if len(tpdu) < 2:
        raise Malformed("COTP TPDU shorter than its code")
    li, code = tpdu[0], tpdu[1] & 0xF0
    if li < (5 if code == DC else 6) or li + 1 > len(tpdu):
        raise Malformed(f"COTP length indicator {li} too short or beyond the TPKT")
    dst, src = _REFS.unpack_from(tpdu, 2)
    if code == DC:  # DC has no class/reason octet
        return Connection(code, dst, src, 0, {})
    params: dict[int, bytes] = {}
    at, end = 7, li + 1
    while at + 2 <= end:
        n = tpdu[at + 1]
        if at + 2 + n > end:
            raise Malformed("COTP parameter runs past the header")
        params[tpdu[at]] = tpdu[at + 2 : at + 2 + n]
        at += 2 + n
    if at != end:
        raise Malformed("COTP header ends inside a parameter")
    return Connection(code, dst, src, tpdu[6], params)


def tpdu_size(params: dict[int, bytes]) -> int | None:
    """The negotiated maximum TPDU size (parameter 0xC0 is log2 of it)."""
    v = params.get(P_TPDU_SIZE)
    return 1 << v[0] if v and 7 <= v[0] <= 13 else None


class Reassembler:
    """One direction's DT segments → whole TSDUs. At most `limit` bytes are held: a TSDU longer
    than that is dropped (the caller reports it) and reassembly restarts at the next EOT."""

    __slots__ = ("parts", "size", "limit", "overflow", "first_frame")

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.overflow = False
        self.first_frame = 0

    def add(self, payload: bytes, eot: bool, frame: int) -> bytes | None:
        """The DT's user data; returns the TSDU it completes, or None."""
        parts = self.parts
        if eot and not parts and not self.overflow:
            return payload  # the usual case: one DT carries the whole message
        if self.overflow:
            if eot:
                self.overflow = False
            return None
        if not parts:
            if not payload and not eot:  # an empty DT before the data adds nothing
                return None
            self.first_frame = frame
        parts.append(payload)
        self.size += len(payload)
        if self.size > self.limit:
            self.reset()
            self.overflow = not eot
            raise Malformed(f"COTP segments exceed {self.limit} bytes")
        if not eot:
            return None
        tsdu = b"".join(parts)
        self.reset()
        return tsdu

    def reset(self) -> None:
        self.parts, self.size = [], 0

    @property
    def pending(self) -> bool:
        return bool(self.parts)


class TpktSession(StreamLosses):
    """The TCP side of a session over TPKT/COTP (S7comm, MMS): each direction's bytes → TPKTs;
    DT TPDUs reassembled into TSDUs for `_tsdu(d, tsdu, frame, ts_ns)`, other TPDUs to
    `_connection(d, tpdu, ts_ns)`; after garbage or a gap, resynchronised on the next plausible
    TPKT. The session sets `buf`, `resync`, `segments` (a Reassembler per direction) and
    `next_expiry`, and may take a whole TPKT itself first (`_whole`)."""

    RESYNC = "the next TPKT"
    UNANSWERED_NS = 30 * 10**9  # a request unanswered this long is reported

    buf: list[bytes]
    resync: list[bool]
    segments: tuple[Reassembler, Reassembler]
    next_expiry: int

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        buf = self.buf[d] + data if self.buf[d] else data
        pos, end = 0, len(buf)
        if self.resync[d]:
            pos = self._find_tpkt(buf, 0)
            if pos < 0:
                self.buf[d] = b""
                return
            self.resync[d] = False
        segments = self.segments[d]
        while pos < end:
            taken = self._whole(d, buf, pos, end, frame, ts_ns)
            if taken:
                pos = taken
                continue
            try:
                start, stop = parse_tpkt(buf, pos)
            except NeedMoreData:
                break
            except Malformed as e:
                self._anomaly(d, ts_ns, "framing_lost", f"TPKT framing lost ({e}); resynchronising")
                pos = self._find_tpkt(buf, pos + 1)
                if pos < 0:
                    pos = end
                continue
            pos = stop
            li = buf[start]
            if buf[start + 1] == DT and li >= 2 and start + 1 + li <= stop:
                try:
                    tsdu = segments.add(buf[start + 1 + li : stop], bool(buf[start + 2] & 0x80), frame)
                except Malformed as e:
                    self._anomaly(d, ts_ns, "reassembly_overflow", str(e))
                    continue
                if tsdu:
                    self._tsdu(d, tsdu, frame, ts_ns)
            else:
                self._connection(d, buf[start:stop], ts_ns)
        self.buf[d] = buf[pos:] if pos < end else b""
        if ts_ns >= self.next_expiry:
            self._expire(ts_ns, self.UNANSWERED_NS)

    @abstractmethod
    def _tsdu(self, d: int, tsdu: bytes, frame: int, ts_ns: int) -> None:
        """One reassembled TSDU (the protocol's session decodes it)."""

    @abstractmethod
    def _connection(self, d: int, tpdu: bytes, ts_ns: int) -> None:
        """A TPDU other than DT (connection request, confirm, disconnect, ...)."""

    def _whole(self, d: int, buf: bytes, pos: int, end: int, frame: int, ts_ns: int) -> int:
        """A session's fast path: the end of the TPKT at `pos` if it handled it, else 0."""
        return 0

    @staticmethod
    def _find_tpkt(buf: bytes, start: int) -> int:
        i = buf.find(b"\x03\x00", start)
        while i >= 0:
            if tpkt_plausible(buf, i):
                return i
            i = buf.find(b"\x03\x00", i + 1)
        return -1

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        self.buf[d], self.resync[d] = b"", True
        self.segments[d].reset()
        if gap.cause == "late":
            return
        if gap.cause == "snaplen":
            self._anomaly(d, ts_ns, "truncated", f"the capture cut a segment short; the {self.NAME} "
                          "message in it is lost")  # fmt: skip
            return
        self._stream_gap(d, gap, ts_ns)
