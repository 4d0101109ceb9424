"""GOOSE / Sampled Values code tables and limits, each defined once.

Sources: IEC 61850-8-1 Ed.2 §A.3 (GOOSE frame: APPID, Length, Reserved 1 with the Simulate bit,
Reserved 2; IECGoosePdu ::= [APPLICATION 1] SEQUENCE), §8.1.3.7 (Data encoding, shared with MMS);
IEC 61850-9-2 Ed.2 §8.5 (SV frame, SavPdu ::= [APPLICATION 0] SEQUENCE, ASDU fields).
"""

from __future__ import annotations

ETHERTYPE_GOOSE = 0x88B8
ETHERTYPE_SV = 0x88BA
HEADER = 8  # APPID, Length, Reserved 1, Reserved 2
SIMULATE_BIT = 0x8000  # Reserved 1, IEC 61850-8-1 Ed.2: the frame is simulated (test set)

# IECGoosePdu element context tags
GOCB_REF, TTL, DAT_SET, GO_ID, T, ST_NUM, SQ_NUM, TEST, CONF_REV, NDS_COM, ENTRIES, ALL_DATA = range(12)

# SV ASDU element context tags
SV_ID, SV_DAT_SET, SMP_CNT, SV_CONF_REV, REFR_TM, SMP_SYNCH, SMP_RATE, SAMPLE, SMP_MOD = range(9)
SMP_SYNCH_NAMES = {0: "none", 1: "local", 2: "global"}  # 5-254 reserved, 255... grandmaster ids

MAX_STREAMS = 256  # GOOSE control blocks / SV streams tracked per layer-2 stream
MAX_VALUES = 64  # data values rendered per GOOSE message
SV_SUMMARY_NS = 60 * 10**9  # an SV stream is summarised once a minute and when it ends
