"""IEC 60870-5-104 code tables, each defined once.

Sources: IEC 60870-5-104:2006 §5 (APCI: I, S and U formats, STARTDT/STOPDT/TESTFR), §9 (ASDU
types allowed on 104); IEC 60870-5-101:2003 §7.2 (type identification, variable structure
qualifier, cause of transmission) and §7.3 (information elements).
"""

from __future__ import annotations

from typing import NamedTuple

START = 0x68
MIN_LENGTH, MAX_LENGTH = 4, 253  # APDU length octet: control field (4) + ASDU (<= 249)
SEQ_MODULO = 1 << 15  # N(S), N(R) are 15-bit counters

APCI_NAMES = {0: "I", 1: "S", 3: "U"}

# §5.3: U format functions (first control octet; exactly one function bit set)
U_FUNCTIONS = {
    0x07: "startdt_act", 0x0B: "startdt_con",
    0x13: "stopdt_act", 0x23: "stopdt_con",
    0x43: "testfr_act", 0x83: "testfr_con",
}  # fmt: skip


class TypeInfo(NamedTuple):
    mnemonic: str  # as the standard writes it, e.g. M_SP_NA_1
    name: str  # event.action
    operation: str  # ot.action.operation
    object: str  # ot.action.target.object


_MON, _CTL = "read", "control"

# 101 §7.2.1.1 / 104 §9: type identification. Time-tagged monitor types carry CP56Time2a (30-40);
# the CP24Time2a variants of IEC 60870-5-101 (2, 4, ... 19) are not allowed on 104.
TYPES: dict[int, TypeInfo] = {
    1: TypeInfo("M_SP_NA_1", "single_point", _MON, "single_point"),
    2: TypeInfo("M_SP_TA_1", "single_point_cp24", _MON, "single_point"),
    3: TypeInfo("M_DP_NA_1", "double_point", _MON, "double_point"),
    4: TypeInfo("M_DP_TA_1", "double_point_cp24", _MON, "double_point"),
    5: TypeInfo("M_ST_NA_1", "step_position", _MON, "step_position"),
    6: TypeInfo("M_ST_TA_1", "step_position_cp24", _MON, "step_position"),
    7: TypeInfo("M_BO_NA_1", "bitstring", _MON, "bitstring"),
    8: TypeInfo("M_BO_TA_1", "bitstring_cp24", _MON, "bitstring"),
    9: TypeInfo("M_ME_NA_1", "measured_normalized", _MON, "measured_value"),
    10: TypeInfo("M_ME_TA_1", "measured_normalized_cp24", _MON, "measured_value"),
    11: TypeInfo("M_ME_NB_1", "measured_scaled", _MON, "measured_value"),
    12: TypeInfo("M_ME_TB_1", "measured_scaled_cp24", _MON, "measured_value"),
    13: TypeInfo("M_ME_NC_1", "measured_float", _MON, "measured_value"),
    14: TypeInfo("M_ME_TC_1", "measured_float_cp24", _MON, "measured_value"),
    15: TypeInfo("M_IT_NA_1", "integrated_totals", _MON, "counter"),
    16: TypeInfo("M_IT_TA_1", "integrated_totals_cp24", _MON, "counter"),
    17: TypeInfo("M_EP_TA_1", "protection_event_cp24", _MON, "protection"),
    18: TypeInfo("M_EP_TB_1", "protection_start_events_cp24", _MON, "protection"),
    19: TypeInfo("M_EP_TC_1", "protection_output_circuit_cp24", _MON, "protection"),
    20: TypeInfo("M_PS_NA_1", "packed_single_points", _MON, "single_point"),
    21: TypeInfo("M_ME_ND_1", "measured_normalized_no_quality", _MON, "measured_value"),
    30: TypeInfo("M_SP_TB_1", "single_point_time", _MON, "single_point"),
    31: TypeInfo("M_DP_TB_1", "double_point_time", _MON, "double_point"),
    32: TypeInfo("M_ST_TB_1", "step_position_time", _MON, "step_position"),
    33: TypeInfo("M_BO_TB_1", "bitstring_time", _MON, "bitstring"),
    34: TypeInfo("M_ME_TD_1", "measured_normalized_time", _MON, "measured_value"),
    35: TypeInfo("M_ME_TE_1", "measured_scaled_time", _MON, "measured_value"),
    36: TypeInfo("M_ME_TF_1", "measured_float_time", _MON, "measured_value"),
    37: TypeInfo("M_IT_TB_1", "integrated_totals_time", _MON, "counter"),
    38: TypeInfo("M_EP_TD_1", "protection_event_time", _MON, "protection"),
    39: TypeInfo("M_EP_TE_1", "protection_start_events_time", _MON, "protection"),
    40: TypeInfo("M_EP_TF_1", "protection_output_circuit_time", _MON, "protection"),
    45: TypeInfo("C_SC_NA_1", "single_command", _CTL, "single_point"),
    46: TypeInfo("C_DC_NA_1", "double_command", _CTL, "double_point"),
    47: TypeInfo("C_RC_NA_1", "regulating_step_command", _CTL, "step_position"),
    48: TypeInfo("C_SE_NA_1", "set_point_normalized", _CTL, "set_point"),
    49: TypeInfo("C_SE_NB_1", "set_point_scaled", _CTL, "set_point"),
    50: TypeInfo("C_SE_NC_1", "set_point_float", _CTL, "set_point"),
    51: TypeInfo("C_BO_NA_1", "bitstring_command", _CTL, "bitstring"),
    58: TypeInfo("C_SC_TA_1", "single_command_time", _CTL, "single_point"),
    59: TypeInfo("C_DC_TA_1", "double_command_time", _CTL, "double_point"),
    60: TypeInfo("C_RC_TA_1", "regulating_step_command_time", _CTL, "step_position"),
    61: TypeInfo("C_SE_TA_1", "set_point_normalized_time", _CTL, "set_point"),
    62: TypeInfo("C_SE_TB_1", "set_point_scaled_time", _CTL, "set_point"),
    63: TypeInfo("C_SE_TC_1", "set_point_float_time", _CTL, "set_point"),
    64: TypeInfo("C_BO_TA_1", "bitstring_command_time", _CTL, "bitstring"),
    70: TypeInfo("M_EI_NA_1", "end_of_initialization", "diagnostic", "station"),
    100: TypeInfo("C_IC_NA_1", "interrogation", "read", "station"),
    101: TypeInfo("C_CI_NA_1", "counter_interrogation", "read", "counter"),
    102: TypeInfo("C_RD_NA_1", "read", "read", "information_object"),
    103: TypeInfo("C_CS_NA_1", "clock_synchronization", "config", "clock"),
    104: TypeInfo("C_TS_NA_1", "test", "diagnostic", "station"),
    105: TypeInfo("C_RP_NA_1", "reset_process", "control", "station"),
    106: TypeInfo("C_CD_NA_1", "delay_acquisition", "config", "station"),
    107: TypeInfo("C_TS_TA_1", "test_time", "diagnostic", "station"),
    110: TypeInfo("P_ME_NA_1", "parameter_normalized", "config", "parameter"),
    111: TypeInfo("P_ME_NB_1", "parameter_scaled", "config", "parameter"),
    112: TypeInfo("P_ME_NC_1", "parameter_float", "config", "parameter"),
    113: TypeInfo("P_AC_NA_1", "parameter_activation", "config", "parameter"),
    120: TypeInfo("F_FR_NA_1", "file_ready", "other", "file"),
    121: TypeInfo("F_SR_NA_1", "section_ready", "other", "file"),
    122: TypeInfo("F_SC_NA_1", "file_call", "other", "file"),
    123: TypeInfo("F_LS_NA_1", "last_section", "other", "file"),
    124: TypeInfo("F_AF_NA_1", "file_ack", "other", "file"),
    125: TypeInfo("F_SG_NA_1", "file_segment", "other", "file"),
    126: TypeInfo("F_DR_TA_1", "directory", "other", "file"),
    127: TypeInfo("F_SC_NB_1", "file_query_log", "other", "file"),
}

CONTROL_TYPES = frozenset(range(45, 70))  # process information in control direction
NOT_ON_104 = frozenset((2, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 104, 106))  # 104 §9 omits these

# 101 §7.2.3: cause of transmission (6 bits)
COT_NAMES = {
    1: "periodic", 2: "background", 3: "spontaneous", 4: "initialized", 5: "request",
    6: "activation", 7: "activation_con", 8: "deactivation", 9: "deactivation_con",
    10: "activation_term", 11: "return_remote", 12: "return_local", 13: "file_transfer",
    20: "interrogated_station", **{20 + g: f"interrogated_group_{g}" for g in range(1, 17)},
    37: "requested_counter_general",
    **{37 + g: f"requested_counter_group_{g}" for g in range(1, 5)},
    44: "unknown_type", 45: "unknown_cause", 46: "unknown_common_address", 47: "unknown_ioa",
}  # fmt: skip
REQ, ACT, ACTCON, DEACT, DEACTCON, ACTTERM = 5, 6, 7, 8, 9, 10
CONFIRMATIONS = frozenset((ACTCON, DEACTCON, ACTTERM))
UNKNOWN_COTS = frozenset((44, 45, 46, 47))  # mirrored back: the request was refused

SPI = ("off", "on")
DPI = ("intermediate", "off", "on", "indeterminate")  # 101 §7.2.6.2
RCS = ("not_permitted", "lower", "higher", "not_permitted")  # 101 §7.2.6.17
QOI = {20: "station", **{20 + g: f"group_{g}" for g in range(1, 17)}}  # 101 §7.2.6.22
QCC_FRZ = ("read", "freeze", "freeze_and_reset", "reset")  # 101 §7.2.6.23
QCC_RQT = {1: "group_1", 2: "group_2", 3: "group_3", 4: "group_4", 5: "general"}
QRP = {1: "general_reset", 2: "reset_event_buffer"}  # 101 §7.2.6.27
COI = {0: "local_power_on", 1: "local_manual_reset", 2: "remote_reset"}  # 101 §7.2.6.21
KPA = {1: "threshold", 2: "smoothing", 3: "low_limit", 4: "high_limit"}  # 101 §7.2.6.24
SEP_STATE = DPI  # event state of protection equipment (101 §7.2.6.10), coded as DPI

# Quality bits (101 §7.2.6.1-3): QDS (and SIQ/DIQ from bit 4 up), BCR flags, QDP.
QDS_FLAGS = ((0x01, "overflow"), (0x10, "blocked"), (0x20, "substituted"),
             (0x40, "not_topical"), (0x80, "invalid"))  # fmt: skip
SIQ_FLAGS = QDS_FLAGS[1:]
QDP_FLAGS = ((0x08, "elapsed_time_invalid"), *SIQ_FLAGS)
BCR_FLAGS = ((0x20, "carry"), (0x40, "adjusted"), (0x80, "invalid"))


def type_name(type_id: int) -> str:
    t = TYPES.get(type_id)
    return t.name if t else f"unknown-{type_id}"


def cot_name(cot: int) -> str:
    return COT_NAMES.get(cot, f"unknown-{cot}")
