"""BACnet/IP builders (ANSI/ASHRAE 135: Annex J BVLL, Clause 6 NPDU, Clause 20 APDU and tags)
for tests and generated captures. Standard library only; every builder returns bytes."""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

from watchfloor.testing import frames
from watchfloor.testing.modbus import Endpoint

BACNET_CLIENT = Endpoint("10.0.8.10", 47808, "02:00:00:00:08:0a")
BACNET_DEVICE = Endpoint("10.0.8.20", 47808, "02:00:00:00:08:14")
BROADCAST = Endpoint("10.0.8.255", 47808, "ff:ff:ff:ff:ff:ff")


# -- tags (20.2) --------------------------------------------------------------------------------
def _tag(number: int, context: bool, content: bytes) -> bytes:
    head = (number << 4 if number < 15 else 0xF0) | (8 if context else 0)
    ext = bytes((number,)) if number >= 15 else b""
    n = len(content)
    if n < 5:
        return bytes((head | n,)) + ext + content
    if n < 254:
        return bytes((head | 5,)) + ext + bytes((n,)) + content
    return bytes((head | 5,)) + ext + b"\xfe" + struct.pack(">H", n) + content


def _uint(v: int) -> bytes:
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def _sint(v: int) -> bytes:
    n = 1
    while not -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
        n += 1
    return v.to_bytes(n, "big", signed=True)


def oid(object_type: int, instance: int) -> bytes:
    return struct.pack(">I", (object_type << 22) | instance)


def app_null() -> bytes:
    return b"\x00"


def app_bool(v: bool) -> bytes:
    return bytes((0x10 | int(v),))


def app_unsigned(v: int) -> bytes:
    return _tag(2, False, _uint(v))


def app_signed(v: int) -> bytes:
    return _tag(3, False, _sint(v))


def app_real(v: float) -> bytes:
    return _tag(4, False, struct.pack(">f", v))


def app_octets(v: bytes) -> bytes:
    return _tag(6, False, v)


def app_string(v: str) -> bytes:
    return _tag(7, False, b"\x00" + v.encode())


def app_enum(v: int) -> bytes:
    return _tag(9, False, _uint(v))


def app_date(year: int, month: int, day: int, weekday: int = 255) -> bytes:
    return _tag(10, False, bytes((year - 1900, month, day, weekday)))


def app_time(h: int, m: int, s: int, hundredths: int = 0) -> bytes:
    return _tag(11, False, bytes((h, m, s, hundredths)))


def app_oid(object_type: int, instance: int) -> bytes:
    return _tag(12, False, oid(object_type, instance))


def ctx_unsigned(n: int, v: int) -> bytes:
    return _tag(n, True, _uint(v))


def ctx_signed(n: int, v: int) -> bytes:
    return _tag(n, True, _sint(v))


def ctx_oid(n: int, object_type: int, instance: int) -> bytes:
    return _tag(n, True, oid(object_type, instance))


def ctx_string(n: int, v: str) -> bytes:
    return _tag(n, True, b"\x00" + v.encode())


def opening(n: int) -> bytes:
    return bytes(((n << 4) | 0x0E,))


def closing(n: int) -> bytes:
    return bytes(((n << 4) | 0x0F,))


def enclosed(n: int, content: bytes) -> bytes:
    return opening(n) + content + closing(n)


# -- BVLL / NPDU / APDU -------------------------------------------------------------------------
def bvll(function: int, payload: bytes = b"", *, length: int | None = None) -> bytes:
    return bytes((0x81, function)) + struct.pack(">H", 4 + len(payload) if length is None else length) + payload


def bip(address: str, port: int = 47808) -> bytes:
    return socket.inet_aton(address) + struct.pack(">H", port)


def npdu(apdu: bytes = b"", *, expecting_reply: bool = False, dnet: int | None = None,
         dadr: bytes = b"", snet: int | None = None, sadr: bytes = b"", hop_count: int = 255,
         network_message: int | None = None, priority: int = 0) -> bytes:  # fmt: skip
    control = (0x80 if network_message is not None else 0) | (0x20 if dnet is not None else 0)
    control |= (0x08 if snet is not None else 0) | (4 if expecting_reply else 0) | priority
    out = bytes((1, control))
    if dnet is not None:
        out += struct.pack(">HB", dnet, len(dadr)) + dadr
    if snet is not None:
        out += struct.pack(">HB", snet, len(sadr)) + sadr
    if dnet is not None:
        out += bytes((hop_count,))
    if network_message is not None:
        out += bytes((network_message,))
    return out + apdu


def unicast(apdu: bytes, **kw: object) -> bytes:
    return bvll(0x0A, npdu(apdu, **kw))  # type: ignore[arg-type]


def broadcast(apdu: bytes, **kw: object) -> bytes:
    return bvll(0x0B, npdu(apdu, **kw))  # type: ignore[arg-type]


def forwarded(origin: bytes, apdu: bytes, **kw: object) -> bytes:
    return bvll(0x04, origin + npdu(apdu, **kw))  # type: ignore[arg-type]


def confirmed(invoke_id: int, service: int, params: bytes = b"", *, seq: int | None = None,
              more: bool = False, window: int = 4, max_apdu_code: int = 5) -> bytes:  # fmt: skip
    first = 0x02 | (0x08 if seq is not None else 0) | (0x04 if more else 0)
    head = bytes((first, 0x40 | max_apdu_code, invoke_id))
    if seq is not None:
        head += bytes((seq, window))
    return head + bytes((service,)) + params


def unconfirmed(service: int, params: bytes = b"") -> bytes:
    return bytes((0x10, service)) + params


def simple_ack(invoke_id: int, service: int) -> bytes:
    return bytes((0x20, invoke_id, service))


def complex_ack(invoke_id: int, service: int, params: bytes = b"", *, seq: int | None = None,
                more: bool = False, window: int = 4) -> bytes:  # fmt: skip
    first = 0x30 | (0x08 if seq is not None else 0) | (0x04 if more else 0)
    head = bytes((first, invoke_id)) + (bytes((seq, window)) if seq is not None else b"")
    return head + bytes((service,)) + params


def segment_ack(invoke_id: int, seq: int, window: int = 4, *, server: bool = False) -> bytes:
    return bytes((0x40 | int(server), invoke_id, seq, window))


def error(invoke_id: int, service: int, error_class: int, error_code: int) -> bytes:
    return bytes((0x50, invoke_id, service)) + app_enum(error_class) + app_enum(error_code)


def reject(invoke_id: int, reason: int) -> bytes:
    return bytes((0x60, invoke_id, reason))


def abort(invoke_id: int, reason: int, *, server: bool = True) -> bytes:
    return bytes((0x70 | int(server), invoke_id, reason))


# -- services -----------------------------------------------------------------------------------
def who_is(low: int | None = None, high: int | None = None) -> bytes:
    params = b"" if low is None else ctx_unsigned(0, low) + ctx_unsigned(1, high or low)
    return unconfirmed(8, params)


def i_am(instance: int, vendor_id: int, max_apdu: int = 1476, segmentation: int = 3) -> bytes:
    return unconfirmed(0, app_oid(8, instance) + app_unsigned(max_apdu) + app_enum(segmentation)
                       + app_unsigned(vendor_id))  # fmt: skip


def who_has_name(name: str) -> bytes:
    return unconfirmed(7, ctx_string(3, name))


def i_have(device: int, object_type: int, instance: int, name: str) -> bytes:
    return unconfirmed(1, app_oid(8, device) + app_oid(object_type, instance) + app_string(name))


def property_ref(object_type: int, instance: int, prop: int, index: int | None = None) -> bytes:
    return ctx_oid(0, object_type, instance) + ctx_unsigned(1, prop) + (
        ctx_unsigned(2, index) if index is not None else b"")


def read_property_ack_params(object_type: int, instance: int, prop: int, value: bytes,
                             index: int | None = None) -> bytes:  # fmt: skip
    return property_ref(object_type, instance, prop, index) + enclosed(3, value)


def write_property_params(object_type: int, instance: int, prop: int, value: bytes,
                          priority: int | None = None) -> bytes:  # fmt: skip
    out = property_ref(object_type, instance, prop) + enclosed(3, value)
    return out + (ctx_unsigned(4, priority) if priority is not None else b"")


def rpm_params(specs: Sequence[tuple[int, int, Sequence[int]]]) -> bytes:
    return b"".join(ctx_oid(0, t, i) + enclosed(1, b"".join(ctx_unsigned(0, p) for p in props))
                    for t, i, props in specs)  # fmt: skip


def rpm_ack_params(results: Sequence[tuple[int, int, Sequence[tuple[int, bytes | tuple[int, int]]]]]) -> bytes:
    """Per object: (property, value tags) or (property, (error class, error code))."""
    out = b""
    for t, i, props in results:
        body = b""
        for p, v in props:
            body += ctx_unsigned(2, p)
            body += enclosed(4, v) if isinstance(v, bytes) else enclosed(5, app_enum(v[0]) + app_enum(v[1]))
        out += ctx_oid(0, t, i) + enclosed(1, body)
    return out


def wpm_params(specs: Sequence[tuple[int, int, Sequence[tuple[int, bytes, int | None]]]]) -> bytes:
    out = b""
    for t, i, props in specs:
        body = b"".join(ctx_unsigned(0, p) + enclosed(2, v) + (ctx_unsigned(3, pr) if pr else b"")
                        for p, v, pr in props)  # fmt: skip
        out += ctx_oid(0, t, i) + enclosed(1, body)
    return out


def reinitialize_params(state: int, password: str | None = None) -> bytes:
    return ctx_unsigned(0, state) + (ctx_string(1, password) if password is not None else b"")


def dcc_params(enable_disable: int, minutes: int | None = None, password: str | None = None) -> bytes:
    out = ctx_unsigned(0, minutes) if minutes is not None else b""
    return out + ctx_unsigned(1, enable_disable) + (ctx_string(2, password) if password is not None else b"")


def subscribe_cov_params(pid: int, object_type: int, instance: int, confirmed_: bool | None = True,
                         lifetime: int | None = 300) -> bytes:  # fmt: skip
    out = ctx_unsigned(0, pid) + ctx_oid(1, object_type, instance)
    if confirmed_ is not None:
        out += _tag(2, True, bytes((int(confirmed_),)))
    return out + (ctx_unsigned(3, lifetime) if lifetime is not None else b"")


def cov_notification_params(pid: int, device: int, object_type: int, instance: int,
                            values: Sequence[tuple[int, bytes]], remaining: int = 60) -> bytes:  # fmt: skip
    body = b"".join(ctx_unsigned(0, p) + enclosed(2, v) for p, v in values)
    return (ctx_unsigned(0, pid) + ctx_oid(1, 8, device) + ctx_oid(2, object_type, instance)
            + ctx_unsigned(3, remaining) + enclosed(4, body))  # fmt: skip


def atomic_read_file_params(instance: int, start: int, count: int) -> bytes:
    return app_oid(10, instance) + enclosed(0, app_signed(start) + app_unsigned(count))


def atomic_read_file_ack_params(eof: bool, start: int, data: bytes) -> bytes:
    return app_bool(eof) + enclosed(0, app_signed(start) + app_octets(data))


def atomic_write_file_params(instance: int, start: int, data: bytes) -> bytes:
    return app_oid(10, instance) + enclosed(0, app_signed(start) + app_octets(data))


def create_object_params(object_type: int, instance: int | None = None,
                         initial: Sequence[tuple[int, bytes]] = ()) -> bytes:  # fmt: skip
    spec = ctx_unsigned(0, object_type) if instance is None else ctx_oid(1, object_type, instance)
    out = enclosed(0, spec)
    if initial:
        out += enclosed(1, b"".join(ctx_unsigned(0, p) + enclosed(2, v) for p, v in initial))
    return out


# -- frames -------------------------------------------------------------------------------------
def datagram(src: Endpoint, dst: Endpoint, payload: bytes, ts_ns: int) -> tuple[int, bytes]:
    """One Ethernet/IPv4/UDP frame as a pcap record."""
    udp = frames.udp(src.ip, dst.ip, src.port, dst.port, payload)
    return ts_ns, frames.ethernet(frames.ipv4(src.ip, dst.ip, 17, udp), src=src.mac, dst=dst.mac)
