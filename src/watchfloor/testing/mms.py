"""IEC 61850 MMS traffic builders: BER TLVs, MMS PDUs (ISO 9506-2), the OSI upper layers that
carry them (ISO 8327 session, ISO 8823 presentation, ISO 8650 ACSE), and TPKT/COTP framing.

Every builder returns bytes. `tpkt_dt(data_spdu(pdu))` is what goes on the TCP stream for an
MMS PDU of an established association; `connect_request()` / `connect_accept()` open one. Carry
the bytes with `watchfloor.testing.TcpConversation` (server port 102 by default here).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from watchfloor.testing.modbus import Endpoint
from watchfloor.testing.s7comm import tpkt, tpkt_dt

__all__ = ["tpkt", "tpkt_dt"]

MMS_SERVER = Endpoint("10.61.85.20", 102, "02:00:00:3d:55:14")
MMS_CLIENT = Endpoint("10.61.85.10", 50102, "02:00:00:3d:55:0a")
MMS_CONTEXT, ACSE_CONTEXT = 3, 1


# --- BER -------------------------------------------------------------------------------------
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes = b"") -> bytes:
    """A TLV. `tag` is the identifier octet, or for numbers above 30 (class|constructed) << 8 |
    number, e.g. 0xA0 << 8 | 40 for a constructed context tag [40]."""
    if tag > 0xFF:
        cls, num = tag >> 8, tag & 0xFF
        ident = bytes((cls | 0x1F, num)) if num < 0x80 else bytes((cls | 0x1F, 0x80 | num >> 7, num & 0x7F))
    else:
        ident = bytes((tag,))
    return ident + _length(len(content)) + content


def ctx(num: int, content: bytes = b"", constructed: bool = True) -> bytes:
    """A context-specific tag [num]."""
    cls = 0xA0 if constructed else 0x80
    return tlv(cls | num if num < 31 else cls << 8 | num, content)


def integer(v: int) -> bytes:
    n = max(1, (v.bit_length() + 8) // 8)
    return v.to_bytes(n, "big", signed=True)


def uint(v: int) -> bytes:
    """An unsigned value's INTEGER content (a leading zero keeps the sign bit clear)."""
    return integer(v)


# --- Data ------------------------------------------------------------------------------------
def boolean(v: bool) -> bytes:
    return ctx(3, b"\xff" if v else b"\x00", False)


def int_data(v: int) -> bytes:
    return ctx(5, integer(v), False)


def unsigned_data(v: int) -> bytes:
    return ctx(6, uint(v), False)


def float32(v: float) -> bytes:
    return ctx(7, b"\x08" + struct.pack(">f", v), False)


def visible(s: str) -> bytes:
    return ctx(10, s.encode(), False)


def octets(b: bytes) -> bytes:
    return ctx(9, b, False)


def bitstring(bits: str) -> bytes:
    """A bit string from '0'/'1' characters, first bit first."""
    n = len(bits)
    unused = (-n) % 8
    value = int(bits + "0" * unused, 2) if n else 0
    return ctx(4, bytes((unused,)) + value.to_bytes((n + unused) // 8, "big"), False)


def utc_time(seconds: int, fraction: int = 0, quality: int = 0x0A) -> bytes:
    return ctx(17, struct.pack(">I", seconds) + fraction.to_bytes(3, "big") + bytes((quality,)), False)


def structure(*members: bytes) -> bytes:
    return ctx(2, b"".join(members))


def array(*members: bytes) -> bytes:
    return ctx(1, b"".join(members))


def oper(ctl_val: bytes, ctl_num: int = 1, origin: str = "hmi1", t: int = 1_700_000_000) -> bytes:
    """IEC 61850-8-1 Oper structure: ctlVal, origin {orCat, orIdent}, ctlNum, T, Test, Check."""
    return structure(ctl_val, structure(int_data(3), octets(origin.encode())), unsigned_data(ctl_num),
                     utc_time(t), boolean(False), bitstring("00"))  # fmt: skip


# --- names -----------------------------------------------------------------------------------
def domain_name(domain: str, item: str) -> bytes:
    """ObjectName domain-specific [1] { domainId, itemId }."""
    return ctx(1, tlv(0x1A, domain.encode()) + tlv(0x1A, item.encode()))


def vmd_name(item: str) -> bytes:
    return ctx(0, item.encode(), False)


def variable_list(names: Sequence[bytes]) -> bytes:
    """listOfVariable [0]: SEQUENCE OF { variableSpecification name [0] ObjectName }."""
    return ctx(0, b"".join(tlv(0x30, ctx(0, n)) for n in names))


# --- MMS PDUs --------------------------------------------------------------------------------
def confirmed_request(invoke: int, service: bytes) -> bytes:
    return ctx(0, tlv(0x02, uint(invoke)) + service)


def confirmed_response(invoke: int, service: bytes) -> bytes:
    return ctx(1, tlv(0x02, uint(invoke)) + service)


def confirmed_error(invoke: int, error_class: int, code: int) -> bytes:
    return ctx(2, ctx(0, uint(invoke), False) + ctx(2, ctx(0, ctx(error_class, integer(code), False))))


def reject(invoke: int | None, reject_type: int, code: int) -> bytes:
    body = ctx(0, uint(invoke), False) if invoke is not None else b""
    return ctx(4, body + ctx(reject_type, integer(code), False))


def initiate_request(max_pdu: int = 65000, calling: int = 5, called: int = 5, nesting: int = 10) -> bytes:
    detail = ctx(4, ctx(0, integer(1), False) + ctx(1, b"\x05\xf1\x00", False)
                 + ctx(2, b"\x03\xee\x1c\x00\x00\x04\x08\x00\x00\x79\xef\x18", False))  # fmt: skip
    return ctx(8, ctx(0, integer(max_pdu), False) + ctx(1, integer(calling), False)
               + ctx(2, integer(called), False) + ctx(3, integer(nesting), False) + detail)  # fmt: skip


def initiate_response(max_pdu: int = 65000, calling: int = 5, called: int = 5, nesting: int = 10) -> bytes:
    return ctx(9, initiate_request(max_pdu, calling, called, nesting)[2:])


def conclude_request() -> bytes:
    return ctx(11, b"", False)


def conclude_response() -> bytes:
    return ctx(12, b"", False)


def read(names: Sequence[bytes]) -> bytes:
    """Read-Request service [4] of named variables."""
    return ctx(4, ctx(1, variable_list(names)))


def read_list(name: bytes) -> bytes:
    """Read-Request service [4] of a named variable list (data set)."""
    return ctx(4, ctx(1, ctx(1, name)))


def read_result(results: Sequence[bytes]) -> bytes:
    """Read-Response [4]: listOfAccessResult [1] (Data, or failure(code) for an error)."""
    return ctx(4, ctx(1, b"".join(results)))


def failure(code: int) -> bytes:
    """AccessResult failure [0] DataAccessError."""
    return ctx(0, integer(code), False)


def write(names: Sequence[bytes], data: Sequence[bytes]) -> bytes:
    return ctx(5, variable_list(names) + ctx(0, b"".join(data)))


def write_result(codes: Sequence[int | None]) -> bytes:
    """Write-Response [5]: success [1] NULL, or failure [0] DataAccessError."""
    return ctx(5, b"".join(ctx(1, b"", False) if c is None else failure(c) for c in codes))


def get_name_list(object_class: int, domain: str | None = None) -> bytes:
    scope = ctx(1, domain.encode(), False) if domain is not None else ctx(0, b"", False)
    return ctx(1, ctx(0, ctx(0, integer(object_class), False)) + ctx(1, scope))


def name_list(names: Sequence[str], more_follows: bool = False) -> bytes:
    return ctx(1, ctx(0, b"".join(tlv(0x1A, n.encode()) for n in names))
               + ctx(1, b"\xff" if more_follows else b"\x00", False))  # fmt: skip


def identify() -> bytes:
    return ctx(2, b"", False)


def identify_result(vendor: str, model: str, revision: str) -> bytes:
    return ctx(2, ctx(0, vendor.encode(), False) + ctx(1, model.encode(), False)
               + ctx(2, revision.encode(), False))  # fmt: skip


def get_variable_access_attributes(name: bytes) -> bytes:
    return ctx(6, ctx(0, name))


def file_open(name: str) -> bytes:
    return ctx(72, ctx(0, tlv(0x19, name.encode())) + ctx(1, integer(0), False))


def file_open_result(frsm: int, size: int) -> bytes:
    return ctx(72, ctx(0, integer(frsm), False) + ctx(1, ctx(0, uint(size), False)))


def file_delete(name: str) -> bytes:
    return ctx(76, tlv(0x19, name.encode()))


def file_delete_result() -> bytes:
    return ctx(76, b"", False)


def information_report(list_name: str, results: Sequence[bytes]) -> bytes:
    """Unconfirmed PDU [3] informationReport [0] of a VMD-specific variable list (IEC 61850
    reports: "RPT")."""
    return ctx(3, ctx(0, ctx(1, vmd_name(list_name)) + ctx(0, b"".join(results))))


# --- OSI upper layers ------------------------------------------------------------------------
def pdv(pdu: bytes, context: int = MMS_CONTEXT) -> bytes:
    """Presentation fully-encoded-data [APPLICATION 1] of one PDV-list (single-ASN1-type)."""
    return tlv(0x61, tlv(0x30, tlv(0x02, integer(context)) + ctx(0, pdu)))


def data_spdu(pdu: bytes) -> bytes:
    """Session GIVE TOKENS + DATA TRANSFER, then the presentation user data holding `pdu`."""
    return b"\x01\x00\x01\x00" + pdv(pdu)


def _oid(text: str) -> bytes:
    arcs = [int(a) for a in text.split(".")]
    out = bytearray((arcs[0] * 40 + arcs[1],))
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def aarq(mms_pdu: bytes, calling_ap: str = "1.1.1.999", called_ap: str = "1.1.1.999.1") -> bytes:
    user_info = ctx(30, tlv(0x28, tlv(0x02, integer(MMS_CONTEXT)) + ctx(0, mms_pdu)))
    return tlv(0x60, ctx(1, _oid("1.0.9506.2.3")) + ctx(2, _oid(called_ap)) + ctx(3, tlv(0x02, b"\x0c"))
               + ctx(6, _oid(calling_ap)) + ctx(7, tlv(0x02, b"\x0c")) + user_info)  # fmt: skip


def aare(mms_pdu: bytes, result: int = 0) -> bytes:
    user_info = ctx(30, tlv(0x28, tlv(0x02, integer(MMS_CONTEXT)) + ctx(0, mms_pdu)))
    return tlv(0x61, ctx(1, _oid("1.0.9506.2.3")) + ctx(2, tlv(0x02, integer(result)))
               + ctx(3, ctx(1, tlv(0x02, b"\x00"))) + user_info)  # fmt: skip


def _spdu(si: int, params: bytes) -> bytes:
    n = len(params)
    return bytes((si, n)) + params if n < 0xFF else bytes((si, 0xFF)) + struct.pack(">H", n) + params


def _param(code: int, value: bytes) -> bytes:
    n = len(value)
    return bytes((code, n)) + value if n < 0xFF else bytes((code, 0xFF)) + struct.pack(">H", n) + value


def connect_request(initiate: bytes | None = None) -> bytes:
    """Session CONNECT carrying a presentation CP-type carrying an AARQ with MMS initiate."""
    acse = aarq(initiate if initiate is not None else initiate_request())
    ctx_list = ctx(4, tlv(0x30, tlv(0x02, b"\x01") + _oid("2.2.1.0.1") + tlv(0x30, _oid("2.1.1")))
                   + tlv(0x30, tlv(0x02, b"\x03") + _oid("1.0.9506.2.1") + tlv(0x30, _oid("2.1.1"))))  # fmt: skip
    normal = ctx(2, ctx(1, b"\x00\x00\x00\x01", False) + ctx(2, b"\x00\x00\x00\x01", False) + ctx_list
                 + pdv(acse, ACSE_CONTEXT))  # fmt: skip
    cp = tlv(0x31, ctx(0, ctx(0, b"\x01", False)) + normal)
    params = (_param(0x05, bytes((0x13, 1, 0)) + bytes((0x16, 1, 2))) + _param(0x14, b"\x00\x02")
              + _param(0x33, b"\x00\x01") + _param(0x34, b"\x00\x01") + _param(0xC1, cp))  # fmt: skip
    return _spdu(0x0D, params)


def connect_accept(initiate: bytes | None = None, result: int = 0) -> bytes:
    """Session ACCEPT carrying a presentation CPA carrying an AARE with MMS initiate response."""
    acse = aare(initiate if initiate is not None else initiate_response(), result)
    normal = ctx(2, ctx(3, b"\x00\x00\x00\x01", False)
                 + ctx(5, tlv(0x30, ctx(0, b"\x00", False) + ctx(1, _oid("2.1.1")))
                       + tlv(0x30, ctx(0, b"\x00", False) + ctx(1, _oid("2.1.1"))))
                 + pdv(acse, ACSE_CONTEXT))  # fmt: skip
    cpa = tlv(0x31, ctx(0, ctx(0, b"\x01", False)) + normal)
    params = _param(0x05, bytes((0x13, 1, 0)) + bytes((0x16, 1, 2))) + _param(0x14, b"\x00\x02") + _param(0xC1, cpa)
    return _spdu(0x0E, params)


def release_request() -> bytes:
    """Session FINISH carrying presentation user data carrying an ACSE RLRQ (reason normal)."""
    return _spdu(0x09, _param(0xC1, pdv(tlv(0x62, ctx(0, b"\x00", False)), ACSE_CONTEXT)))


def release_response() -> bytes:
    """Session DISCONNECT carrying an ACSE RLRE."""
    return _spdu(0x0A, _param(0xC1, pdv(tlv(0x63, ctx(0, b"\x00", False)), ACSE_CONTEXT)))


def cotp_cr(src_ref: int = 1) -> bytes:
    """COTP connection request with IEC 61850's usual TSAPs (0x0001 both)."""
    body = bytes((0xE0,)) + struct.pack(">HHB", 0, src_ref, 0) + b"\xc0\x01\x0a\xc1\x02\x00\x01\xc2\x02\x00\x01"
    return tpkt(bytes((len(body),)) + body)


def cotp_cc(src_ref: int = 2, dst_ref: int = 1) -> bytes:
    body = bytes((0xD0,)) + struct.pack(">HHB", dst_ref, src_ref, 0) + b"\xc0\x01\x0a\xc1\x02\x00\x01\xc2\x02\x00\x01"
    return tpkt(bytes((len(body),)) + body)


def mms_dt(pdu: bytes, segment: int | None = None) -> bytes:
    """An MMS PDU of an established association on the stream (TPKT, COTP DT(s), session,
    presentation)."""
    return tpkt_dt(data_spdu(pdu), segment)
