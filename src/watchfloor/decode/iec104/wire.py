"""IEC 60870-5-104 bytes → APDUs, ASDU headers and information objects.

Pure and stateless: raises only NeedMoreData or Malformed. Layouts: IEC 60870-5-104 §5 (APCI),
IEC 60870-5-101 §7.2 (ASDU header: type, VSQ, 2-octet COT, 2-octet common address, 3-octet IOA,
the 104 sizes) and §7.3 (information elements).
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct

from ...schema import Iec104Object as Obj
from .._contract import Malformed, NeedMoreData
from .constants import (
    BCR_FLAGS,
    COI,
    DPI,
    KPA,
    MIN_LENGTH,
    QCC_FRZ,
    QDP_FLAGS,
    QDS_FLAGS,
    QOI,
    QRP,
    RCS,
    SEP_STATE,
    SIQ_FLAGS,
    SPI,
    START,
)

# An APDU: (first control octet, control field as one little-endian int, ASDU bytes).
Apdu = tuple[int, int, bytes]

_U32 = Struct("<I")
_I32 = Struct("<i")
_I16 = Struct("<h")
_U16 = Struct("<H")
_F32 = Struct("<f")
_HH = Struct("<HH")
_HEADER = Struct("<BBBBH")  # type, VSQ, COT, originator, common address


def parse_apdu(buf: bytes, pos: int = 0) -> tuple[Apdu, int]:
    """One APDU starting at `pos` (which must hold the start octet); returns it and its size.
    An APDU length below 4 is Malformed: the caller may skip `2 + length` bytes, as the frame
    still occupies them."""
    have = len(buf) - pos
    if have < 2:
        raise NeedMoreData(2 - have)
    if buf[pos] != START:
        raise Malformed(f"start octet 0x{buf[pos]:02x}, IEC 104 is 0x68")
    length = buf[pos + 1]
    if have < 2 + length:
        raise NeedMoreData(2 + length - have)
    if length < MIN_LENGTH:
        raise Malformed(f"APDU length {length} is shorter than the control field")
    ctrl = _U32.unpack_from(buf, pos + 2)[0]
    return (buf[pos + 2], ctrl, buf[pos + 6 : pos + 2 + length]), 2 + length


def apci_type(c1: int) -> int:
    """0 = I, 1 = S, 3 = U (Wireshark's iec60870_104.type)."""
    return 0 if not c1 & 1 else c1 & 3


# -- ASDU header -------------------------------------------------------------------------------

def parse_header(asdu: bytes) -> dict:
    """The ASDU header fields present in `asdu` (a cut-short ASDU gives the leading ones)."""
    n = len(asdu)
    if n >= 6:
        t, vsq, c, oa, ca = _HEADER.unpack_from(asdu)
        return {"type_id": t, "sq": vsq > 127, "count": vsq & 0x7F, "cot": c & 0x3F,
                "negative": bool(c & 0x40), "test": c > 127, "originator": oa,
                "common_address": ca}  # fmt: skip
    h: dict = {}
    if n >= 1:
        h["type_id"] = asdu[0]
    if n >= 2:
        h["sq"] = bool(asdu[1] & 0x80)
        h["count"] = asdu[1] & 0x7F
    if n >= 3:
        c = asdu[2]
        h["cot"], h["negative"], h["test"] = c & 0x3F, bool(c & 0x40), bool(c & 0x80)
    if n >= 4:
        h["originator"] = asdu[3]
    if n >= 6:
        h["common_address"] = asdu[4] | asdu[5] << 8
    return h


# -- information elements (101 §7.2.6) ---------------------------------------------------------

def _flag_table(flags: tuple[tuple[int, str], ...]) -> list[list[str] | None]:
    return [[name for bit, name in flags if b & bit] or None for b in range(256)]


QDS = _flag_table(QDS_FLAGS)
SIQ = _flag_table(SIQ_FLAGS)
QDP = _flag_table(QDP_FLAGS)
BCR = _flag_table(BCR_FLAGS)
QPM = _flag_table(((0x40, "local_change"), (0x80, "not_in_operation")))
COI_FLAGS = _flag_table(((0x80, "parameters_changed"),))
DCS = ("not_permitted", "off", "on", "not_permitted")  # 101 §7.2.6.16
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
INVALID_TIME = ""  # marks a CP56Time2a whose fields are out of range; the session clears it


_CLOCKS: dict[bytes, str] = {}  # a memo of cp56, not state: the minute changes rarely
_SECONDS = [f"{s:02d}." for s in range(60)]
_MILLIS = [f"{ms:03d}Z" for ms in range(1000)]


def _clock(b: bytes, i: int) -> str:
    """`2024-05-06T07:08:` of the five octets of a CP56Time2a after its milliseconds, or
    INVALID_TIME when a field is out of range."""
    mi, h, d = b[i + 2] & 0x3F, b[i + 3] & 0x1F, b[i + 4] & 0x1F
    mo, y = b[i + 5] & 0x0F, b[i + 6] & 0x7F
    if mi < 60 and h < 24 and y < 100 and 1 <= mo <= 12 and (
            1 <= d <= _DAYS[mo - 1] and (d < 29 or mo != 2 or y % 4 == 0)):  # fmt: skip
        return f"{2000 + y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:"
    return INVALID_TIME


def cp56(b: bytes, i: int, o: Obj) -> Obj:
    """CP56Time2a (101 §7.2.6.18) into `o`, as RFC 3339: the clock as written, in UTC (the
    element carries no zone; SU flags a local summer-time clock). Out-of-range fields (a year
    above 99 too) leave the time None."""
    key = b[i + 2 : i + 7]
    clock = _CLOCKS.get(key)
    if clock is None:
        if len(_CLOCKS) >= 4096:
            _CLOCKS.clear()
        clock = _CLOCKS[key] = _clock(b, i)
    ms = b[i] | b[i + 1] << 8
    if clock and ms < 60000:
        o.time = clock + _SECONDS[ms // 1000] + _MILLIS[ms % 1000]
    else:
        o.time = INVALID_TIME
    if b[i + 2] & 0x80:
        o.time_invalid = True
    if b[i + 3] & 0x80:
        o.summer_time = True
    return o


_SINGLES: dict[bytes, float] = {}  # a memo of f32, not state: values repeat (GI, cyclic data)


def f32(b: bytes, i: int) -> float:
    """An IEEE 754 single as the shortest decimal that is the same single (12.34, not
    12.34000015258789): the value the sender wrote."""
    raw = b[i : i + 4]
    s = _SINGLES.get(raw)
    if s is not None:
        return s
    v = _F32.unpack(raw)[0]
    try:  # %g drops trailing zeros: 7 digits also finds shorter values; 9 always identify one
        s = float("%.7g" % v)
        if _F32.pack(s) != raw:
            s = float("%.8g" % v)
            if _F32.pack(s) != raw:
                s = float("%.9g" % v)
    except (OverflowError, ValueError):  # past the largest single; NaN
        return v
    if len(_SINGLES) >= 4096:
        _SINGLES.clear()
    _SINGLES[raw] = s
    return s


Decoder = Callable[[bytes, int, int], Obj]  # (bytes, offset, IOA) → the object
Element = tuple[int, Decoder]  # (size in octets, decoder)


def _siq(b: bytes, i: int, a: int) -> Obj:
    q = b[i]
    return Obj(ioa=a, value=q & 1, state=SPI[q & 1], quality=SIQ[q])


def _diq(b: bytes, i: int, a: int) -> Obj:
    q = b[i]
    return Obj(ioa=a, value=q & 3, state=DPI[q & 3], quality=SIQ[q])


def _vti(b: bytes, i: int, a: int) -> Obj:
    v = b[i] & 0x7F
    return Obj(ioa=a, value=v - 128 if v & 0x40 else v, transient=bool(b[i] & 0x80),
               quality=QDS[b[i + 1]])  # fmt: skip


def _bsi(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=_U32.unpack_from(b, i)[0], quality=QDS[b[i + 4]])


def _nva(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, float_value=_I16.unpack_from(b, i)[0] / 32768, quality=QDS[b[i + 2]])


def _nva_bare(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, float_value=_I16.unpack_from(b, i)[0] / 32768)


def _sva(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=_I16.unpack_from(b, i)[0], quality=QDS[b[i + 2]])


def _r32(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, float_value=f32(b, i), quality=QDS[b[i + 4]])


def _bcr(b: bytes, i: int, a: int) -> Obj:
    s = b[i + 4]
    return Obj(ioa=a, value=_I32.unpack_from(b, i)[0], sequence=s & 0x1F, quality=BCR[s])


def _scd(b: bytes, i: int, a: int) -> Obj:
    st, cd = _HH.unpack_from(b, i)
    return Obj(ioa=a, value=st, change=cd, quality=QDS[b[i + 4]])


def _sep(b: bytes, i: int, a: int) -> Obj:
    e = b[i]
    return Obj(ioa=a, value=e & 3, state=SEP_STATE[e & 3], quality=QDP[e & 0xF8],
               elapsed_ms=_U16.unpack_from(b, i + 1)[0])  # fmt: skip


def _spe_oci(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=b[i], quality=QDP[b[i + 1]], elapsed_ms=_U16.unpack_from(b, i + 2)[0])


def _command(states: tuple[str, ...], mask: int) -> Decoder:
    def element(b: bytes, i: int, a: int) -> Obj:
        c = b[i]
        return Obj(ioa=a, value=c & mask, state=states[c & mask], qualifier=(c >> 2) & 0x1F,
                   select=bool(c & 0x80))  # fmt: skip

    return element


def _qos(o: Obj, q: int) -> Obj:
    o.qualifier, o.select = q & 0x7F, bool(q & 0x80)
    return o


def _sp_nva(b: bytes, i: int, a: int) -> Obj:
    return _qos(Obj(ioa=a, float_value=_I16.unpack_from(b, i)[0] / 32768), b[i + 2])


def _sp_sva(b: bytes, i: int, a: int) -> Obj:
    return _qos(Obj(ioa=a, value=_I16.unpack_from(b, i)[0]), b[i + 2])


def _sp_r32(b: bytes, i: int, a: int) -> Obj:
    return _qos(Obj(ioa=a, float_value=f32(b, i)), b[i + 4])


def _bsi_cmd(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=_U32.unpack_from(b, i)[0])


def _coi(b: bytes, i: int, a: int) -> Obj:
    c = b[i] & 0x7F
    return Obj(ioa=a, value=c, state=COI.get(c, f"unknown-{c}"), quality=COI_FLAGS[b[i]])


def _qoi(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=b[i], state=QOI.get(b[i], f"unknown-{b[i]}"))


def _qcc(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=b[i] & 0x3F, qualifier=b[i] >> 6, state=QCC_FRZ[b[i] >> 6])


def _qrp(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=b[i], state=QRP.get(b[i], f"unknown-{b[i]}"))


def _nothing(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a)


def _time_only(b: bytes, i: int, a: int) -> Obj:
    return cp56(b, i, Obj(ioa=a))


def _u16(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=_U16.unpack_from(b, i)[0])


def _cp16(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, elapsed_ms=_U16.unpack_from(b, i)[0])


def _qpm(o: Obj, q: int) -> Obj:
    k = q & 0x3F
    o.qualifier, o.state, o.quality = k, KPA.get(k, f"unknown-{k}"), QPM[q]
    return o


def _p_nva(b: bytes, i: int, a: int) -> Obj:
    return _qpm(Obj(ioa=a, float_value=_I16.unpack_from(b, i)[0] / 32768), b[i + 2])


def _p_sva(b: bytes, i: int, a: int) -> Obj:
    return _qpm(Obj(ioa=a, value=_I16.unpack_from(b, i)[0]), b[i + 2])


def _p_r32(b: bytes, i: int, a: int) -> Obj:
    return _qpm(Obj(ioa=a, float_value=f32(b, i)), b[i + 4])


def _qpa(b: bytes, i: int, a: int) -> Obj:
    return Obj(ioa=a, value=b[i])


def _timed(size: int, element: Decoder) -> Element:
    """The same element followed by a CP56Time2a."""

    def timed(b: bytes, i: int, a: int) -> Obj:
        return cp56(b, i + size, element(b, i, a))

    return size + 7, timed

_SCO, _DCO, _RCO = _command(SPI, 1), _command(DCS, 3), _command(RCS, 3)
ELEMENTS: dict[int, Element] = {
    1: (1, _siq), 3: (1, _diq), 5: (2, _vti), 7: (5, _bsi), 9: (3, _nva), 11: (3, _sva),
    13: (5, _r32), 15: (5, _bcr), 20: (5, _scd), 21: (2, _nva_bare),
    30: _timed(1, _siq), 31: _timed(1, _diq), 32: _timed(2, _vti), 33: _timed(5, _bsi),
    34: _timed(3, _nva), 35: _timed(3, _sva), 36: _timed(5, _r32), 37: _timed(5, _bcr),
    38: _timed(3, _sep), 39: _timed(4, _spe_oci), 40: _timed(4, _spe_oci),
    45: (1, _SCO), 46: (1, _DCO), 47: (1, _RCO), 48: (3, _sp_nva), 49: (3, _sp_sva),
    50: (5, _sp_r32), 51: (4, _bsi_cmd),
    58: _timed(1, _SCO), 59: _timed(1, _DCO), 60: _timed(1, _RCO), 61: _timed(3, _sp_nva),
    62: _timed(3, _sp_sva), 63: _timed(5, _sp_r32), 64: _timed(4, _bsi_cmd),
    70: (1, _coi), 100: (1, _qoi), 101: (1, _qcc), 102: (0, _nothing), 103: (7, _time_only),
    104: (2, _u16), 105: (1, _qrp), 106: (2, _cp16), 107: _timed(2, _u16),
    110: (3, _p_nva), 111: (3, _p_sva), 112: (5, _p_r32), 113: (1, _qpa),
}  # fmt: skip
_POINTS = {1: (1, SPI), 3: (3, DPI)}  # SIQ / DIQ elements: (value mask, state names)
TIMED = frozenset(t for t in ELEMENTS if 30 <= t <= 40 or 58 <= t <= 64 or t in (103, 107))


def parse_objects(type_id: int, sq: bool, count: int, body: bytes) -> list[Obj]:
    """The information objects after the 6-octet header, as the event's structs. Raises Malformed
    when the body does not hold exactly `count` elements of the type's size; unknown types are
    the caller's to keep raw. A CP56Time2a out of range gives time INVALID_TIME."""
    size, element = ELEMENTS[type_id]
    n = len(body)
    want = 3 + count * size if sq else count * (3 + size)
    if n != want or not count:
        raise Malformed(f"{n} octets of information objects, {count} of type {type_id} need {want}")
    points = _POINTS.get(type_id)
    if points is not None:  # the bulk of interrogation replies, without a call per element
        mask, names = points
        if sq:
            first = body[0] | body[1] << 8 | body[2] << 16
            pairs = zip(range(first, first + count), body[3:])
        else:
            pairs = zip([body[i] | body[i + 1] << 8 | body[i + 2] << 16 for i in range(0, n, 4)],
                        body[3::4])  # fmt: skip
        return [Obj(ioa=a, value=q & mask, state=names[q & mask], quality=SIQ[q]) for a, q in pairs]
    if sq:
        first = body[0] | body[1] << 8 | body[2] << 16
        return [element(body, 3 + k * size, first + k) for k in range(count)]
    return [element(body, i + 3, body[i] | body[i + 1] << 8 | body[i + 2] << 16)
            for i in range(0, n, 3 + size)]  # fmt: skip
