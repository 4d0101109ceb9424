"""MQTT bytes → control packets. Pure and stateless: raises only NeedMoreData or Malformed.

Layouts: MQTT 3.1.1 §2-§3 and MQTT 5.0 §2-§3 (one fixed header, then a variable header and
payload per packet type; 5.0 adds properties and reason codes). The version a packet is read with
comes from the session (the CONNECT it saw), so this module takes it as an argument.
"""

from __future__ import annotations

from struct import Struct, error as StructError
from typing import Any

from .._contract import Malformed, NeedMoreData
from .constants import (
    ASSIGNED_ID,
    AUTH,
    AUTH_METHOD,
    CONNACK,
    CONNECT,
    DISCONNECT,
    PROPERTIES,
    PUBLISH,
    REASON_STRING,
    SUBACK,
    SUBSCRIBE,
    TOPIC_ALIAS,
    UNSUBACK,
    UNSUBSCRIBE,
)

_H = Struct(">H")
_HH = Struct(">HH")
_I = Struct(">I")

Fields = dict[str, Any]  # ot.mqtt names → values, passed into the event as they are


def parse_header(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    """The fixed header at `pos`: (byte 0, start of the variable header, end of the packet)."""
    have = len(buf) - pos
    if have < 2:
        raise NeedMoreData(2 - have)
    b = buf[pos + 1]
    if b < 0x80:  # the common case: remaining length < 128
        end = pos + 2 + b
        if end > len(buf):
            raise NeedMoreData(end - len(buf))
        return buf[pos], pos + 2, end
    length, shift, i = b & 0x7F, 7, pos + 2
    while True:
        if i >= len(buf):
            raise NeedMoreData(1)
        b = buf[i]
        length |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            break
        if shift == 21:
            raise Malformed("remaining length longer than four bytes")
        shift += 7
    end = i + length
    if end > len(buf):
        raise NeedMoreData(end - len(buf))
    return buf[pos], i, end


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A variable byte integer (§1.5.5 / §2.2.3): (value, position after it)."""
    value = shift = 0
    for i in range(pos, min(pos + 4, len(buf))):
        b = buf[i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i + 1
        shift += 7
    raise Malformed("variable byte integer runs past the packet or beyond four bytes")


def string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    """A UTF-8 string with its two-byte length; invalid UTF-8 is kept (replacement characters)."""
    if pos + 2 > end:
        raise Malformed("string length runs past the packet")
    n = (buf[pos] << 8) | buf[pos + 1]
    stop = pos + 2 + n
    if stop > end:
        raise Malformed(f"string of {n} bytes runs past the packet")
    raw = buf[pos + 2 : stop]
    try:
        return raw.decode(), stop
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), stop


def binary(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Binary data with its two-byte length: (its length, position after it)."""
    if pos + 2 > end:
        raise Malformed("binary length runs past the packet")
    n = (buf[pos] << 8) | buf[pos + 1]
    if pos + 2 + n > end:
        raise Malformed(f"binary data of {n} bytes runs past the packet")
    return n, pos + 2 + n


def properties(buf: bytes, pos: int, end: int, out: Fields) -> int:
    """5.0 properties (§2.2.2): their names go to `out["properties"]`; the few an analyst needs
    (topic alias, reason string, authentication method, assigned client id, user properties)
    to their own fields. Returns the position after them."""
    length, pos = varint(buf, pos)
    stop = pos + length
    if stop > end:
        raise Malformed(f"properties of {length} bytes run past the packet")
    if not length:
        return pos
    names: list[str] = []
    try:
        while pos < stop:
            pid = buf[pos]
            pos += 1
            name, kind = PROPERTIES.get(pid) or ("", "")
            if not name:
                raise Malformed(f"unknown property identifier {pid:#x}")
            names.append(name)
            if kind == "b":
                value: Any = buf[pos]
                pos += 1
            elif kind == "h":
                value = _H.unpack_from(buf, pos)[0]
                pos += 2
            elif kind == "i":
                value = _I.unpack_from(buf, pos)[0]
                pos += 4
            elif kind == "v":
                value, pos = varint(buf, pos)
            elif kind == "s":
                value, pos = string(buf, pos, stop)
            elif kind == "d":
                value, pos = binary(buf, pos, stop)
            else:  # string pair
                key, pos = string(buf, pos, stop)
                val, pos = string(buf, pos, stop)
                out.setdefault("user_properties", []).append(f"{key}={val}")
                continue
            if pid == TOPIC_ALIAS:
                out["topic_alias"] = value
            elif pid == REASON_STRING:
                out["reason_string"] = value
            elif pid == AUTH_METHOD:
                out["authentication_method"] = value
            elif pid == ASSIGNED_ID:
                out["assigned_client_id"] = value
    except (IndexError, StructError):
        raise Malformed("property runs past the packet") from None
    if pos != stop:
        raise Malformed("last property runs past the properties length")
    out["properties"] = names
    return pos


def parse_packet(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    """The variable header and payload of one packet (`buf[pos:end]`), read as 5.0 when `v5`."""
    ptype = first >> 4
    parse = _PARSERS.get(ptype)
    if parse is None:  # PINGREQ, PINGRESP, reserved types: no body to read
        return {}
    try:
        return parse(first, buf, pos, end, v5)
    except (IndexError, StructError):
        raise Malformed("packet shorter than its fields") from None


def _connect(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    name, pos = string(buf, pos, end)
    level, flags, keep_alive = buf[pos], buf[pos + 1], _H.unpack_from(buf, pos + 2)[0]
    pos += 4
    f: Fields = {"protocol_name": name, "protocol_level": level, "connect_flags": flags,
                 "clean_session": bool(flags & 2), "keep_alive": keep_alive,
                 "username_present": bool(flags & 0x80),
                 "password_present": bool(flags & 0x40)}  # fmt: skip
    v5 = level == 5  # CONNECT states its own version
    if v5:
        pos = properties(buf, pos, end, f)
    f["client_id"], pos = string(buf, pos, end)
    if flags & 4:
        f["will_qos"], f["will_retain"] = (flags >> 3) & 3, bool(flags & 0x20)
        if v5:
            will: Fields = {}
            pos = properties(buf, pos, end, will)
        f["will_topic"], pos = string(buf, pos, end)
        f["will_payload_length"], pos = binary(buf, pos, end)
    if flags & 0x80:
        f["username"], pos = string(buf, pos, end)
    if flags & 0x40:  # never kept: only its presence
        _, pos = binary(buf, pos, end)
    if pos != end:
        raise Malformed(f"{end - pos} bytes after the CONNECT payload")
    return f


def _connack(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    if end - pos < 2:
        raise Malformed("CONNACK shorter than 2 bytes")
    f: Fields = {"session_present": bool(buf[pos] & 1), "reason_code": buf[pos + 1]}
    if end - pos > 2:
        if not v5:
            raise Malformed(f"3.1.1 CONNACK of {end - pos} bytes, not 2")
        properties(buf, pos + 2, end, f)
    return f


def _publish(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    qos = (first >> 1) & 3
    topic, pos = string(buf, pos, end)
    f: Fields = {"dup": bool(first & 8), "qos": qos, "retain": bool(first & 1), "topic": topic}
    if qos:
        if pos + 2 > end:
            raise Malformed("PUBLISH without its packet identifier")
        f["packet_id"] = (buf[pos] << 8) | buf[pos + 1]
        pos += 2
    if v5:
        pos = properties(buf, pos, end, f)
    f["payload_length"] = end - pos
    return f


def _ack(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    """PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id, then (5.0) a reason code and properties."""
    if end - pos < 2:
        raise Malformed("acknowledgement without its packet identifier")
    f: Fields = {"packet_id": (buf[pos] << 8) | buf[pos + 1]}
    if v5:
        f["reason_code"] = 0  # 5.0 §3.4.2.1: no reason code means 0x00 success
    if end - pos > 2:
        if not v5:
            raise Malformed(f"{end - pos - 2} bytes after the packet identifier")
        f["reason_code"] = buf[pos + 2]
        if end - pos > 3:
            properties(buf, pos + 3, end, f)
    return f


def _subscribe(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    f: Fields = {"packet_id": _H.unpack_from(buf, pos)[0]}
    pos += 2
    if v5:
        pos = properties(buf, pos, end, f)
    filters, options = [], []
    while pos < end:
        topic, pos = string(buf, pos, end)
        if pos >= end:
            raise Malformed("topic filter without its options byte")
        filters.append(topic)
        options.append(buf[pos])
        pos += 1
    f["topic_filters"], f["subscription_options"] = filters, options
    f["requested_qos"] = [o & 3 for o in options]
    return f


def _unsubscribe(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    f: Fields = {"packet_id": _H.unpack_from(buf, pos)[0]}
    pos += 2
    if v5:
        pos = properties(buf, pos, end, f)
    filters = []
    while pos < end:
        topic, pos = string(buf, pos, end)
        filters.append(topic)
    f["topic_filters"] = filters
    return f


def _suback(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    """SUBACK and UNSUBACK (5.0; a 3.1.1 UNSUBACK has only the packet id)."""
    f: Fields = {"packet_id": _H.unpack_from(buf, pos)[0]}
    pos += 2
    if v5:
        pos = properties(buf, pos, end, f)
    if pos < end:
        f["reason_codes"] = list(buf[pos:end])
    return f


def _reason(first: int, buf: bytes, pos: int, end: int, v5: bool) -> Fields:
    """DISCONNECT and AUTH (5.0): an optional reason code, then properties."""
    if pos == end:  # 5.0 §3.14.2.1, §3.15.2.1: no reason code means 0x00
        return {"reason_code": 0} if v5 else {}
    if not v5:
        raise Malformed(f"{end - pos} bytes in a 3.1.1 DISCONNECT")
    f: Fields = {"reason_code": buf[pos]}
    if end - pos > 1:
        properties(buf, pos + 1, end, f)
    return f


_PARSERS = {CONNECT: _connect, CONNACK: _connack, PUBLISH: _publish, 4: _ack, 5: _ack, 6: _ack,
            7: _ack, SUBSCRIBE: _subscribe, SUBACK: _suback, UNSUBSCRIBE: _unsubscribe,
            UNSUBACK: _suback, DISCONNECT: _reason, AUTH: _reason}  # fmt: skip
