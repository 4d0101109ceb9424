"""IEC 61850 GOOSE and Sampled Values frame builders (layer 2, EtherTypes 0x88B8 / 0x88BA).

`goose_frame(...)` and `sv_frame(...)` return whole Ethernet frames (optionally VLAN-tagged);
the data values use the MMS Data encoders of `watchfloor.testing.mms`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from watchfloor.testing import frames
from watchfloor.testing.mms import boolean, ctx, float32, int_data, tlv, uint, utc_time

__all__ = ["boolean", "float32", "goose_frame", "goose_pdu", "int_data", "sv_frame"]

PUBLISHER_MAC = "02:00:00:61:85:01"
GOOSE_MAC = "01:0c:cd:01:00:01"
SV_MAC = "01:0c:cd:04:00:01"
ETHERTYPE_GOOSE, ETHERTYPE_SV = 0x88B8, 0x88BA


def _frame(appid: int, apdu: bytes, simulate: bool, length: int | None) -> bytes:
    n = 8 + len(apdu) if length is None else length
    return struct.pack(">HHHH", appid, n, 0x8000 if simulate else 0, 0) + apdu


def goose_pdu(gocb_ref: str, st_num: int, sq_num: int, values: Sequence[bytes], *, ttl: int = 2000,
              dat_set: str = "IED1PROT/LLN0$Trip", go_id: str | None = "IED1_Trip", t: int = 1_700_000_000,
              t_fraction: int = 0, test: bool = False, conf_rev: int = 1, nds_com: bool = False,
              entries: int | None = None, omit: Sequence[int] = ()) -> bytes:  # fmt: skip
    """IECGoosePdu [APPLICATION 1]; `omit` leaves out elements by their context tag number."""
    parts = [
        (0, ctx(0, gocb_ref.encode(), False)), (1, ctx(1, uint(ttl), False)),
        (2, ctx(2, dat_set.encode(), False)),
        (3, ctx(3, go_id.encode(), False) if go_id is not None else b""),
        (4, ctx(4, utc_time(t, t_fraction)[2:], False)), (5, ctx(5, uint(st_num), False)),
        (6, ctx(6, uint(sq_num), False)), (7, ctx(7, b"\xff" if test else b"\x00", False)),
        (8, ctx(8, uint(conf_rev), False)), (9, ctx(9, b"\xff" if nds_com else b"\x00", False)),
        (10, ctx(10, uint(len(values) if entries is None else entries), False)),
        (11, ctx(11, b"".join(values))),
    ]  # fmt: skip
    return tlv(0x61, b"".join(p for n, p in parts if n not in omit))


def goose_frame(gocb_ref: str, st_num: int, sq_num: int, values: Sequence[bytes], *, appid: int = 0x1001,
                src: str = PUBLISHER_MAC, dst: str = GOOSE_MAC, vlans: Sequence[int] = (),
                simulate: bool = False, length: int | None = None, **pdu) -> bytes:  # noqa: ANN003
    apdu = goose_pdu(gocb_ref, st_num, sq_num, values, **pdu)
    return frames.ethernet(_frame(appid, apdu, simulate, length), src=src, dst=dst,
                           ethertype=ETHERTYPE_GOOSE, vlans=vlans)  # fmt: skip


def sv_asdu(sv_id: str, smp_cnt: int, *, conf_rev: int = 1, smp_synch: int = 2, smp_rate: int | None = None,
            dat_set: str | None = None, samples: int = 8,
            values: Sequence[int] | None = None) -> bytes:  # fmt: skip
    """One ASDU; `values` are the channels' INT32 samples (each with a good quality word),
    otherwise `samples` channels of zeros."""
    body = ctx(0, sv_id.encode(), False)
    if dat_set is not None:
        body += ctx(1, dat_set.encode(), False)
    body += ctx(2, struct.pack(">H", smp_cnt), False) + ctx(3, struct.pack(">I", conf_rev), False)
    body += ctx(5, bytes((smp_synch,)), False)
    if smp_rate is not None:
        body += ctx(6, struct.pack(">H", smp_rate), False)
    data = bytes(8 * samples) if values is None else \
        b"".join(struct.pack(">iI", v, 0) for v in values)  # fmt: skip
    body += ctx(7, data, False)  # value + quality per channel
    return tlv(0x30, body)


def sv_frame(asdus: Sequence[bytes], *, appid: int = 0x4001, src: str = PUBLISHER_MAC, dst: str = SV_MAC,
             vlans: Sequence[int] = (), simulate: bool = False) -> bytes:  # fmt: skip
    apdu = tlv(0x60, ctx(0, bytes((len(asdus),)), False) + ctx(2, b"".join(asdus)))
    return frames.ethernet(_frame(appid, apdu, simulate, None), src=src, dst=dst, ethertype=ETHERTYPE_SV,
                           vlans=vlans)  # fmt: skip


__all__ += ["int_data", "sv_asdu"]
