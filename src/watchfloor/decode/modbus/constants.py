"""Modbus code tables, each defined once.

Source: MODBUS Application Protocol Specification V1.1b3 (2012), §6 (function codes),
§7 (exception codes), §6.8 (diagnostics sub-functions), §6.21 (device identification objects);
MODBUS Messaging on TCP/IP Implementation Guide V1.0b §3.1.3 (MBAP header).
"""

from __future__ import annotations

from typing import NamedTuple


class Function(NamedTuple):
    name: str
    operation: str  # ot.action.operation
    object: str | None  # ot.action.target.object


# §6: public function codes
FUNCTIONS: dict[int, Function] = {
    1: Function("read_coils", "read", "coil"),
    2: Function("read_discrete_inputs", "read", "discrete_input"),
    3: Function("read_holding_registers", "read", "holding_register"),
    4: Function("read_input_registers", "read", "input_register"),
    5: Function("write_single_coil", "write", "coil"),
    6: Function("write_single_register", "write", "holding_register"),
    7: Function("read_exception_status", "diagnostic", None),
    8: Function("diagnostics", "diagnostic", None),
    11: Function("get_comm_event_counter", "diagnostic", None),
    12: Function("get_comm_event_log", "diagnostic", None),
    15: Function("write_multiple_coils", "write", "coil"),
    16: Function("write_multiple_registers", "write", "holding_register"),
    17: Function("report_server_id", "diagnostic", None),
    20: Function("read_file_record", "read", "file_record"),
    21: Function("write_file_record", "write", "file_record"),
    22: Function("mask_write_register", "write", "holding_register"),
    23: Function("read_write_multiple_registers", "write", "holding_register"),
    24: Function("read_fifo_queue", "read", "fifo_queue"),
    43: Function("encapsulated_interface_transport", "other", None),
}

# §6.19-6.21: MEI types carried by function 43
MEI_TYPES = {13: ("canopen_general_reference", "other"), 14: ("read_device_identification",
                                                              "discovery")}  # fmt: skip

# §6.8.1: diagnostics sub-functions; restart and listen-only change the device's behaviour
DIAGNOSTICS = {
    0: "return_query_data", 1: "restart_communications_option", 2: "return_diagnostic_register",
    3: "change_ascii_input_delimiter", 4: "force_listen_only_mode", 10: "clear_counters",
    11: "return_bus_message_count", 12: "return_bus_communication_error_count",
    13: "return_bus_exception_error_count", 14: "return_server_message_count",
    15: "return_server_no_response_count", 16: "return_server_nak_count",
    17: "return_server_busy_count", 18: "return_bus_character_overrun_count",
    20: "clear_overrun_counter_and_flag",
}  # fmt: skip
DIAGNOSTIC_CONTROL = frozenset((1, 4))

# §7: exception codes
EXCEPTIONS = {
    1: "illegal_function", 2: "illegal_data_address", 3: "illegal_data_value",
    4: "server_device_failure", 5: "acknowledge", 6: "server_device_busy",
    8: "memory_parity_error", 10: "gateway_path_unavailable",
    11: "gateway_target_device_failed_to_respond",
}  # fmt: skip

# §6.21 Table: device identification object ids
DEVICE_OBJECTS = {
    0: "vendor_name", 1: "product_code", 2: "major_minor_revision", 3: "vendor_url",
    4: "product_name", 5: "model_name", 6: "user_application_name",
}  # fmt: skip

# User-defined function code ranges (§5): valid on the wire, meaning is vendor-specific.
USER_DEFINED = frozenset((*range(65, 73), *range(100, 111)))
MAX_ADU = 260  # MBAP 7 + PDU 253 (§4.1)


def function_name(code: int) -> str:
    f = FUNCTIONS.get(code)
    return f.name if f else f"unknown-{code}"
