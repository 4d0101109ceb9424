"""The OSI upper layers between COTP and MMS: ISO 8327 session SPDUs, ISO 8823 presentation
PPDUs and ISO 8650 ACSE APDUs, unwrapped down to the MMS PDU they carry.

Each COTP TSDU holds one session SPDU (or, after GIVE TOKENS, a DATA TRANSFER SPDU); its user data
is a presentation PPDU whose presentation data values (PDVs) are either ACSE APDUs
([APPLICATION 0-4]) or MMS PDUs (context-specific tags): the tag tells them apart, so the
presentation context table negotiated at connect time need not be known (mid-stream starts work).
Some stacks put the MMS PDU straight into the COTP TSDU without session and presentation;
`unwrap` accepts that too. Pure; raises only Malformed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._contract import Malformed
from ..ber import APPLICATION, CONSTRUCTED, CONTEXT, UNIVERSAL, Tlv, children, integer, oid, tlv
from .constants import PGI_EXTENDED_USER_DATA, PI_USER_DATA, SPDU_DT, SPDU_TYPES

_FULLY_ENCODED = APPLICATION | CONSTRUCTED  # [APPLICATION 1] fully-encoded-data (number 1)
_CONS_CONTEXT = CONTEXT | CONSTRUCTED
_ACSE = APPLICATION | CONSTRUCTED
NO_SESSION = -1  # `Upper.spdu` of an MMS PDU carried directly in the COTP TSDU


class Upper(NamedTuple):
    spdu: int  # session SPDU identifier, or NO_SESSION
    acse: int | None  # ACSE APDU number (0 AARQ ... 4 ABRT) when the TSDU carries one
    acse_fields: dict[str, Any] | None
    mms: list[bytes]  # the MMS PDUs carried (usually one)


def is_mms_tag(b: int) -> bool:
    """Whether an identifier octet can start an MMSpdu (context tags 0-13; 5, 6, 11, 12 are
    primitive)."""
    return (0xA0 <= b <= 0xAD and b not in (0xA5, 0xA6, 0xAB, 0xAC)) or b in (0x85, 0x86, 0x8B, 0x8C)


_DT_PREFIX = b"\x01\x00\x01\x00\x61"


def data_pdu(tsdu: bytes) -> bytes | None:
    """The MMS PDU of the usual data message (GIVE TOKENS, DATA TRANSFER, fully-encoded-data of
    one PDV-list holding one MMS PDU), or None: then `unwrap` takes the general path."""
    if not tsdu.startswith(_DT_PREFIX):
        return None
    end = len(tsdu)
    # The common shape, every length short: 61 L 30 L 02 01 <context id> A0 L <MMS PDU>
    if 13 < end < 0x86 and tsdu[5] == end - 6 and tsdu[6] == 0x30 and tsdu[7] == end - 8 and \
            tsdu[8] == 2 and tsdu[9] == 1 and tsdu[11] == 0xA0 and tsdu[12] == end - 13:
        return tsdu[13:] if is_mms_tag(tsdu[13]) else None
    try:
        _, _, s, e = tlv(tsdu, 4, end)
        cls, num, s, e2 = tlv(tsdu, s, e)
        if e != end or e2 != e or cls != UNIVERSAL | CONSTRUCTED or num != 16 or tsdu[s] != 2:
            return None  # (not one PDV-list SEQUENCE starting with its context id)
        ctx = tlv(tsdu, s, e)
        v = tlv(tsdu, ctx[3], e)
    except Malformed:
        return None
    if v[0] != _CONS_CONTEXT or v[1] != 0 or v[3] != e or v[2] >= e or not is_mms_tag(tsdu[v[2]]):
        return None
    return tsdu[v[2] : e]


DATA_TRANSFER = Upper(SPDU_DT, None, None, [])


def unwrap(tsdu: bytes) -> Upper:
    """A COTP TSDU → its session SPDU type, any ACSE APDU, and the MMS PDU(s) inside."""
    if not tsdu:
        raise Malformed("empty TSDU")
    si = tsdu[0]
    if is_mms_tag(si):  # MMS directly on COTP
        return Upper(NO_SESSION, None, None, [tsdu])
    if si not in SPDU_TYPES:
        raise Malformed(f"unknown session SPDU identifier 0x{si:02x}")
    end = len(tsdu)
    pos, params_end = _spdu_header(tsdu, 0)
    if si == SPDU_DT:
        # GIVE TOKENS (SI 1, usually empty) then DATA TRANSFER (SI 1): the user data follows the
        # second header (a presentation PPDU never starts with 0x01). A lone DT is accepted too.
        pos = params_end
        if pos < end and tsdu[pos] == SPDU_DT:
            pos = _spdu_header(tsdu, pos)[1]
        if pos >= end:
            return Upper(si, None, None, [])
        return _presentation(si, tsdu, pos, end)
    if params_end > end:
        raise Malformed("session SPDU parameters run past the TSDU")
    data = _user_data_param(tsdu, pos, params_end)
    if data is None:
        return Upper(si, None, None, [])
    return _presentation(si, tsdu, data[0], data[1])


def _spdu_header(buf: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the parameters of the SPDU at `pos` (LI: one octet, or 0xFF + two)."""
    if pos + 2 > len(buf):
        raise Malformed("session SPDU header truncated")
    li = buf[pos + 1]
    if li == 0xFF:
        if pos + 4 > len(buf):
            raise Malformed("session SPDU length truncated")
        li = (buf[pos + 2] << 8) | buf[pos + 3]
        start = pos + 4
    else:
        start = pos + 2
    if start + li > len(buf):
        raise Malformed("session SPDU longer than the TSDU")
    return start, start + li


def _user_data_param(buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """The value span of the (extended) user data parameter among an SPDU's parameters."""
    while pos < end:
        code = buf[pos]
        start, stop = _spdu_header(buf, pos)
        if stop > end:
            raise Malformed("session parameter runs past its SPDU")
        if code == PI_USER_DATA or code == PGI_EXTENDED_USER_DATA:
            return start, stop
        pos = stop
    return None


def _presentation(si: int, buf: bytes, pos: int, end: int) -> Upper:
    """A PPDU (CP/CPA/CPR/ARU/ARP or bare user data) → its PDVs, sorted into ACSE and MMS."""
    acse = fields = None
    mms: list[bytes] = []
    for pdv in _pdvs(buf, tlv(buf, pos, end), 0):
        first = buf[pdv[0]]
        if first & 0xE0 == _ACSE and first & 0x1F <= 4:  # AARQ, AARE, RLRQ, RLRE, ABRT
            if acse is None:
                acse, fields, inner = _acse(buf, pdv[0], pdv[1])
                mms += inner
        elif is_mms_tag(first):
            mms.append(buf[pdv[0] : pdv[1]])
    return Upper(si, acse, fields, mms)


def _pdvs(buf: bytes, t: Tlv, depth: int) -> list[tuple[int, int]]:
    """Spans of the presentation data values in the PPDU `t`: fully-encoded-data is found at the
    top, or inside the CP/CPA normal-mode parameters or an ARU/CPR."""
    cls, num, s, e = t
    if cls == _FULLY_ENCODED and num == 1:
        out = []
        for c in children(buf, s, e):  # PDV-list ::= SEQUENCE { [oid], context id, values }
            if c[0] != UNIVERSAL | CONSTRUCTED or c[1] != 16:
                raise Malformed("presentation PDV-list is not a SEQUENCE")
            for v in children(buf, c[2], c[3]):
                if v[0] == _CONS_CONTEXT and v[1] == 0:  # single-ASN1-type: one whole TLV
                    out.append((v[2], v[3]))
                elif v[0] == CONTEXT and v[1] == 1:  # octet-aligned
                    out.append((v[2], v[3]))
        return out
    if depth < 2 and cls & CONSTRUCTED and (cls == UNIVERSAL | CONSTRUCTED and num in (16, 17)
                                            or cls == _CONS_CONTEXT and num in (0, 2)):
        for c in children(buf, s, e):
            if c[0] & CONSTRUCTED and (c[0] == _FULLY_ENCODED or c[0] == _CONS_CONTEXT):
                found = _pdvs(buf, c, depth + 1)
                if found:
                    return found
    return []


def _acse(buf: bytes, pos: int, end: int) -> tuple[int, dict[str, Any], list[bytes]]:
    """An ACSE APDU: its number, the facts kept, and the MMS PDU in its user information."""
    cls, num, s, e = tlv(buf, pos, end)
    fields: dict[str, Any] = {}
    mms: list[bytes] = []
    for c in children(buf, s, e):
        ccls, cnum, cs, ce = c
        if num <= 1 and ccls == _CONS_CONTEXT:
            if cnum == 30:  # user-information: Association-information ::= SEQUENCE OF EXTERNAL
                for ext in children(buf, cs, ce):
                    for v in children(buf, ext[2], ext[3]):
                        if v[0] in (_CONS_CONTEXT, CONTEXT) and v[1] in (0, 1) and v[2] < v[3]:
                            if is_mms_tag(buf[v[2]]):
                                mms.append(buf[v[2] : v[3]])
            elif cnum in (1, 2, 4, 6):  # application context name, AP titles (form 2: an OID)
                inner = tlv(buf, cs, ce)
                if inner[0] == UNIVERSAL and inner[1] == 6:
                    name = {1: "application_context", 2: "called_ap_title",
                            4: "responding_ap_title", 6: "calling_ap_title"}[cnum]  # fmt: skip
                    fields[name] = oid(buf, inner[2], inner[3])
            elif cnum in (3, 5, 7):  # AE qualifiers (form 2: an INTEGER)
                inner = tlv(buf, cs, ce)
                if inner[0] == UNIVERSAL and inner[1] == 2:
                    name = {3: "called_ae_qualifier", 5: "responding_ae_qualifier",
                            7: "calling_ae_qualifier"}[cnum]  # fmt: skip
                    if num == 1 and cnum == 3:  # AARE [3]: result-source-diagnostic
                        continue
                    fields[name] = integer(buf, inner[2], inner[3])
            if num == 1 and cnum == 2:  # AARE result [2] Associate-result
                inner = tlv(buf, cs, ce)
                if inner[0] == UNIVERSAL and inner[1] == 2:
                    fields["acse_result"] = integer(buf, inner[2], inner[3])
                    fields.pop("called_ap_title", None)
        elif num >= 2 and ccls == CONTEXT and cnum == 0 and cs < ce:  # RLRQ/RLRE reason, ABRT source
            fields["acse_reason" if num < 4 else "abort_source"] = integer(buf, cs, ce)
    return num, fields, mms
