"""DNP3 bytes → link frames, transport segments, application fragments and object headers.
Pure and stateless: raises only NeedMoreData or Malformed.

Layouts: IEEE Std 1815-2012 §9.2 (link frame: 0x05 0x64, LEN, control, destination, source,
header CRC, then user data in blocks of up to 16 octets each followed by its CRC), §8.2 (the
transport octet: FIN, FIR, sequence), §4.2.2 (application control, function code, IIN, object
headers), Annex A (object layouts).
"""

from __future__ import annotations

from itertools import repeat
from operator import xor
from struct import Struct, error as StructError, unpack_from
from time import gmtime, strftime
from typing import Any

from .._contract import Malformed, NeedMoreData
from .constants import (
    DOUBLE_BIT,
    HEADERS_ONLY,
    LAYOUTS,
    PREFIX_SIZES,
    RANGE_SIZES,
    RESPONSES,
    STATE_BIT,
    STRING_GROUPS,
)

LINK = Struct("<BBHHH")  # length, control, destination, source, header CRC (after 0x05 0x64)
_IN_FULL = frozenset((12, 13, 41, 43, 101))  # control blocks, command events, BCD: as points
_STATES = STATE_BIT | DOUBLE_BIT  # binary objects: the state is in the flags octet
_BULK = frozenset(("f", "v", "x"))  # roles of bulk data, decoded as columns
_COLUMNS = {"f": "flags", "v": "values", "x": "float_values"}
_POINT_FIELDS = {"flags": "flags", "values": "value", "float_values": "float_value"}
MAX_POINTS = 2048  # points kept per object header; the rest are counted (`points_omitted`)
_MAX_TIME_MS = 253402300799999  # 9999-12-31T23:59:59.999Z: later times are shown raw only

# -- CRC (§9.2.5: polynomial x^16+x^13+x^12+x^11+x^10+x^8+x^6+x^5+x^2+1, reflected, inverted) --
_T1 = [0] * 256
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0xA6BC if _c & 1 else _c >> 1
    _T1[_i] = _c
# Two octets at a time: the 16-bit register absorbs both, so one lookup per little-endian word
# (register r, word w → _T2[r ^ w]). Entry hi << 8 | lo is (T1[lo] >> 8) ^ T1[hi ^ (T1[lo] & 0xFF)],
# built row by row with iterators (no Python-level loop per entry), on first use: its 65,536
# entries take ~5 ms, which a run that never meets DNP3-like bytes need not pay.
_T2: list[int] = []
_WORDS = {n: Struct(f"<{n}H") for n in range(1, 9)}
del _i, _c


def _two_octet_table() -> list[int]:
    if not _T2:
        hi, lo = [c >> 8 for c in _T1], [c & 0xFF for c in _T1]
        for i in range(256):
            _T2.extend(map(xor, hi, map(_T1.__getitem__, map(xor, lo, repeat(i)))))
    return _T2


def crc(data: bytes) -> int:
    """The DNP3 CRC of `data` (as stored on the wire, little-endian, after the block)."""
    n = len(data)
    c = 0
    t2 = _T2 or _two_octet_table()
    if n >= 2:
        for w in _WORDS[n >> 1].unpack_from(data) if n <= 16 else unpack_from(f"<{n >> 1}H", data):
            c = t2[c ^ w]
    if n & 1:
        c = (c >> 8) ^ _T1[(c ^ data[-1]) & 0xFF]
    return ~c & 0xFFFF


def frame_size(length: int) -> int:
    """Octets on the wire of a link frame whose LEN octet is `length` (>= 5)."""
    n = length - 5
    return 10 + n + 2 * ((n + 15) >> 4)


# The link header as five little-endian words: 0x6405 (the start octets), LEN | control << 8,
# destination, source, header CRC. The CRC is computed from the first four words as unpacked.
_HEADER = Struct("<5H")
_SIZES = [frame_size(n) if n >= 5 else 0 for n in range(256)]
# What follows the header of a frame with LEN n, as words: per full block its 8 data words and
# its CRC; then the last block's data words, its odd octet if any, and its CRC. One Struct per LEN
# (fixed formats made once at import), so a frame's CRCs are read in one call, without slicing.
_BODIES: list[Struct | None] = [None] * 256
for _n in range(6, 256):
    _full, _rest = divmod(_n - 5, 16)
    _BODIES[_n] = Struct("<" + "9H" * _full + (f"{_rest >> 1}H{'B' * (_rest & 1)}H" if _rest else ""))
del _n, _full, _rest

# A link frame: (control, destination, source, user data without CRCs, CRC ok). A tuple: one per frame.
LinkFrame = tuple[int, int, int, bytes, bool]


def header_ok(buf: bytes, pos: int) -> bool:
    """A plausible link header at `pos` (10 octets there): start octets, LEN >= 5, header CRC."""
    start, lc, dst, src, hcrc = _HEADER.unpack_from(buf, pos)
    t = _T2 or _two_octet_table()
    return (start == 0x6405 and lc & 0xFF >= 5
            and ~t[t[t[t[start] ^ lc] ^ dst] ^ src] & 0xFFFF == hcrc)  # fmt: skip


def parse_link(buf: bytes, pos: int = 0) -> tuple[LinkFrame, int]:
    """One link frame at `pos`; returns it and the octets consumed. A bad header CRC is
    Malformed (its length cannot be trusted); a bad data-block CRC is reported in the frame."""
    have = len(buf) - pos
    if have < 10:
        if have and (buf[pos] != 0x05 or (have > 1 and buf[pos + 1] != 0x64)):
            raise Malformed("no 0x05 0x64 start octets")
        raise NeedMoreData(10 - have)
    start, lc, dst, src, hcrc = _HEADER.unpack_from(buf, pos)
    if start != 0x6405:
        raise Malformed("no 0x05 0x64 start octets")
    length = lc & 0xFF
    if length < 5:
        raise Malformed(f"link LEN {length} below the minimum 5")
    t = _T2 or _two_octet_table()
    if ~t[t[t[t[start] ^ lc] ^ dst] ^ src] & 0xFFFF != hcrc:
        raise Malformed("link header CRC mismatch")
    size = _SIZES[length]
    if have < size:
        raise NeedMoreData(size - have)
    if size == 10:
        return (lc >> 8, dst, src, b"", True), 10
    frame = buf[pos : pos + size]
    known = _FRAMES.get(frame)
    if known is not None:
        return known, size
    lf = _user_data(frame, lc >> 8, dst, src, length)
    if len(_FRAMES) >= 2048:
        _FRAMES.clear()
    _FRAMES[frame] = lf
    return lf, size


# Recent link frames with user data → their decoded form (a pure function of the bytes, bounded).
# A repeated frame (the same poll, the same unchanged answer) skips the CRC checks.
_FRAMES: dict[bytes, LinkFrame] = {}


def _user_data(buf: bytes, control: int, dst: int, src: int, length: int) -> LinkFrame:
    """The frame `buf` (whole, header included) with LEN `length` > 5: its user data without the
    CRCs, and whether every data block's CRC matches. Register r absorbs a block word by word;
    the block is good when ~r equals the CRC word that follows it."""
    t = _T2 or _two_octet_table()
    w = _BODIES[length].unpack_from(buf, 10)  # type: ignore[union-attr]
    full, rest = (length - 5) >> 4, (length - 5) & 15
    ok = True
    i = 0
    for _ in range(full):
        a, b, c, d, e, f, g, h, k = w[i : i + 9]
        if ~t[t[t[t[t[t[t[t[a] ^ b] ^ c] ^ d] ^ e] ^ f] ^ g] ^ h] & 0xFFFF != k:
            ok = False
        i += 9
    if rest:
        r = 0
        for j in range(i, i + (rest >> 1)):
            r = t[r ^ w[j]]
        if rest & 1:
            r = (r >> 8) ^ _T1[(r ^ w[-2]) & 0xFF]
        if ~r & 0xFFFF != w[-1]:
            ok = False
        if not full:
            return (control, dst, src, buf[10 : 10 + rest], ok)
    if full == 1:
        data = buf[10:26]
    else:
        data = b"".join([buf[p : p + 16] for p in range(10, i * 2 + 10, 18)])
    if rest:
        end = i * 2 + 10
        data += buf[end : end + rest]
    return (control, dst, src, data, ok)


def find_start(buf: bytes, start: int) -> int:
    """Position of the next plausible link header (start octets, LEN >= 5, header CRC), or -1."""
    find = buf.find
    pos = find(b"\x05\x64", start)
    while pos >= 0:
        if len(buf) - pos < 10:
            return pos  # may be a header still arriving
        if header_ok(buf, pos):
            return pos
        pos = find(b"\x05\x64", pos + 1)
    return -1


# -- application layer ------------------------------------------------------------------------
# An application header: (control octet, function code, IIN or None, object octets).
Apdu = tuple[int, int, int | None, bytes]


def parse_apdu(data: bytes) -> Apdu:
    if len(data) < 2:
        raise Malformed(f"application fragment of {len(data)} octets has no function code")
    fc = data[1]
    if fc in RESPONSES:
        if len(data) < 4:
            raise Malformed("response without its two IIN octets")
        return data[0], fc, data[2] << 8 | data[3], data[4:]
    return data[0], fc, None, data[2:]


def dnp3_time(ms: int) -> str | None:
    """48-bit milliseconds since 1970-01-01 UTC → RFC 3339 (None beyond year 9999)."""
    if ms > _MAX_TIME_MS:
        return None
    sec, msec = divmod(ms, 1000)
    return f"{strftime('%Y-%m-%dT%H:%M:%S', gmtime(sec))}.{msec:03d}Z"


_STRUCTS: dict[str, Struct] = {}


def _struct(fmt: str) -> Struct:
    s = _STRUCTS.get(fmt)
    if s is None:
        s = _STRUCTS[fmt] = Struct(fmt)
    return s


def point(group: int, roles: tuple[str, ...], vals: tuple, index: int | None) -> dict[str, Any]:
    p: dict[str, Any] = {} if index is None else {"index": index}
    tl = None
    for role, v in zip(roles, vals):
        if role == "v":
            if group == 101:  # BCD: the hexadecimal digits are the decimal ones
                digits = f"{v:x}"
                if not digits.isdigit():
                    p["data"] = digits
                    continue
                v = int(digits)
            p["value"] = v
        elif role == "x":
            p["float_value"] = v
        elif role == "f":
            p["flags"] = v
            if group in STATE_BIT:
                p["value"] = v >> 7
            elif group in DOUBLE_BIT:
                p["value"] = v >> 6
        elif role == "tl":
            tl = v
        elif role == "th":
            ms = tl | v << 32  # type: ignore[operator]
            p["time_ms"] = ms
            t = dnp3_time(ms)
            if t is not None:
                p["time"] = t
        elif role == "r":
            p["relative_time_ms"] = v
        elif role == "s":
            p["status"] = v
        elif role == "cc":
            p["control_code"] = v
        elif role == "n":
            p["count"] = v
        elif role == "on":
            p["on_time_ms"] = v
        elif role == "off":
            p["off_time_ms"] = v
        elif role == "i":
            p["interval_ms"] = v
        elif role == "u":
            p["interval_units"] = v
        elif role == "d":
            p["data"] = v.hex()
    return p


def _attribute(data: bytes, at: int, index: int | None) -> tuple[dict[str, Any], int]:
    """Group 0 object: data type code, length, value (§11 device attributes)."""
    if len(data) - at < 2:
        raise Malformed("device attribute truncated")
    dtype, n = data[at], data[at + 1]
    value = data[at + 2 : at + 2 + n]
    if len(value) != n:
        raise Malformed("device attribute value truncated")
    p: dict[str, Any] = {"attribute_type": dtype}
    if index is not None:
        p["index"] = index
    if dtype == 1:  # visible string
        p["text"] = value.decode("latin-1")
    elif dtype in (2, 3) and 0 < n <= 8:
        p["value"] = int.from_bytes(value, "little", signed=dtype == 3)
    elif dtype == 4 and n in (4, 8):
        p["float_value"] = unpack_from("<f" if n == 4 else "<d", value)[0]
    elif dtype == 7 and n == 6:
        p["time_ms"] = ms = int.from_bytes(value, "little")
        t = dnp3_time(ms)
        if t is not None:
            p["time"] = t
    elif dtype == 255:  # list of attribute variations: (variation, properties) pairs
        p["text"] = ",".join(str(value[i]) for i in range(0, n - 1, 2))
    else:
        p["data"] = value.hex()
    return p, at + 2 + n


_FILE_MODES = {0: "nul", 1: "read", 2: "write", 3: "append"}  # g70v3 operational mode


def _file_object(variation: int, body: bytes, index: int | None) -> dict[str, Any]:
    """Group 70 free-format objects: the file name, handle, block and size where they are."""
    p: dict[str, Any] = {} if index is None else {"index": index}
    try:
        if variation in (3, 7) and len(body) >= 4:
            off, n = unpack_from("<HH", body)
            name = body[off : off + n] if off >= 4 else b""
            if variation == 3 and len(body) >= 26:  # name offset/size, created, permissions,
                # authentication key, file size, operational mode, max block, request id, name
                p["value"], mode = unpack_from("<IH", body, 16)
                p["status"] = mode
                p["operation"] = _FILE_MODES.get(mode, f"unknown-{mode}")
            elif variation == 7 and len(body) >= 20:
                p["value"] = unpack_from("<I", body, 6)[0]  # file size
            p["text"] = (name or body[26 if variation == 3 else 20 :][:n]).decode("latin-1")
        elif variation in (4, 5, 6) and len(body) >= 8:
            handle, second = unpack_from("<II", body)
            p["file_handle"] = handle
            if variation == 5:
                p["block"], p["last_block"] = second & 0x7FFFFFFF, second >> 31
                p["data_length"] = len(body) - 8
            elif variation == 6:
                p["block"], p["last_block"] = second & 0x7FFFFFFF, second >> 31
                if len(body) > 8:
                    p["status"] = body[8]
            else:
                p["value"] = second  # file size
                if len(body) >= 13:
                    p["status"] = body[12]
        else:
            p["data_length"] = len(body)
    except (StructError, UnicodeDecodeError):
        p["data_length"] = len(body)
    return p


# An object header: a dict with the keys of ot.dnp3 objects (group, variation, qualifier, range or
# count, the columns indexes / values / float_values / flags, points_omitted) and `points`, a
# list of point dicts
ObjectHeader = dict[str, Any]


def parse_objects(fc: int, body: bytes) -> tuple[list[ObjectHeader], str | None]:
    """Object headers (and their objects) of one fragment. Returns what was decoded and, when
    the rest could not be, why (the headers before the fault are kept)."""
    out: list[ObjectHeader] = []
    pos, end = 0, len(body)
    headers_only = fc in HEADERS_ONLY
    try:
        while pos < end:
            if end - pos < 3:
                return out, "object header truncated"
            g, v, q = body[pos], body[pos + 1], body[pos + 2]
            pos += 3
            prefix_code, range_code = (q >> 4) & 7, q & 0x0F
            if q & 0x80 or prefix_code == 7 or range_code not in RANGE_SIZES:
                return out, f"invalid qualifier 0x{q:02x} (group {g} variation {v})"
            obj: ObjectHeader = {"group": g, "variation": v, "qualifier": q}
            out.append(obj)
            rsize = RANGE_SIZES[range_code]
            if end - pos < (2 * rsize if range_code < 6 else rsize):
                return out, "object range truncated"
            start = count = None
            if range_code < 6:
                start = int.from_bytes(body[pos : pos + rsize], "little")
                stop = int.from_bytes(body[pos + rsize : pos + 2 * rsize], "little")
                pos += 2 * rsize
                if stop < start:
                    return out, f"range stop {stop} before start {start}"
                obj["range_start"], obj["range_stop"] = start, stop
                count = stop - start + 1
            elif range_code != 6:
                count = int.from_bytes(body[pos : pos + rsize], "little")
                pos += rsize
                obj["count"] = count
            if count is None or (headers_only and not prefix_code) or (fc in (11, 12) and g != 50):
                continue  # no objects follow (all points, or a request naming points)
            psize = PREFIX_SIZES[prefix_code]
            if (headers_only or fc in (11, 12)) and prefix_code <= 3:  # points named, no data
                if end - pos < psize * count:
                    return out, "index list truncated"
                if prefix_code <= 3:
                    obj["indexes"] = [int.from_bytes(body[p : p + psize], "little")
                                      for p in range(pos, pos + psize * min(count, MAX_POINTS),
                                                     psize)]  # fmt: skip
                pos += psize * count
                continue
            pos = _objects(obj, g, v, prefix_code, psize, start, count, body, pos)
    except Malformed as e:
        return out, str(e)
    except (StructError, IndexError, ValueError) as bad:  # defence in depth
        return out, f"object data truncated ({bad})"
    return out, None


def _objects(obj: ObjectHeader, g: int, v: int, prefix_code: int, psize: int, start: int | None,
             count: int, body: bytes, pos: int) -> int:  # fmt: skip
    """Decode `count` objects of one header into obj["points"]; returns the position after them."""
    end = len(body)
    keep = min(count, MAX_POINTS)
    if count > MAX_POINTS:
        obj["points_omitted"] = count - MAX_POINTS
    index_prefix = 1 <= prefix_code <= 3
    layout = LAYOUTS.get((g, v))
    if g in STRING_GROUPS and not prefix_code:
        layout = (f"<{v}s", ("t",)) if v else None
    if isinstance(layout, str) and not index_prefix:  # packed bits
        width = 1 if layout == "bit" else 2
        n = (count * width + 7) >> 3
        if end - pos < n:
            raise Malformed(f"{count} packed objects need {n} octets")
        mask = (1 << width) - 1
        obj["values"] = [(body[pos + (bit >> 3)] >> (bit & 7)) & mask
                         for bit in range(0, keep * width, width)]  # fmt: skip
        if start is not None:
            obj["indexes"] = list(range(start, start + keep))
        return pos + n
    if isinstance(layout, str):
        layout = ("<B", ("v",))  # a packed type with index prefixes: one octet per object
    if g == 0 or g == 70 or 4 <= prefix_code <= 6 or layout is None:
        return _variable(obj, g, v, prefix_code, psize, start, count, keep, body, pos)
    fmt, roles = layout
    if index_prefix:  # the index prefix is unpacked with the object: it comes first
        fmt = "<" + {1: "B", 2: "H", 4: "I"}[psize] + fmt[1:]
    st = _struct(fmt)
    step = st.size
    if end - pos < step * count:
        raise Malformed(f"{count} objects of group {g} variation {v} need {step * count} octets, "
                        f"{end - pos} remain")  # fmt: skip
    rows = list(st.iter_unpack(body[pos : pos + step * keep])) if step else [()] * keep
    if roles == ("t",):  # strings
        obj["points"] = [{"index": r[0], "text": r[1].decode("latin-1")} if index_prefix else
                         {"text": r[0].decode("latin-1")} if start is None else
                         {"index": start + k, "text": r[0].decode("latin-1")}
                         for k, r in enumerate(rows)]  # fmt: skip
    elif g in _IN_FULL or not _BULK.issuperset(roles):  # commands, timed objects, BCD
        obj["points"] = [point(g, roles, r[1:], r[0]) if index_prefix else
                         point(g, roles, r, None if start is None else start + k)
                         for k, r in enumerate(rows)]  # fmt: skip
    elif roles:  # bulk data (static values, flags): one list per field, as columns
        cols = list(zip(*rows)) if rows else [()] * (len(roles) + index_prefix)
        if index_prefix:
            obj["indexes"] = list(cols[0])
            cols = cols[1:]
        elif start is not None:
            obj["indexes"] = list(range(start, start + keep))
        for role, col in zip(roles, cols):
            obj[_COLUMNS[role]] = list(col)
        if "flags" in obj and "values" not in obj and g in _STATES:
            shift = 7 if g in STATE_BIT else 6
            obj["values"] = [f >> shift for f in obj["flags"]]
    return pos + step * count


def expand(obj: ObjectHeader) -> list[dict[str, Any]]:
    """The points of an object header as dicts, whichever form `parse_objects` left them in."""
    cols = {k: obj[k] for k in ("indexes", "values", "float_values", "flags") if k in obj}
    if not cols:
        return obj.get("points", [])
    names = [k for k in cols if k != "indexes"]
    n = max((len(cols[k]) for k in names), default=0)
    out = []
    for i in range(n):
        p = {_POINT_FIELDS[k]: cols[k][i] for k in names}
        if cols.get("indexes") is not None:
            p["index"] = cols["indexes"][i]
        out.append(p)
    return out


def _variable(obj: ObjectHeader, g: int, v: int, prefix_code: int, psize: int, start: int | None,
              count: int, keep: int, body: bytes, pos: int) -> int:  # fmt: skip
    """Objects whose size is not fixed by the variation: device attributes, free-format objects
    (size prefixes), strings with index prefixes."""
    points = []
    index_prefix = 1 <= prefix_code <= 3
    for k in range(count):
        index = None if start is None else start + k
        if index_prefix:
            if len(body) - pos < psize:
                raise Malformed("object prefix truncated")
            index = int.from_bytes(body[pos : pos + psize], "little")
            pos += psize
        if g == 0:
            p, pos = _attribute(body, pos, index)
        elif 4 <= prefix_code <= 6:
            if len(body) - pos < psize:
                raise Malformed("object size prefix truncated")
            n = int.from_bytes(body[pos : pos + psize], "little")
            pos += psize
            if len(body) - pos < n:
                raise Malformed(f"object of {n} octets truncated")
            p = _file_object(v, body[pos : pos + n], index) if g == 70 else (
                {"data_length": n} if index is None else {"index": index, "data_length": n})
            pos += n
        elif g in STRING_GROUPS and v:
            if len(body) - pos < v:
                raise Malformed("string object truncated")
            p = {"text": body[pos : pos + v].decode("latin-1")}
            if index is not None:
                p["index"] = index
            pos += v
        else:
            raise Malformed(f"group {g} variation {v}: object size unknown")
        if k < keep:
            points.append(p)
    obj["points"] = points
    return pos

