"""BACnet tagged values (ANSI/ASHRAE 135 Clause 20.2): tag headers, primitive contents and their
text form. Pure; raises only Malformed (a tag or content running past the APDU)."""

from __future__ import annotations

from struct import Struct
from typing import Final

from .._contract import Malformed
from .._octets import uint as unsigned
from .tables import OBJECT_TYPES

_F: Final = Struct(">f")
_D: Final = Struct(">d")
OPEN: Final = 0
CLOSE: Final = 1
APP: Final = 2
CTX: Final = 3
MAX_VALUES: Final = 1024  # values kept per message (bounded output; an object-list is often hundreds)
MAX_TEXT: Final = 256  # characters kept per string value

# A tag: (kind, tag number, content start, content end). For APP boolean the value sits in the
# length field: start == end and `boolean` holds it.
Tag = tuple[int, int, int, int]


def _short(b: int) -> tuple[int, int, int] | None:
    """(kind, number, content length) of a one-octet tag with its length in the octet."""
    number, lvt = b >> 4, b & 7
    if number == 15 or (lvt == 5 and not (b & 8 == 0 and number == 1)):
        return None
    if b & 8:
        if lvt == 6:
            return OPEN, number, -1
        if lvt == 7:
            return CLOSE, number, -1
        return CTX, number, lvt
    return APP, number, 0 if number == 1 else lvt


_SHORT: Final = [_short(b) for b in range(256)]


def tag(buf: bytes, pos: int, end: int) -> Tag:
    """The tag at `pos` (20.2.1): kind, number, and where its content lies."""
    if pos >= end:
        raise Malformed("tag expected past the end of the APDU")
    b = buf[pos]
    short = _SHORT[b]
    if short is not None:  # the common case: one octet, length 0-4 or an opening/closing tag
        kind, number, n = short
        if n < 0:
            return kind, number, pos + 1, pos + 1
        stop = pos + 1 + n
        if stop > end:
            raise Malformed(f"tag content of {n} bytes runs past the APDU")
        return kind, number, pos + 1, stop
    number, lvt = b >> 4, b & 7
    pos += 1
    if number == 15:  # extended tag number
        if pos >= end:
            raise Malformed("extended tag number past the end")
        number = buf[pos]
        pos += 1
    if b & 8:  # context specific
        if lvt == 6:
            return OPEN, number, pos, pos
        if lvt == 7:
            return CLOSE, number, pos, pos
        kind = CTX
    else:
        kind = APP
        if number == 1:  # boolean: the value is the length field
            return APP, 1, pos, pos
    if lvt == 5:  # extended length
        if pos >= end:
            raise Malformed("extended length past the end")
        n = buf[pos]
        pos += 1
        if n == 254:
            if pos + 2 > end:
                raise Malformed("extended length past the end")
            n = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
        elif n == 255:
            if pos + 4 > end:
                raise Malformed("extended length past the end")
            n = int.from_bytes(buf[pos : pos + 4], "big")
            pos += 4
        lvt = n
    stop = pos + lvt
    if stop > end:
        raise Malformed(f"tag content of {lvt} bytes runs past the APDU")
    return kind, number, pos, stop


def boolean_at(buf: bytes, pos: int) -> bool:
    """The value of the application boolean whose tag starts at `pos`."""
    return bool(buf[pos] & 7)


def signed(buf: bytes, start: int, stop: int) -> int:
    v = unsigned(buf, start, stop)
    if start < stop and buf[start] & 0x80:
        v -= 1 << (8 * (stop - start))
    return v


def object_id(buf: bytes, start: int, stop: int) -> tuple[int, int]:
    if stop - start != 4:
        raise Malformed(f"object identifier of {stop - start} bytes, not 4")
    return (buf[start] << 2) | (buf[start + 1] >> 6), unsigned(buf, start + 1, stop) & 0x3FFFFF


def object_text(otype: int, instance: int) -> str:
    return f"{OBJECT_TYPES.get(otype) or f'unknown-{otype}'},{instance}"


def character_string(buf: bytes, start: int, stop: int) -> str:
    """20.2.9: a character set byte, then the characters."""
    if start >= stop:
        raise Malformed("character string without its character set")
    charset, raw = buf[start], buf[start + 1 : stop]
    if charset == 0:
        text = raw.decode("utf-8", "replace")
    elif charset == 4:
        text = raw.decode("utf-16-be", "replace")
    elif charset == 3:
        text = raw.decode("utf-32-be", "replace")
    elif charset == 5:
        text = raw.decode("latin-1")
    elif charset == 1 and len(raw) >= 2:  # IBM/Microsoft DBCS: a 2-octet code page first
        page = (raw[0] << 8) | raw[1]
        try:
            text = raw[2:].decode(f"cp{page}", "replace")
        except LookupError:
            text = f"cp{page}:{raw[2:].hex()}"
    else:  # JIS X 0208 (2) and reserved sets: the octets, hex
        text = f"charset-{charset}:{raw.hex()}"
    return text[:MAX_TEXT]


def _date(b: bytes) -> str:
    if len(b) != 4:
        raise Malformed("date of the wrong length")
    y = "*" if b[0] == 255 else str(1900 + b[0])
    m, d = ("*" if b[1] == 255 else f"{b[1]:02}"), ("*" if b[2] == 255 else f"{b[2]:02}")
    return f"{y}-{m}-{d}"


def _time(b: bytes) -> str:
    if len(b) != 4:
        raise Malformed("time of the wrong length")
    return ":".join("*" if x == 255 else f"{x:02}" for x in b[:3]) + ("" if b[3] == 255 else f".{b[3]:02}")


def app_value(buf: bytes, number: int, start: int, stop: int, tag_pos: int) -> str:
    """The text of one application-tagged value (20.2.2-20.2.14)."""
    raw = buf[start:stop]
    if number == 0:
        return "null"
    if number == 1:
        return "true" if boolean_at(buf, tag_pos) else "false"
    if number == 2 or number == 9:
        return str(unsigned(buf, start, stop))
    if number == 3:
        return str(signed(buf, start, stop))
    if number == 4:
        if len(raw) != 4:
            raise Malformed("REAL of the wrong length")
        return repr(_F.unpack(raw)[0])
    if number == 5:
        if len(raw) != 8:
            raise Malformed("Double of the wrong length")
        return repr(_D.unpack(raw)[0])
    if number == 6:
        return raw[:MAX_TEXT].hex()
    if number == 7:
        return character_string(buf, start, stop)
    if number == 8:
        if not raw:
            raise Malformed("bit string without its unused-bits count")
        body = raw[1:MAX_TEXT]
        bits = bin(int.from_bytes(body, "big"))[2:].zfill(8 * len(body)) if body else ""
        return bits[: len(bits) - raw[0]] if raw[0] < 8 else bits
    if number == 10:
        return _date(raw)
    if number == 11:
        return _time(raw)
    if number == 12:
        return object_text(*object_id(buf, start, stop))
    return raw[:MAX_TEXT].hex()  # reserved application tags 13-15


def values(buf: bytes, pos: int, end: int, closing: int, out: list[str]) -> int:
    """The values between an opening tag (already read) and its closing tag `closing`; application
    values as text, constructed (context) values as `[n]hex` of their content. Returns the
    position after the closing tag."""
    depth = 0
    while True:
        kind, number, start, stop = tag(buf, pos, end)
        if kind == CLOSE:
            if depth == 0:
                if number != closing:
                    raise Malformed(f"closing tag {number}, expected {closing}")
                return start
            depth -= 1
        elif kind == OPEN:
            depth += 1
        elif len(out) < MAX_VALUES:
            if kind == APP:
                out.append(app_value(buf, number, start, stop, pos))
            else:
                out.append(f"[{number}]{buf[start:stop].hex()}")
        pos = stop if kind in (APP, CTX) else start
