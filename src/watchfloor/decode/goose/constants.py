"""GOOSE / Sampled Values code tables and limits, each defined once.

Sources: IEC 61850-8-1 Ed.2 §A.3 (GOOSE frame: APPID, Length, Reserved 1 with the Simulate bit,
Reserved 2; IECGoosePdu ::= [APPLICATION 1] SEQUENCE), §8.1.3.7 (Data encoding, shared with MMS);
IEC 61850-9-2 Ed.2 §8.5 (SV frame, SavPdu ::= [APPLICATION 0] SEQUENCE, ASDU fields).
"""

from __future__ import annotations

from typing import Final

ETHERTYPE_GOOSE: Final = 0x88B8
ETHERTYPE_SV: Final = 0x88BA
HEADER: Final = 8  # APPID, Length, Reserved 1, Reserved 2
SIMULATE_BIT: Final = 0x8000  # Reserved 1, IEC 61850-8-1 Ed.2: the frame is simulated (test set)

# IECGoosePdu element context tags
GOCB_REF: Final = 0
TTL: Final = 1
DAT_SET: Final = 2
GO_ID: Final = 3
T: Final = 4
ST_NUM: Final = 5
SQ_NUM: Final = 6
TEST: Final = 7
CONF_REV: Final = 8
NDS_COM: Final = 9
ENTRIES: Final = 10
ALL_DATA: Final = 11

# SV ASDU element context tags
SV_ID: Final = 0
SV_DAT_SET: Final = 1
SMP_CNT: Final = 2
SV_CONF_REV: Final = 3
REFR_TM: Final = 4
SMP_SYNCH: Final = 5
SMP_RATE: Final = 6
SAMPLE: Final = 7
SMP_MOD: Final = 8
SMP_SYNCH_NAMES: Final = {0: "none", 1: "local", 2: "global"}  # 5-254 reserved, 255... grandmaster ids

MAX_STREAMS: Final = 256  # GOOSE control blocks / SV streams tracked per layer-2 stream
MAX_VALUES: Final = 64  # data values rendered per GOOSE message
SV_SUMMARY_NS: Final = 60 * 10**9  # an SV stream is summarised once a minute and when it ends
