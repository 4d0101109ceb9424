"""MQTT code tables, each defined once.

Sources: MQTT Version 3.1.1 (OASIS Standard, 2014) §2.2 (control packet types and flags), §3.2.2.3
(CONNACK return codes), §3.9.3 (SUBACK return codes); MQTT Version 5.0 (OASIS Standard, 2019)
§2.2.2.2 (properties), §2.4 (reason codes). MQTT 3.1 (IBM, 2010) for protocol name "MQIsdp".
"""

from __future__ import annotations

from typing import NamedTuple


class PacketType(NamedTuple):
    name: str
    operation: str  # ot.action.operation
    role: str | None  # "request" / "response"; None: either, decided by the session


CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

# §2.2.1 (3.1.1) / §2.1.2 (5.0): the fixed header's packet type (high nibble of byte 0)
PACKET_TYPES: dict[int, PacketType] = {
    CONNECT: PacketType("connect", "session", "request"),
    CONNACK: PacketType("connack", "session", "response"),
    PUBLISH: PacketType("publish", "write", "request"),
    PUBACK: PacketType("puback", "write", "response"),
    PUBREC: PacketType("pubrec", "write", "response"),
    PUBREL: PacketType("pubrel", "write", "request"),
    PUBCOMP: PacketType("pubcomp", "write", "response"),
    SUBSCRIBE: PacketType("subscribe", "read", "request"),
    SUBACK: PacketType("suback", "read", "response"),
    UNSUBSCRIBE: PacketType("unsubscribe", "read", "request"),
    UNSUBACK: PacketType("unsuback", "read", "response"),
    PINGREQ: PacketType("pingreq", "session", "request"),
    PINGRESP: PacketType("pingresp", "session", "response"),
    DISCONNECT: PacketType("disconnect", "session", "request"),
    AUTH: PacketType("auth", "session", None),  # 5.0 only
}

# Sent only by the client / only by the server (both may send PUBLISH, its acks, and 5.0's
# DISCONNECT and AUTH).
FROM_CLIENT = frozenset((CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ))
FROM_SERVER = frozenset((CONNACK, SUBACK, UNSUBACK, PINGRESP))
# Response type → request type it answers (packet-id keyed except CONNACK and PINGRESP)
ANSWERS = {CONNACK: CONNECT, PUBACK: PUBLISH, PUBREC: PUBLISH, PUBCOMP: PUBREL,
           SUBACK: SUBSCRIBE, UNSUBACK: UNSUBSCRIBE, PINGRESP: PINGREQ}  # fmt: skip
# §2.2.2: fixed-header flags every type but PUBLISH must carry
REQUIRED_FLAGS = {t: (2 if t in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0)
                  for t in PACKET_TYPES if t != PUBLISH}  # fmt: skip

# Protocol level byte of CONNECT → version text
VERSIONS = {3: "3.1", 4: "3.1.1", 5: "5.0"}
PROTOCOL_NAMES = {b"MQTT": 4, b"MQIsdp": 3}  # name → the level that goes with it

# 3.1.1 §3.2.2.3: CONNACK return codes
CONNACK_V3 = {
    0: "connection_accepted", 1: "unacceptable_protocol_version", 2: "identifier_rejected",
    3: "server_unavailable", 4: "bad_user_name_or_password", 5: "not_authorized",
}  # fmt: skip
# 3.1.1 §3.9.3: SUBACK return codes
SUBACK_V3 = {0: "granted_qos_0", 1: "granted_qos_1", 2: "granted_qos_2", 0x80: "failure"}

# 5.0 §2.4: reason codes (one table; 0 means success / normal disconnection / granted QoS 0)
REASONS_V5 = {
    0x00: "success", 0x01: "granted_qos_1", 0x02: "granted_qos_2",
    0x04: "disconnect_with_will_message", 0x10: "no_matching_subscribers",
    0x11: "no_subscription_existed", 0x18: "continue_authentication", 0x19: "re_authenticate",
    0x80: "unspecified_error", 0x81: "malformed_packet", 0x82: "protocol_error",
    0x83: "implementation_specific_error", 0x84: "unsupported_protocol_version",
    0x85: "client_identifier_not_valid", 0x86: "bad_user_name_or_password",
    0x87: "not_authorized", 0x88: "server_unavailable", 0x89: "server_busy", 0x8A: "banned",
    0x8B: "server_shutting_down", 0x8C: "bad_authentication_method", 0x8D: "keep_alive_timeout",
    0x8E: "session_taken_over", 0x8F: "topic_filter_invalid", 0x90: "topic_name_invalid",
    0x91: "packet_identifier_in_use", 0x92: "packet_identifier_not_found",
    0x93: "receive_maximum_exceeded", 0x94: "topic_alias_invalid", 0x95: "packet_too_large",
    0x96: "message_rate_too_high", 0x97: "quota_exceeded", 0x98: "administrative_action",
    0x99: "payload_format_invalid", 0x9A: "retain_not_supported", 0x9B: "qos_not_supported",
    0x9C: "use_another_server", 0x9D: "server_moved", 0x9E: "shared_subscriptions_not_supported",
    0x9F: "connection_rate_exceeded", 0xA0: "maximum_connect_time",
    0xA1: "subscription_identifiers_not_supported", 0xA2: "wildcard_subscriptions_not_supported",
}  # fmt: skip

# 5.0 §2.2.2.2: property identifier → (name, wire type). Types: b byte, h u16, i u32, v varint,
# s UTF-8 string, d binary data, p string pair.
PROPERTIES: dict[int, tuple[str, str]] = {
    0x01: ("payload_format_indicator", "b"), 0x02: ("message_expiry_interval", "i"),
    0x03: ("content_type", "s"), 0x08: ("response_topic", "s"), 0x09: ("correlation_data", "d"),
    0x0B: ("subscription_identifier", "v"), 0x11: ("session_expiry_interval", "i"),
    0x12: ("assigned_client_identifier", "s"), 0x13: ("server_keep_alive", "h"),
    0x15: ("authentication_method", "s"), 0x16: ("authentication_data", "d"),
    0x17: ("request_problem_information", "b"), 0x18: ("will_delay_interval", "i"),
    0x19: ("request_response_information", "b"), 0x1A: ("response_information", "s"),
    0x1C: ("server_reference", "s"), 0x1F: ("reason_string", "s"),
    0x21: ("receive_maximum", "h"), 0x22: ("topic_alias_maximum", "h"), 0x23: ("topic_alias", "h"),
    0x24: ("maximum_qos", "b"), 0x25: ("retain_available", "b"), 0x26: ("user_property", "p"),
    0x27: ("maximum_packet_size", "i"), 0x28: ("wildcard_subscription_available", "b"),
    0x29: ("subscription_identifier_available", "b"), 0x2A: ("shared_subscription_available", "b"),
}  # fmt: skip
TOPIC_ALIAS, REASON_STRING, AUTH_METHOD, ASSIGNED_ID = 0x23, 0x1F, 0x15, 0x12

MAX_REMAINING = 268_435_455  # four length bytes (§2.2.3)


def packet_name(t: int) -> str:
    p = PACKET_TYPES.get(t)
    return p.name if p else f"unknown-{t}"


def reason_name(code: int, v5: bool, table: dict[int, str] | None = None) -> str:
    name = (REASONS_V5 if v5 else table or {}).get(code)
    return name or f"unknown-{code}"
