"""BACnet service parameters (ANSI/ASHRAE 135-2020 Clauses 13-17, 21) → fields. Pure; raises
only Malformed. Only the services the coverage table lists are read; the others keep their header
fields (their parameters are not decoded)."""

from __future__ import annotations

from typing import Any, Final

from .._contract import Malformed
from .constants import COMPLEX_ACK, CONFIRMED, ERROR, UNCONFIRMED
from .tags import (
    APP,
    CLOSE,
    CTX,
    MAX_VALUES,
    OPEN,
    app_value,
    boolean_at,
    character_string,
    object_id,
    signed,
    tag,
    unsigned,
    values,
)

Fields = dict[str, Any]
_SHORT_CONTEXT: Final = frozenset((8, 9, 10, 11, 12))  # context class, length 0-4 in the tag octet
Access = dict[str, Any]  # one object/property access of a list (→ schema BacnetProperty)


class _Reader:
    """Sequential reading of one service's tagged parameters. The next tag is parsed once and
    kept (`peek` then `ctx` read it twice otherwise)."""

    __slots__ = ("buf", "pos", "end", "_at", "_tag")

    def __init__(self, buf: bytes, pos: int, end: int) -> None:
        self.buf, self.pos, self.end = buf, pos, end
        self._at = -1
        self._tag: tuple[int, int, int, int] = (0, 0, 0, 0)

    def _next(self) -> tuple[int, int, int, int]:
        if self._at != self.pos:
            self._tag = tag(self.buf, self.pos, self.end)
            self._at = self.pos
        return self._tag

    def peek(self) -> tuple[int, int] | None:
        """(kind, number) of the next tag, None at the end."""
        if self.pos >= self.end:
            return None
        kind, number, _, _ = self._next()
        return kind, number

    def ctx(self, number: int, optional: bool = False) -> tuple[int, int] | None:
        """The content span of context tag `number` (None when optional and absent)."""
        if self.pos < self.end:
            kind, n, start, stop = self._next()
            if kind == CTX and n == number:
                self.pos = stop
                return start, stop
        if optional:
            return None
        raise Malformed(f"context tag {number} expected")

    def ctx_unsigned(self, number: int, optional: bool = False) -> int | None:
        pos, buf = self.pos, self.buf
        if pos < self.end and number < 15:  # fast path: a one-octet tag holding its length
            b = buf[pos]
            if b >> 4 == number and b & 0x0F in _SHORT_CONTEXT:
                stop = pos + 1 + (b & 7)
                if stop > self.end:
                    raise Malformed(f"context tag {number} runs past the APDU")
                self.pos = stop
                return unsigned(buf, pos + 1, stop)
        span = self.ctx(number, optional)
        return None if span is None else unsigned(buf, *span)

    def ctx_object(self, number: int, optional: bool = False) -> tuple[int, int] | None:
        pos, buf = self.pos, self.buf
        if pos + 5 <= self.end and buf[pos] == (number << 4) | 0x0C:  # [n], 4 octets
            self.pos = pos + 5
            return object_id(buf, pos + 1, pos + 5)
        span = self.ctx(number, optional)
        return None if span is None else object_id(self.buf, *span)

    def app(self, number: int) -> tuple[int, int, int]:
        """(tag position, content start, content end) of application tag `number`."""
        at = self.pos
        kind, n, start, stop = self._next()
        if kind != APP or n != number:
            raise Malformed(f"application tag {number} expected")
        self.pos = stop
        return at, start, stop

    def opening(self, number: int, optional: bool = False) -> bool:
        if self.pos < self.end:
            kind, n, start, _ = self._next()
            if kind == OPEN and n == number:
                self.pos = start
                return True
        if optional:
            return False
        raise Malformed(f"opening tag {number} expected")

    def closing(self, number: int) -> None:
        kind, n, start, _ = self._next()
        if kind != CLOSE or n != number:
            raise Malformed(f"closing tag {number} expected")
        self.pos = start

    def values(self, number: int) -> list[str]:
        """Opening tag `number`, the values, its closing tag."""
        self.opening(number)
        out: list[str] = []
        self.pos = values(self.buf, self.pos, self.end, number, out)
        return out


def _object(f: Fields, oid: tuple[int, int] | None) -> None:
    if oid is not None:
        f["object_type"], f["object_instance"] = oid


def _device(f: Fields, oid: tuple[int, int] | None) -> None:
    if oid is not None:
        f["device_type"], f["device_instance"] = oid


def _property_ref(r: _Reader, f: Fields, prop_tag: int) -> None:
    f["property_id"] = r.ctx_unsigned(prop_tag)
    index = r.ctx_unsigned(prop_tag + 1, True)
    if index is not None:
        f["array_index"] = index


def read_property(r: _Reader, f: Fields, ack: bool) -> None:
    _object(f, r.ctx_object(0))
    _property_ref(r, f, 1)
    if ack:
        f["values"] = r.values(3)


def write_property(r: _Reader, f: Fields) -> None:
    read_property(r, f, True)
    priority = r.ctx_unsigned(4, True)
    if priority is not None:
        f["priority"] = priority


def read_property_multiple(r: _Reader, f: Fields, ack: bool) -> None:
    """RPM request (lists of property references) and ack (results: values or errors), and WPM
    request (lists of property values) — 15.7, 15.10."""
    out: list[Access] = []
    while r.pos < r.end and len(out) < MAX_VALUES:
        oid = r.ctx_object(0)
        r.opening(1)
        while r.peek() != (CLOSE, 1):
            a: Access = {"object_type": oid[0], "instance": oid[1]}  # type: ignore[index]
            _property_ref(r, a, 2 if ack else 0)
            if ack:
                if r.peek() == (OPEN, 4):
                    a["values"] = r.values(4)
                else:
                    r.opening(5)
                    _, s, e = r.app(9)
                    a["error_class"] = unsigned(r.buf, s, e)
                    _, s, e = r.app(9)
                    a["error_code"] = unsigned(r.buf, s, e)
                    r.closing(5)
            out.append(a)
        r.closing(1)
    f["properties"] = out


def write_property_multiple(r: _Reader, f: Fields) -> None:
    out: list[Access] = []
    while r.pos < r.end and len(out) < MAX_VALUES:
        oid = r.ctx_object(0)
        r.opening(1)
        while r.peek() != (CLOSE, 1):
            a: Access = {"object_type": oid[0], "instance": oid[1]}  # type: ignore[index]
            _property_ref(r, a, 0)
            a["values"] = r.values(2)
            priority = r.ctx_unsigned(3, True)
            if priority is not None:
                a["priority"] = priority
            out.append(a)
        r.closing(1)
    f["properties"] = out


def cov_notification(r: _Reader, f: Fields) -> None:
    """13.14.7 / 13.14.8 (Un)confirmedCOVNotification."""
    f["subscriber_process_id"] = r.ctx_unsigned(0)
    _device(f, r.ctx_object(1))
    _object(f, r.ctx_object(2))
    f["lifetime"] = r.ctx_unsigned(3)
    r.opening(4)
    out: list[Access] = []
    while r.peek() != (CLOSE, 4) and len(out) < MAX_VALUES:
        a: Access = {"object_type": f["object_type"], "instance": f["object_instance"]}
        _property_ref(r, a, 0)
        a["values"] = r.values(2)
        priority = r.ctx_unsigned(3, True)
        if priority is not None:
            a["priority"] = priority
        out.append(a)
    f["properties"] = out


def subscribe_cov(r: _Reader, f: Fields, by_property: bool) -> None:
    """13.14.1 SubscribeCOV / 13.15.1 SubscribeCOVProperty; no issue-confirmed and no lifetime
    is a cancellation."""
    f["subscriber_process_id"] = r.ctx_unsigned(0)
    _object(f, r.ctx_object(1))
    span = r.ctx(2, True)
    if span is not None:
        f["issue_confirmed"] = bool(unsigned(r.buf, *span))
    lifetime = r.ctx_unsigned(3, True)
    if lifetime is not None:
        f["lifetime"] = lifetime
    if by_property and r.opening(4, True):
        _property_ref(r, f, 0)
        r.closing(4)
    f["cancellation"] = span is None and lifetime is None


def reinitialize_device(r: _Reader, f: Fields) -> None:
    """16.4: the state to reach; a password is reported as present, never kept."""
    f["reinitialize_state"] = r.ctx_unsigned(0)
    f["password_present"] = r.ctx(1, True) is not None


def device_communication_control(r: _Reader, f: Fields) -> None:
    """16.1: optional duration (minutes), enable/disable, optional password (never kept)."""
    duration = r.ctx_unsigned(0, True)
    if duration is not None:
        f["duration_minutes"] = duration
    f["enable_disable"] = r.ctx_unsigned(1)
    f["password_present"] = r.ctx(2, True) is not None


def atomic_file(r: _Reader, f: Fields, write: bool, ack: bool) -> None:
    """14.1 AtomicReadFile / 14.2 AtomicWriteFile, requests and acks."""
    buf = r.buf
    if ack and write:  # ctx 0 file start position | ctx 1 file start record
        for n, access in ((0, "stream"), (1, "record")):
            span = r.ctx(n, True)
            if span is not None:
                f["file_access"], f["file_start"] = access, signed(buf, *span)
                return
        raise Malformed("AtomicWriteFile-ACK without a start position or record")
    if ack:
        at, _, _ = r.app(1)
        f["end_of_file"] = boolean_at(buf, at)
    else:
        _, s, e = r.app(12)
        _object(f, object_id(buf, s, e))
    stream = r.opening(0, True)
    if not stream:
        r.opening(1)
    f["file_access"] = "stream" if stream else "record"
    _, s, e = r.app(3)
    f["file_start"] = signed(buf, s, e)
    if not stream and (write or ack):
        _, s, e = r.app(2)
        f["file_count"] = unsigned(buf, s, e)
    if write or ack:
        size = 0
        while r.peek() == (APP, 6):
            _, s, e = r.app(6)
            size += e - s
        f["data_length"] = size
    else:
        _, s, e = r.app(2)
        f["file_count"] = unsigned(buf, s, e)
    r.closing(0 if stream else 1)


def create_object(r: _Reader, f: Fields) -> None:
    """15.3: object specifier (type, or type and instance), optional initial values."""
    r.opening(0)
    span = r.ctx(0, True)
    if span is not None:
        f["object_type"] = unsigned(r.buf, *span)
    else:
        _object(f, r.ctx_object(1))
    r.closing(0)
    if r.opening(1, True):
        out: list[Access] = []
        while r.peek() != (CLOSE, 1) and len(out) < MAX_VALUES:
            a: Access = {"object_type": f.get("object_type"), "instance": f.get("object_instance")}
            _property_ref(r, a, 0)
            a["values"] = r.values(2)
            priority = r.ctx_unsigned(3, True)
            if priority is not None:
                a["priority"] = priority
            out.append(a)
        r.closing(1)
        f["properties"] = out


def app_object(r: _Reader, f: Fields) -> None:
    """DeleteObject request / CreateObject ack: one application object identifier."""
    _, s, e = r.app(12)
    _object(f, object_id(r.buf, s, e))


def who_is(r: _Reader, f: Fields) -> None:
    low = r.ctx_unsigned(0, True)
    if low is not None:
        f["low_limit"], f["high_limit"] = low, r.ctx_unsigned(1)


def i_am(r: _Reader, f: Fields) -> None:
    """16.10.2: device identifier, max APDU accepted, segmentation supported, vendor id."""
    buf = r.buf
    _, s, e = r.app(12)
    _object(f, object_id(buf, s, e))
    _, s, e = r.app(2)
    f["max_apdu_accepted"] = unsigned(buf, s, e)
    _, s, e = r.app(9)
    f["segmentation_supported"] = unsigned(buf, s, e)
    _, s, e = r.app(2)
    f["vendor_id"] = unsigned(buf, s, e)


def who_has(r: _Reader, f: Fields) -> None:
    who_is(r, f)
    oid = r.ctx_object(2, True)
    if oid is not None:
        _object(f, oid)
    else:
        span = r.ctx(3)
        f["object_name"] = character_string(r.buf, *span)  # type: ignore[misc]


def i_have(r: _Reader, f: Fields) -> None:
    buf = r.buf
    _, s, e = r.app(12)
    _device(f, object_id(buf, s, e))
    _, s, e = r.app(12)
    _object(f, object_id(buf, s, e))
    _, s, e = r.app(7)
    f["object_name"] = character_string(buf, s, e)


def time_synchronization(r: _Reader, f: Fields) -> None:
    at, s, e = r.app(10)
    date = app_value(r.buf, 10, s, e, at)
    at, s, e = r.app(11)
    f["values"] = [f"{date}T{app_value(r.buf, 11, s, e, at)}"]


def error(r: _Reader, f: Fields) -> None:
    """20.1.7 / 21: the error class and code, the first two enumerations wherever the service
    nests them (e.g. CreateObject wraps them in [0], WritePropertyMultiple adds [1] the first
    failed write)."""
    found: list[int] = []
    pos, buf, end = r.pos, r.buf, r.end
    while pos < end and len(found) < 2:
        kind, n, start, stop = tag(buf, pos, end)
        if kind == APP and n == 9:
            found.append(unsigned(buf, start, stop))
        pos = stop if kind in (APP, CTX) else start
    if len(found) < 2:
        raise Malformed("Error PDU without its error class and code")
    f["error_class"], f["error_code"] = found


_CONFIRMED: Final = {
    1: cov_notification, 5: lambda r, f: subscribe_cov(r, f, False),
    6: lambda r, f: atomic_file(r, f, False, False), 7: lambda r, f: atomic_file(r, f, True, False),
    10: create_object, 11: app_object, 12: lambda r, f: read_property(r, f, False),
    14: lambda r, f: read_property_multiple(r, f, False), 15: write_property,
    16: write_property_multiple, 17: device_communication_control, 20: reinitialize_device,
    26: lambda r, f: _range(r, f),
    28: lambda r, f: subscribe_cov(r, f, True),
}  # fmt: skip
_ACKS: Final = {
    6: lambda r, f: atomic_file(r, f, False, True), 7: lambda r, f: atomic_file(r, f, True, True),
    10: app_object, 12: lambda r, f: read_property(r, f, True),
    14: lambda r, f: read_property_multiple(r, f, True), 26: lambda r, f: _range(r, f),
}  # fmt: skip
_UNCONFIRMED: Final = {0: i_am, 1: i_have, 2: cov_notification, 6: time_synchronization, 7: who_has,
                       8: who_is, 9: time_synchronization}  # fmt: skip


def _range(r: _Reader, f: Fields) -> None:
    """ReadRange request and ack: the object and property (the range and items are not read)."""
    _object(f, r.ctx_object(0))
    _property_ref(r, f, 1)
    r.pos = r.end


def parse_service(buf: bytes, pos: int, end: int, f: Fields, whole: bool = False) -> bool:
    """The parameters of the service in `f` (after parse_apdu), into `f`. False when the service's
    parameters are not decoded: a segment is decoded only once reassembled (`whole`)."""
    t, service = f["apdu_type"], f.get("service")
    if f.get("segmented") and not whole:
        return False
    if t == CONFIRMED:
        parse = _CONFIRMED.get(service)  # type: ignore[arg-type]
    elif t == UNCONFIRMED:
        parse = _UNCONFIRMED.get(service)  # type: ignore[arg-type]
    elif t == COMPLEX_ACK:
        parse = _ACKS.get(service)  # type: ignore[arg-type]
    elif t == ERROR:
        parse = error
    else:
        return False
    if parse is None:
        return False
    try:
        parse(_Reader(buf, pos, end), f)
    except (IndexError, TypeError):
        raise Malformed("service parameters run past the APDU") from None
    return True
