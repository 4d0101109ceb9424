"""MQTT 3.1.1 / 5.0 control packet builders (OASIS MQTT 3.1.1 and 5.0 §2-§3) for tests and
generated captures. Standard library only; every builder returns the packet's bytes."""

from __future__ import annotations

from collections.abc import Sequence
from struct import pack

from watchfloor.testing.modbus import Endpoint

MQTT_CLIENT = Endpoint("10.0.7.21", 50100, "02:00:00:00:00:21")
MQTT_BROKER = Endpoint("10.0.7.1", 1883, "02:00:00:00:00:01")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def text(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return pack(">H", len(raw)) + raw


def packet(ptype: int, flags: int, body: bytes = b"") -> bytes:
    return bytes(((ptype << 4) | flags,)) + varint(len(body)) + body


def props(*items: bytes) -> bytes:
    """5.0 properties from already encoded items (see `prop`)."""
    body = b"".join(items)
    return varint(len(body)) + body


def prop(pid: int, value: int | str | bytes | tuple[str, str], width: int = 0) -> bytes:
    """One property: ints with `width` bytes (0 = variable byte integer), str as UTF-8 string,
    bytes as binary data, a pair as a user property."""
    if isinstance(value, tuple):
        return bytes((pid,)) + text(value[0]) + text(value[1])
    if isinstance(value, str):
        return bytes((pid,)) + text(value)
    if isinstance(value, bytes):
        return bytes((pid,)) + pack(">H", len(value)) + value
    return bytes((pid,)) + (value.to_bytes(width, "big") if width else varint(value))


def connect(client_id: str, *, version: int = 4, keep_alive: int = 60, clean: bool = True,
            username: str | None = None, password: bytes | None = None,
            will: tuple[str, bytes, int, bool] | None = None, properties: bytes = b"\x00",
            will_properties: bytes = b"\x00", reserved: bool = False) -> bytes:  # fmt: skip
    """CONNECT; `will` is (topic, payload, qos, retain); version 3 uses protocol name MQIsdp."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    flags |= (2 if clean else 0) | (1 if reserved else 0)
    if will:
        flags |= 4 | (will[2] << 3) | (0x20 if will[3] else 0)
    name = "MQIsdp" if version == 3 else "MQTT"
    body = text(name) + bytes((version, flags)) + pack(">H", keep_alive)
    if version == 5:
        body += properties
    body += text(client_id)
    if will:
        body += (will_properties if version == 5 else b"") + text(will[0]) + text(will[1])
    if username is not None:
        body += text(username)
    if password is not None:
        body += text(password)
    return packet(1, 0, body)


def connack(code: int = 0, *, session_present: bool = False, properties: bytes | None = None) -> bytes:
    return packet(2, 0, bytes((int(session_present), code)) + (properties or b""))


def publish(topic: str, payload: bytes = b"", *, qos: int = 0, packet_id: int = 1,
            retain: bool = False, dup: bool = False, properties: bytes | None = None) -> bytes:  # fmt: skip
    body = text(topic) + (pack(">H", packet_id) if qos else b"") + (properties or b"") + payload
    return packet(3, (8 if dup else 0) | (qos << 1) | int(retain), body)


def ack(ptype: int, packet_id: int, code: int | None = None, properties: bytes | None = None) -> bytes:
    """PUBACK (4), PUBREC (5), PUBREL (6), PUBCOMP (7); a reason code and properties for 5.0."""
    body = pack(">H", packet_id) + (bytes((code,)) if code is not None else b"") + (properties or b"")
    return packet(ptype, 2 if ptype == 6 else 0, body)


def subscribe(packet_id: int, filters: Sequence[tuple[str, int]], *,
              properties: bytes | None = None, flags: int = 2) -> bytes:  # fmt: skip
    body = pack(">H", packet_id) + (properties or b"")
    body += b"".join(text(t) + bytes((o,)) for t, o in filters)
    return packet(8, flags, body)


def suback(packet_id: int, codes: Sequence[int], *, properties: bytes | None = None) -> bytes:
    return packet(9, 0, pack(">H", packet_id) + (properties or b"") + bytes(codes))


def unsubscribe(packet_id: int, filters: Sequence[str], *, properties: bytes | None = None) -> bytes:
    body = pack(">H", packet_id) + (properties or b"") + b"".join(text(t) for t in filters)
    return packet(10, 2, body)


def unsuback(packet_id: int, codes: Sequence[int] = (), *, properties: bytes | None = None) -> bytes:
    return packet(11, 0, pack(">H", packet_id) + (properties or b"") + bytes(codes))


PINGREQ = packet(12, 0)
PINGRESP = packet(13, 0)


def disconnect(code: int | None = None, properties: bytes | None = None) -> bytes:
    return packet(14, 0, (bytes((code,)) if code is not None else b"") + (properties or b""))


def auth(code: int, properties: bytes | None = None) -> bytes:
    return packet(15, 0, bytes((code,)) + (properties or b""))
