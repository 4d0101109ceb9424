"""DNP3 code tables, each defined once.

Source: IEEE Std 1815-2012 (DNP3): §9.2 (data link frame, control octet, CRC), §8.2 (transport
header), §4.2.2 (application header: control octet, function codes Table 4-1, internal
indications §4.2.2.7), §4.2.2.5-6 (object headers, qualifier and range codes, Tables 4-3/4-4),
Annex A (object groups and variations), Table 11-1..A.2 (device attributes, group 0), §11.9 /
A.8 (control relay output block), A.42 (control status codes).
"""

from __future__ import annotations

from typing import NamedTuple


class Function(NamedTuple):
    name: str
    operation: str  # ot.action.operation


# Table 4-1: application function codes. Requests 0..33, responses 129..131.
FUNCTIONS: dict[int, Function] = {
    0: Function("confirm", "session"),
    1: Function("read", "read"),
    2: Function("write", "write"),
    3: Function("select", "control"),
    4: Function("operate", "control"),
    5: Function("direct_operate", "control"),
    6: Function("direct_operate_nr", "control"),
    7: Function("immediate_freeze", "control"),
    8: Function("immediate_freeze_nr", "control"),
    9: Function("freeze_clear", "control"),
    10: Function("freeze_clear_nr", "control"),
    11: Function("freeze_at_time", "control"),
    12: Function("freeze_at_time_nr", "control"),
    13: Function("cold_restart", "control"),
    14: Function("warm_restart", "control"),
    15: Function("initialize_data", "control"),
    16: Function("initialize_application", "control"),
    17: Function("start_application", "control"),
    18: Function("stop_application", "control"),
    19: Function("save_configuration", "config"),
    20: Function("enable_unsolicited", "config"),
    21: Function("disable_unsolicited", "config"),
    22: Function("assign_class", "config"),
    23: Function("delay_measure", "diagnostic"),
    24: Function("record_current_time", "config"),
    25: Function("open_file", "program"),
    26: Function("close_file", "program"),
    27: Function("delete_file", "program"),
    28: Function("get_file_info", "program"),
    29: Function("authenticate_file", "program"),
    30: Function("abort_file", "program"),
    31: Function("activate_config", "config"),
    32: Function("authenticate_request", "session"),
    33: Function("authenticate_request_nr", "session"),
    129: Function("response", "read"),
    130: Function("unsolicited_response", "read"),
    131: Function("authenticate_response", "session"),
}
RESPONSES = frozenset((129, 130, 131))  # carry the two IIN octets after the function code

# Requests that mean nothing without object headers (what to read, write, control, freeze...)
NEEDS_OBJECTS = frozenset((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 22, 25, 26, 27, 28, 29,
                           30))  # fmt: skip

# Functions whose object headers carry no object data (they name points, §4.4)
HEADERS_ONLY = frozenset((1, 7, 8, 9, 10, 20, 21, 22))

# §9.2.4.1.3: data link control octet; function codes by PRM (primary) bit
LINK_PRIMARY = {
    0: "reset_link_states", 1: "reset_user_process", 2: "test_link_states",
    3: "confirmed_user_data", 4: "unconfirmed_user_data", 9: "request_link_status",
}  # fmt: skip
LINK_SECONDARY = {0: "ack", 1: "nack", 11: "link_status", 14: "link_not_functioning",
                  15: "link_not_used"}  # fmt: skip
LINK_USER_DATA = frozenset((3, 4))  # primary functions that carry a transport segment
# Function codes (either direction) of link-control frames: reset / ACK (0), request link status
# (9), link status (11). Octets after their header are not user data (and not dissected by
# Wireshark); other functions' octets are decoded and flagged.
LINK_CONTROL_ONLY = frozenset((0, 9, 11))

# §4.2.2.7: internal indications, IIN1 in the high octet as Wireshark's dnp3.al.iin shows it
IIN_BITS = (
    (0x0100, "broadcast"), (0x0200, "class_1_events"), (0x0400, "class_2_events"),
    (0x0800, "class_3_events"), (0x1000, "need_time"), (0x2000, "local_control"),
    (0x4000, "device_trouble"), (0x8000, "device_restart"),
    (0x0001, "no_function_code_support"), (0x0002, "object_unknown"),
    (0x0004, "parameter_error"), (0x0008, "event_buffer_overflow"),
    (0x0010, "already_executing"), (0x0020, "config_corrupt"),
    (0x0040, "reserved_2"), (0x0080, "reserved_1"),
)  # fmt: skip
IIN_ERRORS = 0x0001 | 0x0002 | 0x0004  # a request the outstation could not carry out

# Annex A: object groups (the kind of point; variations differ in encoding only)
GROUPS: dict[int, str] = {
    0: "device_attribute", 1: "binary_input", 2: "binary_input_event",
    3: "double_bit_binary_input", 4: "double_bit_binary_input_event", 10: "binary_output",
    11: "binary_output_event", 12: "binary_command", 13: "binary_output_command_event",
    20: "counter", 21: "frozen_counter", 22: "counter_event", 23: "frozen_counter_event",
    30: "analog_input", 31: "frozen_analog_input", 32: "analog_input_event",
    33: "frozen_analog_input_event", 34: "analog_input_deadband", 40: "analog_output_status",
    41: "analog_output", 42: "analog_output_event", 43: "analog_output_command_event",
    50: "time_and_date", 51: "common_time_of_occurrence", 52: "time_delay", 60: "class_data",
    70: "file_control", 80: "internal_indications", 81: "device_storage", 82: "device_profile",
    83: "private_registration", 85: "data_set_prototype", 86: "data_set_descriptor",
    87: "data_set", 88: "data_set_event", 90: "application", 91: "active_config_status",
    100: "floating_point", 101: "bcd", 102: "unsigned_integer", 110: "octet_string",
    111: "octet_string_event", 112: "virtual_terminal_output", 113: "virtual_terminal_event",
    120: "authentication", 121: "security_statistic", 122: "security_statistic_event",
}  # fmt: skip
CLASS_NAMES = {1: "class_0", 2: "class_1", 3: "class_2", 4: "class_3"}  # g60 variations

# Layouts of fixed-size objects (Annex A). A layout is a struct format (little-endian) and the
# role of each unpacked field: f flags, v integer value, x float value, d raw octets, tl/th 48-bit time (low 32,
# high 16 bits), r relative time (ms), s control status, cc/n/on/off CROB fields,
# i interval, u interval units. "bit"/"dbit" are packed 1- and 2-bit objects.
_F32, _F16 = ("<Bi", ("f", "v")), ("<Bh", ("f", "v"))
_U32F, _U16F = ("<BI", ("f", "v")), ("<BH", ("f", "v"))
_U32T, _U16T = ("<BIIH", ("f", "v", "tl", "th")), ("<BHIH", ("f", "v", "tl", "th"))
_I32T, _I16T = ("<BiIH", ("f", "v", "tl", "th")), ("<BhIH", ("f", "v", "tl", "th"))
_FLT, _DBL = ("<Bf", ("f", "x")), ("<Bd", ("f", "x"))
_FLTT, _DBLT = ("<BfIH", ("f", "x", "tl", "th")), ("<BdIH", ("f", "x", "tl", "th"))
_STATE = ("<B", ("f",))
_STATE_T = ("<BIH", ("f", "tl", "th"))
_STATE_R = ("<BH", ("f", "r"))
_TIME = ("<IH", ("tl", "th"))

LAYOUTS: dict[tuple[int, int], str | tuple[str, tuple[str, ...]]] = {
    (1, 1): "bit", (1, 2): _STATE,
    (2, 1): _STATE, (2, 2): _STATE_T, (2, 3): _STATE_R,
    (3, 1): "dbit", (3, 2): _STATE,
    (4, 1): _STATE, (4, 2): _STATE_T, (4, 3): _STATE_R,
    (10, 1): "bit", (10, 2): _STATE,
    (11, 1): _STATE, (11, 2): _STATE_T,
    (12, 1): ("<BBIIB", ("cc", "n", "on", "off", "s")),
    (12, 2): ("<BBIIB", ("cc", "n", "on", "off", "s")),
    (12, 3): "bit",
    (13, 1): _STATE, (13, 2): _STATE_T,
    (20, 1): _U32F, (20, 2): _U16F, (20, 3): _U32F, (20, 4): _U16F,
    (20, 5): ("<I", ("v",)), (20, 6): ("<H", ("v",)), (20, 7): ("<I", ("v",)),
    (20, 8): ("<H", ("v",)),
    (21, 1): _U32F, (21, 2): _U16F, (21, 3): _U32F, (21, 4): _U16F, (21, 5): _U32T,
    (21, 6): _U16T, (21, 7): _U32T, (21, 8): _U16T, (21, 9): ("<I", ("v",)),
    (21, 10): ("<H", ("v",)), (21, 11): ("<I", ("v",)), (21, 12): ("<H", ("v",)),
    (22, 1): _U32F, (22, 2): _U16F, (22, 3): _U32F, (22, 4): _U16F, (22, 5): _U32T,
    (22, 6): _U16T, (22, 7): _U32T, (22, 8): _U16T,
    (23, 1): _U32F, (23, 2): _U16F, (23, 3): _U32F, (23, 4): _U16F, (23, 5): _U32T,
    (23, 6): _U16T, (23, 7): _U32T, (23, 8): _U16T,
    (30, 1): _F32, (30, 2): _F16, (30, 3): ("<i", ("v",)), (30, 4): ("<h", ("v",)),
    (30, 5): _FLT, (30, 6): _DBL,
    (31, 1): _F32, (31, 2): _F16, (31, 3): _I32T, (31, 4): _I16T, (31, 5): ("<i", ("v",)),
    (31, 6): ("<h", ("v",)), (31, 7): _FLT, (31, 8): _DBL,
    (32, 1): _F32, (32, 2): _F16, (32, 3): _I32T, (32, 4): _I16T, (32, 5): _FLT, (32, 6): _DBL,
    (32, 7): _FLTT, (32, 8): _DBLT,
    (33, 1): _F32, (33, 2): _F16, (33, 3): _I32T, (33, 4): _I16T, (33, 5): _FLT, (33, 6): _DBL,
    (33, 7): _FLTT, (33, 8): _DBLT,
    (34, 1): ("<H", ("v",)), (34, 2): ("<I", ("v",)), (34, 3): ("<f", ("x",)),
    (40, 1): _F32, (40, 2): _F16, (40, 3): _FLT, (40, 4): _DBL,
    (41, 1): ("<iB", ("v", "s")), (41, 2): ("<hB", ("v", "s")), (41, 3): ("<fB", ("x", "s")),
    (41, 4): ("<dB", ("x", "s")),
    (42, 1): _F32, (42, 2): _F16, (42, 3): _I32T, (42, 4): _I16T, (42, 5): _FLT, (42, 6): _DBL,
    (42, 7): _FLTT, (42, 8): _DBLT,
    (43, 1): ("<Bi", ("s", "v")), (43, 2): ("<Bh", ("s", "v")),
    (43, 3): ("<BiIH", ("s", "v", "tl", "th")), (43, 4): ("<BhIH", ("s", "v", "tl", "th")),
    (43, 5): ("<Bf", ("s", "x")), (43, 6): ("<Bd", ("s", "x")),
    (43, 7): ("<BfIH", ("s", "x", "tl", "th")), (43, 8): ("<BdIH", ("s", "x", "tl", "th")),
    (50, 1): _TIME, (50, 2): ("<IHI", ("tl", "th", "i")), (50, 3): _TIME,
    (50, 4): ("<IHIB", ("tl", "th", "i", "u")),
    (51, 1): _TIME, (51, 2): _TIME,
    (52, 1): ("<H", ("v",)), (52, 2): ("<H", ("v",)),
    (60, 1): ("", ()), (60, 2): ("", ()), (60, 3): ("", ()), (60, 4): ("", ()),
    (80, 1): "bit",
    (101, 1): ("<H", ("v",)), (101, 2): ("<I", ("v",)), (101, 3): ("<Q", ("v",)),
    (102, 1): ("<B", ("v",)),
    # secure authentication: aggressive-mode request (challenge sequence, user), key status
    # request (user); the others are free-format (size-prefixed)
    (120, 3): ("<6s", ("d",)), (120, 4): ("<H", ("v",)),
}  # fmt: skip
# Groups whose variation is the object's length in octets (strings)
STRING_GROUPS = frozenset((110, 111, 112, 113))
# Binary-state objects: the state is the flags octet's bit 7 (double-bit: bits 6-7)
STATE_BIT = frozenset((1, 2, 10, 11, 13))
DOUBLE_BIT = frozenset((3, 4))

# Table 4-3/4-4: qualifier = prefix code (bits 4-6) and range specifier code (bits 0-3)
PREFIX_SIZES = {0: 0, 1: 1, 2: 2, 3: 4, 4: 1, 5: 2, 6: 4}  # 1-3 index, 4-6 object size
RANGE_SIZES = {0: 1, 1: 2, 2: 4, 3: 1, 4: 2, 5: 4, 6: 0, 7: 1, 8: 2, 9: 4, 11: 1}

# A.8: CROB control code: operation type (bits 0-3) and trip/close code (bits 6-7)
CONTROL_OPS = {0: "nul", 1: "pulse_on", 2: "pulse_off", 3: "latch_on", 4: "latch_off"}
TRIP_CLOSE = {0: "", 1: "close", 2: "trip", 3: "reserved"}

# Table A-42 (control status), shared by g12 and g41 and the g13/g43 command events
CONTROL_STATUS = {
    0: "success", 1: "timeout", 2: "no_select", 3: "format_error", 4: "not_supported",
    5: "already_active", 6: "hardware_error", 7: "local", 8: "too_many_objs",
    9: "not_authorized", 10: "automation_inhibit", 11: "processing_limited",
    12: "out_of_range", 13: "downstream_local", 14: "already_complete", 15: "blocked",
    16: "canceled", 17: "blocked_other_master", 18: "downstream_fail",
    126: "non_participating", 127: "undefined",
}  # fmt: skip

# A.1 (group 0): device attribute variations
DEVICE_ATTRIBUTES = {
    209: "secure_authentication_version", 210: "security_statistics_count",
    211: "user_specific_attributes", 212: "master_data_set_prototypes",
    213: "outstation_data_set_prototypes", 214: "master_data_sets", 215: "outstation_data_sets",
    216: "max_binary_outputs_per_request", 217: "local_timing_accuracy",
    218: "time_accuracy_duration", 219: "analog_output_events", 220: "max_analog_output_index",
    221: "analog_outputs", 222: "binary_output_events", 223: "max_binary_output_index",
    224: "binary_outputs", 225: "frozen_counter_events", 226: "frozen_counters",
    227: "counter_events", 228: "max_counter_index", 229: "counters",
    230: "frozen_analog_inputs", 231: "analog_input_events", 232: "max_analog_input_index",
    233: "analog_inputs", 234: "double_bit_input_events", 235: "max_double_bit_input_index",
    236: "double_bit_inputs", 237: "binary_input_events", 238: "max_binary_input_index",
    239: "binary_inputs", 240: "max_transmit_fragment_size", 241: "max_receive_fragment_size",
    242: "software_version", 243: "hardware_version", 244: "owner_name", 245: "location",
    246: "id_code", 247: "device_name", 248: "serial_number", 249: "subset_and_conformance",
    250: "product_name_and_model", 252: "manufacturer_name", 254: "all_attributes",
    255: "attribute_list",
}  # fmt: skip
MAX_REASSEMBLY = 1 << 16  # beyond this a transport reassembly is abandoned (bounded state)


def function_name(code: int) -> str:
    f = FUNCTIONS.get(code)
    return f.name if f else f"unknown-{code}"


def object_name(group: int, variation: int) -> str:
    """Object kind: the group's name; for class data the class, for device attributes the
    attribute (e.g. manufacturer_name)."""
    if group == 60:
        return CLASS_NAMES.get(variation, f"class_data-{variation}")
    if group == 0:
        return DEVICE_ATTRIBUTES.get(variation, f"device_attribute-{variation}")
    return GROUPS.get(group, f"group-{group}")
