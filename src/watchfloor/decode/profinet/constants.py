"""PROFINET code tables (IEC 61158-5/6-10, PROFINET IO specification), each defined once.

Each service carries its `ot.action` operation. Names are snake_case; unknown codes decode as
`unknown-<n>`.
"""

from __future__ import annotations

from typing import Final, NamedTuple

ETHERTYPE: Final = 0x8892
IO_CM_PORT: Final = 34964  # the PNIO-CM endpoint mapper / connect port (UDP)


class Service(NamedTuple):
    name: str
    operation: str


# -- DCP (frame ids 0xFEFC hello, 0xFEFD get/set, 0xFEFE identify request, 0xFEFF identify response)
DCP_FRAME_IDS: Final = frozenset((0xFEFC, 0xFEFD, 0xFEFE, 0xFEFF))
DCP_SERVICES: dict[int, Service] = {
    3: Service("get", "read"),
    4: Service("set", "config"),
    5: Service("identify", "discovery"),
    6: Service("hello", "discovery"),
}
DCP_SERVICE_TYPES: Final = {0: "request", 1: "response", 5: "request_not_supported"}
GET: Final = 3
SET: Final = 4
IDENTIFY: Final = 5
HELLO: Final = 6

# (option, suboption) → name; option names for suboptions not listed.
DCP_OPTIONS: Final = {1: "ip", 2: "device", 3: "dhcp", 5: "control", 6: "device_initiative",
                      7: "nme", 255: "all"}  # fmt: skip
DCP_SUBOPTIONS: dict[tuple[int, int], str] = {
    (1, 1): "ip/mac_address",
    (1, 2): "ip/ip_parameter",
    (1, 3): "ip/full_ip_suite",
    (2, 1): "device/vendor_value",
    (2, 2): "device/name_of_station",
    (2, 3): "device/device_id",
    (2, 4): "device/device_role",
    (2, 5): "device/device_options",
    (2, 6): "device/alias_name",
    (2, 7): "device/device_instance",
    (2, 8): "device/oem_device_id",
    (2, 9): "device/standard_gateway",
    (2, 10): "device/rsi_properties",
    (3, 12): "dhcp/host_name",
    (3, 43): "dhcp/vendor_specific",
    (3, 54): "dhcp/server_identifier",
    (3, 55): "dhcp/parameter_request_list",
    (3, 60): "dhcp/class_identifier",
    (3, 61): "dhcp/client_identifier",
    (3, 81): "dhcp/fqdn",
    (3, 97): "dhcp/uuid_client_identifier",
    (3, 255): "dhcp/control",
    (5, 1): "control/start",
    (5, 2): "control/stop",
    (5, 3): "control/signal",
    (5, 4): "control/response",
    (5, 5): "control/factory_reset",
    (5, 6): "control/reset_to_factory",
    (6, 1): "device_initiative/device_initiative",
    (255, 255): "all/all",
}
# Set control blocks and what they do to the device: a reset is a control action on the plant,
# signalling (flashing the LED to find the device) a diagnostic one.
CONTROL_OPERATIONS: Final = {"factory_reset": "control", "reset_to_factory": "control",
                             "signal": "diagnostic"}  # fmt: skip
DEVICE_ROLES: Final = ((0x01, "io_device"), (0x02, "io_controller"), (0x04, "io_multidevice"),
                       (0x08, "io_supervisor"))  # fmt: skip
BLOCK_ERRORS: Final = {0: "ok", 1: "option_not_supported", 2: "suboption_not_supported",
                       3: "suboption_not_set", 4: "resource_error", 5: "set_not_possible_local_reasons",
                       6: "set_not_possible_application_operation"}  # fmt: skip
# PROFINET vendor ids (PI "Manufacturer ID" list) that Identify responses commonly carry.
VENDORS: Final = {0x002A: "Siemens"}


def option_name(option: int, sub: int) -> str:
    name = DCP_SUBOPTIONS.get((option, sub))
    if name is not None:
        return name
    if 128 <= option <= 254:
        return f"manufacturer-{option}/{sub}"
    return f"{DCP_OPTIONS.get(option, f'unknown-{option}')}/unknown-{sub}"


# -- RT frame id classes (IEC 61158-6-10 FrameID table) ------------------------------------------
def rt_class(frame_id: int) -> str | None:
    """The class of a cyclic frame id; None for frame ids that are not cyclic data."""
    if 0x0100 <= frame_id <= 0x0FFF:
        return "rt_class_3"
    if 0x8000 <= frame_id <= 0xBFFF:
        return "rt_class_2"
    if 0xC000 <= frame_id <= 0xFBFF:
        return "rt_class_1"
    return None


ALARM_FRAME_IDS: Final = {0xFC01: "high", 0xFE01: "low"}
RTA_PDU_TYPES: Final = {1: "data", 2: "nack", 3: "ack", 4: "error"}
ALARM_TYPES: Final = {
    0x0001: "diagnosis", 0x0002: "process", 0x0003: "pull", 0x0004: "plug",
    0x0005: "status", 0x0006: "update", 0x0007: "media_redundancy", 0x0008: "controlled_by_supervisor",
    0x0009: "released", 0x000A: "plug_wrong_submodule", 0x000B: "return_of_submodule",
    0x000C: "diagnosis_disappears", 0x000D: "multicast_communication_mismatch",
    0x000E: "port_data_change", 0x000F: "sync_data_changed", 0x0010: "isochronous_mode_problem",
    0x0011: "network_component_problem", 0x0012: "time_data_changed",
    0x0013: "dynamic_frame_packing_problem", 0x0014: "mrpd_problem",
    0x001E: "upload_and_retrieval", 0x001F: "pull_module",
}  # fmt: skip

# -- IO-CM over DCE/RPC ---------------------------------------------------------------------------
# Interface UUIDs DEA0000x-6C97-11D1-8271-00A02442DF7D: x names the PNIO interface.
PNIO_UUID_TAIL: Final = bytes.fromhex("6c9711d1827100a02442df7d")
PNIO_INTERFACES: Final = {1: "device", 2: "controller", 3: "supervisor", 4: "parameter_server"}
IO_OPNUMS: dict[int, Service] = {
    0: Service("connect", "session"),
    1: Service("release", "session"),
    2: Service("read", "read"),
    3: Service("write", "write"),
    4: Service("control", "control"),
    5: Service("read_implicit", "read"),
}
RPC_PACKET_TYPES: Final = {0: "request", 1: "ping", 2: "response", 3: "fault", 4: "working",
                           5: "nocall", 6: "reject", 7: "ack", 8: "cl_cancel", 9: "fack",
                           10: "cancel_ack"}  # fmt: skip
BLOCK_TYPES: Final = {
    0x0008: "iod_write_req_header", 0x0009: "iod_read_req_header",
    0x0101: "ar_block_req", 0x0102: "iocr_block_req", 0x0103: "alarm_cr_block_req",
    0x0104: "expected_submodule_block_req", 0x0105: "prm_server_block_req",
    0x0106: "mcr_block_req", 0x0107: "ar_rpc_block_req", 0x0108: "ar_vendor_block_req",
    0x0109: "ir_info_block", 0x010A: "sr_info_block", 0x010B: "ar_fsu_block",
    0x0110: "iod_control_req", 0x0111: "iod_control_req_plug", 0x0112: "iox_control_req",
    0x0113: "iox_control_req_plug", 0x0114: "release_block_req", 0x0116: "iox_control_req_ready_for_rt_class_3",
    0x0117: "iod_control_req_prm_begin", 0x0118: "submodule_list_block",
    0x8008: "iod_write_res_header", 0x8009: "iod_read_res_header",
    0x8101: "ar_block_res", 0x8102: "iocr_block_res", 0x8103: "alarm_cr_block_res",
    0x8104: "module_diff_block", 0x8105: "prm_server_block_res", 0x8106: "ar_server_block",
    0x8107: "ar_rpc_block_res", 0x8108: "ar_vendor_block_res",
    0x8110: "iod_control_res", 0x8111: "iod_control_res_plug", 0x8112: "iox_control_res",
    0x8113: "iox_control_res_plug", 0x8114: "release_block_res", 0x8116: "iox_control_res_ready_for_rt_class_3",
    0x8117: "iod_control_res_prm_begin",
}  # fmt: skip
CONTROL_BLOCKS: Final = frozenset((0x0110, 0x0111, 0x0112, 0x0113, 0x0114, 0x0116, 0x0117,
                            0x8110, 0x8111, 0x8112, 0x8113, 0x8114, 0x8116, 0x8117))  # fmt: skip
CONTROL_COMMANDS: Final = ((0x0001, "prm_end"), (0x0002, "application_ready"), (0x0004, "release"),
                           (0x0008, "done"), (0x0010, "ready_for_companion"), (0x0020, "ready_for_rt_class_3"),
                           (0x0040, "prm_begin"))  # fmt: skip
