"""MMS and OSI upper-layer code tables, each defined once.

Sources: ISO 9506-2 (MMS protocol: the MMSpdu CHOICE, ConfirmedServiceRequest/Response tags,
ServiceError, RejectPDU, Data, DataAccessError); ISO 8327-1 (session SPDU identifiers and
parameter codes); ISO 8650-1 / X.227 (ACSE APDUs); IEC 61850-8-1 §8-§23 (mapping of ACSI to MMS:
object references `LD/LN$FC$DO$DA`, control model Oper/SBOw/Cancel, file services, the
UtcTime encoding).
"""

from __future__ import annotations

from typing import NamedTuple


class Service(NamedTuple):
    name: str
    operation: str  # ot.action.operation


# ISO 9506-2 MMSpdu ::= CHOICE: context tag → name of the PDU
PDU_TYPES = {
    0: "confirmed_request", 1: "confirmed_response", 2: "confirmed_error", 3: "unconfirmed",
    4: "reject", 5: "cancel_request", 6: "cancel_response", 7: "cancel_error",
    8: "initiate_request", 9: "initiate_response", 10: "initiate_error", 11: "conclude_request",
    12: "conclude_response", 13: "conclude_error",
}  # fmt: skip
CONFIRMED_REQUEST, CONFIRMED_RESPONSE, CONFIRMED_ERROR, UNCONFIRMED, REJECT = 0, 1, 2, 3, 4
CANCEL_REQUEST, CANCEL_RESPONSE, CANCEL_ERROR = 5, 6, 7
INITIATE_REQUEST, INITIATE_RESPONSE, INITIATE_ERROR = 8, 9, 10
CONCLUDE_REQUEST, CONCLUDE_RESPONSE, CONCLUDE_ERROR = 11, 12, 13
REQUESTS = frozenset((CONFIRMED_REQUEST, CANCEL_REQUEST, INITIATE_REQUEST, CONCLUDE_REQUEST))
RESPONSES = frozenset((CONFIRMED_RESPONSE, CONFIRMED_ERROR, CANCEL_RESPONSE, CANCEL_ERROR,
                       INITIATE_RESPONSE, INITIATE_ERROR, CONCLUDE_RESPONSE, CONCLUDE_ERROR))  # fmt: skip
# the PDUs that a response PDU answers (for pairing): response type → request type
ANSWERS = {CONFIRMED_RESPONSE: CONFIRMED_REQUEST, CONFIRMED_ERROR: CONFIRMED_REQUEST,
           CANCEL_RESPONSE: CANCEL_REQUEST, CANCEL_ERROR: CANCEL_REQUEST,
           INITIATE_RESPONSE: INITIATE_REQUEST, INITIATE_ERROR: INITIATE_REQUEST,
           CONCLUDE_RESPONSE: CONCLUDE_REQUEST, CONCLUDE_ERROR: CONCLUDE_REQUEST}  # fmt: skip

_D, _R, _W, _C, _P, _G, _O = "discovery", "read", "write", "config", "program", "diagnostic", "other"

# ISO 9506-2 ConfirmedServiceRequest / ConfirmedServiceResponse: context tag → service.
# IEC 61850-8-1: domains are logical devices; program invocations, domain load/store and the
# file services (fileOpen ... fileDirectory, obtainFile) move programs and configuration.
SERVICES: dict[int, Service] = {
    0: Service("status", _G), 1: Service("get_name_list", _D), 2: Service("identify", _D),
    3: Service("rename", _C), 4: Service("read", _R), 5: Service("write", _W),
    6: Service("get_variable_access_attributes", _D), 7: Service("define_named_variable", _C),
    8: Service("define_scattered_access", _C), 9: Service("get_scattered_access_attributes", _D),
    10: Service("delete_variable_access", _C), 11: Service("define_named_variable_list", _C),
    12: Service("get_named_variable_list_attributes", _D),
    13: Service("delete_named_variable_list", _C), 14: Service("define_named_type", _C),
    15: Service("get_named_type_attributes", _D), 16: Service("delete_named_type", _C),
    17: Service("input", _R), 18: Service("output", _W), 19: Service("take_control", "control"),
    20: Service("relinquish_control", "control"), 21: Service("define_semaphore", _C),
    22: Service("delete_semaphore", _C), 23: Service("report_semaphore_status", _D),
    24: Service("report_pool_semaphore_status", _D),
    25: Service("report_semaphore_entry_status", _D),
    26: Service("initiate_download_sequence", _P), 27: Service("download_segment", _P),
    28: Service("terminate_download_sequence", _P), 29: Service("initiate_upload_sequence", _P),
    30: Service("upload_segment", _P), 31: Service("terminate_upload_sequence", _P),
    32: Service("request_domain_download", _P), 33: Service("request_domain_upload", _P),
    34: Service("load_domain_content", _P), 35: Service("store_domain_content", _P),
    36: Service("delete_domain", _P), 37: Service("get_domain_attributes", _D),
    38: Service("create_program_invocation", _P), 39: Service("delete_program_invocation", _P),
    40: Service("start", _P), 41: Service("stop", _P), 42: Service("resume", _P),
    43: Service("reset", _P), 44: Service("kill", _P),
    45: Service("get_program_invocation_attributes", _D), 46: Service("obtain_file", _C),
    47: Service("define_event_condition", _C), 48: Service("delete_event_condition", _C),
    49: Service("get_event_condition_attributes", _D),
    50: Service("report_event_condition_status", _D),
    51: Service("alter_event_condition_monitoring", _C), 52: Service("trigger_event", _O),
    53: Service("define_event_action", _C), 54: Service("delete_event_action", _C),
    55: Service("get_event_action_attributes", _D), 56: Service("report_event_action_status", _D),
    57: Service("define_event_enrollment", _C), 58: Service("delete_event_enrollment", _C),
    59: Service("alter_event_enrollment", _C), 60: Service("report_event_enrollment_status", _D),
    61: Service("get_event_enrollment_attributes", _D),
    62: Service("acknowledge_event_notification", _O), 63: Service("get_alarm_summary", _R),
    64: Service("get_alarm_enrollment_summary", _R), 65: Service("read_journal", _R),
    66: Service("write_journal", _W), 67: Service("initialize_journal", _C),
    68: Service("report_journal_status", _D), 69: Service("create_journal", _C),
    70: Service("delete_journal", _C), 71: Service("get_capability_list", _D),
    72: Service("file_open", _C), 73: Service("file_read", _C), 74: Service("file_close", _C),
    75: Service("file_rename", _C), 76: Service("file_delete", _C),
    77: Service("file_directory", _C),
}  # fmt: skip
READ, WRITE, IDENTIFY, GET_NAME_LIST = 4, 5, 2, 1
GET_VARIABLE_ACCESS_ATTRIBUTES, GET_NAMED_VARIABLE_LIST_ATTRIBUTES = 6, 12
# services whose request (or its first field) names a file: fileOpen, fileDelete, fileDirectory,
# fileRename, obtainFile (ISO 9506-2 §11; FileName ::= SEQUENCE OF GraphicString)
FILE_SERVICES = frozenset((46, 72, 73, 74, 75, 76, 77))
# services whose request is a domain name (Identifier) or starts with one
DOMAIN_SERVICES = frozenset((26, 28, 29, 32, 33, 34, 35, 36, 37))
# services whose request is a program invocation name or starts with one
PROGRAM_SERVICES = frozenset((38, 39, 40, 41, 42, 43, 44, 45))

# UnconfirmedService ::= CHOICE
UNCONFIRMED_SERVICES = {0: "information_report", 1: "unsolicited_status", 2: "event_notification"}
INFORMATION_REPORT = 0

# ObjectClass (getNameList): basicObjectClass values
OBJECT_CLASSES = {
    0: "named_variable", 1: "scattered_access", 2: "named_variable_list", 3: "named_type",
    4: "semaphore", 5: "event_condition", 6: "event_action", 7: "event_enrollment",
    8: "journal", 9: "domain", 10: "program_invocation", 11: "operator_station",
    12: "data_exchange", 13: "access_control_list",
}  # fmt: skip

# DataAccessError
ACCESS_ERRORS = {
    0: "object_invalidated", 1: "hardware_fault", 2: "temporarily_unavailable",
    3: "object_access_denied", 4: "object_undefined", 5: "invalid_address",
    6: "type_unsupported", 7: "type_inconsistent", 8: "object_attribute_inconsistent",
    9: "object_access_unsupported", 10: "object_non_existent", 11: "object_value_invalid",
}  # fmt: skip

# ServiceError.errorClass CHOICE
ERROR_CLASSES = {
    0: "vmd_state", 1: "application_reference", 2: "definition", 3: "resource", 4: "service",
    5: "service_preempt", 6: "time_resolution", 7: "access", 8: "initiate", 9: "conclude",
    10: "cancel", 11: "file", 12: "others",
}  # fmt: skip

# RejectPDU.rejectReason CHOICE
REJECT_TYPES = {
    1: "confirmed_request_pdu", 2: "confirmed_response_pdu", 3: "confirmed_error_pdu",
    4: "unconfirmed_pdu", 5: "pdu_error", 6: "cancel_request_pdu", 7: "cancel_response_pdu",
    8: "cancel_error_pdu", 9: "conclude_request_pdu", 10: "conclude_response_pdu",
    11: "conclude_error_pdu",
}  # fmt: skip

# ISO 8327-1 §8.3: SPDU identifiers (SI). GIVE TOKENS and DATA TRANSFER share SI 1 (basic
# concatenation: a category 0 SPDU, then the category 2 one that carries the user data).
SPDU_TYPES = {
    0x01: "data_transfer", 0x02: "please_tokens", 0x05: "expedited", 0x07: "prepare",
    0x08: "not_finished", 0x09: "finish", 0x0A: "disconnect", 0x0C: "refuse", 0x0D: "connect",
    0x0E: "accept", 0x0F: "connect_data_overflow", 0x10: "overflow_accept",
    0x15: "give_tokens_confirm", 0x16: "give_tokens_ack", 0x19: "abort", 0x1A: "abort_accept",
    0x21: "typed_data", 0x22: "resynchronize_ack", 0x29: "major_sync_point",
    0x2A: "major_sync_ack", 0x31: "minor_sync_point", 0x32: "minor_sync_ack",
    0x35: "resynchronize", 0x39: "activity_resume", 0x3A: "activity_end_ack",
}  # fmt: skip
SPDU_DT, SPDU_CN, SPDU_AC, SPDU_RF, SPDU_FN, SPDU_DN, SPDU_AB = 0x01, 0x0D, 0x0E, 0x0C, 0x09, 0x0A, 0x19
# ISO 8327-1 §8.3: parameter codes that carry the presentation PDU (session user data)
PI_USER_DATA, PGI_EXTENDED_USER_DATA = 0xC1, 0xC2

# ACSE APDUs ([APPLICATION n]) and their operation
ACSE_APDUS = {0: "aarq", 1: "aare", 2: "rlrq", 3: "rlre", 4: "abrt"}
ACSE_NAMES = {0: "associate_request", 1: "associate_response", 2: "release_request",
              3: "release_response", 4: "abort"}  # fmt: skip
ACSE_RESULTS = {0: "accepted", 1: "rejected_permanent", 2: "rejected_transient"}

# IEC 61850-8-1 functional constraints (the second `$` segment of an item name) whose writes
# change settings or control-block configuration rather than process values; CO is the control
# model (Oper / SBOw / Cancel structures and their ctlVal).
CONFIG_FCS = frozenset(("SP", "SG", "SE", "CF", "RP", "BR", "GO", "GS", "MS", "US", "LG", "SV",
                        "DC"))  # fmt: skip
CONTROL_PARTS = frozenset(("Oper", "SBOw", "Cancel", "ctlVal"))
SELECT_PART = "SBO"  # select-before-operate with normal security: a read of SBO selects

MAX_VALUES = 64  # data values rendered per message (more are counted, not shown)
MAX_NAMES = 256  # identifiers and variable names kept per message
MAX_TEXT = 256  # characters of one rendered value
