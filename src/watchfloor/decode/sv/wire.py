"""Sampled Values frames (IEC 61850-9-2 §8.5) → header and ASDUs. Pure; raises only Malformed."""

from __future__ import annotations

from typing import Final, NamedTuple

from .._contract import Malformed
from ..ber import APPLICATION, CONSTRUCTED, CONTEXT, UNIVERSAL, children, text, tlv, unsigned
from ..goose.constants import HEADER, SMP_CNT, SMP_RATE, SMP_SYNCH, SV_CONF_REV, SV_DAT_SET, SV_ID
from ..goose.wire import Header, header

_DECODED: Final = frozenset((SV_ID, SV_DAT_SET, SMP_CNT, SV_CONF_REV, SMP_SYNCH, SMP_RATE))


class Asdu(NamedTuple):
    sv_id: str | None
    dat_set: str | None
    smp_cnt: int | None
    conf_rev: int | None
    smp_synch: int | None
    smp_rate: int | None


# (start, end, ASDU index) of the bytes whose value the parse does not depend on beyond smpCnt:
# each ASDU's smpCnt content (index >= 0) and the contents of the elements not decoded (-1)
Spans = list[tuple[int, int, int]]


def parse(data: bytes, spans: Spans | None = None) -> tuple[Header, list[Asdu], bool]:
    """(header, the ASDUs, complete). A malformed ASDU ends the list; the ones before it stay.
    `spans`, when given, receives the variable spans (see `Spans`), in order."""
    h = header(data)
    cls, num, s, e = tlv(data, HEADER, h.end, truncated_ok=True)
    if cls != APPLICATION | CONSTRUCTED or num != 0:
        raise Malformed(f"not a savPdu (identifier 0x{data[HEADER]:02x})")
    complete = h.length <= len(data) and e <= h.end
    e = min(e, h.end)
    asdus: list[Asdu] = []
    try:
        for c in children(data, s, e):
            if c[0] == CONTEXT | CONSTRUCTED and c[1] == 2:  # seqASDU
                for a in children(data, c[2], c[3]):
                    if a[0] != UNIVERSAL | CONSTRUCTED or a[1] != 16:
                        raise Malformed("ASDU is not a SEQUENCE")
                    asdus.append(_asdu(data, a[2], a[3], spans, len(asdus)))
    except Malformed:
        complete = False
    return h, asdus, complete


def _asdu(data: bytes, s: int, e: int, spans: Spans | None, index: int) -> Asdu:
    sv_id = dat_set = None
    cnt = rev = synch = rate = None
    for cls, n, cs, ce in children(data, s, e):
        if cls != CONTEXT or n not in _DECODED:
            if spans is not None:  # seqData, refrTm, smpMod, ...: only their length counts
                spans.append((cs, ce, -1))
            continue
        if n == SV_ID:
            sv_id = text(data, cs, ce)
        elif n == SV_DAT_SET:
            dat_set = text(data, cs, ce)
        elif n == SMP_CNT:
            cnt = unsigned(data, cs, ce)
            if spans is not None:
                spans.append((cs, ce, index))
        elif n == SV_CONF_REV:
            rev = unsigned(data, cs, ce)
        elif n == SMP_SYNCH:
            synch = unsigned(data, cs, ce)
        elif n == SMP_RATE:
            rate = unsigned(data, cs, ce)
    return Asdu(sv_id, dat_set, cnt, rev, synch, rate)
