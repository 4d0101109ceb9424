"""EtherNet/IP and CIP code tables, each defined once.

Sources: The CIP Networks Library, Vol. 2 (EtherNet/IP adaptation), §2-3 (encapsulation commands,
status codes, common packet format item ids), §2-4 (ListIdentity reply); Vol. 1 (CIP common),
Appendix A (common service codes), Appendix B (general status codes), Chapter 5 (Identity
object 0x01, Message Router 0x02, Connection Manager 0x06, File object 0x37), Appendix C (EPATH
segments); Rockwell Automation publication 1756-PM020 (Logix 5000 data access: tag services
0x4C-0x55 on symbolic paths).
"""

from __future__ import annotations

# Vol. 2 §2-3.2: encapsulation commands → (name, ot.action.operation)
COMMANDS: dict[int, tuple[str, str]] = {
    0x0000: ("nop", "other"),
    0x0004: ("list_services", "discovery"),
    0x0063: ("list_identity", "discovery"),
    0x0064: ("list_interfaces", "discovery"),
    0x0065: ("register_session", "session"),
    0x0066: ("unregister_session", "session"),
    0x006F: ("send_rr_data", "other"),
    0x0070: ("send_unit_data", "other"),
    0x0072: ("indicate_status", "other"),
    0x0073: ("cancel", "other"),
}
SEND_RR_DATA, SEND_UNIT_DATA = 0x006F, 0x0070
LIST_IDENTITY, LIST_SERVICES, LIST_INTERFACES = 0x0063, 0x0004, 0x0064
REGISTER_SESSION = 0x0065

# Vol. 2 §2-3.3: encapsulation status
ENCAP_STATUS = {
    0x0000: "success", 0x0001: "invalid_command", 0x0002: "insufficient_memory",
    0x0003: "incorrect_data", 0x0064: "invalid_session_handle", 0x0065: "invalid_length",
    0x0069: "unsupported_protocol_version",
}  # fmt: skip

# Vol. 2 §2-6: common packet format item type ids
ITEM_NULL, ITEM_LIST_IDENTITY, ITEM_CONNECTED_ADDRESS = 0x0000, 0x000C, 0x00A1
ITEM_CONNECTED_DATA, ITEM_UNCONNECTED_DATA = 0x00B1, 0x00B2
ITEM_LIST_SERVICES, ITEM_SOCKADDR_OT, ITEM_SOCKADDR_TO = 0x0100, 0x8000, 0x8001
ITEM_SEQUENCED_ADDRESS = 0x8002
ITEMS = {
    ITEM_NULL: "null_address", ITEM_LIST_IDENTITY: "list_identity", 0x0086: "list_interfaces",
    ITEM_CONNECTED_ADDRESS: "connected_address", ITEM_CONNECTED_DATA: "connected_data",
    ITEM_UNCONNECTED_DATA: "unconnected_data", ITEM_LIST_SERVICES: "list_services",
    ITEM_SOCKADDR_OT: "sockaddr_o_t", ITEM_SOCKADDR_TO: "sockaddr_t_o",
    ITEM_SEQUENCED_ADDRESS: "sequenced_address",
}  # fmt: skip

# CIP classes named in events (Vol. 1 Chapter 5; Logix symbol/template classes from 1756-PM020)
CLASS_IDENTITY, CLASS_MESSAGE_ROUTER, CLASS_CONNECTION_MANAGER = 0x01, 0x02, 0x06
CLASS_FILE, CLASS_PCCC, CLASS_SYMBOL = 0x37, 0x67, 0x6B
CLASSES = {
    0x01: "identity", 0x02: "message_router", 0x03: "devicenet", 0x04: "assembly",
    0x05: "connection", 0x06: "connection_manager", 0x07: "register", 0x08: "discrete_input_point",
    0x09: "discrete_output_point", 0x0A: "analog_input_point", 0x0B: "analog_output_point",
    0x0E: "presence_sensing", 0x0F: "parameter", 0x10: "parameter_group", 0x12: "group",
    0x1D: "discrete_input_group", 0x1E: "discrete_output_group", 0x1F: "discrete_group",
    0x20: "analog_input_group", 0x21: "analog_output_group", 0x22: "analog_group",
    0x23: "position_sensor", 0x28: "motor_data", 0x29: "control_supervisor",
    0x2A: "ac_dc_drive", 0x2B: "acknowledge_handler", 0x2C: "overload", 0x30: "s_device_supervisor",
    0x37: "file", 0x43: "time_sync", 0x44: "modbus", 0x47: "device_level_ring", 0x48: "qos",
    0x67: "pccc", 0x6B: "symbol", 0x6C: "template",
    0xA1: "nvs", 0xF4: "port", 0xF5: "tcpip_interface", 0xF6: "ethernet_link",
}  # fmt: skip


# Vol. 1 Appendix A: common services → (name, operation)
COMMON_SERVICES: dict[int, tuple[str, str]] = {
    0x01: ("get_attributes_all", "read"),
    0x02: ("set_attributes_all", "config"),
    0x03: ("get_attribute_list", "read"),
    0x04: ("set_attribute_list", "config"),
    0x05: ("reset", "control"),
    0x06: ("start", "control"),
    0x07: ("stop", "control"),
    0x08: ("create", "config"),
    0x09: ("delete", "config"),
    0x0A: ("multiple_service_packet", "other"),
    0x0D: ("apply_attributes", "config"),
    0x0E: ("get_attribute_single", "read"),
    0x10: ("set_attribute_single", "config"),
    0x11: ("find_next_object_instance", "read"),
    0x14: ("error_response", "other"),
    0x15: ("restore", "config"),
    0x16: ("save", "config"),
    0x17: ("nop", "other"),
    0x18: ("get_member", "read"),
    0x19: ("set_member", "config"),
    0x1A: ("insert_member", "config"),
    0x1B: ("remove_member", "config"),
    0x1C: ("group_sync", "other"),
}
MULTIPLE_SERVICE_PACKET = 0x0A
RESET = 0x05
# Vol. 1 §5-2.3: Identity Reset parameter
RESET_TYPES = {0: "power_cycle", 1: "out_of_box", 2: "out_of_box_except_communication"}

# Object-specific services (0x4B..0x63), by the class they are sent to.
CONNECTION_MANAGER_SERVICES = {
    0x4E: ("forward_close", "session"),
    0x52: ("unconnected_send", "other"),
    0x54: ("forward_open", "session"),
    0x56: ("get_connection_data", "diagnostic"),
    0x57: ("search_connection_data", "diagnostic"),
    0x5A: ("get_connection_owner", "diagnostic"),
    0x5B: ("large_forward_open", "session"),
}
UNCONNECTED_SEND, FORWARD_OPEN, LARGE_FORWARD_OPEN, FORWARD_CLOSE = 0x52, 0x54, 0x5B, 0x4E
FILE_SERVICES = {  # Vol. 1 §5-42: file object transfers change what the device runs
    0x4B: ("initiate_upload", "program"),
    0x4C: ("initiate_download", "program"),
    0x4D: ("initiate_partial_read", "program"),
    0x4E: ("initiate_partial_write", "program"),
    0x4F: ("upload_transfer", "program"),
    0x50: ("download_transfer", "program"),
    0x51: ("clear_file", "program"),
}
# Rockwell's vendor-specific non-volatile storage (NVS) object, class 0xA1: firmware updates
# (Rockwell publication 1404-UM001, NVS object: Update 0x4B, Transfer 0x4D). Any other
# object-specific service on it is still firmware work.
CLASS_NVS = 0xA1
NVS_SERVICES = {0x4B: ("nvs_update", "firmware"), 0x4D: ("nvs_transfer", "firmware")}
# PCCC commands carried by Execute PCCC (Allen-Bradley DF1 protocol and command set, 1770-6.5.16):
# (command, function) → (name, operation); commands 0x06, 0x07 and 0x0F carry a function code.
PCCC_FUNCTIONS = {
    (0x06, 0x03): ("diagnostic_status", "diagnostic"),
    (0x0F, 0x00): ("word_range_write", "write"),
    (0x0F, 0x01): ("word_range_read", "read"),
    (0x0F, 0x67): ("typed_write", "write"),
    (0x0F, 0x68): ("typed_read", "read"),
    (0x0F, 0x80): ("change_mode", "control"),
    (0x0F, 0xA1): ("protected_typed_logical_read_2_address", "read"),
    (0x0F, 0xA2): ("protected_typed_logical_read_3_address", "read"),
    (0x0F, 0xA9): ("protected_typed_logical_write_2_address", "write"),
    (0x0F, 0xAA): ("protected_typed_logical_write_3_address", "write"),
    (0x0F, 0xAB): ("protected_typed_logical_masked_write_3_address", "write"),
}
PCCC_WITH_FUNCTION = frozenset((0x06, 0x07, 0x0F))
PCCC_SERVICES = {0x4B: ("execute_pccc", "other"), 0x4C: ("execute_dh_plus", "other"),
                 0x4D: ("execute_local_pccc", "other")}  # fmt: skip
# Logix 5000 tag services on symbol-addressed (or symbol class) requests (1756-PM020)
LOGIX_SERVICES = {
    0x4C: ("read_tag", "read"),
    0x4D: ("write_tag", "write"),
    0x4E: ("read_modify_write_tag", "write"),
    0x52: ("read_tag_fragmented", "read"),
    0x53: ("write_tag_fragmented", "write"),
    0x55: ("get_instance_attribute_list", "read"),
}
READ_TAG, WRITE_TAG, READ_MODIFY_WRITE_TAG = 0x4C, 0x4D, 0x4E
READ_TAG_FRAGMENTED, WRITE_TAG_FRAGMENTED = 0x52, 0x53

# Logix atomic data types (1756-PM020): type code → (name, byte size)
LOGIX_TYPES = {
    0xC1: ("BOOL", 1), 0xC2: ("SINT", 1), 0xC3: ("INT", 2), 0xC4: ("DINT", 4),
    0xC5: ("LINT", 8), 0xC6: ("USINT", 1), 0xC7: ("UINT", 2), 0xC8: ("UDINT", 4),
    0xC9: ("ULINT", 8), 0xCA: ("REAL", 4), 0xCB: ("LREAL", 8), 0xD3: ("DWORD", 4),
}  # fmt: skip
STRUCT_TYPE = 0x02A0

# Vol. 1 Appendix B: general status codes
GENERAL_STATUS = {
    0x00: "success", 0x01: "connection_failure", 0x02: "resource_unavailable",
    0x03: "invalid_parameter_value", 0x04: "path_segment_error", 0x05: "path_destination_unknown",
    0x06: "partial_transfer", 0x07: "connection_lost", 0x08: "service_not_supported",
    0x09: "invalid_attribute_value", 0x0A: "attribute_list_error",
    0x0B: "already_in_requested_state", 0x0C: "object_state_conflict",
    0x0D: "object_already_exists", 0x0E: "attribute_not_settable", 0x0F: "privilege_violation",
    0x10: "device_state_conflict", 0x11: "reply_data_too_large",
    0x12: "fragmentation_of_a_primitive_value", 0x13: "not_enough_data",
    0x14: "attribute_not_supported", 0x15: "too_much_data", 0x16: "object_does_not_exist",
    0x17: "service_fragmentation_sequence_not_in_progress", 0x18: "no_stored_attribute_data",
    0x19: "store_operation_failure", 0x1A: "routing_failure_request_too_large",
    0x1B: "routing_failure_response_too_large", 0x1C: "missing_attribute_list_entry_data",
    0x1D: "invalid_attribute_value_list", 0x1E: "embedded_service_error",
    0x1F: "vendor_specific_error", 0x20: "invalid_parameter",
    0x21: "write_once_value_or_medium_already_written", 0x22: "invalid_reply_received",
    0x23: "buffer_overflow", 0x24: "invalid_message_format", 0x25: "key_failure_in_path",
    0x26: "path_size_invalid", 0x27: "unexpected_attribute_in_list", 0x28: "invalid_member_id",
    0x29: "member_not_settable", 0x2A: "group_2_only_server_general_failure",
    0x2B: "unknown_modbus_error", 0x2C: "attribute_not_gettable",
}  # fmt: skip

# Vol. 1 §5-2: identity object device types (the profile numbers named in the specification)
DEVICE_TYPES = {
    0x00: "generic_device", 0x02: "ac_drive", 0x03: "motor_overload", 0x04: "limit_switch",
    0x05: "inductive_proximity_switch", 0x06: "photoelectric_sensor",
    0x07: "general_purpose_discrete_io", 0x09: "resolver", 0x0C: "communications_adapter",
    0x0E: "programmable_logic_controller", 0x10: "position_controller", 0x13: "dc_drive",
    0x15: "contactor", 0x16: "motor_starter", 0x17: "soft_start", 0x18: "human_machine_interface",
    0x1A: "mass_flow_controller", 0x1B: "pneumatic_valve", 0x1C: "vacuum_pressure_gauge",
    0x1D: "process_control_value", 0x1E: "residual_gas_analyzer", 0x1F: "dc_power_generator",
    0x20: "rf_power_generator", 0x21: "turbomolecular_vacuum_pump", 0x22: "encoder",
    0x23: "safety_discrete_io_device", 0x24: "fluid_flow_controller", 0x25: "cip_motion_drive",
    0x26: "componet_repeater", 0x27: "mass_flow_controller_enhanced", 0x28: "cip_modbus_device",
    0x29: "cip_modbus_translator", 0x2A: "safety_analog_io_device", 0x2B: "generic_device_keyable",
    0x2C: "managed_ethernet_switch",
}  # fmt: skip

# ODVA vendor ids (ODVA's public vendor id list) of vendors common on EtherNet/IP networks.
VENDORS = {
    1: "Rockwell Automation/Allen-Bradley", 2: "Namco Controls Corp.",
    3: "Honeywell International Inc.", 4: "Parker Hannifin Corporation",
    5: "Rockwell Automation/Reliance Elec.", 8: "Molex Incorporated",
    12: "Banner Engineering Corporation", 26: "Festo", 40: "WAGO Corporation", 46: "ABB, Inc.",
    47: "Omron Corporation", 48: "TURCK", 56: "Softing", 57: "Pepperl+Fuchs",
    68: "Eaton Electrical", 82: "Mitsubishi Electric Automation, Inc.", 90: "HMS Networks",
    108: "Beckhoff Automation", 109: "National Instruments", 143: "GE Industrial Systems",
    145: "Siemens Energy & Automation/Drives", 161: "Mitsubishi Electric Corporation",
    176: "Red Lion", 243: "Schneider Electric", 250: "Yokogawa Electric Corporation",
    283: "Hilscher GmbH", 309: "ProSoft Technology", 315: "SEW Eurodrive GmbH",
    356: "FANUC Robotics America", 367: "Keyence Corporation", 562: "Phoenix Contact",
    634: "Hirschmann, a Belden brand", 678: "Cognex Corporation", 796: "Siemens Industry, Inc.",
    808: "SICK AG", 939: "Cisco Systems, Inc.", 991: "Moxa, Inc.", 1251: "Siemens AG",
}  # fmt: skip

DEFAULT_PORTS = frozenset({44818, 2222})
IO_PORT = 2222
HEADER = 24  # encapsulation header bytes
MAX_LENGTH = 65511  # encapsulation data: 65535 - 24 (Vol. 2 §2-3.1)


def command_name(code: int) -> str:
    c = COMMANDS.get(code)
    return c[0] if c else f"unknown-{code}"
