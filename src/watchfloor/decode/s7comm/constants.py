"""S7comm and S7comm-plus code tables, each defined once.

Siemens does not publish S7comm; the layouts and codes here are the ones established by public
reverse engineering and documented by the open implementations' manuals (Wireshark's S7comm
dissector documentation, Snap7's reference manual, the ICSNPP S7comm parser's documentation) and
confirmed on the captures of the conformance corpus.
"""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    name: str
    operation: str  # ot.action.operation
    object: str | None = None  # ot.action.target.object


PROTOCOL_ID = 0x32
PLUS_PROTOCOL_ID = 0x72

JOB, ACK, ACK_DATA, USERDATA = 1, 2, 3, 7
ROSCTR = {JOB: "job", ACK: "ack", ACK_DATA: "ack_data", USERDATA: "userdata"}

# Job / Ack-Data function codes (parameter byte 0)
FUNCTIONS: dict[int, Code] = {
    0x00: Code("cpu_services", "other"),
    0xF0: Code("setup_communication", "session"),
    0x04: Code("read_var", "read", "variable"),
    0x05: Code("write_var", "write", "variable"),
    0x1A: Code("request_download", "program", "block"),
    0x1B: Code("download_block", "program", "block"),
    0x1C: Code("download_ended", "program", "block"),
    0x1D: Code("start_upload", "read", "block"),
    0x1E: Code("upload", "read", "block"),
    0x1F: Code("end_upload", "read", "block"),
    0x28: Code("plc_control", "control"),
    0x29: Code("plc_stop", "control"),
}
READ_VAR, WRITE_VAR, SETUP = 0x04, 0x05, 0xF0
DOWNLOADS = frozenset((0x1A, 0x1B, 0x1C))
UPLOADS = frozenset((0x1D, 0x1E, 0x1F))
PLC_CONTROL, PLC_STOP = 0x28, 0x29

# PLC control (0x28) program-invocation services: name → (event name, operation)
PI_SERVICES: dict[str, tuple[str, str]] = {
    "P_PROGRAM": ("plc_start", "control"),  # argument "C" = cold start, none = warm/hot start
    "_INSE": ("insert_block", "program"),
    "_DELE": ("delete_block", "program"),
    "_MODU": ("copy_ram_to_rom", "program"),
    "_GARB": ("compress_memory", "control"),
    "_N_": ("nc_service", "control"),
}

# Userdata parameter: type (high nibble of the type/group byte)
UD_TYPES = {0x0: "push", 0x4: "request", 0x8: "response"}
# Userdata function groups (low nibble)
UD_GROUPS: dict[int, Code] = {
    0x0: Code("mode_transition", "diagnostic"),
    0x1: Code("programmer_commands", "diagnostic"),
    0x2: Code("cyclic_data", "read", "variable"),
    0x3: Code("block_functions", "discovery", "block"),
    0x4: Code("cpu_functions", "diagnostic"),
    0x5: Code("security", "session"),
    0x6: Code("pbc_bsend_brecv", "other"),
    0x7: Code("time_functions", "read", "clock"),
    0xF: Code("nc_programming", "program"),
}
GROUP_MODE, GROUP_BLOCK, GROUP_CPU, GROUP_TIME = 0x0, 0x3, 0x4, 0x7
# (group, subfunction) → name, and the operation where it differs from the group's
UD_SUBFUNCTIONS: dict[tuple[int, int], tuple[str, str | None]] = {
    (0x1, 0x01): ("request_diag_data_type1", None), (0x1, 0x02): ("vartab", None),
    (0x1, 0x0C): ("erase", None), (0x1, 0x0E): ("read_diag_data", None),
    (0x1, 0x0F): ("remove_diag_data", None), (0x1, 0x10): ("forces", "write"),
    (0x1, 0x13): ("request_diag_data_type2", None),
    (0x2, 0x01): ("memory", None), (0x2, 0x04): ("unsubscribe", None),
    (0x2, 0x05): ("memory2", None),
    (0x3, 0x01): ("list_blocks", None), (0x3, 0x02): ("list_blocks_of_type", None),
    (0x3, 0x03): ("get_block_info", None),
    (0x4, 0x01): ("read_szl", "discovery"), (0x4, 0x02): ("message_service", None),
    (0x4, 0x03): ("diagnostic_message", None), (0x4, 0x05): ("alarm8_indication", None),
    (0x4, 0x06): ("notify_indication", None), (0x4, 0x07): ("alarm8_lock", None),
    (0x4, 0x08): ("alarm8_unlock", None), (0x4, 0x09): ("scan_indication", None),
    (0x4, 0x0B): ("alarm_ack", None), (0x4, 0x0C): ("alarm_ack_indication", None),
    (0x4, 0x0D): ("alarm_lock_indication", None), (0x4, 0x0E): ("alarm_unlock_indication", None),
    (0x4, 0x11): ("alarm_sq_indication", None), (0x4, 0x12): ("alarm_s_indication", None),
    (0x4, 0x13): ("alarm_query", None), (0x4, 0x16): ("notify8_indication", None),
    (0x5, 0x01): ("plc_password", None), (0x5, 0x02): ("clear_password", None),
    (0x6, 0x01): ("bsend_brecv", None),
    (0x7, 0x01): ("read_clock", None), (0x7, 0x02): ("set_clock", "config"),
    (0x7, 0x03): ("read_clock_following", None), (0x7, 0x04): ("set_clock_2", "config"),
}  # fmt: skip
SZL_SUBFUNCTION = 0x01
# Mode transition (group 0) pushes: the CPU's new mode where other groups have a subfunction
CPU_MODES = {0x00: "stop", 0x01: "warm_restart", 0x02: "run", 0x03: "hot_restart", 0x04: "hold",
             0x06: "cold_restart", 0x09: "run_r", 0x0B: "link_up", 0x0C: "update"}  # fmt: skip

# Header error classes (Ack / Ack-Data)
ERROR_CLASSES = {
    0x00: "no_error", 0x81: "application_relationship", 0x82: "object_definition",
    0x83: "no_resources_available", 0x84: "error_on_service_processing",
    0x85: "error_on_supplies", 0x87: "access_error",
}  # fmt: skip

# Error class and code together (header of Ack/Ack-Data; userdata parameter error code): the
# codes seen in the corpus, named as Wireshark names them
ERROR_CODES = {
    0xD0A5: "referenced_job_not_found", 0xD209: "block_not_found",
    0xD20C: "ob_priority_class_missing", 0xD241: "not_permitted_in_protection_level",
    0xD2A9: "cpu_parameters_being_assigned", 0xD402: "information_function_unavailable",
}  # fmt: skip

# Memory areas of an S7ANY item address
AREAS = {
    0x03: "system_info_200", 0x05: "system_flags_200", 0x06: "analog_inputs_200",
    0x07: "analog_outputs_200", 0x1C: "counter", 0x1D: "timer", 0x1E: "iec_counter",
    0x1F: "iec_timer", 0x80: "peripheral", 0x81: "inputs", 0x82: "outputs", 0x83: "flags",
    0x84: "data_block", 0x85: "instance_data_block", 0x86: "local_data", 0x87: "previous_local",
}  # fmt: skip
AREA_DB = 0x84

# Transport sizes of an item request (S7ANY)
TRANSPORT_SIZES = {
    0x01: "bit", 0x02: "byte", 0x03: "char", 0x04: "word", 0x05: "int", 0x06: "dword",
    0x07: "dint", 0x08: "real", 0x09: "date", 0x0A: "tod", 0x0B: "time", 0x0C: "s5time",
    0x0F: "date_and_time", 0x1C: "counter", 0x1D: "timer", 0x1E: "iec_timer",
    0x1F: "iec_counter", 0x20: "hs_counter",
}  # fmt: skip
# Data transport sizes (3 bit, 4 byte/word/dword, 5 integer) whose length field counts bits
LENGTH_IN_BITS = frozenset((0x03, 0x04, 0x05))

# Item return codes
RETURN_CODES = {
    0x00: "reserved", 0x01: "hardware_fault", 0x03: "access_denied", 0x05: "address_out_of_range",
    0x06: "data_type_not_supported", 0x07: "data_type_inconsistent", 0x0A: "object_does_not_exist",
    0xFF: "success",
}  # fmt: skip
SUCCESS = 0xFF

# Variable specification syntax id of an address by area, DB and byte (the usual one)
SYNTAX_S7ANY = 0x10
# Block types in file names ("_" type(2) number(5) filesystem(1))
BLOCK_TYPES = {"08": "OB", "09": "CMOD", "0A": "DB", "0B": "SDB", "0C": "FC", "0D": "SFC",
               "0E": "FB", "0F": "SFB"}  # fmt: skip
FILESYSTEMS = {"P": "passive", "A": "active", "B": "active_as_well_as_passive"}

# System status list (SZL) ids that identify the device
SZL_NAMES = {
    0x0000: "szl_list", 0x0011: "module_identification", 0x0111: "module_identification_one",
    0x0012: "cpu_characteristics", 0x0013: "user_memory_areas", 0x0014: "system_areas",
    0x0015: "block_types", 0x001C: "component_identification",
    0x011C: "component_identification_one", 0x0022: "interrupt_status",
    0x0025: "process_image_partitions", 0x0032: "communication_status",
    0x0131: "communication_capability", 0x0132: "communication_status_data",
    0x0074: "led_status", 0x0174: "led_status_one", 0x0091: "module_status",
    0x00A0: "diagnostic_buffer", 0x01A0: "diagnostic_buffer_latest", 0x0424: "cpu_mode",
    0x0D91: "module_status_rack", 0x0F00: "szl_header",
}  # fmt: skip

# S7comm-plus: opcodes and functions
PLUS_OPCODES = {0x31: "request", 0x32: "response", 0x33: "notification", 0x02: "response2"}
PLUS_FUNCTIONS: dict[int, Code] = {
    0x04BB: Code("explore", "discovery"),
    0x04CA: Code("create_object", "session"),
    0x04D4: Code("delete_object", "session"),
    0x04F2: Code("set_variable", "write", "variable"),
    0x04FC: Code("get_variable", "read", "variable"),
    0x0524: Code("get_link", "read"),
    0x0542: Code("set_multi_variables", "write", "variable"),
    0x054C: Code("get_multi_variables", "read", "variable"),
    0x0556: Code("begin_sequence", "program"),
    0x0560: Code("end_sequence", "program"),
    0x056B: Code("invoke", "control"),
    0x0586: Code("set_var_substreamed", "write", "variable"),
    0x0590: Code("get_var_substreamed", "read", "variable"),
    0x05A9: Code("get_variables_address", "read", "variable"),
    0x05B3: Code("abort", "session"),
    0x05C7: Code("error", "other"),
    0x05D5: Code("init_ssl", "session"),
}
PLUS_KEEPALIVE = 0xFE
# Request transport flag bit: set on requests no response follows (SetVariable acknowledgements of
# subscriptions, seen in the corpus: flags 0x74 never answered, 0x34 always answered)
PLUS_NO_RESPONSE = 0x40


def function_name(code: int) -> str:
    f = FUNCTIONS.get(code)
    return f.name if f else f"unknown-{code}"
