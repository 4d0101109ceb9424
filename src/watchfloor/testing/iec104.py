"""IEC 60870-5-104 builders: APDUs, ASDUs, information elements, and a link that numbers I
frames the way a real station does (N(S), N(R) per side) over a `TcpConversation`.

Layouts as in IEC 60870-5-104 §5 and IEC 60870-5-101 §7 with the 104 sizes (2-octet COT and
common address, 3-octet IOA). Standard library only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from watchfloor.testing.modbus import Endpoint, Record, TcpConversation

DEFAULT_CLIENT = Endpoint("10.10.1.10", 50110, "02:00:00:01:00:0a")  # controlling station
DEFAULT_SERVER = Endpoint("10.10.1.20", 2404, "02:00:00:01:00:14")  # controlled station (RTU)

U_CODES = {"startdt_act": 0x07, "startdt_con": 0x0B, "stopdt_act": 0x13, "stopdt_con": 0x23,
           "testfr_act": 0x43, "testfr_con": 0x83}  # fmt: skip

# causes of transmission
PER, BACK, SPONT, INIT, REQ, ACT, ACTCON, DEACT, DEACTCON, ACTTERM = range(1, 11)
RETREM, RETLOC = 11, 12
INROGEN = 20
REQCOGEN = 37
UNKNOWN_TYPE, UNKNOWN_COT, UNKNOWN_CA, UNKNOWN_IOA = 44, 45, 46, 47


# -- APCI -------------------------------------------------------------------------------------------
def apdu(control: bytes, asdu: bytes = b"", *, length: int | None = None) -> bytes:
    """Start octet, length (control field + ASDU unless given), control field, ASDU."""
    return bytes([0x68, 4 + len(asdu) if length is None else length]) + control + asdu


def i_frame(ns: int, nr: int, asdu: bytes) -> bytes:
    return apdu(struct.pack("<HH", (ns << 1) & 0xFFFF, (nr << 1) & 0xFFFF), asdu)


def s_frame(nr: int) -> bytes:
    return apdu(struct.pack("<HH", 1, (nr << 1) & 0xFFFF))


def u_frame(function: str | int) -> bytes:
    code = U_CODES[function] if isinstance(function, str) else function
    return apdu(bytes([code, 0, 0, 0]))


# -- ASDU -------------------------------------------------------------------------------------------
def asdu(type_id: int, cot: int, common_address: int, objects: Sequence[bytes] | bytes, *,
         sq: bool = False, count: int | None = None, negative: bool = False, test: bool = False,
         originator: int = 0) -> bytes:  # fmt: skip
    """Header + information objects. `objects` are `io(...)` results (SQ=0), or for SQ=1 one
    IOA followed by the elements (use `sequence(...)`); `count` overrides the VSQ number."""
    body = objects if isinstance(objects, bytes) else b"".join(objects)
    n = count if count is not None else (1 if isinstance(objects, bytes) else len(objects))
    c = cot | (0x40 if negative else 0) | (0x80 if test else 0)
    return bytes([type_id, (0x80 if sq else 0) | n, c, originator]) + struct.pack("<H", common_address) + body


def ioa(address: int) -> bytes:
    return address.to_bytes(3, "little")


def io(address: int, *elements: bytes) -> bytes:
    """One information object: its address and its element(s) (value, quality, time...)."""
    return ioa(address) + b"".join(elements)


def sequence(first: int, elements: Iterable[bytes]) -> bytes:
    """SQ=1 body: one address, then consecutive elements."""
    return ioa(first) + b"".join(elements)


# -- information elements (101 §7.2.6) --------------------------------------------------------------
IV, NT, SB, BL, OV = 0x80, 0x40, 0x20, 0x10, 0x01


def siq(on: bool | int, flags: int = 0) -> bytes:
    return bytes([int(on) & 1 | flags])


def diq(state: int, flags: int = 0) -> bytes:
    return bytes([state & 3 | flags])


def vti(value: int, transient: bool = False) -> bytes:
    return bytes([value & 0x7F | (0x80 if transient else 0)])


def qds(flags: int = 0) -> bytes:
    return bytes([flags])


def bsi(value: int) -> bytes:
    return struct.pack("<I", value)


def nva(value: float) -> bytes:
    """Normalised value: -1 <= value < 1, in units of 2**-15."""
    return struct.pack("<h", max(-32768, min(32767, round(value * 32768))))


def sva(value: int) -> bytes:
    return struct.pack("<h", value)


def r32(value: float) -> bytes:
    return struct.pack("<f", value)


def bcr(counter: int, seq: int = 0, carry: bool = False, adjusted: bool = False, invalid: bool = False) -> bytes:
    return struct.pack("<i", counter) + bytes([seq & 0x1F | carry << 5 | adjusted << 6 | invalid << 7])


def scd(status: int, change: int) -> bytes:
    return struct.pack("<HH", status, change)


class Time(NamedTuple):
    year: int  # 2000-2099
    month: int
    day: int
    hour: int
    minute: int
    ms: int  # milliseconds within the minute
    invalid: bool = False
    summer: bool = False
    weekday: int = 0  # 1 = Monday, 0 = not used


def cp56(t: Time) -> bytes:
    """CP56Time2a (101 §7.2.6.18)."""
    return struct.pack("<H", t.ms) + bytes([
        t.minute | (0x80 if t.invalid else 0), t.hour | (0x80 if t.summer else 0),
        t.day | t.weekday << 5, t.month, t.year - 2000])  # fmt: skip


def cp16(ms: int) -> bytes:
    return struct.pack("<H", ms)


def sco(on: bool | int, select: bool = False, qu: int = 0) -> bytes:
    return bytes([int(on) & 1 | qu << 2 | (0x80 if select else 0)])


def dco(state: int, select: bool = False, qu: int = 0) -> bytes:
    return bytes([state & 3 | qu << 2 | (0x80 if select else 0)])


rco = dco  # same layout: RCS 1 = lower, 2 = higher


def qos(ql: int = 0, select: bool = False) -> bytes:
    return bytes([ql & 0x7F | (0x80 if select else 0)])


def qpm(kpa: int, lpc: bool = False, pop: bool = False) -> bytes:
    return bytes([kpa & 0x3F | lpc << 6 | pop << 7])


def qcc(rqt: int = 5, frz: int = 0) -> bytes:
    return bytes([rqt & 0x3F | frz << 6])


def byte(value: int) -> bytes:
    """A one-octet element: QOI, QRP, COI, QPA."""
    return bytes([value])


# -- a numbered link over TCP -----------------------------------------------------------------------
class Link:
    """An IEC 104 connection: I frames get each side's N(S) and acknowledge the peer's frames
    received so far, as stations do. `ns` may be overridden to make gaps and duplicates. After
    `w` I frames without a frame back, the receiver acknowledges them with an S frame (104 §5.5:
    w = 8 by default, below k = 12); `w=None` never does."""

    def __init__(self, conv: TcpConversation | None = None, w: int | None = 8) -> None:
        self.conv = conv if conv is not None else TcpConversation(DEFAULT_CLIENT, DEFAULT_SERVER)
        self.sent = [0, 0]  # next N(S): client, server
        self.w = w
        self.unacked = [0, 0]  # I frames of each side not acknowledged yet

    def _side(self, from_client: bool) -> int:
        return 0 if from_client else 1

    def i(self, from_client: bool, body: bytes, *, ns: int | None = None,
          segment_sizes: Sequence[int] | None = None) -> list[Record]:  # fmt: skip
        k = self._side(from_client)
        n = self.sent[k] if ns is None else ns
        self.sent[k] = (n + 1) % 32768
        self.unacked[1 - k] = 0
        self.unacked[k] += 1
        records = self.conv.send(from_client, i_frame(n, self.sent[1 - k], body),
                                 segment_sizes=segment_sizes)  # fmt: skip
        if self.w is not None and self.unacked[k] >= self.w:
            records += self.s(not from_client)
        return records

    def s(self, from_client: bool) -> list[Record]:
        self.unacked[1 - self._side(from_client)] = 0
        return self.conv.send(from_client, s_frame(self.sent[1 - self._side(from_client)]))

    def u(self, from_client: bool, function: str) -> list[Record]:
        return self.conv.send(from_client, u_frame(function))

    def raw(self, from_client: bool, data: bytes, **kw) -> list[Record]:  # type: ignore[no-untyped-def]
        return self.conv.send(from_client, data, **kw)

    def frame(self, from_client: bool, body: bytes) -> bytes:
        """An I frame numbered as `i` would number it (for several APDUs in one segment)."""
        k = self._side(from_client)
        n = self.sent[k]
        self.sent[k] = (n + 1) % 32768
        return i_frame(n, self.sent[1 - k], body)

    def start(self) -> list[Record]:
        """Handshake, STARTDT act/con."""
        return self.conv.handshake() + self.u(True, "startdt_act") + self.u(False, "startdt_con")
