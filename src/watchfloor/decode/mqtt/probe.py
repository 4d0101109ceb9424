"""Port-independent recognition of MQTT."""

from __future__ import annotations

from .._contract import Malformed, NeedMoreData
from .constants import CONNECT, PINGREQ, PINGRESP, PROTOCOL_NAMES, PUBLISH, REQUIRED_FLAGS
from .wire import parse_header, parse_packet

DEFAULT_PORTS = frozenset({1883})  # 8883 is MQTT over TLS: nothing to decode
_PING = (bytes((PINGREQ << 4, 0)), bytes((PINGRESP << 4, 0)))


def header_plausible(first: int) -> bool:
    """A fixed header's first byte: a known type with the flags it must carry (PUBLISH: QoS < 3)."""
    t = first >> 4
    if t == PUBLISH:
        return first & 6 != 6
    return REQUIRED_FLAGS.get(t) == first & 15


def _strong(first: int, fields: dict) -> bool:
    """Evidence enough on any port: a CONNECT naming the protocol, or a PUBLISH to a topic that
    is printable text."""
    t = first >> 4
    if t == CONNECT:
        return PROTOCOL_NAMES.get(fields.get("protocol_name", "").encode()) is not None
    if t == PUBLISH:
        topic = fields.get("topic", "")
        return bool(topic) and topic.isprintable() and "+" not in topic and "#" not in topic
    return False


def probe(data: bytes, on_default_port: bool = False) -> bool:
    """MQTT when the bytes are a run of well-formed control packets (the last may continue later).
    Off the MQTT port the run must hold a CONNECT naming the protocol or a PUBLISH to a printable
    topic, or be exactly one PINGREQ/PINGRESP: long-lived connections seen mid-stream mostly show
    keep-alives and publishes."""
    if data in _PING:
        return True
    pos, strong = 0, on_default_port
    while pos < len(data):
        first = data[pos]
        if not header_plausible(first):
            return False
        try:
            _, start, end = parse_header(data, pos)
        except NeedMoreData:
            # A CONNECT's first bytes name the protocol before the packet is complete.
            if first >> 4 == CONNECT and not strong:
                i = pos + 1
                while i < len(data) and data[i] & 0x80 and i < pos + 4:
                    i += 1
                return data.startswith(b"\x00\x04MQTT", i + 1) or data.startswith(b"\x00\x06MQIsdp", i + 1)
            return strong and pos > 0 or on_default_port
        except Malformed:
            return False
        try:
            fields = parse_packet(first, data, start, end, False)
        except Malformed:
            try:
                fields = parse_packet(first, data, start, end, True)
            except Malformed:
                return False
        strong = strong or _strong(first, fields)
        pos = end
    return strong
