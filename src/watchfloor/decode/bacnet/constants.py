"""BACnet/IP code tables, each defined once (the Clause 21 enumerations live in tables.py).

Sources: ANSI/ASHRAE 135-2020 Annex J (BVLL for BACnet/IP: J.2 functions, J.2.1.1 result codes),
Clause 6 (NPDU: 6.2 header, 6.2.4 network layer message types), Clause 20.1 (APDU types and
headers), Clause 21 (service choices).
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Code(NamedTuple):
    name: str
    operation: str  # ot.action.operation
    role: str | None  # "request" / "response", None when neither


BVLC_TYPE: Final = 0x81  # BACnet/IP (Annex J); 0x82 is BACnet/IPv6 (Annex U), not decoded
MAX_BVLC: Final = 1497  # the largest BVLL message on an Ethernet MTU (J.2)
DEFAULT_PORT: Final = 47808  # 0xBAC0

# Annex J.2: BVLC functions. Those that carry an NPDU take their operation from the APDU.
BVLC_FUNCTIONS: dict[int, Code] = {
    0x00: Code("bvlc_result", "other", "response"),
    0x01: Code("write_broadcast_distribution_table", "config", "request"),
    0x02: Code("read_broadcast_distribution_table", "diagnostic", "request"),
    0x03: Code("read_broadcast_distribution_table_ack", "diagnostic", "response"),
    0x04: Code("forwarded_npdu", "other", None),
    0x05: Code("register_foreign_device", "config", "request"),
    0x06: Code("read_foreign_device_table", "diagnostic", "request"),
    0x07: Code("read_foreign_device_table_ack", "diagnostic", "response"),
    0x08: Code("delete_foreign_device_table_entry", "config", "request"),
    0x09: Code("distribute_broadcast_to_network", "other", None),
    0x0A: Code("original_unicast_npdu", "other", None),
    0x0B: Code("original_broadcast_npdu", "other", None),
    0x0C: Code("secure_bvll", "other", None),
}
FORWARDED_NPDU: Final = 0x04
NPDU_FUNCTIONS: Final = frozenset((0x04, 0x09, 0x0A, 0x0B))
# J.2.1.1: BVLC-Result codes
BVLC_RESULTS: Final = {
    0x0000: "successful_completion", 0x0010: "write_broadcast_distribution_table_nak",
    0x0020: "read_broadcast_distribution_table_nak", 0x0030: "register_foreign_device_nak",
    0x0040: "read_foreign_device_table_nak", 0x0050: "delete_foreign_device_table_entry_nak",
    0x0060: "distribute_broadcast_to_network_nak",
}  # fmt: skip

# 6.2.4: network layer message types (0x80-0xFF proprietary, with a vendor id)
NETWORK_MESSAGES: dict[int, Code] = {
    0x00: Code("who_is_router_to_network", "discovery", "request"),
    0x01: Code("i_am_router_to_network", "discovery", "response"),
    0x02: Code("i_could_be_router_to_network", "discovery", "response"),
    0x03: Code("reject_message_to_network", "other", "response"),
    0x04: Code("router_busy_to_network", "other", None),
    0x05: Code("router_available_to_network", "other", None),
    0x06: Code("initialize_routing_table", "config", "request"),
    0x07: Code("initialize_routing_table_ack", "config", "response"),
    0x08: Code("establish_connection_to_network", "session", "request"),
    0x09: Code("disconnect_connection_to_network", "session", "request"),
    0x0A: Code("challenge_request", "session", "request"),
    0x0B: Code("security_payload", "other", None),
    0x0C: Code("security_response", "session", "response"),
    0x0D: Code("request_key_update", "session", "request"),
    0x0E: Code("update_key_set", "config", "request"),
    0x0F: Code("update_distribution_key", "config", "request"),
    0x10: Code("request_master_key", "session", "request"),
    0x11: Code("set_master_key", "config", "request"),
    0x12: Code("what_is_network_number", "discovery", "request"),
    0x13: Code("network_number_is", "discovery", "response"),
}
# Messages whose content is a list of 2-byte network numbers (6.4)
NETWORK_LISTS: Final = frozenset((0x00, 0x01, 0x04, 0x05, 0x09))
REJECT_NETWORK_REASONS: Final = {
    0: "other", 1: "not_directly_connected", 2: "router_busy", 3: "unknown_network_message",
    4: "message_too_long", 5: "security_error", 6: "addressing_error",
}  # fmt: skip

# 20.1.1: APDU types (high nibble of the first octet)
CONFIRMED: Final = 0
UNCONFIRMED: Final = 1
SIMPLE_ACK: Final = 2
COMPLEX_ACK: Final = 3
SEGMENT_ACK: Final = 4
ERROR: Final = 5
REJECT: Final = 6
ABORT: Final = 7
APDU_TYPES: Final = ("confirmed_request", "unconfirmed_request", "simple_ack", "complex_ack",
                     "segment_ack", "error", "reject", "abort")  # fmt: skip

# 21: BACnetConfirmedServiceChoice
CONFIRMED_SERVICES: dict[int, tuple[str, str]] = {
    0: ("acknowledge_alarm", "other"), 1: ("confirmed_cov_notification", "read"),
    2: ("confirmed_event_notification", "other"), 3: ("get_alarm_summary", "read"),
    4: ("get_enrollment_summary", "read"), 5: ("subscribe_cov", "read"),
    6: ("atomic_read_file", "program"), 7: ("atomic_write_file", "program"),
    8: ("add_list_element", "write"), 9: ("remove_list_element", "write"),
    10: ("create_object", "config"), 11: ("delete_object", "config"),
    12: ("read_property", "read"), 13: ("read_property_conditional", "read"),
    14: ("read_property_multiple", "read"), 15: ("write_property", "write"),
    16: ("write_property_multiple", "write"), 17: ("device_communication_control", "control"),
    18: ("confirmed_private_transfer", "other"), 19: ("confirmed_text_message", "other"),
    20: ("reinitialize_device", "control"), 21: ("vt_open", "session"), 22: ("vt_close", "session"),
    23: ("vt_data", "other"), 24: ("authenticate", "session"), 25: ("request_key", "session"),
    26: ("read_range", "read"), 27: ("life_safety_operation", "control"),
    28: ("subscribe_cov_property", "read"), 29: ("get_event_information", "read"),
    30: ("subscribe_cov_property_multiple", "read"),
    31: ("confirmed_cov_notification_multiple", "read"), 32: ("confirmed_audit_notification", "other"),
    33: ("audit_log_query", "read"),
}  # fmt: skip
# 21: BACnetUnconfirmedServiceChoice, with the role each plays (Who-X asks, I-X answers)
UNCONFIRMED_SERVICES: dict[int, Code] = {
    0: Code("i_am", "discovery", "response"), 1: Code("i_have", "discovery", "response"),
    2: Code("unconfirmed_cov_notification", "read", None),
    3: Code("unconfirmed_event_notification", "other", None),
    4: Code("unconfirmed_private_transfer", "other", None),
    5: Code("unconfirmed_text_message", "other", None),
    6: Code("time_synchronization", "config", None), 7: Code("who_has", "discovery", "request"),
    8: Code("who_is", "discovery", "request"), 9: Code("utc_time_synchronization", "config", None),
    10: Code("write_group", "write", None),
    11: Code("unconfirmed_cov_notification_multiple", "read", None),
    12: Code("unconfirmed_audit_notification", "other", None),
    13: Code("who_am_i", "discovery", "request"), 14: Code("you_are", "config", "response"),
}  # fmt: skip

# 20.1.2.4-5: max-segments-accepted and max-APDU-length-accepted encodings
MAX_SEGMENTS: Final = (None, 2, 4, 8, 16, 32, 64, None)  # 0 unspecified, 7 more than 64
MAX_APDU: Final = (50, 128, 206, 480, 1024, 1476)


def name_of(table: dict[int, str], code: int) -> str:
    return table.get(code) or f"unknown-{code}"
